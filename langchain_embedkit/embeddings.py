"""`EmbedKitEmbeddings`: the embedkit `Embedder` behind LangChain's `Embeddings` interface.

Only types are translated here (numpy arrays out of the engine, ``list[float]`` into LangChain).
Prefixes, glossary, caching, batching and normalization all happen in `embedkit.Embedder`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from embedkit import Embedder, Glossary
from embedkit.catalog import DEFAULT_MODEL
from embedkit.migration import retry_options, translate_arguments
from embedkit.providers import API_KEY_ENV_VARS, api_only_options, parse_model_string
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

# Option names whose string values are credentials (also inside nested dicts such as
# default_headers): kept as SecretStr so repr and model_dump show "**********".
_SECRET_OPTION = re.compile(r"key|token|secret|password|passwd|authorization|credential|cookie",
                            re.IGNORECASE)


def _api_key_from_env(data: dict[str, Any]) -> SecretStr | None:
    """Default for ``api_key``: the environment variable of the provider ``model`` names.

    Pydantic passes the fields validated so far; ``model`` is declared before ``api_key``.
    """
    model = data.get("model")
    try:
        provider = parse_model_string(model).provider
    except (TypeError, ValueError):
        return None  # the engine reports the bad model string when it is built
    value = os.environ.get(API_KEY_ENV_VARS.get(provider, ""))
    return SecretStr(value) if value else None


class EmbedKitEmbeddings(BaseModel, Embeddings):
    """Embeddings from any embedkit model: local sentence-transformers, OpenAI or Cohere.

    Queries and documents get the prefixes their model was trained with, acronyms are expanded
    by the optional glossary, and vectors are cached on disk under a key that includes the
    role (query or document) and everything else that changes a vector.

    Setup:
        ``pip install "embedkit[langchain,local]"`` (add ``openai`` or ``cohere`` for API
        models and set ``OPENAI_API_KEY`` or ``COHERE_API_KEY``).

    Example:
        ```python
        from langchain_core.vectorstores import InMemoryVectorStore
        from langchain_embedkit import EmbedKitEmbeddings

        embeddings = EmbedKitEmbeddings()  # bundled all-MiniLM-L6-v2, offline
        store = InMemoryVectorStore.from_texts(["Reset a password", "Billing FAQ"], embeddings)
        store.similarity_search("forgot my login", k=1)

        e5 = EmbedKitEmbeddings(model="intfloat/e5-base-v2")  # "query: "/"passage: " applied
        small = EmbedKitEmbeddings(model="openai:text-embedding-3-small", dimensions=512)
        # From HuggingFaceEmbeddings / OpenAIEmbeddings, rename the class only:
        EmbedKitEmbeddings(model_name="BAAI/bge-small-en-v1.5", model_kwargs={"device": "cpu"},
                           encode_kwargs={"normalize_embeddings": True})
        EmbedKitEmbeddings(model="text-embedding-3-small", chunk_size=512, max_retries=3)
        ```
    """

    model: str = DEFAULT_MODEL
    """Model to use: ``provider:model`` (``openai:text-embedding-3-small``,
    ``cohere:embed-english-v3.0``), a Hugging Face id or ``local:/path/to/model``.
    Defaults to the bundled all-MiniLM-L6-v2, which needs no network."""
    dimensions: int | None = None
    """Smaller vector size. API models that support it produce it server-side; local
    Matryoshka models keep the first ``dimensions`` values and re-normalize."""
    normalize: bool = True
    """L2-normalize vectors, so that the inner product equals the cosine similarity."""
    glossary: Glossary | dict[str, str] | str | Path | None = None
    """Acronym and jargon expansions applied to queries and documents alike: a `Glossary`,
    a ``{"SLA": "service level agreement"}`` mapping, or a JSON/CSV file path."""
    cache: bool = True
    """Keep vectors in the on-disk cache; False embeds every text every time."""
    cache_dir: str | Path | None = None
    """Cache folder. Defaults to ``$EMBEDKIT_CACHE_DIR`` or ``~/.cache/embedkit``."""
    query_prefix: str | None = None
    """Text put before every query. None uses the model's documented prefix (BGE's
    instruction, E5's ``query: ``...) or the prompt saved with the model."""
    document_prefix: str | None = None
    """Text put before every document. None uses the model's documented prefix."""
    api_key: SecretStr | None = Field(default_factory=_api_key_from_env)
    """API key for ``openai:`` and ``cohere:`` models. If not passed it is read from
    ``OPENAI_API_KEY`` or ``COHERE_API_KEY``, according to ``model``.
    Never shown in repr, ``model_dump`` output or error messages."""
    base_url: str | None = None
    """Endpoint of an OpenAI- or Cohere-compatible API (a proxy, Azure, a local server)."""
    timeout: float | None = None
    """Seconds to wait for one API request (API models only; None keeps the provider's)."""
    max_retries: int | None = None
    """Retries after a failed API request (API models only; None keeps embedkit's policy of
    up to 5, with backoff and ``Retry-After``)."""
    provider_options: dict[str, Any] = Field(default_factory=dict)
    """Further keyword arguments for the backend, e.g. ``{"retry": RetryPolicy(...)}`` or
    ``{"organization": ...}`` for OpenAI, ``{"trust_remote_code": True}`` for local models.
    An ``api_key`` given here moves to the ``api_key`` field; other credential-like values
    (``*key*``, ``*token*``, ``Authorization`` headers...) are kept as ``SecretStr``, so neither
    shows in repr or ``model_dump``."""
    batch_size: int | None = None
    """Texts per model call. Defaults to 32 for local models and the provider's limit for APIs."""
    max_concurrency: int = 4
    """API requests in flight at once (ignored by local models)."""
    device: str | None = None
    """Torch device for local models (``"cpu"``, ``"cuda"``); None lets torch choose."""
    backend: str | None = None
    """How a local model runs: ``"torch"``, ``"onnx"`` or ``"onnx-int8"``; None is the model's
    default (onnx for the bundled model, torch for others). Part of the fingerprint."""
    show_progress: bool = False
    """Show a progress bar while embedding many batches."""

    model_config = ConfigDict(
        extra="forbid",
        arbitrary_types_allowed=True,  # Glossary
        protected_namespaces=(),
        hide_input_in_errors=True,  # a mistyped value could be a key
        frozen=True,  # the engine is built once from these fields; changing one later would lie
    )

    _embedder: Embedder = PrivateAttr()

    @model_validator(mode="before")
    @classmethod
    def _accept_migration_names(cls, data: Any) -> Any:
        """``model_name=``, ``model_kwargs={"device": ...}``, ``chunk_size=``,
        ``openai_api_key=``... of HuggingFaceEmbeddings / OpenAIEmbeddings, and a clear error
        naming the embedkit field for the rest (`embedkit.migration`)."""
        if not isinstance(data, dict):
            return data
        return translate_arguments(data, cls.model_fields, owner=cls.__name__)

    @model_validator(mode="before")
    @classmethod
    def _keep_secrets_out_of_options(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("provider_options"), dict):
            return data
        options = dict(data["provider_options"])
        data = dict(data)
        if "api_key" in options:
            key = options.pop("api_key")
            if data.get("api_key") is not None:
                raise ValueError("api_key is given twice (as api_key= and in provider_options); "
                                 "pass it once, as api_key=")
            data["api_key"] = key
        data["provider_options"] = _hide_secrets(options)
        return data

    def model_post_init(self, context: Any, /) -> None:
        """Build the engine once; a bad model, dimension or glossary fails here, not at first use."""
        self._embedder = Embedder(self.model, **self._engine_kwargs())

    def _engine_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "dimensions": self.dimensions,
            "normalize": self.normalize,
            "glossary": self.glossary,
            "cache_dir": self.cache_dir,
            "cache": self.cache,
            "batch_size": self.batch_size,
            "query_prefix": self.query_prefix,
            "document_prefix": self.document_prefix,
            "device": self.device,
            "backend": self.backend,
            "show_progress": self.show_progress,
            "max_concurrency": self.max_concurrency,
        }
        remote_only = {"api_key": self.api_key, "base_url": self.base_url,
                       "timeout": self.timeout, "max_retries": self.max_retries}
        given = {name: value for name, value in remote_only.items() if value is not None}
        misplaced = api_only_options(self.model, given)
        if misplaced:
            raise ValueError(f"{', '.join(misplaced)} apply to API models ('openai:...', "
                             f"'cohere:...'), not to the local model {self.model!r}")
        given.pop("max_retries", None)
        if self.api_key is not None:
            given["api_key"] = self.api_key.get_secret_value()
        return {**kwargs, **retry_options(self.max_retries),
                **_reveal_secrets(self.provider_options), **given}

    @property
    def embedder(self) -> Embedder:
        """The engine object: ``stats``, ``fingerprint``, ``describe()``, ``final_text()``."""
        return self._embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts to be searched, with the model's document prefix.

        Args:
            texts: the documents; empty or whitespace-only texts are rejected by index.

        Returns:
            One vector (a list of Python floats) per text, in order.
        """
        return _as_lists(self._embedder.embed_documents(texts))

    def embed_query(self, text: str) -> list[float]:
        """Embed a search query, with the model's query prefix.

        Args:
            text: the query.

        Returns:
            The query vector as a list of Python floats.
        """
        return _as_list(self._embedder.embed_query(text))

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """`embed_documents` without blocking the event loop."""
        return _as_lists(await self._embedder.aembed_documents(texts))

    async def aembed_query(self, text: str) -> list[float]:
        """`embed_query` without blocking the event loop."""
        return _as_list(await self._embedder.aembed_query(text))

    def _get_ls_params(self) -> dict[str, Any]:
        """LangSmith identity of this model, in the keys chat models use.

        langchain-core's `Embeddings` has no tracing hook of its own; retrievers copy these
        into their ``ls_embedding_provider`` / ``ls_embedding_model`` run metadata.
        """
        return {
            "ls_provider": self._embedder.provider.name,
            "ls_model_name": self._embedder.provider.model,
            "ls_embedding_dimensions": self._embedder.dimension,
        }


def _hide_secrets(options: dict[str, Any]) -> dict[str, Any]:
    """Credential-like string values (by option name, nested dicts too) as SecretStr."""
    hidden: dict[str, Any] = {}
    for name, value in options.items():
        if isinstance(value, dict):
            value = _hide_secrets(value)
        elif isinstance(value, str) and _SECRET_OPTION.search(str(name)):
            value = SecretStr(value)
        hidden[name] = value
    return hidden


def _reveal_secrets(options: dict[str, Any]) -> dict[str, Any]:
    """The options as the backend needs them: SecretStr values back to plain strings."""
    return {name: _reveal_secrets(value) if isinstance(value, dict)
            else value.get_secret_value() if isinstance(value, SecretStr) else value
            for name, value in options.items()}


def _as_list(vector: np.ndarray) -> list[float]:
    return vector.tolist()  # tolist() yields Python floats, as LangChain expects


def _as_lists(vectors: np.ndarray) -> list[list[float]]:
    return vectors.tolist()
