"""Prefixes reach the model, per role, with the documented precedence."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from embedkit import Embedder
from embedkit.catalog import BGE_QUERY_INSTRUCTION, get_spec
from embedkit.prefixes import resolve_prefixes

TEXT = "how do I rotate the API signing key"


def test_saved_prompts_reach_the_model_per_role(prompt_model_dir, cache_dir):
    emb = Embedder(f"local:{prompt_model_dir}", cache_dir=cache_dir)
    assert emb.prefixes == {"query": "query: ", "document": "passage: "}

    query_vec = emb.embed_query(TEXT)
    doc_vec = emb.embed_documents([TEXT])[0]
    assert not np.allclose(query_vec, doc_vec, atol=1e-3)

    raw = SentenceTransformer(str(prompt_model_dir))
    expected = raw.encode(["query: " + TEXT, "passage: " + TEXT], normalize_embeddings=True)
    np.testing.assert_allclose(query_vec, expected[0], atol=1e-5)
    np.testing.assert_allclose(doc_vec, expected[1], atol=1e-5)


def test_model_without_prefixes_gives_equal_query_and_document_vectors(embedder):
    assert embedder.prefixes == {"query": "", "document": ""}
    np.testing.assert_allclose(embedder.embed_query(TEXT), embedder.embed_documents([TEXT])[0],
                               atol=1e-6)


def test_explicit_prefix_beats_saved_prompt_and_empty_override_keeps_it(prompt_model_dir,
                                                                        cache_dir):
    emb = Embedder(f"local:{prompt_model_dir}", cache_dir=cache_dir,
                   query_prefix="search: ", document_prefix="")
    assert emb.prefixes == {"query": "search: ", "document": "passage: "}
    raw = SentenceTransformer(str(prompt_model_dir))
    expected = raw.encode("search: " + TEXT, normalize_embeddings=True)
    np.testing.assert_allclose(emb.embed_query(TEXT), expected, atol=1e-5)


def test_catalog_prefix_found_by_folder_name_of_a_downloaded_model(tmp_path, bundled_model_dir):
    local_copy = tmp_path / "bge-small-en-v1.5"
    shutil.copytree(bundled_model_dir, local_copy)
    emb = Embedder(f"local:{local_copy}", cache=False)
    assert emb.prefixes == {"query": BGE_QUERY_INSTRUCTION, "document": ""}
    assert emb.spec.name == "BAAI/bge-small-en-v1.5"


def test_catalog_beats_saved_prompts(tmp_path, prompt_model_dir):
    local_copy = tmp_path / "e5-small-v2"
    shutil.copytree(prompt_model_dir, local_copy)
    config = local_copy / "config_sentence_transformers.json"
    data = json.loads(config.read_text())
    data["prompts"] = {"query": "Q: ", "document": "D: "}
    config.write_text(json.dumps(data))
    emb = Embedder(f"local:{local_copy}", cache=False)
    assert emb.prefixes == {"query": "query: ", "document": "passage: "}


def test_sentence_transformers_default_prompt_is_not_applied_twice(tmp_path, prompt_model_dir):
    local_copy = tmp_path / "default-prompt-model"
    shutil.copytree(prompt_model_dir, local_copy)
    config = local_copy / "config_sentence_transformers.json"
    data = json.loads(config.read_text())
    data["default_prompt_name"] = "query"
    config.write_text(json.dumps(data))
    emb = Embedder(f"local:{local_copy}", cache=False)
    raw = SentenceTransformer(str(local_copy))
    expected = raw.encode("passage: " + TEXT, prompt="", normalize_embeddings=True)
    np.testing.assert_allclose(emb.embed_documents([TEXT])[0], expected, atol=1e-5)


@pytest.mark.parametrize(
    ("explicit", "spec_name", "saved", "expected"),
    [
        ({"query": None, "document": None}, "intfloat/e5-large-v2", {},
         {"query": "query: ", "document": "passage: "}),
        ({"query": "custom: ", "document": None}, "intfloat/e5-large-v2", {},
         {"query": "custom: ", "document": "passage: "}),
        ({"query": None, "document": None}, "BAAI/bge-large-en-v1.5", {"document": "doc: "},
         {"query": BGE_QUERY_INSTRUCTION, "document": "doc: "}),
        ({"query": "", "document": ""}, "nomic-ai/nomic-embed-text-v1.5", {},
         {"query": "search_query: ", "document": "search_document: "}),
        ({"query": None, "document": None}, None, {"query": "q> ", "document": ""},
         {"query": "q> ", "document": ""}),
    ],
)
def test_precedence_explicit_then_catalog_then_saved(explicit, spec_name, saved, expected):
    spec = get_spec(spec_name) if spec_name else None
    assert resolve_prefixes(explicit, spec, saved) == expected
