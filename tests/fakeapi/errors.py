"""Error responses shaped like the real services' (bodies the SDKs parse into exceptions)."""

from __future__ import annotations

import uuid


class ApiError(Exception):
    """An HTTP error answer: status, JSON body and extra headers."""

    def __init__(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def mask_key(key: str | None) -> str:
    """The way OpenAI quotes a wrong key back: a few characters at each end, stars between."""
    if not key:
        return "<empty>"
    return key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 8 else "*" * len(key)


def openai_error(
    status: int, message: str, *, type_: str = "invalid_request_error",
    code: str | None = None, param: str | None = None,
) -> ApiError:
    """OpenAI's `{"error": {message, type, param, code}}`."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return ApiError(status, body)


def cohere_error(status: int, message: str) -> ApiError:
    """Cohere's `{"id": ..., "message": ...}`."""
    return ApiError(status, {"id": str(uuid.uuid4()), "message": message})


_OPENAI_DEFAULTS: dict[int, tuple[str, str, str | None]] = {
    400: ("'$.input' is invalid. Please check the API reference: "
          "https://platform.openai.com/docs/api-reference.", "invalid_request_error", None),
    401: ("Incorrect API key provided: {masked}. You can find your API key at "
          "https://platform.openai.com/account/api-keys.", "invalid_request_error",
          "invalid_api_key"),
    403: ("Project does not have access to model `{model}`", "invalid_request_error",
          "model_not_found"),
    404: ("The model `{model}` does not exist or you do not have access to it.",
          "invalid_request_error", "model_not_found"),
    429: ("Rate limit reached for {model} in organization org-fake on tokens per min (TPM): "
          "Limit 1000000, Used 1000000, Requested 1200. Please try again in 72ms. Visit "
          "https://platform.openai.com/account/rate-limits to learn more.", "tokens",
          "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!",
          "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}

_COHERE_DEFAULTS: dict[int, str] = {
    400: "invalid request: {model} is not a valid request",
    401: "invalid api token",
    403: "You are not allowed to use {model} with this API key.",
    404: "model '{model}' not found, make sure the correct model ID was used and that you have "
         "access to the model.",
    429: "You are using a Trial key, which is limited to 100 API calls / minute. You can continue "
         "to use the Trial key for free or upgrade to a Production key with higher rate limits.",
    500: "internal server error, this has been reported to our developers. id fake",
    502: "bad gateway",
    503: "service unavailable: the model is overloaded, please try again later",
}


def injected_error(api: str, status: int, *, model: str, key: str | None,
                   message: str | None = None) -> ApiError:
    """The error body a real service sends for `status` (or `message` if one is given)."""
    if api == "openai":
        text, type_, code = _OPENAI_DEFAULTS.get(status, (f"HTTP {status}", "server_error", None))
        text = message or text.format(model=model, masked=mask_key(key))
        return openai_error(status, text, type_=type_, code=code)
    text = message or _COHERE_DEFAULTS.get(status, f"HTTP {status}").format(model=model)
    return cohere_error(status, text)
