"""The fingerprint: a stable hash of everything that changes a vector."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

# Bump when the way embedkit turns text into stored vectors changes.
VECTOR_FORMAT = 1


def compute_fingerprint(parts: Mapping[str, object]) -> str:
    """20 hex characters over the JSON of ``parts`` (sorted keys). Never pass secrets here."""
    payload = json.dumps({"format": VECTOR_FORMAT, **parts}, sort_keys=True, ensure_ascii=False,
                         default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]
