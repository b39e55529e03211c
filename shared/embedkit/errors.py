"""Exceptions raised by embedkit. Messages never contain API keys, cache keys or vector bytes.

The tree (catch `EmbedKitError` for all of them)::

    EmbedKitError
    ├── ModelNotFoundError        a model could not be resolved or loaded
    ├── UnknownModelError         not in the catalog; also a KeyError
    ├── FingerprintMismatchError  vectors of two configurations were about to be mixed
    ├── IndexFormatError          a saved index is corrupt, hostile or not what save writes;
    │                             also a ValueError
    ├── ProviderError             a backend failed or returned something unusable
    │   └── APIError              an API request failed for good (status, retryable, attempts)
    ├── CacheError                the vector cache failed to read or write (disk, Redis)
    │   └── CacheUnavailableError the cache server cannot be reached or timed out; also a
    │                             ConnectionError
    ├── BudgetExceeded            a call was refused because it would cross the Budget
    └── MissingAPIKeyError        an API model without a key; also a ValueError

Bad arguments raise the built-in `ValueError` / `TypeError` with a message naming the argument
(and for texts, their positions).
"""

from __future__ import annotations


class EmbedKitError(Exception):
    """Base class for embedkit errors."""


class ModelNotFoundError(EmbedKitError):
    """A model could not be resolved or loaded; the message lists what was tried."""


class FingerprintMismatchError(EmbedKitError):
    """Vectors from one embedding configuration were about to be mixed with another's."""


class IndexFormatError(EmbedKitError, ValueError):
    """A saved index folder cannot be loaded: a file is missing, malformed, inconsistent with
    the others, not a regular file, or outside the folder. The message names the file.

    Also a `ValueError`, so ``except ValueError`` around ``HybridIndex.load`` keeps working.
    """


class UnknownModelError(EmbedKitError, KeyError):
    """A model name is not in the catalog; the message lists close names.

    Also a `KeyError`, so ``except KeyError`` around `embedkit.get_spec` keeps working.
    """

    def __str__(self) -> str:  # KeyError would repr() the message, quotes and all
        return str(self.args[0]) if self.args else ""


class ProviderError(EmbedKitError):
    """An embedding backend failed or returned something unusable."""


class APIError(ProviderError):
    """An API request failed for good. The message names the model and the cause, never a key.

    Attributes:
        status: the HTTP status, or None for timeouts, connection errors and bad responses.
        retryable: whether the cause was one a retry could fix (retries ran out).
        attempts: requests made for this batch, retries included.
    """

    def __init__(self, message: str, *, status: int | None, retryable: bool,
                 attempts: int) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.attempts = attempts


class CacheError(EmbedKitError):
    """The vector cache failed. The message names the backend and the cause, never a cache key
    or vector bytes. A failed *write* never reaches the caller of ``embed_*``: the vectors are
    returned and a warning says they were not cached."""


class CacheUnavailableError(CacheError, ConnectionError):
    """The cache server cannot be reached, or stopped answering within its socket timeout.

    Also a `ConnectionError`, so ``except ConnectionError`` keeps working.
    """


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


class MissingAPIKeyError(EmbedKitError, ValueError):
    """An API model was asked for without a key (argument or environment variable).

    Also a `ValueError`, so ``except ValueError`` around `Embedder(...)` keeps working.

    Attributes: ``model`` (the provider:model label), ``env_var`` (where the key is read from).
    """

    def __init__(self, message: str, *, model: str, env_var: str) -> None:
        super().__init__(message)
        self.model = model
        self.env_var = env_var
