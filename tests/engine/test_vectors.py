"""`embedkit.vectors`: the one batch check and Matryoshka cut the engine, the API providers and
the fine-tuning evaluation share."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.finetune.evaluation import truncate
from embedkit.vectors import batch_problem, cut_dimensions


def test_batch_problem_names_count_width_and_bad_rows():
    good = np.ones((3, 4), dtype=np.float32)
    assert batch_problem(good, expected=3, dimension=4) is None
    assert batch_problem(good, expected=2, dimension=4) == "returned 3 vectors for 2 texts"
    assert "dimension 4, expected 8" in batch_problem(good, expected=3, dimension=8)
    bad = good.copy()
    bad[2, 1] = np.nan
    assert batch_problem(bad, expected=3, dimension=4).endswith("(batch positions [2])")


def test_cut_keeps_the_first_values_and_renormalizes():
    vectors = np.array([[3.0, 4.0, 12.0], [1.0, 0.0, 5.0]], dtype=np.float32)
    cut = cut_dimensions(vectors, 2, normalize=True)
    np.testing.assert_allclose(cut, [[0.6, 0.8], [1.0, 0.0]], atol=1e-7)
    assert cut.dtype == np.float32 and cut.flags.c_contiguous
    np.testing.assert_array_equal(cut_dimensions(vectors, 2, normalize=False), vectors[:, :2])


def test_an_all_zero_row_is_an_error_for_the_engine_and_the_evaluation_alike():
    vectors = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    with pytest.raises(ValueError, match=r"all-zero vector \(batch positions \[1\]\)"):
        cut_dimensions(vectors, 2, normalize=True)
    with pytest.raises(ValueError, match="all-zero vector"):
        truncate(vectors, 2)
