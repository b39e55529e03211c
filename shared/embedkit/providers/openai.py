"""OpenAI embeddings (and any OpenAI-compatible server) through the official ``openai`` SDK."""

from __future__ import annotations

import base64
import json
import math
from typing import Any, Literal

import numpy as np

from ..extras import require
from ..catalog import ModelSpec, provider_spec
from ..dimensions import requested_dimensions
from .retry import APIError, Failure, RetryPolicy, call_with_retries
from ..roles import Role
from ._remote import (
    RemoteProvider, parse_retry_after, shared_ssl_context, stack_rows, status_failure,
)
from .base import ProviderBatch
from .registry import API_KEY_ENV_VARS
from .tokens import token_counter_for

LongTexts = Literal["truncate", "average"]

MAX_INPUTS_PER_REQUEST = 2048
MAX_TOKENS_PER_REQUEST = 300_000
_PROBE_TEXT = "embedkit dimension probe"
_HINTS = {
    401: f"Check the key passed as api_key= or set in {API_KEY_ENV_VARS['openai']}",
    403: "The key's project may not have access to this model",
    404: "Check the model name (and base_url for OpenAI-compatible servers)",
}


class OpenAIProvider(RemoteProvider):
    """``openai:<model>``: OpenAI's embedding API or any server that speaks it.

    Args:
        model: e.g. ``text-embedding-3-small``; any name for an OpenAI-compatible server.
        dimensions: server-side size (text-embedding-3 only; an error for models without it).
        api_key: else ``OPENAI_API_KEY``; optional when ``base_url`` points at a server that
            needs none.
        base_url: an OpenAI-compatible endpoint (vLLM, Ollama, TEI, LiteLLM, a proxy...).
        timeout: seconds per request before it counts as a (retryable) timeout.
        retry: a `RetryPolicy`; the SDK's own retries are always off.
        long_texts: ``"truncate"`` texts over the model's limit (default) or ``"average"`` the
            vectors of their token chunks, weighted by chunk tokens.
        max_tokens: per-text limit for models the catalog does not know.
        encoding_format: ``"base64"`` (default; float32 bytes, decoded straight into numpy)
            or ``"float"`` for servers that cannot send base64.
        organization, default_headers, default_query: passed to the SDK client (e.g. an
            ``api-version`` query for Azure-style deployments).
    """

    name = "openai"
    env_var = API_KEY_ENV_VARS["openai"]
    max_tokens_per_request = MAX_TOKENS_PER_REQUEST

    def __init__(self, model: str = "text-embedding-3-small", *, dimensions: int | None = None,
                 api_key: str | None = None, base_url: str | None = None,
                 timeout: float = 60.0, retry: RetryPolicy | None = None,
                 long_texts: LongTexts = "truncate", max_tokens: int | None = None,
                 encoding_format: Literal["float", "base64"] = "base64",
                 organization: str | None = None, default_headers: dict[str, str] | None = None,
                 default_query: dict[str, object] | None = None) -> None:
        if long_texts not in ("truncate", "average"):
            raise ValueError(f"long_texts must be 'truncate' or 'average', got {long_texts!r}")
        if encoding_format not in ("float", "base64"):
            raise ValueError(
                f"encoding_format must be 'float' or 'base64', got {encoding_format!r}")
        require("openai", extra="openai")
        self.model = model
        self.spec = provider_spec("openai", model)
        self.long_texts = long_texts
        self.encoding_format = encoding_format
        self._client_options = {"organization": organization, "default_headers": default_headers,
                                "default_query": default_query}
        self.max_batch_size = MAX_INPUTS_PER_REQUEST
        self.chunk_tokens = max_tokens or (self.spec.max_tokens if self.spec else None)
        # In "average" mode no text is cut, so the engine has no per-text limit to warn about.
        self.max_tokens = self.chunk_tokens if long_texts == "truncate" else None
        self.request_dimensions = _request_dimensions(model, self.spec, dimensions)
        super().__init__(api_key=api_key, base_url=base_url, timeout=timeout, retry=retry,
                         key_required=base_url is None, tokenizer=token_counter_for(model))
        self.dimension = (self.request_dimensions or (self.spec.dimensions if self.spec else None)
                          or self._probe_dimension())

    def identity(self) -> dict[str, object]:
        return {"provider": "openai", "model": self.model,
                "request_dimensions": self.request_dimensions, "long_texts": self.long_texts,
                "max_tokens": self.chunk_tokens, "tokenizer": self.tokenizer.name}

    # -- what goes on the wire -----------------------------------------------------------------
    def _sizes(self, texts: list[str]) -> list[tuple[int, int]]:
        counts = self.count_tokens(texts)
        limit = self.chunk_tokens
        if limit is None:
            return [(1, c) for c in counts]
        if self.long_texts == "average":
            return [(max(1, math.ceil(c / limit)), c) for c in counts]
        return [(1, min(c, limit)) for c in counts]

    def _pieces(self, texts: list[str]) -> tuple[list[str], list[int], list[int]]:
        limit = self.chunk_tokens
        pieces: list[str] = []
        owners: list[int] = []
        counts = self.count_tokens(texts)
        if limit is None or max(counts, default=0) <= limit:
            return texts, list(range(len(texts))), counts  # the usual case: nothing to cut
        for index, (text, count) in enumerate(zip(texts, counts)):
            if count <= limit:
                parts = [text]
            elif self.long_texts == "average":
                parts = self.tokenizer.chunks(text, limit)
            else:
                parts = [self.tokenizer.truncate(text, limit)]
            pieces.extend(parts)
            owners.extend([index] * len(parts))
        return pieces, owners, self.count_tokens(pieces)

    # -- SDK -----------------------------------------------------------------------------------
    def _new_client(self) -> Any:
        openai = require("openai", extra="openai")
        options = {k: v for k, v in self._client_options.items() if v is not None}
        http_client = openai.DefaultAsyncHttpxClient(verify=shared_ssl_context())
        # Servers that need no key still get a placeholder: the SDK refuses to run without one.
        return openai.AsyncOpenAI(api_key=self._api_key or "no-key", base_url=self.base_url,
                                  timeout=self.timeout, max_retries=0, http_client=http_client,
                                  **options)

    async def _close_client(self, client: Any) -> None:
        await client.close()

    async def _request(self, texts: list[str], role: Role, attempt: int) -> ProviderBatch:
        kwargs: dict[str, Any] = {"model": self.model, "input": texts,
                                  "encoding_format": self.encoding_format}
        if self.request_dimensions is not None:
            kwargs["dimensions"] = self.request_dimensions
        client = await self._clients.get()
        # The SDK builds, authenticates and sends the request and raises its typed errors; we
        # read the JSON body ourselves: building a pydantic object per input costs ~0.5 ms each,
        # more than the HTTP round trip of a whole batch on a fast link.
        raw = await client.embeddings.with_raw_response.create(**kwargs)
        payload = json.loads(raw.http_response.content)
        rows, tokens = _parse_payload(payload)
        return ProviderBatch(stack_rows(rows, label=self.label, attempts=attempt), tokens)

    def _classify(self, exc: BaseException) -> Failure | None:
        openai = require("openai", extra="openai")
        if isinstance(exc, openai.APITimeoutError):
            return Failure(True, f"request timed out after {self.timeout:g} s")
        if isinstance(exc, openai.APIConnectionError):
            cause = type(exc.__cause__).__name__ if exc.__cause__ else "connection error"
            return Failure(True, f"could not connect or the connection dropped ({cause})")
        if isinstance(exc, openai.APIStatusError):
            return status_failure(exc.status_code, _server_message(exc),
                                  parse_retry_after(exc.response.headers),
                                  _HINTS.get(exc.status_code, ""))
        if isinstance(exc, json.JSONDecodeError):
            return Failure(False, "returned a response that is not valid JSON", 200)
        if isinstance(exc, (openai.APIResponseValidationError, ValueError)):
            return Failure(False, f"returned an unusable response ({type(exc).__name__})", 200)
        return None

    def _probe_dimension(self) -> int:
        """Ask the server once: a model the catalog does not know has an unknown size."""
        from .._asyncio import run_sync

        async def probe() -> int:
            batch = await call_with_retries(
                lambda: self._request([_PROBE_TEXT], "document", 1), self._safe_classify,
                self.retry, label=self.label)
            shape = batch.vectors.shape
            if len(shape) != 2 or shape[0] != 1 or shape[1] < 1:
                raise APIError(f"{self.label} answered the dimension probe (one text) with "
                               f"{shape[0] if shape else 0} vector(s) of dimension "
                               f"{shape[1] if len(shape) == 2 else 0}; cannot tell its vector "
                               "size (pass dimensions=... or check base_url)", status=None,
                               retryable=False, attempts=1)
            return int(shape[1])

        return run_sync(probe())


