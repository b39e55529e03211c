"""Build the `Provider` a model string names."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from .base import Provider
from .resolve import ModelRef, parse_model_string

# provider name -> (module, class). Imported lazily so the core install needs no backend SDK.
PROVIDER_CLASSES: dict[str, tuple[str, str]] = {
    "local": ("embedkit.providers.local", "LocalProvider"),
    "openai": ("embedkit.providers.openai", "OpenAIProvider"),
    "cohere": ("embedkit.providers.cohere", "CohereProvider"),
}

LOCAL_OPTIONS = frozenset({"trust_remote_code", "onnx_threads"})
"""Backend options a local model takes; every other option is for API models only."""

API_KEY_ENV_VARS: dict[str, str] = {"openai": "OPENAI_API_KEY", "cohere": "COHERE_API_KEY"}
"""Where each API provider reads its key when ``api_key`` is not passed (the variables the
providers' own SDKs and LangChain's partner packages use)."""


def api_only_options(model: ModelRef | str | None, options: Iterable[str]) -> list[str]:
    """The ``options`` that apply to API models only, when ``model`` is a local model (sorted;
    empty for an API model). Callers word the error in their own terms."""
    ref = model if isinstance(model, ModelRef) else parse_model_string(model)
    if ref.provider != "local":
        return []
    return sorted(set(options) - LOCAL_OPTIONS)


def create_provider(ref: ModelRef, *, dimensions: int | None, device: str | None,
                    options: dict[str, Any], backend: str | None = None) -> Provider:
    """Instantiate the backend for ``ref``; ``options`` are backend-specific keyword arguments.

    ``backend`` (``torch``, ``onnx``, ``onnx-int8``) chooses how a local model runs.
    """
    if backend is not None and ref.provider != "local":
        raise ValueError(f"backend={backend!r} applies to local models; {ref} runs on the "
                         f"{ref.provider} API")
    module_name, class_name = PROVIDER_CLASSES[ref.provider]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise ImportError(f"embedkit has no {ref.provider!r} backend in this version") from exc
    cls = getattr(module, class_name)
    if ref.provider == "local":
        remote_only = api_only_options(ref, options)
        if remote_only:
            raise TypeError(f"{', '.join(remote_only)} only apply to API models "
                            f"('openai:...', 'cohere:...'); {ref} is a local model")
        return cls(ref.model, device=device, backend=backend, **options)
    return cls(ref.model, dimensions=dimensions, **options)
