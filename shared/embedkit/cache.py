"""Persistent vector cache: diskcache (SQLite) holding raw float32 bytes, never pickles.

Keys are hex digests of (fingerprint, role, final text), so a query and a document with the
same text never share an entry, and changing anything that changes vectors changes the key.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .roles import Role


def cache_key(fingerprint: str, role: Role, text: str) -> str:
    """The cache key for one final text (prefix and glossary already applied)."""
    digest = hashlib.sha256()
    for part in (fingerprint, role, text):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """``$EMBEDKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/embedkit``, else ``~/.cache/embedkit``."""
    if env := os.environ.get("EMBEDKIT_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "embedkit"


class VectorCache(Protocol):
    """What the `Embedder` needs from a cache backend."""

    def get_many(self, keys: Sequence[str], dimension: int) -> dict[str, np.ndarray]:
        """Vectors for the keys that hold a valid entry of ``dimension`` float32 values."""

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        """Store every vector in one transaction."""

    def stats(self) -> dict[str, object]: ...

    def clear(self) -> int: ...


def decode_vector(raw: object, dimension: int) -> np.ndarray | None:
    """A float32 vector from stored bytes, or None when the entry is corrupt or the wrong size."""
    if not isinstance(raw, bytes | bytearray) or len(raw) != dimension * 4:
        return None
    vector = np.frombuffer(raw, dtype=np.float32)
    return vector if np.isfinite(vector).all() else None


def encode_vector(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


class DiskVectorCache:
    """A `VectorCache` in a diskcache directory; safe to share between processes.

    Example:
        >>> cache = DiskVectorCache("/tmp/embedkit-cache")  # doctest: +SKIP
    """

    def __init__(self, directory: str | Path | None = None, *, size_limit_gb: float = 10.0) -> None:
        import diskcache

        self.directory = Path(directory).expanduser() if directory else default_cache_dir()
        self.directory.mkdir(parents=True, exist_ok=True)
        # bytes keys/values are stored as SQLite BLOBs and str as TEXT: diskcache only pickles
        # other types, and we never give it any.
        self._cache = diskcache.Cache(str(self.directory), size_limit=int(size_limit_gb * 2**30))

    def get_many(self, keys: Sequence[str], dimension: int) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for key in keys:
            vector = decode_vector(self._cache.get(key), dimension)
            if vector is not None:
                found[key] = vector
        return found

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        with self._cache.transact():
            for key, vector in items.items():
                self._cache.set(key, encode_vector(vector))

    def put_raw(self, key: str, raw: bytes) -> None:
        """Write bytes as they are (tests use it to plant corrupt entries)."""
        self._cache.set(key, raw)

    def stats(self) -> dict[str, object]:
        return {
            "backend": "disk",
            "directory": str(self.directory),
            "entries": len(self._cache),
            "size_bytes": self._cache.volume(),
        }

    def clear(self) -> int:
        return self._cache.clear()

    def close(self) -> None:
        self._cache.close()

    def __repr__(self) -> str:
        return f"DiskVectorCache({str(self.directory)!r})"


def keys_for(fingerprint: str, role: Role, texts: Iterable[str]) -> list[str]:
    return [cache_key(fingerprint, role, text) for text in texts]
