"""What a batch of vectors must be before it is cached, and Matryoshka cutting.

Both the engine (`Embedder`) and the API providers check a backend's batch with
`batch_problem`; the engine and the fine-tuning evaluation cut dimensions with `cut_dimensions`,
so a vector evaluated at 64 dimensions is exactly what ``Embedder(dimensions=64)`` returns.
"""

from __future__ import annotations

import numpy as np

_SHOWN_ROWS = 10


def batch_problem(vectors: np.ndarray, *, expected: int, dimension: int) -> str | None:
    """Why ``vectors`` is not ``expected`` finite rows of ``dimension`` values, or None.

    The answer reads after the model's name: ``"returned 2 vectors for 3 texts"``.
    """
    if vectors.ndim != 2 or vectors.shape[0] != expected:
        got = vectors.shape[0] if vectors.ndim else 0
        return f"returned {got} vectors for {expected} texts"
    if vectors.shape[1] != dimension:
        return f"returned vectors of dimension {vectors.shape[1]}, expected {dimension}"
    if not np.isfinite(vectors).all():
        rows = sorted({int(i) for i in np.argwhere(~np.isfinite(vectors))[:, 0]})
        return f"returned NaN or infinite values (batch positions {rows[:_SHOWN_ROWS]})"
    return None


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Each row divided by its L2 norm, as float32.

    Raises:
        ValueError: a row is all zeros (it has no direction), naming its positions.
    """
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if (norms == 0).any():
        rows = [int(i) for i in np.flatnonzero(norms[:, 0] == 0)]
        raise ValueError(f"all-zero vector (batch positions {rows[:_SHOWN_ROWS]})")
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


def cut_dimensions(vectors: np.ndarray, dimension: int, *, normalize: bool) -> np.ndarray:
    """The first ``dimension`` values of each row (Matryoshka), L2-normalized if asked."""
    cut = vectors[:, :dimension]
    if normalize:
        return l2_normalize(cut)
    return np.ascontiguousarray(cut, dtype=np.float32)


__all__ = ["batch_problem", "cut_dimensions", "l2_normalize"]
