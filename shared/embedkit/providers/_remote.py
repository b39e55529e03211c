"""What the OpenAI and Cohere providers share: keys, limits, retries, response checks.

A `RemoteProvider` turns one engine batch into one request (more only when a prefix or long-text
chunks push it past the API's limits), sends it through `call_with_retries`, and checks what
came back before the engine may cache it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import ssl
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from .._asyncio import run_sync
from ..errors import MissingAPIKeyError
from .retry import APIError, Failure, RetryPolicy, call_with_retries
from ..roles import Role
from .base import ProviderBatch
from .tokens import TokenCounter
from ..vectors import batch_problem

logger = logging.getLogger("embedkit.providers")

C = TypeVar("C")

HTTP_REASONS = {
    400: "bad request", 401: "authentication failed", 403: "permission denied",
    404: "not found", 408: "request timeout", 409: "conflict", 413: "request too large",
    422: "unprocessable request", 429: "rate limited", 500: "server error",
    502: "bad gateway", 503: "service unavailable", 504: "gateway timeout",
}
RETRYABLE_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))
_MASKED_KEY = re.compile(r"[\w-]*\*{3,}[\w-]*")  # "sk-ab****wxyz": how services quote keys back
_KEY_LIKE = re.compile(r"\b(sk|co|pk|rk)-[A-Za-z0-9_-]{8,}")
MAX_SERVER_MESSAGE = 300
_TOKEN_MEMO_SIZE = 200_000  # texts whose token count is remembered (then forgotten at once)


def resolve_api_key(api_key: str | None, env_var: str, *, label: str,
                    required: bool) -> str | None:
    """The key from the argument, else the environment; a clear error when one is needed."""
    key = api_key if api_key is not None else os.environ.get(env_var)
    if key is not None and not isinstance(key, str):
        raise TypeError(f"api_key for {label} must be a string, got {type(key).__name__}")
    if key:
        return key
    if required:
        raise MissingAPIKeyError(f"no API key for {label}: pass api_key=... or set {env_var}",
                                 model=label, env_var=env_var)
    return None


class Scrubber:
    """Removes a secret (and anything that looks like a key) from text meant for humans."""

    def __init__(self, secret: str | None) -> None:
        self._secret = secret

    def __call__(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, "[redacted]")
        text = _MASKED_KEY.sub("[redacted]", text)
        return _KEY_LIKE.sub("[redacted]", text)

    def __repr__(self) -> str:
        return "Scrubber(<secret>)"


def public_url(url: str | None) -> str | None:
    """``url`` without any ``user:password@`` part, for reprs and messages."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def status_failure(status: int, server_message: str, retry_after: float | None,
                   hint: str = "") -> Failure:
    """A Failure for an HTTP error status; ``server_message`` must already be scrubbed."""
    reason = f"HTTP {status} ({HTTP_REASONS.get(status, 'error')})"
    if server_message:
        reason += f": {server_message[:MAX_SERVER_MESSAGE]}"
    if hint:
        reason += f". {hint}"
    return Failure(status in RETRYABLE_STATUS, reason, status, retry_after)


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (number form), if present."""
    if not headers:
        return None
    getter = headers.get if hasattr(headers, "get") else dict(headers).get
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = getter(name) or getter(name.title())
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except (TypeError, ValueError):
            continue  # an HTTP date: rare for these APIs; fall back to our own backoff
        if seconds >= 0:
            return seconds
    return None


@functools.lru_cache(maxsize=1)
def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every client this process makes.

    Each sync call runs in a fresh event loop and so builds a fresh SDK client; loading the CA
    bundle for each would cost tens of milliseconds per query. Honours SSL_CERT_FILE and
    SSL_CERT_DIR like httpx does, else uses certifi's bundle (httpx's default), else the system's.
    """
    cafile = os.environ.get("SSL_CERT_FILE")
    capath = os.environ.get("SSL_CERT_DIR")
    if not cafile and not capath:
        try:
            import certifi

            cafile = certifi.where()
        except ImportError:
            pass
    return ssl.create_default_context(cafile=cafile or None, capath=capath or None)


