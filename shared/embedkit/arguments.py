"""Checks for integer settings (sizes, counts, k): one message, and ``True`` is not a 1."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_int(name: str, value: Any, *, minimum: int, optional: bool = False,
              numpy_ok: bool = False) -> None:
    """Raise ValueError unless ``value`` is an int of at least ``minimum``.

    Args:
        name: the argument as the caller spells it, for the message.
        value: what was passed; a bool is refused although Python counts it as an int.
        minimum: the smallest value allowed.
        optional: None is allowed too.
        numpy_ok: numpy integers are allowed too.
    """
    if value is None and optional:
        return
    kinds = (int, np.integer) if numpy_ok else int
    if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
        wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {wanted}, got {value!r}")


def check_positive_int(name: str, value: Any, *, optional: bool = False) -> None:
    """`check_int` with a minimum of 1."""
    check_int(name, value, minimum=1, optional=optional)


__all__ = ["check_int", "check_positive_int"]
