"""Bad input is named precisely; limits are enforced; results match sentence-transformers."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from embedkit import Embedder, ModelNotFoundError


def test_vectors_match_raw_sentence_transformers(cache_dir, bundled_model_dir):
    # backend="torch" runs sentence-transformers itself; the ONNX backends' parity is in
    # tests/providers/test_onnx_backend.py.
    embedder = Embedder(cache_dir=cache_dir, backend="torch")
    texts = [f"document number {i} " + "word " * (i % 17) for i in range(70)]
    raw = SentenceTransformer(str(bundled_model_dir)).encode(texts, normalize_embeddings=True)
    ours = embedder.embed_documents(texts)
    assert ours.dtype == np.float32 and ours.shape == (70, 384)
    np.testing.assert_allclose(ours, raw, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_async_matches_sync(embedder):
    texts = ["alpha", "beta gamma", "delta"]
    sync = embedder.embed_documents(texts)

    async def both():
        return await asyncio.gather(embedder.aembed_documents(texts),
                                    embedder.aembed_query("alpha"))

    docs, query = asyncio.run(both())
    np.testing.assert_array_equal(docs, sync)
    assert query.shape == (384,)


def test_empty_and_whitespace_texts_name_their_indices(embedder):
    with pytest.raises(ValueError, match=r"2 empty or whitespace-only text\(s\) at indices 1, 3"):
        embedder.embed_documents(["ok", "", "fine", "  \n\t"])
    with pytest.raises(ValueError, match="query is empty"):
        embedder.embed_query("   ")


def test_non_strings_name_index_and_type(embedder):
    with pytest.raises(TypeError, match="index 2 is int"):
        embedder.embed_documents(["a", "b", 3])
    with pytest.raises(TypeError, match="single string"):
        embedder.embed_documents("not a list")
    with pytest.raises(TypeError, match="query is NoneType"):
        embedder.embed_query(None)


def test_empty_list_gives_zero_rows(embedder):
    out = embedder.embed_documents([])
    assert out.shape == (0, 384) and out.dtype == np.float32
    assert embedder.stats.requests == 0


def test_bad_input_loses_nothing_already_cached(embedder):
    embedder.embed_documents(["kept"])
    with pytest.raises(ValueError):
        embedder.embed_documents(["kept", ""])
    embedder.embed_documents(["kept"])
    assert embedder.stats.hits == 1


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_long_texts_are_truncated_with_one_warning_naming_how_many(cache_dir, bundled_model_dir,
                                                                   backend):
    embedder = Embedder(cache_dir=cache_dir, backend=backend)
    long_text = "word " * 600
    with pytest.warns(UserWarning, match=r"2 of 3 text\(s\) exceed .*limit of 256 tokens") as rec:
        vectors = embedder.embed_documents([long_text, "short", long_text + "more"])
    assert len([w for w in rec if "exceed" in str(w.message)]) == 1
    assert embedder.stats.truncated == 2
    raw = SentenceTransformer(str(bundled_model_dir))
    np.testing.assert_allclose(vectors[0], raw.encode(long_text, normalize_embeddings=True),
                               atol=1e-5)


def test_matryoshka_dimensions_truncate_and_renormalize(cache_dir):
    full = Embedder(cache_dir=cache_dir)
    with pytest.warns(UserWarning, match="not trained for Matryoshka"):
        small = Embedder(cache_dir=cache_dir, dimensions=64)
    text = "Error E1127 means the fan failed."
    vec = small.embed_documents([text])[0]
    assert vec.shape == (64,) and small.dimension == 64
    head = full.embed_documents([text])[0][:64]
    np.testing.assert_allclose(vec, head / np.linalg.norm(head), atol=1e-6)


def test_dimensions_above_model_size_is_an_error():
    with pytest.raises(ValueError, match="dimensions=512 is larger than .*384"):
        Embedder(dimensions=512, cache=False)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_numeric_options(bad):
    with pytest.raises(ValueError, match="positive integer"):
        Embedder(batch_size=bad, cache=False)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_unnormalized_truncated_vectors_keep_their_length(cache_dir, bundled_model_dir, backend):
    text = "a fairly ordinary sentence"
    with pytest.warns(UserWarning, match="Matryoshka"):
        emb = Embedder(cache_dir=cache_dir, normalize=False, dimensions=64, backend=backend)
    vector = emb.embed_documents([text])[0]
    raw = SentenceTransformer(str(bundled_model_dir)).encode(text, normalize_embeddings=False)
    np.testing.assert_allclose(vector, raw[:64], atol=1e-6)
    assert np.linalg.norm(vector) < 0.99


def test_missing_model_folder_says_what_was_tried(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        Embedder(f"local:{tmp_path / 'nope'}", cache=False)


def test_unknown_hub_model_offline_explains_the_fix():
    with pytest.raises(ModelNotFoundError) as info:
        Embedder("no-such-org/no-such-model-xyz", cache=False)
    message = str(info.value)
    assert "Hugging Face cache" in message and "local:/path" in message


def test_unknown_provider_is_named():
    with pytest.raises(ValueError, match="unknown provider 'voyage'"):
        Embedder("voyage:voyage-large-2", cache=False)


def test_batches_preserve_input_order(cache_dir):
    emb = Embedder(cache_dir=cache_dir, batch_size=3)
    texts = ["x " * n + f"t{n}" for n in (5, 1, 9, 2, 7, 3, 8)]
    together = emb.embed_documents(texts)
    assert emb.stats.requests == 3
    single = Embedder(cache=False)
    for i, text in enumerate(texts):
        np.testing.assert_allclose(together[i], single.embed_documents([text])[0], atol=1e-5)


def test_repr_and_describe_name_the_model(embedder):
    assert "all-MiniLM-L6-v2" in repr(embedder)
    info = embedder.describe()
    assert info["dimension"] == 384 and info["fingerprint"] == embedder.fingerprint
    assert embedder.spec.max_tokens == 256 and embedder.spec.mteb_score == 56.26


def test_api_options_on_a_local_model_are_named():
    with pytest.raises(TypeError, match="api_key, base_url only apply to API models"):
        Embedder(cache=False, api_key="sk-not-shown", base_url="http://x")
