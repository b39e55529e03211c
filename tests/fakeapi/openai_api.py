"""OpenAI `POST /v1/embeddings`, validated the way the real API validates it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import openai_error
from .models import (
    OPENAI_MAX_INPUTS, OPENAI_MAX_TOKENS_PER_REQUEST, OPENAI_MODELS, FakeModel,
)
from .replies import Reply, float32_base64, float_list
from .vectors import expected_vector, openai_decode, openai_token_count

Tamper = Callable[[list[np.ndarray]], list[np.ndarray]]


def _is_ids(value: object) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(isinstance(t, int) for t in value)


def extract_inputs(body: dict) -> tuple[list[str], bool]:
    """The texts a request asks for, and whether they came as token-id arrays.

    Token ids are decoded with the same tokenizer, so ids and their text give the same vector.
    Shapes the API would reject come back as an empty list (validation reports them).
    """
    raw = body.get("input")
    if isinstance(raw, str):
        return [raw], False
    if _is_ids(raw):
        return [openai_decode(raw)], True
    if isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
        return list(raw), False
    if isinstance(raw, list) and raw and all(_is_ids(x) for x in raw):
        return [openai_decode(x) for x in raw], True
    return [], False


def _invalid(field: str) -> Exception:
    return openai_error(400, f"'$.{field}' is invalid. Please check the API reference: "
                        "https://platform.openai.com/docs/api-reference.")


def _token_counts(body: dict, texts: list[str], token_ids: bool) -> list[int]:
    if not token_ids:
        return [openai_token_count(t) for t in texts]
    raw = body["input"]
    return [len(raw)] if _is_ids(raw) else [len(x) for x in raw]


def _check_limits(counts: list[int], max_tokens: int) -> None:
    for count in counts:
        if count > max_tokens:
            raise openai_error(
                400, f"This model's maximum context length is {max_tokens + 1} tokens, however you "
                f"requested {count} tokens ({count} in your prompt; 0 for the completion). "
                "Please reduce your prompt; or completion length.")
    total = sum(counts)
    if total > OPENAI_MAX_TOKENS_PER_REQUEST:
        raise openai_error(400, f"Requested {total} tokens, max {OPENAI_MAX_TOKENS_PER_REQUEST} "
                           "tokens per request", type_="max_tokens_per_request",
                           code="max_tokens_per_request")


def _dimension(body: dict, spec: FakeModel) -> int:
    asked = body.get("dimensions")
    if asked is None:
        return spec.dimension
    if not spec.flexible_dimensions:
        raise openai_error(400, "This model does not support specifying dimensions.",
                           param="dimensions")
    if not isinstance(asked, int) or isinstance(asked, bool) or not 1 <= asked <= spec.dimension:
        raise openai_error(400, f"Invalid value for 'dimensions' = {asked}. Must be between 1 and "
                           f"{spec.dimension}.", param="dimensions")
    return asked


def embed(body: dict, tamper: Tamper, models: dict[str, FakeModel] = OPENAI_MODELS) -> Reply:
    """Validate a request body and build the response (raises ApiError like the real API)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise openai_error(400, "you must provide a model parameter")
    if model not in models:
        raise openai_error(404, f"The model `{model}` does not exist or you do not have access "
                           "to it.", code="model_not_found")
    texts, token_ids = extract_inputs(body)
    if not texts or any(t == "" for t in texts) or len(texts) > OPENAI_MAX_INPUTS:
        raise _invalid("input")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise _invalid("encoding_format")
    dim = _dimension(body, models[model])
    counts = _token_counts(body, texts, token_ids)
    _check_limits(counts, models[model].max_tokens)
    vectors = tamper([expected_vector(model, t, dim) for t in texts])
    render = float32_base64 if encoding == "base64" else float_list
    data = [{"object": "embedding", "index": i, "embedding": render(v)}
            for i, v in enumerate(vectors)]
    usage = {"prompt_tokens": sum(counts), "total_tokens": sum(counts)}
    return Reply({"object": "list", "data": data, "model": model, "usage": usage}, sum(counts))
