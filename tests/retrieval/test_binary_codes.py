"""Binary codes: faiss's IndexBinaryFlat scan and the numpy fallback propose the same rows."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.retrieval.quantize import BinaryCodes, hamming

pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((6000, 384)).astype(np.float32)


def _pair(vectors: np.ndarray) -> tuple[BinaryCodes, BinaryCodes]:
    fast, plain = BinaryCodes(384), BinaryCodes(384, use_faiss=False)
    for codes in (fast, plain):
        codes.add(vectors[:2500])
        codes.add(vectors[2500:])
    assert fast.faiss is not None and plain.faiss is None
    return fast, plain


@pytest.mark.parametrize("filtered", [False, True])
def test_faiss_and_numpy_find_the_same_distances(vectors, filtered):
    fast, plain = _pair(vectors)
    assert np.array_equal(fast.codes, plain.codes)
    allowed = np.random.default_rng(1).random(len(vectors)) > 0.6 if filtered else None
    noise = np.random.default_rng(2).standard_normal((20, 384)).astype(np.float32)
    for query in vectors[:20] + noise:
        rows_fast = fast.candidates(query, 50, allowed)
        rows_plain = plain.candidates(query, 50, allowed)
        distance = hamming(plain.codes, plain.encode(query[None, :]))
        assert len(rows_fast) == len(rows_plain) == 50
        # ties may be broken differently; the distances found must not be
        assert sorted(distance[rows_fast]) == sorted(distance[rows_plain])
        if allowed is not None:
            assert allowed[rows_fast].all()


def test_keep_and_restore_renumber_rows(vectors):
    fast, plain = _pair(vectors)
    rows = np.arange(0, len(vectors), 3)
    fast.keep(rows)
    plain.keep(rows)
    assert len(fast) == len(plain) == len(rows)
    assert np.array_equal(fast.codes, plain.codes)
    restored = BinaryCodes(384)
    restored.restore(fast.state())
    assert np.array_equal(restored.codes, fast.codes)
    query = vectors[rows[7]]
    assert 7 in restored.candidates(query, 5, None).tolist()


def test_more_rows_wanted_than_allowed_returns_only_allowed(vectors):
    fast, _ = _pair(vectors)
    allowed = np.zeros(len(vectors), dtype=bool)
    allowed[[3, 99, 4000]] = True
    assert sorted(fast.candidates(vectors[0], 40, allowed).tolist()) == [3, 99, 4000]
    assert fast.candidates(vectors[0], 40, np.zeros(len(vectors), dtype=bool)).size == 0
