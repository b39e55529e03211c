"""Cohere embeddings through the official ``cohere`` SDK (v2 embed endpoint)."""

from __future__ import annotations

import base64
from typing import Any, Literal

import numpy as np

from ..extras import require
from ..catalog import provider_spec
from ..dimensions import requested_dimensions
from .retry import Failure, RetryPolicy
from ..roles import Role
from ._remote import (
    RemoteProvider, parse_retry_after, shared_ssl_context, stack_rows, status_failure,
)
from .base import ProviderBatch
from .registry import API_KEY_ENV_VARS
from .tokens import token_counter_for

InputType = Literal["search_document", "search_query", "classification", "clustering"]
Truncate = Literal["NONE", "START", "END"]

MAX_TEXTS_PER_REQUEST = 96
INPUT_TYPES: tuple[str, ...] = ("search_document", "search_query", "classification", "clustering")
ROLE_INPUT_TYPES: dict[str, str] = {"document": "search_document", "query": "search_query"}

_HINTS = {
    401: f"Check the key passed as api_key= or set in {API_KEY_ENV_VARS['cohere']}",
    404: "Check the model name",
}


class CohereProvider(RemoteProvider):
    """``cohere:<model>``: Cohere's embed API.

    The role picks ``input_type`` (documents ``search_document``, queries ``search_query``);
    ``input_type="classification"`` or ``"clustering"`` uses that type for both roles.

    Args:
        model: e.g. ``embed-english-v3.0``.
        dimensions: sent as ``output_dimension`` (embed-v4 and newer only).
        api_key: else ``COHERE_API_KEY``.
        base_url: another endpoint (a proxy, a private deployment, a test server).
        timeout: seconds per request before it counts as a (retryable) timeout.
        retry: a `RetryPolicy`; the SDK's own retries are always off.
        input_type: override the role mapping with one type for every text.
        truncate: what the service does with texts over the model's limit: ``END`` (default,
            keep the start), ``START`` or ``NONE`` (an error).
        embedding_type: ``"float"`` (default) or ``"base64"``: float32 bytes, decoded with numpy.
            The cohere SDK builds a Python object per float it parses (about 1 s of CPU per
            96 x 1024 batch here), so base64 is much lighter on the client.
    """

    name = "cohere"
    env_var = API_KEY_ENV_VARS["cohere"]
    max_tokens_per_request = None

    def __init__(self, model: str = "embed-english-v3.0", *, dimensions: int | None = None,
                 api_key: str | None = None, base_url: str | None = None,
                 timeout: float = 60.0, retry: RetryPolicy | None = None,
                 input_type: InputType | None = None, truncate: Truncate = "END",
                 embedding_type: Literal["float", "base64"] = "float") -> None:
        if input_type is not None and input_type not in INPUT_TYPES:
            raise ValueError(f"input_type must be one of {', '.join(INPUT_TYPES)}, "
                             f"got {input_type!r}")
        if truncate not in ("NONE", "START", "END"):
            raise ValueError(f"truncate must be 'NONE', 'START' or 'END', got {truncate!r}")
        if embedding_type not in ("float", "base64"):
            raise ValueError(
                f"embedding_type must be 'float' or 'base64', got {embedding_type!r}")
        self.embedding_type = embedding_type
        # Import the SDK's client classes now, not inside the first (timed) request.
        require("cohere", extra="cohere").AsyncClientV2  # noqa: B018
        self.model = model
        self.spec = provider_spec("cohere", model)
        native = self.spec.dimensions if self.spec else None
        self.max_tokens = self.spec.max_tokens if self.spec else None
        self.output_dimension = requested_dimensions(
            dimensions, native=native, label=f"cohere:{model}",
            sizes=self.spec.dimension_options if self.spec else None,
            unsupported=" (output_dimension is available for embed-v4.0 and newer)")
        self.dimension = self.output_dimension or native or 0
        if not self.dimension:
            raise ValueError(f"cohere:{model} is not a model embedkit knows; pass dimensions= "
                             "with its vector size")
        self.input_type = input_type
        self.truncate = truncate
        self.max_batch_size = MAX_TEXTS_PER_REQUEST
        # Cohere's tokenizer is not public offline; cl100k counts are close for English and
        # are used only for estimates (the service reports billed tokens itself).
        super().__init__(api_key=api_key, base_url=base_url, timeout=timeout, retry=retry,
                         key_required=True, tokenizer=token_counter_for(model))

    def identity(self) -> dict[str, object]:
        return {"provider": "cohere", "model": self.model,
                "output_dimension": self.output_dimension, "input_type": self.input_type,
                "truncate": self.truncate}

    def input_type_for(self, role: Role) -> str:
        return self.input_type or ROLE_INPUT_TYPES[role]

    # -- SDK -----------------------------------------------------------------------------------
    def _new_client(self) -> Any:
        cohere = require("cohere", extra="cohere")
        httpx = require("httpx", extra="cohere")
        options: dict[str, Any] = {"timeout": self.timeout, "max_retries": 0,
                                   "httpx_client": httpx.AsyncClient(
                                       timeout=self.timeout, verify=shared_ssl_context())}
        if self.base_url:
            options["base_url"] = self.base_url
        return cohere.AsyncClientV2(api_key=self._api_key, **options)

    async def _close_client(self, client: Any) -> None:
        await client.__aexit__(None, None, None)  # the SDK's documented way to close its client

    async def _request(self, texts: list[str], role: Role, attempt: int) -> ProviderBatch:
        kwargs: dict[str, Any] = {"model": self.model, "texts": texts,
                                  "input_type": self.input_type_for(role),
                                  "embedding_types": [self.embedding_type],
                                  "truncate": self.truncate}
        if self.output_dimension is not None:
            kwargs["output_dimension"] = self.output_dimension
        client = await self._clients.get()
        response = await client.embed(**kwargs)
        if self.embedding_type == "base64":
            rows = [_float32(s) for s in getattr(response.embeddings, "base64", None) or []]
        else:
            rows = getattr(response.embeddings, "float_", None) or []
        vectors = stack_rows(rows, label=self.label, attempts=attempt)
        billed = getattr(getattr(response, "meta", None), "billed_units", None)
        return ProviderBatch(vectors, int(getattr(billed, "input_tokens", 0) or 0))

    def _classify(self, exc: BaseException) -> Failure | None:
        httpx = require("httpx", extra="cohere")
        api_error = require("cohere.core.api_error", extra="cohere").ApiError
        if isinstance(exc, httpx.TimeoutException):
            return Failure(True, f"request timed out after {self.timeout:g} s")
        if isinstance(exc, httpx.TransportError):
            return Failure(True, f"could not connect or the connection dropped "
                                 f"({type(exc).__name__})")
        if isinstance(exc, api_error):
            status = exc.status_code or 0
            if 200 <= status < 300:
                return Failure(False, "returned a response that is not valid JSON", status)
            return status_failure(status, _server_message(exc.body),
                                  parse_retry_after(exc.headers), _HINTS.get(status, ""))
        if isinstance(exc, ValueError):
            return Failure(False, f"returned an unusable response ({exc})", 200)
        return None


def _float32(encoded: str) -> np.ndarray:
    """Cohere's base64 embedding: the float32 values' bytes, little-endian."""
    raw = base64.b64decode(encoded)
    if len(raw) % 4:
        raise ValueError(f"a base64 embedding of {len(raw)} bytes is not float32 values")
    return np.frombuffer(raw, dtype="<f4")


def _server_message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or "")
    return str(body or "")[:300]
