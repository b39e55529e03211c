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


def describe_difference(saved: Mapping[str, object] | None,
                        current: Mapping[str, object]) -> str:
    """What differs between two `Embedder.describe()` summaries, in words.

    Example: ``"dimension 384 (saved) vs 128 (this embedder)"``. When the summaries agree
    (or the saved one is missing), the difference lies in what they leave out: the model
    revision or file hash, or the glossary's content.
    """
    if not saved:
        return "the saved settings are not recorded; compare the fingerprints"
    if "backend" not in saved and current.get("backend") is not None:
        saved = {**saved, "backend": "torch"}  # recorded before local backends existed
    differences = [f"{key} {saved.get(key)!r} (saved) vs {current.get(key)!r} (this embedder)"
                   for key in sorted(set(saved) | set(current))
                   if key != "fingerprint" and saved.get(key) != current.get(key)]
    if not differences:
        return ("the same model, dimension, prefixes and glossary size, so the model revision "
                "or files, or the glossary's content, differ")
    return "; ".join(differences)
