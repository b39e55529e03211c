"""Which vector size to ask for: the one check of a requested ``dimensions`` value.

The API providers call it with what their API accepts (any size up to the native one, or a
fixed list of sizes), the `Embedder` with a local model's native size.
"""

from __future__ import annotations

from .arguments import check_positive_int


def requested_dimensions(dimensions: int | None, *, native: int | None, label: str,
                         sizes: tuple[int, ...] | None, unsupported: str = "") -> int | None:
    """``dimensions`` when it asks for a smaller vector, None for the native size.

    Args:
        dimensions: what the user asked for (None: the native size).
        native: the model's own size; None for a model embedkit does not know (the server
            decides, so any positive value passes).
        label: the model as the message names it (``openai:text-embedding-3-small``).
        sizes: None when any size from 1 to ``native`` works; the sizes on offer otherwise
            (empty: the model has one size only).
        unsupported: the end of the message for a model with one size (what to do instead).

    Raises:
        ValueError: a size the model cannot produce, naming the ones it can.
    """
    check_positive_int("dimensions", dimensions, optional=True)
    if dimensions is None or dimensions == native or native is None:
        return None if dimensions == native else dimensions
    if sizes is None:
        if dimensions > native:
            raise ValueError(f"dimensions={dimensions} is larger than {label}'s {native}; "
                             f"pick 1..{native}")
        return dimensions
    if not sizes:
        raise ValueError(f"{label} does not support dimensions={unsupported}")
    if dimensions not in sizes:
        raise ValueError(f"dimensions={dimensions} is not offered by {label}; "
                         f"choose one of {', '.join(map(str, sizes))}")
    return dimensions


__all__ = ["requested_dimensions"]
