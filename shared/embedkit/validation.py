"""Input checks that name the offending text by index before any work is done."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

_SHOWN = 10


def validate_texts(texts: Sequence[str]) -> list[str]:
    """Return ``texts`` as a list, or raise naming every bad index.

    Raises:
        TypeError: ``texts`` is a single string, a mapping or a set (no defined order to
            return vectors in), or an item is not a string.
        ValueError: items that are empty or only whitespace, or hold a lone surrogate
            (``"\\ud800"``: not text, cannot be encoded as UTF-8).
    """
    if isinstance(texts, str | bytes):
        raise TypeError("expected a list of strings, got a single string; "
                        "use embed_query(text) or wrap it: embed_documents([text])")
    if isinstance(texts, Mapping | Set):
        raise TypeError(f"expected a list of strings, got a {type(texts).__name__}; pass a list "
                        "(e.g. list(mapping.values())) so each vector matches its text")
    texts = list(texts)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text at index {index} is {type(text).__name__}, expected str")
        _check_encodable(text, f"text at index {index}")
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
    _check_encodable(text, "query")
    return text


def _check_encodable(text: str, what: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{what} holds a lone surrogate {text[exc.start]!r} at character "
                         f"{exc.start}, which is not valid text (cannot be encoded as UTF-8)"
                         ) from None
