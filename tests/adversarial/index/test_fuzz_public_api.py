"""Property-based fuzz of the public entry points (Hypothesis).

Every input either works or raises a documented error: an `EmbedKitError`, or exactly
`ValueError` / `TypeError` with a message (their subclasses `json.JSONDecodeError` and
`UnicodeError` are raw library errors and fail), or the `KeyError` documented for unknown
document ids. Never a hang, a wrong-length result, a NaN, or a partial change after an error.

Bounded: ``max_examples`` per property below (run with ``--hypothesis-show-statistics`` to see
the counts); the model-backed property is the smallest.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from embedkit import HybridIndex
from embedkit.errors import EmbedKitError, IndexFormatError
from embedkit.retrieval.fusion import FUSIONS

from .conftest import DOCS, META

FUZZ = settings(deadline=None, derandomize=False, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])


def assert_documented(exc: BaseException) -> None:
    """The error is one the package documents, with a message."""
    if isinstance(exc, EmbedKitError):
        assert str(exc), repr(exc)
    elif type(exc) in (ValueError, TypeError):
        assert str(exc), repr(exc)
    elif type(exc) is KeyError:
        assert "not in the index" in str(exc), repr(exc)
    else:
        raise AssertionError(f"undocumented error {type(exc).__module__}."
                             f"{type(exc).__name__}: {exc}") from exc


# ---- values -----------------------------------------------------------------------------------
json_scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats() | st.text(
    max_size=12)
metadata_values = st.recursive(
    json_scalars | st.binary(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=6) | st.integers(0, 3), inner, max_size=3),
    max_leaves=6)
metadatas = st.dictionaries(st.sampled_from(["kind", "tags", "n"]) | st.text(max_size=6)
                            | st.integers(0, 3), metadata_values, max_size=3)
junk = st.integers() | st.none() | st.floats() | st.binary(max_size=8) | st.text(max_size=8)
texts = st.text(max_size=60)


# ---- Embedder.embed_documents -----------------------------------------------------------------
@settings(FUZZ, max_examples=40)
@given(batch=st.lists(texts, max_size=4) | junk | st.lists(texts | junk, max_size=3))
def test_embed_documents_returns_one_finite_row_per_text_or_a_documented_error(
        module_embedder, batch):
    try:
        vectors = module_embedder.embed_documents(batch)
    except Exception as exc:  # noqa: BLE001 - the property is about which errors escape
        assert_documented(exc)
        return
    assert isinstance(batch, list)
    assert vectors.shape == (len(batch), module_embedder.dimension)
    assert vectors.dtype == np.float32 and np.isfinite(vectors).all()


# ---- HybridIndex add / search / delete against a model ----------------------------------------
ops = st.lists(st.one_of(
    st.tuples(st.just("add"), st.lists(texts, max_size=3),
              st.none() | st.lists(st.sampled_from(["a", "b", "c", "d"]) | st.text(max_size=4),
                                   max_size=3) | st.text(max_size=3),
              st.none() | st.lists(metadatas | junk, max_size=3)),
    st.tuples(st.just("search"), texts, st.integers(-1, 12) | junk,
              st.none() | st.sampled_from([*FUSIONS, "bogus"]),
              st.none() | st.floats(-0.5, 1.5) | st.floats(),
              st.none() | metadatas | junk | st.just(lambda meta: "kind" in meta),
              st.none() | st.lists(st.tuples(st.sampled_from(["a", "b", "c", "x"]),
                                             st.floats()), max_size=4) | junk),
    st.tuples(st.just("delete"), st.lists(st.sampled_from(["a", "b", "c", "d", "zz"]),
                                          max_size=3) | junk),
), min_size=1, max_size=6)


def _apply(index: HybridIndex, model: dict, op: tuple) -> None:
    kind, *args = op
    if kind == "add":
        batch, ids, metas = args
        added = index.add(batch, ids=ids, metadatas=metas)
        assert len(added) == len(batch)
        for doc_id, text in zip(added, batch):
            model[doc_id] = text
    elif kind == "delete":
        index.delete(args[0])
        for doc_id in ([args[0]] if isinstance(args[0], str) else args[0]):
            model.pop(doc_id, None)
    else:
        query, k, fusion, alpha, flt, external = args
        hits = index.search(query, k=k, fusion=fusion, alpha=alpha, filter=flt,
                            dense_candidates=external)
        assert len(hits) <= min(k, len(model))
        assert len({h.id for h in hits}) == len(hits)
        assert all(math.isfinite(h.score) for h in hits)
        assert all(h.id in model and h.text == model[h.id] for h in hits)
        if isinstance(flt, dict):
            assert all(all(h.metadata.get(key) == json.loads(json.dumps(value))
                           for key, value in flt.items()) for h in hits)


@settings(FUZZ, max_examples=150)
@given(operations=ops)
def test_index_operations_work_or_fail_cleanly_without_partial_changes(module_embedder,
                                                                      operations):
    # No stored vectors: add/search never embed, so many examples run in seconds; the dense
    # side comes from the fuzzed dense_candidates.
    index, model = HybridIndex(module_embedder, store_vectors=False), {}
    for op in operations:
        before = index.ids
        try:
            _apply(index, model, op)
        except Exception as exc:  # noqa: BLE001
            assert_documented(exc)
            assert index.ids == before  # a refused call changed nothing
        assert sorted(index.ids) == sorted(model)


@settings(FUZZ, max_examples=25)
@given(batch=st.lists(texts, min_size=1, max_size=3), query=texts,
       flt=st.none() | metadatas, k=st.integers(0, 6))
def test_index_with_vectors_searches_every_mode(module_embedder, batch, query, flt, k):
    index = HybridIndex(module_embedder)
    try:
        index.add(batch, metadatas=[{"kind": "x"}] * len(batch))
    except Exception as exc:  # noqa: BLE001
        assert_documented(exc)
        return
    for fusion in FUSIONS:
        try:
            hits = index.search(query, k=k, fusion=fusion, filter=flt)
        except Exception as exc:  # noqa: BLE001
            assert_documented(exc)
            continue
        assert len(hits) <= k and all(math.isfinite(h.score) for h in hits)


# ---- load of mutated save folders -------------------------------------------------------------
@pytest.fixture(scope="module")
def pristine_save(module_embedder, tmp_path_factory) -> Path:
    index = HybridIndex(module_embedder)
    index.add(list(DOCS.values()), ids=list(DOCS), metadatas=[META[i] for i in DOCS])
    target = tmp_path_factory.mktemp("pristine") / "idx"
    index.save(target)
    return target


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != ".lock")


def _mutate_json(data, rng: random.Random, value):
    """Replace one value somewhere inside ``data`` (or all of it) with ``value``."""
    if isinstance(data, dict) and data and rng.random() < 0.8:
        key = rng.choice(sorted(data))
        return {**data, key: _mutate_json(data[key], rng, value)}
    if isinstance(data, list) and data and rng.random() < 0.8:
        i = rng.randrange(len(data))
        return [*data[:i], _mutate_json(data[i], rng, value), *data[i + 1:]]
    return value


def _mutate(file: Path, action: str, rng: random.Random, value) -> None:
    raw = file.read_bytes()
    if action == "flip" and raw:
        data = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        file.write_bytes(bytes(data))
    elif action == "truncate":
        file.write_bytes(raw[:rng.randrange(len(raw) + 1)])
    elif action == "append":
        file.write_bytes(raw + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))))
    elif action == "delete":
        file.unlink()
    elif action == "swap-json" and file.suffix in (".json", ".jsonl"):
        try:  # an earlier mutation may have broken the JSON already: then leave it
            lines = raw.decode().splitlines() if file.suffix == ".jsonl" else [raw.decode()]
            i = rng.randrange(len(lines))
            lines[i] = json.dumps(_mutate_json(json.loads(lines[i]), rng, value))
        except ValueError:  # JSONDecodeError, UnicodeDecodeError, or an empty file
            return
        file.write_text("\n".join(lines) + "\n")


@settings(FUZZ, max_examples=200)
@given(seed=st.integers(0, 2**32 - 1), picks=st.lists(
    st.tuples(st.integers(0, 10**6), st.sampled_from(
        ["flip", "truncate", "append", "delete", "swap-json", "swap-json"]),
        st.none() | st.booleans() | st.integers(-2, 10**9) | st.floats() | st.text(max_size=8)
        | st.lists(st.integers(-1, 3), max_size=3) | st.dictionaries(st.text(max_size=3),
                                                                    st.integers(), max_size=2)),
    min_size=1, max_size=3))
def test_load_of_a_mutated_save_works_or_raises_a_documented_error(
        module_embedder, pristine_save, seed, picks):
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "idx"
        shutil.copytree(pristine_save, target)
        for which, action, value in picks:
            files = _files(target)
            assume(files)
            _mutate(files[which % len(files)], action, rng, value)
        start = time.monotonic()
        try:
            index = HybridIndex.load(target, module_embedder)
        except FileNotFoundError as exc:
            assert "no saved index" in str(exc) and not (target / "CURRENT").exists()
            return
        except Exception as exc:  # noqa: BLE001
            assert_documented(exc)
            return
        finally:
            assert time.monotonic() - start < 10
        # Parts of a save are checked where they are read (row bytes, postings, vectors),
        # so a use after a successful load may still refuse the save: only with
        # IndexFormatError naming the file.
        try:
            assert len(index.ids) == len(set(index.ids))
            for fusion in FUSIONS:
                hits = index.search("uplink NMB-4031", k=3, fusion=fusion)
                assert len(hits) <= 3 and all(math.isfinite(h.score) for h in hits)
                assert all(h.dense_score is None or math.isfinite(h.dense_score) for h in hits)
        except IndexFormatError as exc:
            assert str(target) in str(exc), exc


def test_fuzz_helpers_mutate_files(tmp_path):
    """The mutations above really change files (a fuzz that mutates nothing proves nothing)."""
    file = tmp_path / "m.json"
    file.write_text(json.dumps({"a": [1, 2], "b": "x"}))
    _mutate(file, "swap-json", random.Random(1), "changed")
    assert "changed" in file.read_text()
    before = b"\x00" * 64
    file.write_bytes(before)
    _mutate(file, "flip", random.Random(2), None)
    assert file.read_bytes() != before
    os.remove(file)