def _request_dimensions(model: str, spec: ModelSpec | None, dimensions: int | None) -> int | None:
    """The ``dimensions`` to send, or None; an error where the model cannot honour it.
    text-embedding-3 models take any size up to their own; a compatible server's model
    (unknown here) gets what was asked and decides."""
    return requested_dimensions(
        dimensions, native=spec.dimensions if spec else None, label=f"openai:{model}",
        sizes=None if spec is None or spec.matryoshka else (),
        unsupported="; only text-embedding-3 models do (leave dimensions unset)")


class MalformedResponseError(ValueError):
    """The body parsed as JSON but is not an embeddings response."""


def _parse_payload(payload: Any) -> tuple[list[Any], int]:
    """Rows in input order (by ``index``) and billed tokens from an embeddings response body."""
    try:
        data = sorted(payload["data"], key=lambda item: item["index"])
        rows = [_decode(item["embedding"]) for item in data]
    except (KeyError, TypeError) as exc:
        raise MalformedResponseError(f"no data[].embedding/index ({type(exc).__name__})") from None
    usage = payload.get("usage") or {}
    return rows, int(usage.get("prompt_tokens") or 0)


def _decode(embedding: Any) -> Any:
    """A list of floats as is; a base64 string as little-endian float32."""
    if isinstance(embedding, str):
        return np.frombuffer(base64.b64decode(embedding), dtype="<f4")
    return embedding


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(exc, "message", "") or "")
