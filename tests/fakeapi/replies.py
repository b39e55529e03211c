"""What an API handler hands back to the server: the JSON payload plus facts for the record."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Reply:
    """A successful answer. `tokens` is what was billed; `truncated` lists cut input indices."""

    payload: dict
    tokens: int
    truncated: list[int] = field(default_factory=list)


def float_list(vector: np.ndarray) -> list[float]:
    """float32 values as Python floats: JSON round-trips them exactly back to float32."""
    return vector.astype(np.float32).tolist()


def float32_base64(vector: np.ndarray) -> str:
    """Little-endian float32 bytes, base64: OpenAI's and Cohere's `base64` encoding."""
    return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
