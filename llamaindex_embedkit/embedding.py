"""`EmbedKitEmbedding`: the embedkit engine as a LlamaIndex ``BaseEmbedding``.

This module only translates types. Prefixes, glossary, truncation, normalization, caching and
batching all happen in `embedkit.Embedder`; vectors come back as lists of Python floats.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from embedkit import Embedder, Glossary
from embedkit.extras import require
from embedkit.migration import retry_options, translate_arguments

require("llama_index.core", extra="llamaindex")

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

_LLAMA_CACHE_WARNING = (
    "EmbedKitEmbedding ignores embeddings_cache: LlamaIndex keys that cache by text alone, so a "
    "query and a document with the same text would share one vector. embedkit's own cache "
    "(cache_dir) keys by model fingerprint and role and stays in charge; embeddings_cache was "
    "set to None."
)


class EmbedKitEmbedding(BaseEmbedding):
    """Any embedkit model (local, OpenAI, Cohere) as a LlamaIndex embedding.

    Queries and documents get the model's own prefixes, the glossary is applied to both, and
    vectors are cached on disk per model fingerprint and role. ``embed_batch_size`` is the
    engine's batch size; left unset it is the engine's default for the model.

    Moving from ``HuggingFaceEmbedding`` or ``OpenAIEmbedding`` takes renaming the class:
    ``model_name``, ``query_instruction``, ``text_instruction``, ``embed_batch_size``,
    ``api_key``, ``api_base``, ``timeout`` and ``max_retries`` keep their meaning; any other
    unknown argument is an error naming the embedkit equivalent.

    Example:
        >>> from llama_index.core import Settings  # doctest: +SKIP
        >>> Settings.embed_model = EmbedKitEmbedding()  # bundled all-MiniLM-L6-v2  # doctest: +SKIP
        >>> EmbedKitEmbedding(model_name="text-embedding-3-small")  # OpenAI  # doctest: +SKIP
    """

    # validate_assignment: a later ``emb.embeddings_cache = ...`` or ``emb.embed_batch_size = n``
    # goes through the same checks as the constructor.
    model_config = ConfigDict(validate_assignment=True)

    model: str | None = Field(
        default=None, description="embedkit model string; None is the bundled all-MiniLM-L6-v2.")
    dimensions: int | None = Field(default=None, gt=0, description="Smaller vector size.")
    normalize: bool = Field(default=True, description="L2-normalize vectors.")
    glossary: dict[str, str] | str | None = Field(
        default=None, description="{term: expansion} or a path to a JSON/CSV glossary file.")
    glossary_ignore_case: bool = Field(
        default=False, description="Match glossary terms regardless of case.")
    cache_dir: str | None = Field(default=None, description="Disk cache folder.")
    cache: bool = Field(default=True, description="Use embedkit's disk cache.")
    query_prefix: str | None = Field(default=None, description="Overrides the model's prefix.")
    document_prefix: str | None = Field(default=None, description="Overrides the model's prefix.")
    api_key: SecretStr | None = Field(
        default=None, exclude=True, repr=False,
        description="API key for OpenAI/Cohere models; never serialized.")
    base_url: str | None = Field(default=None, description="API endpoint for OpenAI/Cohere models.")
    timeout: float | None = Field(default=None, gt=0,
                                  description="Seconds per API request (API models only).")
    max_retries: int | None = Field(default=None, ge=0,
                                    description="Retries after a failed API request.")
    max_concurrency: int = Field(default=4, gt=0, description="API requests in flight at once.")
    device: str | None = Field(default=None, description="torch device for local models.")
    backend: str | None = Field(
        default=None, description="Local models: 'torch', 'onnx' or 'onnx-int8'; None is the "
        "model's default (onnx for the bundled model).")
    show_progress: bool = Field(default=False, description="Progress bar over engine batches.")

    _embedder: Embedder = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        embedder = Embedder(self.model or self._model_from_name(), **self._engine_options())
        if "embed_batch_size" not in self.model_fields_set:
            self.embed_batch_size = min(embedder.batch_size, 2048)  # BaseEmbedding's upper bound
        if "model_name" not in self.model_fields_set:
            self.model_name = embedder.model_name
        self._embedder = embedder
        self._sync_batch_size()

    @classmethod
    def class_name(cls) -> str:
        return "EmbedKitEmbedding"

    @property
    def embedder(self) -> Embedder:
        """The engine doing the work: ``stats``, ``fingerprint``, ``dimension``, ``describe()``."""
        return self._embedder

    # ------------------------------------------------------------------ validation
    @field_validator("glossary", mode="before")
    @classmethod
    def _glossary_as_data(cls, value: Any) -> Any:
        # A Glossary object is stored as its terms so the config stays JSON-serializable.
        if isinstance(value, Glossary):
            return dict(value.terms)
        return str(value) if isinstance(value, Path) else value

    @field_validator("cache_dir", mode="before")
    @classmethod
    def _path_as_str(cls, value: Any) -> Any:
        return str(value) if isinstance(value, Path) else value

    @field_validator("embeddings_cache")
    @classmethod
    def _refuse_role_blind_cache(cls, value: Any) -> None:
        if value is not None:
            warnings.warn(_LLAMA_CACHE_WARNING, UserWarning, stacklevel=2)

    @model_validator(mode="before")
    @classmethod
    def _accept_migration_names(cls, data: Any) -> Any:
        # query_instruction=, text_instruction=, model_kwargs={"device": ...}... of
        # HuggingFaceEmbedding / OpenAIEmbedding; any other unknown name is an error naming
        # the embedkit field, never silently dropped (`embedkit.migration`).
        if not isinstance(data, dict):
            return data
        return translate_arguments(data, cls.model_fields, owner=cls.__name__,
                                   renames={"batch_size": "embed_batch_size"})

    @model_validator(mode="before")
    @classmethod
    def _take_glossary_case(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("glossary"), Glossary):
            data = {"glossary_ignore_case": data["glossary"].ignore_case, **data}
        return data

    @model_validator(mode="after")
    def _follow_batch_size(self) -> EmbedKitEmbedding:
        self._sync_batch_size()
        return self

    # ------------------------------------------------------------------ serialization
    def to_dict(self, **kwargs: Any) -> dict[str, Any]:
        """Config without secrets, plus the engine fingerprint.

        The fingerprint changes whenever the vectors would (model weights, prefixes, glossary
        file content...), so IngestionPipeline's transformation hash, built from this dict,
        never reuses nodes embedded by another model.
        """
        data = super().to_dict(**kwargs)
        data["fingerprint"] = self._embedder.fingerprint
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any) -> EmbedKitEmbedding:
        data = {k: v for k, v in data.items() if k != "fingerprint"}
        return super().from_dict(data, **kwargs)

    def to_payload(self) -> dict[str, Any]:
        """What instrumentation events carry: identity, never credentials."""
        return {**super().to_payload(), "dimension": self._embedder.dimension,
                "fingerprint": self._embedder.fingerprint}

    # ------------------------------------------------------------------ BaseEmbedding hooks
    def _get_query_embedding(self, query: str) -> Embedding:
        return self._embedder.embed_query(query).tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return (await self._embedder.aembed_query(query)).tolist()

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._embedder.embed_documents([text])[0].tolist()

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._embedder.aembed_documents([text]))[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._embedder.embed_documents(texts).tolist()

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return (await self._embedder.aembed_documents(texts)).tolist()

    # ------------------------------------------------------------------ helpers
    def _model_from_name(self) -> str | None:
        # LlamaIndex users habitually write model_name=...; honour it when model is not given.
        return self.model_name if "model_name" in self.model_fields_set else None

    def _engine_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "dimensions": self.dimensions,
            "normalize": self.normalize,
            "glossary": self._glossary(),
            "cache_dir": self.cache_dir,
            "cache": self.cache,
            "query_prefix": self.query_prefix,
            "document_prefix": self.document_prefix,
            "device": self.device,
            "backend": self.backend,
            "show_progress": self.show_progress,
            "max_concurrency": self.max_concurrency,
            "batch_size": self.embed_batch_size if "embed_batch_size" in self.model_fields_set
            else None,
        }
        # Provider options go only to backends that take them (the local one takes neither).
        if self.api_key is not None:
            options["api_key"] = self.api_key.get_secret_value()
        if self.base_url is not None:
            options["base_url"] = self.base_url
        if self.timeout is not None:
            options["timeout"] = self.timeout
        return {**options, **retry_options(self.max_retries)}

    def _glossary(self) -> Glossary | str | None:
        if isinstance(self.glossary, dict):
            return Glossary(self.glossary, ignore_case=self.glossary_ignore_case)
        if isinstance(self.glossary, str):
            return Glossary.from_file(self.glossary, ignore_case=self.glossary_ignore_case)
        return None

    def _sync_batch_size(self) -> None:
        # The engine batch equals LlamaIndex's batch, so one LlamaIndex batch (one pair of
        # EmbeddingStart/End events) is one model call.
        embedder = (self.__pydantic_private__ or {}).get("_embedder")
        if embedder is not None:
            embedder.batch_size = self.embed_batch_size


__all__ = ["EmbedKitEmbedding"]
