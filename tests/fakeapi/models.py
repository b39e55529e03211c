"""The models the fake server knows, with the limits the real services enforce."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FakeModel:
    """One model: native size, per-text token limit, and how it may be shrunk."""

    name: str
    dimension: int
    max_tokens: int
    # OpenAI: any 1..dimension via `dimensions`; Cohere: one of `output_dimensions`.
    flexible_dimensions: bool = False
    output_dimensions: tuple[int, ...] = ()


OPENAI_MODELS: dict[str, FakeModel] = {
    m.name: m
    for m in (
        FakeModel("text-embedding-3-small", 1536, 8191, flexible_dimensions=True),
        FakeModel("text-embedding-3-large", 3072, 8191, flexible_dimensions=True),
        FakeModel("text-embedding-ada-002", 1536, 8191),
    )
}

COHERE_MODELS: dict[str, FakeModel] = {
    m.name: m
    for m in (
        FakeModel("embed-english-v3.0", 1024, 512),
        FakeModel("embed-multilingual-v3.0", 1024, 512),
        FakeModel("embed-english-light-v3.0", 384, 512),
        FakeModel("embed-multilingual-light-v3.0", 384, 512),
        FakeModel("embed-english-v2.0", 4096, 512),
        FakeModel("embed-v4.0", 1536, 128_000, output_dimensions=(256, 512, 1024, 1536)),
    )
}

# Models before v3 accept a request without input_type; v3 and later refuse it.
COHERE_INPUT_TYPE_OPTIONAL = frozenset({"embed-english-v2.0"})
# What Cohere's v1 endpoint uses when no model is named.
COHERE_V1_DEFAULT_MODEL = "embed-english-v2.0"

OPENAI_MAX_INPUTS = 2048
OPENAI_MAX_TOKENS_PER_REQUEST = 300_000
COHERE_MAX_TEXTS = 96
COHERE_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")
