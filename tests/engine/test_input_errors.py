"""Errors the command line turns into one line: each names the file, variable or model."""

from __future__ import annotations

import pytest

from embedkit import Embedder, Glossary
from embedkit.errors import MissingAPIKeyError, ModelNotFoundError


@pytest.mark.parametrize("name, content, expected", [
    ("bad.json", b'{"SLA": "service level agreement",}', "not valid JSON"),
    ("latin1.json", '{"caf\xe9": "coffee"}'.encode("latin-1"), "not UTF-8"),
    ("latin1.csv", "caf\xe9,coffee\n".encode("latin-1"), "not UTF-8"),
])
def test_unreadable_glossary_names_the_file(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError) as caught:
        Glossary.from_file(path)
    assert str(path) in str(caught.value) and expected in str(caught.value)


def test_missing_api_key_names_the_variable_and_is_a_value_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError) as caught:
        Embedder("openai:text-embedding-3-small", cache=False)
    assert isinstance(caught.value, ValueError)
    assert caught.value.env_var == "OPENAI_API_KEY"
    assert caught.value.model == "openai:text-embedding-3-small"


def test_unknown_local_model_is_one_short_line():
    with pytest.raises(ModelNotFoundError) as caught:
        Embedder("no-such-org/no-such-model", cache=False)
    message = str(caught.value)
    assert "no-such-org/no-such-model" in message and "\n" not in message
