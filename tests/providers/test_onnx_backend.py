"""The ONNX Runtime backends: export once, reuse, invalidate, parity with sentence-transformers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.providers.tiny_models import build_tiny_model

pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parents[2]
TEXTS = ["  Reset the password  ", "what is a vector query for billing " * 5, "x",
         "Ünïcödé invoice?", "how to search the account model"]


def _env(onnx_dir: Path) -> dict[str, str]:
    return {**os.environ, "EMBEDKIT_ONNX_DIR": str(onnx_dir),
            "PYTHONPATH": os.pathsep.join([str(REPO / "shared"), str(REPO)])}


# A separate process: what a second worker, a Ray actor or tomorrow's run sees.
_CHILD = """
import json, sys
from embedkit import Embedder
from embedkit.providers import onnx_export
emb = Embedder(sys.argv[1], backend="onnx", normalize=False, cache=False)
vectors = emb.embed_documents(json.loads(sys.argv[2]))
print(json.dumps({"exports": onnx_export.exports_done, "folder": str(emb.provider._onnx.folder),
                  "vectors": vectors.tolist()}))
"""


def _child(model: Path, onnx_dir: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(model), json.dumps(TEXTS)],
                            env=_env(onnx_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _st_vectors(model: Path, texts: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model), device="cpu").encode(
        texts, normalize_embeddings=False, convert_to_numpy=True)


# ----------------------------------------------------------------------------- parity
@pytest.mark.parametrize("pooling,normalize", [
    ("mean", True), ("cls", False), (["max", "lasttoken"], False)])
def test_onnx_matches_sentence_transformers_pooling_and_normalize(
        tmp_path, monkeypatch, pooling, normalize):
    monkeypatch.setenv("EMBEDKIT_ONNX_DIR", str(tmp_path / "onnx"))
    from embedkit import Embedder

    model = build_tiny_model(tmp_path / "tiny", pooling=pooling, normalize=normalize)
    expected = _st_vectors(model, TEXTS)
    with pytest.warns(UserWarning, match="truncated"):  # one text is over the 16-token limit
        got = Embedder(str(model), backend="onnx", normalize=False,
                       cache=False).embed_documents(TEXTS)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-5)
    norms = np.linalg.norm(got, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5) == normalize


@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_every_pooling_mode_matches_sentence_transformers(padding_side):
    import torch
    from sentence_transformers.sentence_transformer.modules import Pooling

    from embedkit.providers.onnx_model import SUPPORTED_POOLING, pool

    rng = np.random.default_rng(0)
    tokens = rng.normal(size=(3, 7, 8)).astype(np.float32)
    lengths = [7, 4, 1]
    mask = np.zeros((3, 7), dtype=np.int64)
    for row, length in enumerate(lengths):
        if padding_side == "right":
            mask[row, :length] = 1
        else:
            mask[row, 7 - length:] = 1
    for mode in SUPPORTED_POOLING:
        module = Pooling(8, pooling_mode=mode)
        expected = module({"token_embeddings": torch.from_numpy(tokens),
                           "attention_mask": torch.from_numpy(mask)})["sentence_embedding"]
        np.testing.assert_allclose(pool(tokens, mask, (mode,)), expected.numpy(), atol=1e-5,
                                   err_msg=f"{mode}, {padding_side} padding")


def test_bundled_int8_is_close_to_torch_and_fp32_is_the_same():
    from embedkit import Embedder

    texts = ["How do I reset my password?", "Invoices are sent on the first of the month.",
             "The mitochondria is the powerhouse of the cell. " * 30]
    torch_vectors = Embedder(backend="torch", cache=False).embed_documents(texts)
    fp32 = Embedder(backend="onnx", cache=False).embed_documents(texts)
    int8 = Embedder(backend="onnx-int8", cache=False).embed_documents(texts)
    np.testing.assert_allclose(fp32, torch_vectors, atol=1e-5)
    cosines = (int8 * torch_vectors).sum(axis=1)
    assert cosines.min() > 0.97, cosines


# ----------------------------------------------------------------------------- export cache
def test_export_once_shared_by_processes_and_redone_when_weights_change(tmp_path):
    onnx_dir = tmp_path / "onnx"
    model = build_tiny_model(tmp_path / "tiny", pooling="mean")
    # Two processes start on a cold cache at once: the file lock lets exactly one export.
    first, second = _child(model, onnx_dir), _child(model, onnx_dir)
    results = [_result(first), _result(second)]
    assert sorted(r["exports"] for r in results) == [0, 1]
    assert results[0]["folder"] == results[1]["folder"]
    np.testing.assert_allclose(results[0]["vectors"], _st_vectors(model, TEXTS), atol=2e-5)
    exported = Path(results[0]["folder"]) / "model.onnx"
    stamp = exported.stat().st_mtime_ns
    assert not list(onnx_dir.glob(".tmp-*")), "the staging folder must be renamed away"

    # A third run reuses the folder untouched.
    third = _result(_child(model, onnx_dir))
    assert third["exports"] == 0 and exported.stat().st_mtime_ns == stamp

    # New weights in the same folder: a new export, vectors of the new weights.
    build_tiny_model(model, pooling="mean", seed=1)
    changed = _result(_child(model, onnx_dir))
    assert changed["exports"] == 1 and changed["folder"] != results[0]["folder"]
    np.testing.assert_allclose(changed["vectors"], _st_vectors(model, TEXTS), atol=2e-5)
    assert exported.stat().st_mtime_ns == stamp  # the old export is left as it was


def test_second_embedder_in_a_process_does_not_export(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDKIT_ONNX_DIR", str(tmp_path / "onnx"))
    from embedkit import Embedder
    from embedkit.providers import onnx_export

    model = build_tiny_model(tmp_path / "tiny", pooling="cls")
    before = onnx_export.exports_done
    first = Embedder(str(model), backend="onnx-int8", cache=False)
    assert onnx_export.exports_done == before + 1
    second = Embedder(str(model), backend="onnx-int8", cache=False)
    assert onnx_export.exports_done == before + 1
    assert second.provider._onnx is first.provider._onnx  # one session per process
    manifest = json.loads((first.provider._onnx.folder / "manifest.json").read_text())
    assert manifest["backend"] == "onnx-int8" and manifest["export_seconds"] > 0


def test_incomplete_export_folder_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDKIT_ONNX_DIR", str(tmp_path / "onnx"))
    from embedkit import Embedder
    from embedkit.providers import onnx_export

    model = build_tiny_model(tmp_path / "tiny", pooling="mean")
    folder = Embedder(str(model), backend="onnx", cache=False).provider._onnx.folder
    (folder / "manifest.json").unlink()  # as if a copy were interrupted
    before = onnx_export.exports_done
    from embedkit.providers.onnx_export import ensure_exported
    from embedkit.providers.local import LocalProvider

    provider = LocalProvider(str(model), backend="torch")
    again = ensure_exported(provider.model_st, weights_digest=provider._weights_digest,
                            backend="onnx")
    assert again == folder and (folder / "manifest.json").is_file()
    assert onnx_export.exports_done == before + 1


# ----------------------------------------------------------------------------- fingerprint
def test_backend_is_part_of_the_fingerprint_and_torch_fingerprints_are_unchanged(tmp_path,
                                                                                 monkeypatch):
    monkeypatch.setenv("EMBEDKIT_ONNX_DIR", str(tmp_path / "onnx"))
    from embedkit import Embedder

    model = build_tiny_model(tmp_path / "tiny", pooling="mean")
    prints = {b: Embedder(str(model), backend=b, cache=False) for b in
              ("torch", "onnx", "onnx-int8")}
    assert len({e.fingerprint for e in prints.values()}) == 3
    assert "backend" not in prints["torch"].provider.identity()
    assert prints["onnx-int8"].provider.identity()["quantization"] == "int8 dynamic per-channel"
    assert prints["onnx"].describe()["backend"] == "onnx"


def test_index_mismatch_names_the_backend(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDKIT_ONNX_DIR", str(tmp_path / "onnx"))
    from embedkit import Embedder, FingerprintMismatchError, HybridIndex

    model = build_tiny_model(tmp_path / "tiny", pooling="mean")
    index = HybridIndex(Embedder(str(model), backend="torch", cache=False))
    index.add(["reset the password", "billing invoice"])
    index.save(tmp_path / "index")
    with pytest.raises(FingerprintMismatchError, match=r"backend 'torch' \(saved\) vs 'onnx-int8'"):
        HybridIndex.load(tmp_path / "index",
                         Embedder(str(model), backend="onnx-int8", cache=False))


def test_bad_backend_names_are_refused(tmp_path):
    from embedkit import Embedder

    with pytest.raises(ValueError, match="backend must be one of torch, onnx, onnx-int8"):
        Embedder(backend="tensorrt", cache=False)
    with pytest.raises(ValueError, match="applies to local models"):
        Embedder("openai:text-embedding-3-small", backend="onnx", api_key="sk-x", cache=False)


def test_unsupported_modules_fail_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDKIT_ONNX_DIR", str(tmp_path / "onnx"))
    from embedkit import Embedder

    model = build_tiny_model(tmp_path / "tiny", pooling="mean", dense=True)
    with pytest.raises(ValueError, match=r"Dense.*backend='torch'"):
        Embedder(str(model), backend="onnx", cache=False)
    assert not (tmp_path / "onnx").exists() or not any((tmp_path / "onnx").iterdir())


# ----------------------------------------------------------------------------- threads
def test_eight_threads_share_one_session(tmp_path):
    from embedkit import Embedder

    emb = Embedder(backend="onnx-int8", cache=False, onnx_threads=1)
    # Different lengths per thread: padding and truncation differ between concurrent calls.
    jobs = [[f"thread {t} text {i} " + "word " * (7 * t + i * 60) for i in range(6)]
            for t in range(8)]
    expected = [emb.embed_documents(texts) for texts in jobs]
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(t: int) -> None:
        try:
            start.wait()
            for _ in range(3):
                results[t] = emb.embed_documents(jobs[t])
                emb.embed_query(jobs[t][0])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with pytest.warns(UserWarning, match="truncated"):
        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors, errors
    for t in range(8):
        np.testing.assert_allclose(results[t], expected[t], atol=1e-5)
    assert emb.provider._onnx.threads == 1


def test_threads_default_to_physical_cores_and_can_be_set(monkeypatch):
    from embedkit.providers.onnx_model import default_threads

    assert 1 <= default_threads() <= (os.cpu_count() or 1)
    monkeypatch.setenv("EMBEDKIT_ONNX_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("EMBEDKIT_ONNX_THREADS", "zero")
    with pytest.raises(ValueError, match="EMBEDKIT_ONNX_THREADS"):
        default_threads()


# ----------------------------------------------------------------------------- extras
def test_missing_onnxruntime_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['onnxruntime'] = None\n"
            "from embedkit import Embedder\n"
            "try:\n    Embedder(backend='onnx', cache=False)\n"
            "except ImportError as exc:\n    print('ERR', exc)\n")
    out = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path / "onnx"),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'pip install "embedkit[onnx]"' in out.stdout
    assert not (tmp_path / "onnx").exists()  # nothing exported before the check


def test_bundled_model_default_backend():
    from embedkit import Embedder
    from embedkit.providers.backends import BUNDLED_DEFAULT_BACKEND

    assert Embedder(cache=False).provider.backend == BUNDLED_DEFAULT_BACKEND


def test_adapters_pass_the_backend_through():
    from langchain_embedkit import EmbedKitEmbeddings
    from llamaindex_embedkit import EmbedKitEmbedding

    assert EmbedKitEmbeddings(backend="torch", cache=False).embedder.provider.backend == "torch"
    li = EmbedKitEmbedding(backend="onnx-int8", cache=False)
    assert li.embedder.provider.backend == "onnx-int8"
    assert li.embedder.describe()["backend"] == "onnx-int8"


def test_int8_vector_of_a_text_does_not_depend_on_its_batch():
    from embedkit import Embedder

    texts = ["short", "a much longer passage about billing, invoices and the monthly account "
             "statement that pads the batch", "how do I reset my password"]
    emb = Embedder(backend="onnx-int8", cache=False)
    together = emb.embed_documents(texts)
    alone = np.stack([emb.embed_documents([text])[0] for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-6)
