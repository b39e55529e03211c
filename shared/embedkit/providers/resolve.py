"""Parse model strings: ``provider:model``, with ``local:`` implied for ids and paths."""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog import DEFAULT_MODEL

KNOWN_PROVIDERS = ("local", "openai", "cohere")


@dataclass(frozen=True)
class ModelRef:
    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


def parse_model_string(model: str | None) -> ModelRef:
    """``"openai:text-embedding-3-small"`` -> (openai, text-embedding-3-small); bare -> local.

    Example:
        >>> parse_model_string("BAAI/bge-large-en-v1.5")
        ModelRef(provider='local', model='BAAI/bge-large-en-v1.5')
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
    return ModelRef("local", model)
