"""A local fake of the OpenAI and Cohere embedding APIs for tests and benchmarks.

    from tests.fakeapi import FakeEmbeddingServer, expected_vector

See `server.py` for the server, `faults.py` for what can be made to fail, `vectors.py` for how
vectors and token counts are computed (so tests can predict them).
"""

from .faults import FAULT_KINDS, FaultRule
from .models import COHERE_MODELS, OPENAI_MODELS, FakeModel
from .records import RecordedRequest, redact_headers
from .server import FakeEmbeddingServer
from .vectors import (
    cohere_token_count, cohere_truncate, expected_vector, openai_token_count,
    openai_tokenizer_name,
)

__all__ = [
    "COHERE_MODELS", "FAULT_KINDS", "OPENAI_MODELS", "FakeEmbeddingServer", "FakeModel",
    "FaultRule", "RecordedRequest", "cohere_token_count", "cohere_truncate", "expected_vector",
    "openai_token_count", "openai_tokenizer_name", "redact_headers",
]
