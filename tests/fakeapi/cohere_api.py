"""Cohere `POST /v1/embed` and `POST /v2/embed`, in the shapes the `cohere` SDK parses."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import numpy as np

from .errors import cohere_error
from .models import (
    COHERE_INPUT_TYPE_OPTIONAL, COHERE_INPUT_TYPES, COHERE_MAX_TEXTS, COHERE_MODELS,
    COHERE_V1_DEFAULT_MODEL, FakeModel,
)
from .replies import Reply, float32_base64, float_list
from .vectors import cohere_token_count, cohere_truncate, expected_vector

Tamper = Callable[[list[np.ndarray]], list[np.ndarray]]
EMBEDDING_TYPES = ("float", "base64", "int8", "uint8", "binary", "ubinary")


def extract_inputs(body: dict) -> list[str]:
    """`texts`, or the text parts of v2 `inputs` (images are not supported by the fake)."""
    texts = body.get("texts")
    if isinstance(texts, list) and all(isinstance(t, str) for t in texts):
        return list(texts)
    out = []
    for item in body.get("inputs") or []:
        parts = item.get("content", []) if isinstance(item, dict) else []
        out.append(" ".join(p.get("text", "") for p in parts if isinstance(p, dict)))
    return out


def _bad(message: str) -> Exception:
    return cohere_error(400, f"invalid request: {message}")


def _model(body: dict, version: int, models: dict[str, FakeModel]) -> str:
    model = body.get("model") or (COHERE_V1_DEFAULT_MODEL if version == 1 else None)
    if not model:
        raise _bad("model must be specified")
    if model not in models:
        raise cohere_error(404, f"model '{model}' not found, make sure the correct model ID was "
                           "used and that you have access to the model.")
    return model


def _input_type(body: dict, model: str) -> str | None:
    input_type = body.get("input_type")
    if input_type is None and model not in COHERE_INPUT_TYPE_OPTIONAL:
        raise _bad("valid input_type must be provided with the provided model")
    if input_type is not None and input_type not in COHERE_INPUT_TYPES:
        raise _bad(f"input_type '{input_type}' is not valid. Valid options: "
                   f"{', '.join(COHERE_INPUT_TYPES)}")
    return input_type


def _dimension(body: dict, model: str, spec: FakeModel) -> int:
    asked = body.get("output_dimension")
    if asked is None:
        return spec.dimension
    if not spec.output_dimensions:
        raise _bad(f"output_dimension is not supported for {model}; it is available for "
                   "embed-v4.0 and newer models")
    if asked not in spec.output_dimensions:
        raise _bad(f"output_dimension must be one of {', '.join(map(str, spec.output_dimensions))}")
    return asked


def _embedding_types(body: dict) -> list[str]:
    types = body.get("embedding_types") or ["float"]
    for t in types:
        if t not in EMBEDDING_TYPES:
            raise _bad(f"embedding_types '{t}' is not valid. Valid options: "
                       f"{', '.join(EMBEDDING_TYPES)}")
    return list(types)


def _truncate_all(texts: list[str], body: dict, model: str,
                  limit: int) -> tuple[list[str], list[int]]:
    mode = body.get("truncate") or "END"
    if mode not in ("NONE", "START", "END"):
        raise _bad(f"truncate must be one of NONE, START, END; got '{mode}'")
    if isinstance(body.get("max_tokens"), int):
        limit = min(limit, body["max_tokens"])
    out, cut = [], []
    for i, text in enumerate(texts):
        if mode == "NONE" and cohere_token_count(text) > limit:
            raise _bad(f"text at index {i} has {cohere_token_count(text)} tokens, more than the "
                       f"maximum of {limit} for {model}; use truncate START or END")
        kept, was_cut = cohere_truncate(text, limit, mode)
        out.append(kept)
        if was_cut:
            cut.append(i)
    return out, cut


def _render(vectors: list[np.ndarray], kind: str) -> list:
    if kind == "float":
        return [float_list(v) for v in vectors]
    if kind == "base64":
        return [float32_base64(v) for v in vectors]
    if kind in ("int8", "uint8"):
        q = [np.clip(np.round(v / max(np.abs(v).max(), 1e-12) * 127), -128, 127) for v in vectors]
        shift = 128 if kind == "uint8" else 0
        return [[int(x) + shift for x in v] for v in q]
    packed = [np.packbits(v > 0).astype(int) for v in vectors]  # ubinary; binary is shifted
    shift = 128 if kind == "binary" else 0
    return [[int(x) - shift for x in v] for v in packed]


def embed(body: dict, version: int, tamper: Tamper,
          models: dict[str, FakeModel] = COHERE_MODELS) -> Reply:
    """Validate a v1/v2 embed body and build the response (raises ApiError like Cohere)."""
    model = _model(body, version, models)
    input_type = _input_type(body, model)
    texts = extract_inputs(body)
    if not texts:
        raise _bad("texts must be a non-empty list of strings")
    if len(texts) > COHERE_MAX_TEXTS:
        raise _bad(f"total number of texts must be at most {COHERE_MAX_TEXTS} - received "
                   f"{len(texts)}")
    dim = _dimension(body, model, models[model])
    types = _embedding_types(body)
    kept, cut = _truncate_all(texts, body, model, models[model].max_tokens)
    vectors = tamper([expected_vector(model, t, dim, input_type=input_type) for t in kept])
    tokens = sum(cohere_token_count(t) for t in kept)
    payload: dict = {"id": str(uuid.uuid4()), "texts": texts,
                     "meta": {"api_version": {"version": str(version)},
                              "billed_units": {"input_tokens": tokens}}}
    if version == 1 and not body.get("embedding_types"):
        payload.update(response_type="embeddings_floats", embeddings=_render(vectors, "float"))
    else:
        payload.update(response_type="embeddings_by_type",
                       embeddings={t: _render(vectors, t) for t in types})
    return Reply(payload, tokens, cut)
