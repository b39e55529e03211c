"""Parse model strings: ``provider:model``, with ``local:`` implied for ids and paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..catalog import DEFAULT_MODEL, find_spec

KNOWN_PROVIDERS = ("local", "openai", "cohere")


@dataclass(frozen=True)
class ModelRef:
    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


def parse_model_string(model: str | None) -> ModelRef:
    """``"openai:text-embedding-3-small"`` -> (openai, text-embedding-3-small); bare -> local.

    A bare API model name from the catalog (``text-embedding-3-small``,
    ``embed-english-v3.0``) resolves to its provider, so code moving from ``OpenAIEmbeddings``
    keeps its model string; an existing folder of that name stays a local model.

    Example:
        >>> parse_model_string("BAAI/bge-large-en-v1.5")
        ModelRef(provider='local', model='BAAI/bge-large-en-v1.5')
        >>> parse_model_string("text-embedding-3-small")
        ModelRef(provider='openai', model='text-embedding-3-small')
    """
    if model is None:
        return ModelRef("local", DEFAULT_MODEL)
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"model must be a non-empty string like 'openai:text-embedding-3-small', "
                         f"got {model!r}")
    model = model.strip()
    head, sep, tail = model.partition(":")
    if sep and head.lower() in KNOWN_PROVIDERS:
        if not tail:
            raise ValueError(f"model {model!r} names a provider but no model")
        return ModelRef(head.lower(), tail)
    if sep and "/" not in head and head.isidentifier():
        raise ValueError(f"unknown provider {head!r} in {model!r}; "
                         f"expected one of {', '.join(KNOWN_PROVIDERS)}")
    return _bare_api_model(model) or ModelRef("local", model)


def _bare_api_model(model: str) -> ModelRef | None:
    """The provider of a catalogued API model named without one (None for anything else)."""
    if "/" in model or "\\" in model or Path(model).expanduser().exists():
        return None
    spec = find_spec(model)
    if spec is None or spec.provider == "local" or spec.name.lower() != model.lower():
        return None
    if spec.provider not in KNOWN_PROVIDERS:
        raise ValueError(f"{model!r} is a {spec.provider} API model, which embedkit has no "
                         f"provider for; embedkit serves {', '.join(KNOWN_PROVIDERS)} models")
    return ModelRef(spec.provider, spec.name)
