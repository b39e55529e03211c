"""Exceptions raised by embedkit. Messages never contain API keys."""

from __future__ import annotations


class EmbedKitError(Exception):
    """Base class for embedkit errors."""


class ModelNotFoundError(EmbedKitError):
    """A model could not be resolved or loaded; the message lists what was tried."""


class FingerprintMismatchError(EmbedKitError):
    """Vectors from one embedding configuration were about to be mixed with another's."""


class ProviderError(EmbedKitError):
    """An embedding backend failed or returned something unusable."""
