"""Embedding backends behind one `Provider` protocol, and model-string resolution."""

from .base import Provider, ProviderBatch
from .registry import API_KEY_ENV_VARS, api_only_options
from .resolve import ModelRef, parse_model_string

__all__ = ["API_KEY_ENV_VARS", "ModelRef", "Provider", "ProviderBatch", "api_only_options",
           "parse_model_string"]
