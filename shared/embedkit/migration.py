"""Argument names of the frameworks' built-in embedding classes, translated to embedkit's.

Moving from LangChain's ``HuggingFaceEmbeddings`` / ``OpenAIEmbeddings`` or LlamaIndex's
``HuggingFaceEmbedding`` / ``OpenAIEmbedding`` should take renaming the class only: arguments
whose meaning is the same are accepted under their old names (`ALIASES`, and the ``device``,
``normalize_embeddings`` and ``batch_size`` keys of ``model_kwargs`` / ``encode_kwargs``).
Any other unknown argument is an error that names the embedkit equivalent (`HINTS`) or the
closest field name; nothing is silently dropped.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import Any

from .providers.retry import RetryPolicy

ALIASES: dict[str, str] = {
    "model_name": "model",
    "query_instruction": "query_prefix",
    "text_instruction": "document_prefix",
    "embed_instruction": "document_prefix",
    "embed_batch_size": "batch_size",
    "chunk_size": "batch_size",  # OpenAIEmbeddings: texts per request
    "request_timeout": "timeout",
    "openai_api_key": "api_key",
    "cohere_api_key": "api_key",
    "openai_api_base": "base_url",
    "api_base": "base_url",
    "show_progress_bar": "show_progress",
}
"""Old argument name -> embedkit field (same meaning)."""

NESTED_ALIASES: dict[str, dict[str, str]] = {
    "model_kwargs": {"device": "device"},
    "encode_kwargs": {"normalize_embeddings": "normalize", "batch_size": "batch_size"},
}
"""Dict arguments of sentence-transformers wrappers whose keys map to embedkit fields."""

_TOKENS = "embedkit counts tokens and truncates each text to the model's limit itself"
HINTS: dict[str, str] = {
    "dimension": "use dimensions=",
    "cache_folder": "embedkit's cache_dir caches vectors; the model files come from the "
                    "installed package or SENTENCE_TRANSFORMERS_HOME",
    "multi_process": "use embedkit.distributed.embed_dataset to embed on many processes",
    "openai_organization": "use provider_options={'organization': ...}",
    "organization": "use provider_options={'organization': ...}",
    "deployment": "use model='openai:<deployment>' with base_url= (Azure)",
    "tiktoken_model_name": _TOKENS,
    "tiktoken_enabled": _TOKENS,
    "embedding_ctx_length": _TOKENS,
    "check_embedding_ctx_length": _TOKENS,
    "max_length": _TOKENS,
    "context_window": _TOKENS,
    "prompts": "use query_prefix= and document_prefix=",
    "default_prompt_name": "use query_prefix= and document_prefix=",
    "trust_remote_code": "use provider_options={'trust_remote_code': True}",
    "default_headers": "use provider_options={'default_headers': {...}}",
    "http_client": "embedkit manages its HTTP client; use base_url= and timeout=",
    "mode": "the model's own query/document prefixes are applied by embedkit",
}
"""Arguments with no same-meaning field, and what to use instead."""


def translate_arguments(data: Mapping[str, Any], fields: Collection[str], *,
                        owner: str, renames: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``data`` with old argument names replaced by the owner's field names.

    Args:
        data: the keyword arguments given to the adapter class.
        fields: the adapter's own field names (kept as they are).
        owner: the class name, for error messages.
        renames: embedkit field -> the adapter's name for it where they differ
            (LlamaIndex calls ``batch_size`` ``embed_batch_size``).

    Raises:
        TypeError: an unknown argument (naming the embedkit equivalent), or an old name given
            together with its new one.
    """
    renames = dict(renames or {})
    out: dict[str, Any] = {}
    for name, value in data.items():
        for target, new_value, source in _targets(name, value, fields, owner):
            target = renames.get(target, target)
            if target in out or (target in data and target != name):
                raise TypeError(f"{owner} got {source} and {target}=, which mean the same; "
                                f"pass only {target}=")
            out[target] = new_value
    return out


def _targets(name: str, value: Any, fields: Collection[str], owner: str):
    if name in fields:
        return [(name, value, f"{name}=")]
    if name in ALIASES:
        return [(ALIASES[name], value, f"{name}=")]
    if name in NESTED_ALIASES:
        return _nested(name, value, owner)
    raise TypeError(_unknown(name, fields, owner))


def _nested(name: str, value: Any, owner: str) -> list[tuple[str, Any, str]]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{owner}: {name} must be a dict, got {type(value).__name__}")
    known = NESTED_ALIASES[name]
    unknown = sorted(set(value) - set(known))
    if unknown:
        hints = "".join(f"; {key}: {HINTS[key]}" for key in unknown if key in HINTS)
        raise TypeError(f"{owner} has no equivalent of {name} keys {unknown}; it takes "
                        f"{', '.join(f'{k!r} (as {v}=)' for k, v in known.items())}{hints}")
    return [(known[key], item, f"{name}[{key!r}]") for key, item in value.items()]


def _unknown(name: str, fields: Collection[str], owner: str) -> str:
    if name in HINTS:
        return f"{owner} has no {name!r} argument: {HINTS[name]}"
    close = difflib.get_close_matches(name, [*fields, *ALIASES], n=1)
    hint = f"; did you mean {ALIASES.get(close[0], close[0])!r}?" if close else ""
    return f"{owner} got an unknown argument {name!r}{hint}"


def retry_options(max_retries: int | None) -> dict[str, Any]:
    """Provider options for ``max_retries`` (retries after the first request, as the
    frameworks count them): ``{"retry": RetryPolicy(max_attempts=max_retries + 1)}``."""
    if max_retries is None:
        return {}
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
    return {"retry": RetryPolicy(max_attempts=max_retries + 1)}
