"""Finding 9, engine side: odd inputs fail early with a clear error naming the problem."""

from __future__ import annotations

import json

import pytest

from embedkit import Embedder, EmbedKitError, Glossary


@pytest.fixture(scope="module")
def emb():
    return Embedder(cache=False)


def test_a_short_reply_to_the_dimension_probe_is_an_error(fake_api):
    fake_api.add_model("openai", "house-model", 64)
    fake_api.inject("wrong_count", nth=1)  # the probe gets no vector back
    with pytest.raises(EmbedKitError, match="dimension probe"):
        Embedder("openai:house-model", base_url=fake_api.openai_base_url, cache=False)


@pytest.mark.parametrize("call", ["documents", "query"])
def test_a_lone_surrogate_is_a_validation_error_naming_the_text(emb, call):
    with pytest.raises(ValueError, match="index 1" if call == "documents" else "query") as caught:
        if call == "documents":
            emb.embed_documents(["fine", "broken \ud800 text"])
        else:
            emb.embed_query("broken \ud800 query")
    assert "surrogate" in str(caught.value)


@pytest.mark.parametrize("name, content, expected", [
    ("bad.json", b'{"SLA": ', "not valid JSON"),
    ("latin1.json", '{"caf\xe9": "coffee"}'.encode("latin-1"), "not UTF-8"),
    ("latin1.csv", "caf\xe9,coffee\n".encode("latin-1"), "not UTF-8"),
    ("folder.json", None, "not a regular file"),
])
def test_broken_glossary_files_name_the_file(tmp_path, name, content, expected):
    path = tmp_path / name
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=expected) as caught:
        Glossary.from_file(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("argument", ["glossary", "cache", "query_prefix", "document_prefix"])
def test_wrongly_typed_arguments_fail_at_construction(argument):
    with pytest.raises(TypeError, match=argument):
        Embedder(**{"cache": False, argument: 5})


def test_a_dict_of_texts_is_refused(emb):
    with pytest.raises(TypeError, match="dict"):
        emb.embed_documents({"key one": "text one", "key two": "text two"})


def test_a_key_in_langchain_provider_options_never_shows(fake_api):
    pytest.importorskip("langchain_core")
    from langchain_embedkit import EmbedKitEmbeddings

    secret = "sk-provider-options-0123456789"
    fake_api.api_key = secret
    lc = EmbedKitEmbeddings(model="openai:text-embedding-3-small", cache=False,
                            base_url=fake_api.openai_base_url,
                            provider_options={"api_key": secret,
                                              "default_headers": {"X-Api-Token": secret}})
    shown = [repr(lc), str(lc), json.dumps(lc.model_dump(), default=str), lc.model_dump_json()]
    assert not any(secret in text for text in shown)
    assert len(lc.embed_query("the key still reaches the server")) == 1536
    assert fake_api.requests[-1].api_key == secret
