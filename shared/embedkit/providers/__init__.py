"""Embedding backends behind one `Provider` protocol, and model-string resolution."""

from .base import Provider, ProviderBatch
from .resolve import ModelRef, parse_model_string

__all__ = ["ModelRef", "Provider", "ProviderBatch", "parse_model_string"]
