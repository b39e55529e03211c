"""What the server saw: one `RecordedRequest` per HTTP request."""

from __future__ import annotations

from dataclasses import dataclass, field

# Headers that carry credentials (OpenAI/Cohere bearer, Azure `api-key`, generic `x-api-key`).
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key"})
REDACTED = "<redacted>"


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """A copy of `headers` with every credential value replaced by `<redacted>`."""
    return {k: (REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


@dataclass
class RecordedRequest:
    """One request: where it went, what it carried, how it was answered.

    `headers` keep their real values so a test can check the key was sent; `repr()` and
    `redacted_headers()` never show credentials.
    """

    number: int  # 1-based, in arrival order since the last reset
    method: str
    path: str
    api: str  # "openai", "cohere-v1", "cohere-v2" or "unknown"
    headers: dict[str, str] = field(repr=False)
    body: dict | None  # parsed JSON (None if the body was not a JSON object)
    texts: list[str]  # inputs as text (token-id inputs decoded)
    token_ids: bool  # the client sent token-id arrays instead of text
    received_at: float  # time.perf_counter() when the body was read
    finished_at: float | None = None
    status: int | None = None  # None: no response was sent (dropped / client gone)
    fault: str | None = None  # kind of the injected fault, if any
    tokens: int = 0  # tokens billed in the response
    truncated: list[int] = field(default_factory=list)  # input indices the server cut

    @property
    def n_inputs(self) -> int:
        return len(self.texts)

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.received_at

    def header(self, name: str) -> str | None:
        """A header's value, case-insensitively (real value: do not log it for credentials)."""
        return self.headers.get(name.lower())

    @property
    def api_key(self) -> str | None:
        """The key sent as `Authorization: Bearer <key>` or `api-key: <key>`."""
        auth = self.header("authorization") or ""
        if auth.lower().startswith("bearer "):
            return auth[7:]
        return self.header("api-key") or None

    def redacted_headers(self) -> dict[str, str]:
        return redact_headers(self.headers)

    def __repr__(self) -> str:
        return (f"RecordedRequest(#{self.number} {self.method} {self.path} api={self.api} "
                f"inputs={self.n_inputs} status={self.status} fault={self.fault})")
