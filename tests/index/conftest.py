"""The msmarco-5k fixtures of the retrieval tests, shared with the index tests."""

from tests.retrieval.conftest import msmarco, msmarco_tokens  # noqa: F401
