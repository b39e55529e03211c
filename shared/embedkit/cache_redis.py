"""A `VectorCache` in Redis, so many processes and machines share one set of paid-for vectors.

Same keys as the disk cache (`cache_key`: fingerprint + role + final text) under a namespace
prefix, same values (`cache_codec`: checksummed float32 bytes): a corrupt or wrong-sized entry
reads as a miss and is recomputed and overwritten. Every redis-py error becomes a `CacheError`
(`CacheUnavailableError` when the server is unreachable or stalls) naming the server, never a
key or value bytes. Reads are MGETs and
writes pipelines, in chunks, so a batch of 10,000 texts costs a handful of round trips.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from .cache_codec import decode_vector, encode_vector
from .errors import CacheError, CacheUnavailableError
from .extras import require

REDIS_SCHEMES = ("redis", "rediss", "unix")
DEFAULT_PREFIX = "embedkit:"
CHUNK = 1000
"""Keys per MGET / pipeline: large enough to amortize round trips, small enough not to block
the Redis server (single-threaded) on one command."""

# Our own URL options; every other query option goes to redis-py (socket_timeout=..., ...).
_OWN_OPTIONS = ("ttl", "prefix")
DEFAULT_SOCKET_TIMEOUT = 30.0
"""Seconds a command may wait for the server (``?socket_timeout=`` overrides): redis-py's own
default is to wait forever, so a stalled server would hang every embedding call."""
DEFAULT_CONNECT_TIMEOUT = 10.0


def is_redis_url(value: object) -> bool:
    """True for ``redis://``, ``rediss://`` (TLS) and ``unix://`` (socket) URLs."""
    return isinstance(value, str) and urlsplit(value).scheme in REDIS_SCHEMES


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for logs, reprs and errors)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RedisVectorCache:
    """A `VectorCache` backed by a Redis server.

    Args:
        url: ``redis://[:password@]host:port/db``, ``rediss://...`` or ``unix:///path?db=0``.
            ``?ttl=SECONDS`` and ``?prefix=NAME:`` in the URL set the options below.
        prefix: namespace in front of every key, so one Redis can hold other data too.
        ttl: seconds each entry lives after it is written; None keeps entries until evicted.
        client: an existing ``redis.Redis`` (bytes responses) to use instead of the URL.

    Example:
        >>> cache = RedisVectorCache("redis://localhost:6379/0", ttl=86400)  # doctest: +SKIP
        >>> Embedder(cache="redis://localhost:6379/0?ttl=86400")  # doctest: +SKIP
    """

    def __init__(self, url: str = "redis://localhost:6379/0", *, prefix: str | None = None,
                 ttl: int | None = None, client: Any | None = None) -> None:
        base_url, options = _split_options(url)
        self.url = redact_url(base_url)
        self.prefix = prefix if prefix is not None else options.get("prefix", DEFAULT_PREFIX)
        self.ttl = _check_ttl(ttl if ttl is not None else options.get("ttl"))
        if client is None:
            redis = require("redis", extra="redis")
            # URL options (?socket_timeout=...) take precedence over these keywords.
            client = redis.Redis.from_url(base_url, decode_responses=False,
                                          socket_timeout=DEFAULT_SOCKET_TIMEOUT,
                                          socket_connect_timeout=DEFAULT_CONNECT_TIMEOUT)
        self._client = client
        self._ping()

    @classmethod
    def from_url(cls, url: str) -> RedisVectorCache:
        """The cache a URL describes; ``Embedder(cache=url)`` goes through here."""
        if not is_redis_url(url):
            raise ValueError(
                f"cache={redact_url(url)!r} is not a cache URL embedkit knows: use "
                "redis://host:6379/0 (or rediss://, unix://), cache=True for the disk cache "
                "(with cache_dir=...), or cache=False")
        return cls(url)

    def get_many(self, keys: Sequence[str], dimension: int) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for chunk in _chunks(list(keys)):
            raws = self._call(self._client.mget, [self.prefix + key for key in chunk])
            for key, raw in zip(chunk, raws):
                vector = decode_vector(raw, dimension)
                if vector is not None:
                    found[key] = vector
        return found

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        pairs = list(items.items())
        for chunk in _chunks(pairs):
            # No MULTI/EXEC: every SET is independent and idempotent, a pipeline is enough.
            pipe = self._client.pipeline(transaction=False)
            for key, vector in chunk:
                pipe.set(self.prefix + key, encode_vector(vector), ex=self.ttl)
            self._call(pipe.execute)

    def put_raw(self, key: str, raw: bytes) -> None:
        """Write bytes as they are (tests use it to plant corrupt entries)."""
        self._call(self._client.set, self.prefix + key, raw, ex=self.ttl)

    def ttl_of(self, key: str) -> int | None:
        """Seconds left for one entry; None when it has no TTL or does not exist."""
        left = self._call(self._client.ttl, self.prefix + key)
        return int(left) if left is not None and left >= 0 else None

    def stats(self) -> dict[str, object]:
        return {"backend": "redis", "url": self.url, "prefix": self.prefix, "ttl": self.ttl,
                "entries": len(self._own_keys())}

    def clear(self) -> int:
        """Delete this namespace's entries (only keys under `prefix`); returns how many."""
        removed = 0
        for chunk in _chunks(self._own_keys()):
            removed += int(self._call(self._client.unlink, *chunk))
        return removed

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"RedisVectorCache({self.url!r}, prefix={self.prefix!r}, ttl={self.ttl!r})"

    def _own_keys(self) -> list[bytes]:
        pattern = _escape_glob(self.prefix) + "*"
        return self._call(lambda: list(self._client.scan_iter(match=pattern, count=CHUNK)))

    def _ping(self) -> None:
        self._call(self._client.ping)

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one Redis command; any failure is a `CacheError` naming the (redacted) server.

        The cause is not chained: redis-py annotates pipeline errors with the failing command,
        which holds the key and the vector bytes.
        """
        redis = require("redis", extra="redis")
        try:
            return method(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            kind = "timed out" if isinstance(exc, redis.exceptions.TimeoutError) else "failed"
            raise CacheUnavailableError(
                f"cannot reach the Redis cache at {self.url}: the connection {kind} "
                f"({type(exc).__name__})") from None
        except redis.exceptions.RedisError as exc:
            raise CacheError(f"the Redis cache at {self.url} refused the command: "
                             f"{type(exc).__name__}{_hint(exc)}") from None


def _hint(exc: BaseException) -> str:
    if type(exc).__name__ == "OutOfMemoryError":
        return (" (used memory is over maxmemory and the eviction policy is noeviction: raise "
                "maxmemory or set maxmemory-policy allkeys-lru)")
    if type(exc).__name__ == "AuthenticationError":
        return " (check the password in the URL)"
    return ""


def _split_options(url: str) -> tuple[str, dict[str, str]]:
    """Take embedkit's own options (ttl, prefix) out of the URL's query string."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    own = {k: v for k, v in query if k in _OWN_OPTIONS}
    rest = [(k, v) for k, v in query if k not in _OWN_OPTIONS]
    return urlunsplit(parts._replace(query=urlencode(rest))), own


def _check_ttl(ttl: object) -> int | None:
    if ttl is None:
        return None
    try:
        seconds = int(ttl)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError(f"ttl must be a whole number of seconds, got {ttl!r}") from None
    if seconds < 1 or isinstance(ttl, bool):
        raise ValueError(f"ttl must be at least 1 second, got {ttl!r}")
    return seconds


def _escape_glob(text: str) -> str:
    """Escape Redis glob characters so a prefix like ``a*b:`` matches only itself."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]