class LoopBound(Generic[C]):
    """One async SDK client per event loop, closed when that loop shuts down.

    The sync entry points run each call in a fresh event loop, and an async HTTP client's pooled
    connections belong to the loop that opened them, so a client is never shared across loops.
    Closing rides on asyncio's own cleanup: a suspended async generator is finalized by
    ``loop.shutdown_asyncgens()``, which ``asyncio.run`` calls before closing the loop, and its
    ``finally`` closes the client. No socket outlives its loop.
    """

    def __init__(self, factory: Callable[[], C], close: Callable[[C], Awaitable[None]]) -> None:
        self._factory = factory
        self._close = close
        self._entries: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[C, Any]] = (
            weakref.WeakKeyDictionary())
        self._lock = threading.Lock()

    async def get(self) -> C:
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._entries.get(loop)
            fresh = entry is None
            if entry is None:
                client = self._factory()
                entry = self._entries[loop] = (client, self._lifetime(client))
        if fresh:
            await entry[1].__anext__()  # park the generator at its yield, tracked by the loop
        return entry[0]

    async def _lifetime(self, client: C) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self._close(client)


@dataclass
class RequestCounters:
    """HTTP-level counts for one provider (the engine's stats count batches)."""

    attempts: int = 0
    retries: int = 0
    failures: int = 0


def pack(sizes: list[tuple[int, int]], max_items: int, max_tokens: int | None) -> list[list[int]]:
    """Group consecutive entries into requests of at most ``max_items`` inputs and
    ``max_tokens`` tokens. Each entry is (inputs, tokens); an entry is never split."""
    groups: list[list[int]] = []
    current: list[int] = []
    items = tokens = 0
    for index, (n, t) in enumerate(sizes):
        over_items = items + n > max_items
        over_tokens = max_tokens is not None and tokens + t > max_tokens
        if current and (over_items or over_tokens):
            groups.append(current)
            current, items, tokens = [], 0, 0
        current.append(index)
        items, tokens = items + n, tokens + t
    if current:
        groups.append(current)
    return groups


def check_vectors(vectors: np.ndarray, *, expected: int, dimension: int, label: str,
                  attempts: int) -> np.ndarray:
    """The batch as (expected, dimension) finite float32, or an APIError saying what is wrong."""
    problem = batch_problem(vectors, expected=expected, dimension=dimension)
    if problem:
        raise APIError(f"{label} {problem}; nothing from this batch was cached",
                       status=None, retryable=False, attempts=attempts)
    return vectors


def stack_rows(rows: list[Any], *, label: str, attempts: int) -> np.ndarray:
    """Rows of floats -> 2-D float32; ragged rows are a bad response, not a numpy error."""
    lengths = {len(r) for r in rows}
    if len(lengths) > 1:
        raise APIError(f"{label} returned vectors of different lengths {sorted(lengths)}; "
                       "nothing from this batch was cached", status=None, retryable=False,
                       attempts=attempts)
    if not rows:
        return np.empty((0, 0), dtype=np.float32)
    return np.asarray(rows, dtype=np.float32)


