"""Export a sentence-transformers model's transformer to ONNX once, into a shared cache folder.

Layout under the export root (``$EMBEDKIT_ONNX_DIR``, else ``<embedkit cache dir>/onnx``)::

    <key>/model.onnx       the graph: input_ids, attention_mask[, token_type_ids] -> token_embeddings
    <key>/manifest.json    what was exported, from which weights, how long it took
    <key>.lock             held while one process exports that key

``key`` hashes the model folder's digest (configs and weights), the backend and the export
format, so new weights get a new folder and a folder is never rewritten once complete. The
folder is built under a temporary name and renamed into place, under a file lock: two processes
(or Ray actors on one machine) never export the same model at once, and none ever reads half a
file. Pooling and normalization are not in the graph: `onnx_model` applies them in numpy, as the
model's sentence-transformers modules declare.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from ..cache import default_cache_dir
from ..extras import require

EXPORT_FORMAT = 1  # bump when the exported graph's inputs, outputs or quantization change
OPSET = 17
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
OUTPUT_NAME = "token_embeddings"

exports_done = 0
"""Exports this process has run (tests check that a valid folder is reused, not rebuilt)."""
_count_lock = threading.Lock()


def export_root() -> Path:
    """``$EMBEDKIT_ONNX_DIR``, else the ``onnx`` folder of the embedkit cache dir."""
    if env := os.environ.get("EMBEDKIT_ONNX_DIR"):
        return Path(env).expanduser()
    return default_cache_dir() / "onnx"


def export_key(weights_digest: str, backend: str, max_seq_length: int | None) -> str:
    """Folder name for one model's weights and backend."""
    payload = json.dumps({"format": EXPORT_FORMAT, "opset": OPSET, "weights": weights_digest,
                          "backend": backend, "max_seq_length": max_seq_length}, sort_keys=True)
    return f"{backend}-{hashlib.sha256(payload.encode()).hexdigest()[:20]}"


def ensure_exported(model_st: Any, *, weights_digest: str, backend: str,
                    root: Path | None = None) -> Path:
    """The folder holding ``model_st`` exported for ``backend``; exports it if missing.

    Args:
        model_st: the loaded `SentenceTransformer` (its first module is the transformer).
        weights_digest: digest of the model folder (configs and weights), part of the key.
        backend: ``"onnx"`` (fp32) or ``"onnx-int8"`` (dynamic per-channel int8 weights).
        root: export root; default `export_root()`.
    """
    filelock = require("filelock", extra="onnx")
    root = root or export_root()
    root.mkdir(parents=True, exist_ok=True)
    key = export_key(weights_digest, backend, model_st.max_seq_length)
    target = root / key
    if _is_complete(target):
        return target
    with filelock.FileLock(str(root / f"{key}.lock")):
        if _is_complete(target):  # another process finished while we waited
            return target
        if target.exists():  # an interrupted or foreign folder: never trust it
            shutil.rmtree(target)
        staging = root / f".tmp-{key}-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            _export_into(staging, model_st, weights_digest=weights_digest, backend=backend)
            os.rename(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))


def _is_complete(folder: Path) -> bool:
    return (folder / MANIFEST_FILE).is_file() and (folder / MODEL_FILE).is_file()


def _export_into(folder: Path, model_st: Any, *, weights_digest: str, backend: str) -> None:
    global exports_done
    require("onnx", extra="onnx")
    started = time.perf_counter()
    fp32_path = folder / ("model-fp32.onnx" if backend == "onnx-int8" else MODEL_FILE)
    input_names = _export_fp32(model_st, fp32_path)
    if backend == "onnx-int8":
        _quantize_int8(fp32_path, folder / MODEL_FILE)
        fp32_path.unlink()
    manifest = {
        "format": EXPORT_FORMAT, "backend": backend, "opset": OPSET,
        "weights": weights_digest, "inputs": input_names, "output": OUTPUT_NAME,
        "max_seq_length": model_st.max_seq_length,
        "export_seconds": round(time.perf_counter() - started, 3),
        "torch": _version("torch"), "onnxruntime": _version("onnxruntime"),
    }
    # Written last: a folder without a manifest is incomplete.
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    with _count_lock:
        exports_done += 1


def _export_fp32(model_st: Any, path: Path) -> list[str]:
    import torch

    transformer = model_st[0]
    hf_model = transformer.auto_model
    input_names = _model_inputs(transformer)
    sample = transformer.tokenizer(["an example sentence to trace", "a second one"],
                                   padding=True, return_tensors="pt")
    args = tuple(sample[name] for name in input_names)
    wrapper = _token_embeddings_module(hf_model, input_names).eval()
    axes = {name: {0: "batch", 1: "sequence"} for name in input_names}
    axes[OUTPUT_NAME] = {0: "batch", 1: "sequence"}
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # Tracing warns about every Python-level shape check; the dynamic axes cover them.
        warnings.simplefilter("ignore")
        # The TorchScript exporter (dynamo=False) handles dynamic batch and sequence axes of
        # Hugging Face encoders without extra packages (the dynamo one needs onnxscript).
        torch.onnx.export(wrapper, args, str(path), input_names=input_names,
                          output_names=[OUTPUT_NAME], dynamic_axes=axes, opset_version=OPSET,
                          do_constant_folding=True, dynamo=False)
    return input_names


def _model_inputs(transformer: Any) -> list[str]:
    """The tokenizer outputs the model takes: input_ids, attention_mask, token_type_ids if used."""
    import inspect

    accepted = inspect.signature(transformer.auto_model.forward).parameters
    produced = list(getattr(transformer.tokenizer, "model_input_names", None)
                    or ["input_ids", "attention_mask"])
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids")
             if n in produced and n in accepted]
    if "input_ids" not in names or "attention_mask" not in names:
        raise ValueError(f"ONNX export needs a text model taking input_ids and attention_mask; "
                         f"this one's tokenizer gives {produced}")
    return names


def _quantize_int8(source: Path, target: Path) -> None:
    quantization = require("onnxruntime.quantization", extra="onnx")
    # Per-channel: one scale per output channel of each weight matrix. Per-tensor scales cost
    # far more accuracy on MiniLM (cosine to torch 0.958 against 0.994).
    root_logger = logging.getLogger()
    level = root_logger.level
    root_logger.setLevel(logging.ERROR)  # quantize_dynamic logs a pre-processing tip on root
    try:
        quantization.quantize_dynamic(str(source), str(target), per_channel=True,
                                      weight_type=quantization.QuantType.QInt8)
    finally:
        root_logger.setLevel(level)


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - a version is informative only
        return None


def _token_embeddings_module(model: Any, input_names: list[str]) -> Any:
    """A torch module around the transformer alone: token ids in, last hidden state out."""
    import torch

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, model: Any, input_names: list[str]) -> None:
            super().__init__()
            self.model = model
            self.input_names = input_names

        def forward(self, *inputs: Any) -> Any:
            out = self.model(**dict(zip(self.input_names, inputs)), return_dict=True)
            return out.last_hidden_state

    return TokenEmbeddings(model, input_names)
