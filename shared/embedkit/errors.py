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


class BudgetExceeded(EmbedKitError):
    """An API call was not made because its estimated cost would cross the `Budget`.

    Attributes: ``needed`` (estimated US dollars of the refused call), ``remaining`` (what the
    budget had left), ``max_usd``.
    """

    def __init__(self, message: str, *, needed: float, remaining: float, max_usd: float) -> None:
        super().__init__(message)
        self.needed = needed
        self.remaining = remaining
        self.max_usd = max_usd
