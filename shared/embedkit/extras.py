"""Import optional dependencies with an error that says which extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, *, extra: str) -> ModuleType:
    """Import ``module`` or raise an ImportError naming the pip extra that provides it.

    Example:
        >>> bm25s = require("bm25s", extra="bm25")  # doctest: +SKIP
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{module!r} is not installed; it comes with the {extra!r} extra: "
            f'pip install "embedkit[{extra}]"'
        ) from exc