class RemoteProvider:
    """Base for API providers: subclasses implement `_request`, `_classify`, `_new_client`."""

    name = "remote"
    is_remote = True
    env_var = ""

    model: str
    dimension: int
    max_tokens: int | None
    max_batch_size: int
    max_tokens_per_request: int | None = None

    def __init__(self, *, api_key: str | None, base_url: str | None, timeout: float,
                 retry: RetryPolicy | None, key_required: bool, tokenizer: TokenCounter) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive seconds, got {timeout!r}")
        self.base_url = base_url
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.tokenizer = tokenizer
        self.counters = RequestCounters()
        self._token_counts: dict[str, int] = {}
        self._counter_lock = threading.Lock()
        self._api_key = resolve_api_key(api_key, self.env_var, label=f"{self.name}:{self.model}",
                                        required=key_required)
        self._scrub = Scrubber(self._api_key)
        self._clients: LoopBound[Any] = LoopBound(self._new_client, self._close_client)

    # -- protocol ------------------------------------------------------------------------------
    @property
    def label(self) -> str:
        return f"{self.name}:{self.model}"

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens per text. Memoized: the engine and the batching both ask for the same texts."""
        counts = self._token_counts
        if len(counts) > _TOKEN_MEMO_SIZE:
            counts.clear()
        out = []
        for text in texts:
            count = counts.get(text)
            if count is None:
                count = counts[text] = self.tokenizer.count(text)
            out.append(count)
        return out

    def split_batches(self, texts: list[str], batch_size: int) -> list[list[int]]:
        """Requests of at most ``batch_size`` texts that also respect the API's limits."""
        sizes = self._sizes(texts)
        cap = min(batch_size, self.max_batch_size)
        return pack(sizes, cap, self.max_tokens_per_request)

    def embed(self, texts: list[str], *, role: Role, prefix: str) -> ProviderBatch:
        return run_sync(self.aembed(texts, role=role, prefix=prefix))

    async def aembed(self, texts: list[str], *, role: Role, prefix: str) -> ProviderBatch:
        pieces, owners, weights = self._pieces([prefix + t for t in texts])
        sizes = [(1, w) for w in weights]
        vectors: list[np.ndarray] = []
        tokens = 0
        # Normally one request; more only if a prefix or chunking pushed the batch past a limit.
        for group in pack(sizes, self.max_batch_size, self.max_tokens_per_request):
            batch = await self._send([pieces[i] for i in group], role)
            vectors.append(batch.vectors)
            tokens += batch.tokens
        merged = np.concatenate(vectors) if len(vectors) > 1 else vectors[0]
        return ProviderBatch(self._combine(merged, owners, weights, len(texts)), tokens)

    def identity(self) -> dict[str, object]:
        raise NotImplementedError

    # -- shared machinery ----------------------------------------------------------------------
    def _sizes(self, texts: list[str]) -> list[tuple[int, int]]:
        """(inputs, tokens) each text becomes on the wire."""
        counts = self.count_tokens(texts)
        if self.max_tokens is None:
            return [(1, c) for c in counts]
        return [(1, min(c, self.max_tokens)) for c in counts]

    def _pieces(self, texts: list[str]) -> tuple[list[str], list[int], list[int]]:
        """What to send for each text: (pieces, owner text index, piece tokens).
        Default: the texts themselves (the service truncates)."""
        return texts, list(range(len(texts))), [t for _, t in self._sizes(texts)]

    @staticmethod
    def _combine(vectors: np.ndarray, owners: list[int], weights: list[int],
                 n_texts: int) -> np.ndarray:
        """Token-weighted mean of the pieces of each text (identity when one piece each)."""
        if len(owners) == n_texts:
            return vectors
        out = np.zeros((n_texts, vectors.shape[1]), dtype=np.float64)
        total = np.zeros(n_texts, dtype=np.float64)
        for row, (owner, weight) in enumerate(zip(owners, weights)):
            out[owner] += weight * vectors[row]
            total[owner] += weight
        return (out / total[:, None]).astype(np.float32)

    async def _send(self, texts: list[str], role: Role) -> ProviderBatch:
        attempts = 0

        async def once() -> ProviderBatch:
            nonlocal attempts
            attempts += 1
            self._count(attempts=1, retries=int(attempts > 1))
            return await self._request(texts, role, attempts)

        try:
            batch = await call_with_retries(once, self._safe_classify, self.retry,
                                            label=self.label)
        except APIError:
            self._count(failures=1)
            raise
        vectors = check_vectors(batch.vectors, expected=len(texts), dimension=self.dimension,
                                label=self.label, attempts=attempts)
        return ProviderBatch(vectors, batch.tokens)

    def _safe_classify(self, exc: BaseException) -> Failure | None:
        failure = self._classify(exc)
        if failure is None:
            return None
        return Failure(failure.retryable, self._scrub(failure.reason), failure.status,
                       failure.retry_after)

    def _count(self, **deltas: int) -> None:
        with self._counter_lock:
            for name, value in deltas.items():
                setattr(self.counters, name, getattr(self.counters, name) + value)

    # -- subclass hooks ------------------------------------------------------------------------
    def _new_client(self) -> Any:
        raise NotImplementedError

    async def _close_client(self, client: Any) -> None:
        raise NotImplementedError

    async def _request(self, texts: list[str], role: Role, attempt: int) -> ProviderBatch:
        """One HTTP request through the SDK; vectors may still be malformed (checked after)."""
        raise NotImplementedError

    def _classify(self, exc: BaseException) -> Failure | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(model={self.model!r}, dimension={self.dimension}, "
                f"base_url={public_url(self.base_url)!r})")
