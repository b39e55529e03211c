"""Input checks that name the offending text by index before any work is done."""

from __future__ import annotations

from collections.abc import Sequence

_SHOWN = 10


def validate_texts(texts: Sequence[str]) -> list[str]:
    """Return ``texts`` as a list, or raise naming every bad index.

    Raises:
        TypeError: ``texts`` is a single string, or an item is not a string.
        ValueError: items that are empty or only whitespace.
    """
    if isinstance(texts, str | bytes):
        raise TypeError("expected a list of strings, got a single string; "
                        "use embed_query(text) or wrap it: embed_documents([text])")
    texts = list(texts)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text at index {index} is {type(text).__name__}, expected str")
    empty = [i for i, text in enumerate(texts) if not text.strip()]
    if empty:
        shown = ", ".join(map(str, empty[:_SHOWN])) + (" ..." if len(empty) > _SHOWN else "")
        raise ValueError(f"{len(empty)} empty or whitespace-only text(s) at indices {shown}; "
                         "drop them before embedding")
    return texts


def validate_query(text: str) -> str:
    """One query string, not empty."""
    if not isinstance(text, str):
        raise TypeError(f"query is {type(text).__name__}, expected str")
    if not text.strip():
        raise ValueError("query is empty or whitespace-only")
    return text
