"""Persistent vector cache: diskcache (SQLite) holding checked float32 bytes, never pickles.

Keys are hex digests of (fingerprint, role, final text), so a query and a document with the
same text never share an entry, and changing anything that changes vectors changes the key.
Values use `cache_codec` (checksummed float32). Whatever ``cache.db`` holds, reading never
unpickles and never opens a file outside the cache folder: such a row is a miss, logged once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import diskcache
import numpy as np

from .cache_codec import decode_vector, encode_vector
from .errors import CacheError
from .roles import Role

logger = logging.getLogger("embedkit")

# diskcache's own value file names: "ab/cd/<28 hex>.val" (Disk.filename).
_VALUE_FILE = re.compile(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{28}\.val")
_MAX_VALUE_FILE_BYTES = 4 * 2**20  # far above any vector (65,536 float32 = 256 KiB)
_BACKEND_ERRORS = (sqlite3.Error, OSError, diskcache.Timeout)


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


class SafeDisk(diskcache.Disk):
    """A diskcache `Disk` that returns stored bytes and nothing else.

    diskcache would unpickle a row in pickle mode and open any ``filename`` a row names, so a
    planted row could run code or read (and on overwrite, delete) files anywhere. Here only raw
    bytes rows and diskcache's own value files inside the folder (regular files, no symlinks)
    are read; anything else reads as None (a miss) and is reported through `on_refused`.
    """

    def __init__(self, directory: str, **kwargs: object) -> None:
        super().__init__(directory, **kwargs)
        self._root = os.path.realpath(directory)
        self.on_refused = lambda: None

    def fetch(self, mode: int, filename: str | None, value: object, read: bool) -> object:
        if mode == diskcache.core.MODE_RAW and isinstance(value, bytes | memoryview):
            return bytes(value)
        if mode == diskcache.core.MODE_BINARY and not read:
            data = self._read_value_file(filename)
            if data is not None:
                return data
        self.on_refused()
        return None

    def remove(self, file_path: str) -> None:
        # Overwriting or evicting a planted row must not delete a file outside the folder.
        if self._inside(file_path) is not None:
            super().remove(file_path)

    def _inside(self, filename: object) -> str | None:
        """The full path of one of diskcache's value files, or None for any other name."""
        if not isinstance(filename, str) or not _VALUE_FILE.fullmatch(filename):
            return None
        full = os.path.join(self._root, filename)
        return full if os.path.realpath(full) == full else None  # no symlinked folders

    def _read_value_file(self, filename: object) -> bytes | None:
        full = self._inside(filename)
        if full is None:
            return None
        try:
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as reader:
            info = os.fstat(reader.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_VALUE_FILE_BYTES:
                return None
            return reader.read(_MAX_VALUE_FILE_BYTES)


class DiskVectorCache:
    """A `VectorCache` in a diskcache directory; safe to share between processes.

    Example:
        >>> cache = DiskVectorCache("/tmp/embedkit-cache")  # doctest: +SKIP
    """

    def __init__(self, directory: str | Path | None = None, *, size_limit_gb: float = 10.0) -> None:
        self.directory = Path(directory).expanduser() if directory else default_cache_dir()
        self._warned_tampered = False
        self.directory.mkdir(parents=True, exist_ok=True)  # a bad path: its own clear OSError
        try:
            # bytes values are stored as SQLite BLOBs (or diskcache value files) and str keys as
            # TEXT; SafeDisk refuses to read anything else back.
            self._cache = diskcache.Cache(str(self.directory), disk=SafeDisk,
                                          size_limit=int(size_limit_gb * 2**30))
        except _BACKEND_ERRORS as exc:
            raise self._error("open", exc) from None
        self._cache.disk.on_refused = self._report_tampered

    def get_many(self, keys: Sequence[str], dimension: int) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        try:
            for key in keys:
                vector = decode_vector(self._cache.get(key), dimension)
                if vector is not None:
                    found[key] = vector
        except _BACKEND_ERRORS as exc:
            raise self._error(f"read {len(keys)} vector(s) from", exc) from None
        return found

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        """Store every vector in one transaction; `CacheError` (no key, no bytes) on failure."""
        try:
            with self._cache.transact():
                for key, vector in items.items():
                    self._cache.set(key, encode_vector(vector))
        except _BACKEND_ERRORS as exc:
            raise self._error(f"write {len(items)} vector(s) to", exc) from None

    def put_raw(self, key: str, raw: bytes) -> None:
        """Write bytes as they are (tests use it to plant corrupt entries)."""
        self._cache.set(key, raw)

    def _error(self, action: str, exc: BaseException) -> CacheError:
        # sqlite3/OS messages name the condition ("database or disk is full"), never a value.
        detail = getattr(exc, "strerror", None) or str(exc)
        return CacheError(f"could not {action} the disk cache at {self.directory}: "
                          f"{type(exc).__name__}: {detail[:200]}")

    def _report_tampered(self) -> None:
        if not self._warned_tampered:
            self._warned_tampered = True
            logger.warning(
                "the disk cache at %s holds entries embedkit did not write (pickled, or naming a "
                "file outside the cache folder); they are ignored and recomputed. The cache "
                "file may have been tampered with.", self.directory)

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
