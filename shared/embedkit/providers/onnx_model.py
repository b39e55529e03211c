"""Run an exported sentence-transformers model with onnxruntime: tokenize, infer, pool, normalize.

One `OnnxSentenceModel` (one `InferenceSession`) serves every thread of a process:
``InferenceSession.run`` is thread-safe. Hugging Face fast tokenizers are not safe to share when
truncation or padding settings change between calls, so each thread gets its own copy of the
model's tokenizer, configured once.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..extras import require
from .onnx_export import MODEL_FILE, ensure_exported, read_manifest

SUPPORTED_POOLING = ("cls", "mean", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
_MODULE_KINDS = {"Transformer": "transformer", "Pooling": "pooling", "Normalize": "normalize"}

_sessions: dict[tuple[str, int], OnnxSentenceModel] = {}
_sessions_lock = threading.Lock()


@dataclass(frozen=True)
class SentencePipeline:
    """What the model's sentence-transformers modules do after the transformer.

    Attributes:
        pooling_modes: pooling modes in module order; several are concatenated, as
            sentence-transformers does.
        normalize: whether a Normalize module follows the pooling.
        max_seq_length: tokens kept per text (longer texts are truncated), or None.
    """

    pooling_modes: tuple[str, ...]
    normalize: bool
    max_seq_length: int | None


def read_pipeline(model_st: Any, model_name: str) -> SentencePipeline:
    """The pooling, normalization and length limit the loaded model declares.

    Raises:
        ValueError: the model has a module the ONNX backend does not run (a Dense layer, a
            custom module), a pooling mode it does not know, or pooling without prompt tokens.
    """
    kinds = [_MODULE_KINDS.get(type(module).__name__) for module in model_st]
    if kinds[:2] != ["transformer", "pooling"] or any(k != "normalize" for k in kinds[2:]):
        names = [type(module).__name__ for module in model_st]
        raise ValueError(
            f"the ONNX backends run models made of Transformer, Pooling and optional Normalize "
            f"modules; {model_name} has {names}. Use backend='torch' for this model.")
    pooling = model_st[1]
    modes = _pooling_modes(pooling)
    unknown = [m for m in modes if m not in SUPPORTED_POOLING]
    if unknown:
        raise ValueError(f"{model_name} declares pooling {unknown}, which the ONNX backends do "
                         f"not implement (they do {', '.join(SUPPORTED_POOLING)}); use "
                         "backend='torch'")
    if getattr(pooling, "include_prompt", True) is False:
        raise ValueError(f"{model_name} pools without its prompt tokens (include_prompt=false), "
                         "which the ONNX backends do not implement; use backend='torch'")
    max_len = int(model_st.max_seq_length) if model_st.max_seq_length else None
    return SentencePipeline(modes, normalize="normalize" in kinds, max_seq_length=max_len)


def _pooling_modes(pooling: Any) -> tuple[str, ...]:
    mode = getattr(pooling, "pooling_mode", None)
    if mode is not None:
        return (mode,) if isinstance(mode, str) else tuple(mode)
    # sentence-transformers < 6 keeps one boolean per mode, concatenated in this order.
    legacy = [("cls", "pooling_mode_cls_token"), ("max", "pooling_mode_max_tokens"),
              ("mean", "pooling_mode_mean_tokens"),
              ("mean_sqrt_len_tokens", "pooling_mode_mean_sqrt_len_tokens"),
              ("weightedmean", "pooling_mode_weightedmean_tokens"),
              ("lasttoken", "pooling_mode_lasttoken")]
    return tuple(name for name, attr in legacy if getattr(pooling, attr, False))


def default_threads() -> int:
    """onnxruntime intra-op threads: ``$EMBEDKIT_ONNX_THREADS``, else this process's physical cores.

    Hyper-threads share a core's vector units, so more threads than physical cores only adds
    contention; the process's CPU affinity (containers, taskset) caps the count too.
    """
    if env := os.environ.get("EMBEDKIT_ONNX_THREADS"):
        return _positive_threads(env, "EMBEDKIT_ONNX_THREADS")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
    except ImportError:
        physical = None
    return max(1, min(usable or 1, physical or usable or 1))


def _positive_threads(value: object, name: str) -> int:
    try:
        threads = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        threads = 0
    if threads < 1:
        raise ValueError(f"{name} must be a positive number of threads, got {value!r}")
    return threads


class OnnxSentenceModel:
    """An exported model folder run by onnxruntime, with the model's own tokenizer and pooling.

    Args:
        folder: the export folder (`onnx_export.ensure_exported`).
        tokenizer_json: the model's fast tokenizer serialized (``backend_tokenizer.to_str()``),
            lowercasing and special tokens included.
        pad_token: the padding token and its id.
        padding_side: ``"right"`` or ``"left"``, as the model's tokenizer pads.
        pipeline: pooling, normalization and length limit (`read_pipeline`).
        threads: onnxruntime intra-op threads.
    """

    def __init__(self, folder: Path, *, tokenizer_json: str, pad_token: tuple[str, int],
                 padding_side: str = "right", pipeline: SentencePipeline, threads: int) -> None:
        ort = require("onnxruntime", extra="onnx")
        self.folder = folder
        self.pipeline = pipeline
        self.threads = threads
        manifest = read_manifest(folder)
        self.input_names = list(manifest["inputs"])
        self.per_text = manifest["backend"] == "onnx-int8"
        self._tokenizer_json = tokenizer_json
        self._pad_token = pad_token
        self._padding_side = padding_side
        self._local = threading.local()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(folder / MODEL_FILE), options,
                                            providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), dimension)`` float32 sentence embeddings, as sentence-transformers pools.

        With int8 weights each text runs on its own: dynamic quantization picks one activation
        scale per input tensor, so in a batch a text's vector would depend on its neighbours
        (measured: cosine 0.989-0.994 between a passage embedded alone and in a batch of 32).
        Alone, it costs no throughput on these CPUs (no padding) and a text's vector depends
        on the text only, as with torch and fp32.
        """
        if self.per_text and len(texts) > 1:
            return np.concatenate([self._encode_batch([text]) for text in texts])
        return self._encode_batch(texts)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._encoder().encode_batch(texts, add_special_tokens=True)
        feeds = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                 "attention_mask": np.array([e.attention_mask for e in encodings],
                                            dtype=np.int64)}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        tokens = self.session.run(None, feeds)[0]
        pooled = pool(tokens, feeds["attention_mask"], self.pipeline.pooling_modes)
        if self.pipeline.normalize:
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            pooled = pooled / np.maximum(norms, 1e-12)  # torch.nn.functional.normalize's eps
        return pooled.astype(np.float32, copy=False)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens of each text with special tokens, before truncation."""
        return [len(e.ids) for e in self._counter().encode_batch(texts, add_special_tokens=True)]

    def _encoder(self) -> Any:
        tok = getattr(self._local, "encoder", None)
        if tok is None:
            tok = self._fresh_tokenizer()
            if self.pipeline.max_seq_length:
                tok.enable_truncation(max_length=self.pipeline.max_seq_length)
            tok.enable_padding(pad_token=self._pad_token[0], pad_id=self._pad_token[1],
                               direction=self._padding_side)
            self._local.encoder = tok
        return tok

    def _counter(self) -> Any:
        tok = getattr(self._local, "counter", None)
        if tok is None:
            tok = self._local.counter = self._fresh_tokenizer()
        return tok

    def _fresh_tokenizer(self) -> Any:
        tokenizers = require("tokenizers", extra="onnx")
        tok = tokenizers.Tokenizer.from_str(self._tokenizer_json)
        tok.no_truncation()
        tok.no_padding()
        return tok


def load_onnx_model(model_st: Any, *, model_name: str, weights_digest: str, backend: str,
                    threads: int | None = None) -> OnnxSentenceModel:
    """The process's `OnnxSentenceModel` for ``model_st`` and ``backend``, exported if needed.

    Raises:
        ImportError: onnxruntime is missing (names ``pip install "embedkit[onnx]"``).
        ValueError: the model has modules or pooling the ONNX backends do not run.
    """
    require("onnxruntime", extra="onnx")  # before any export work
    pipeline = read_pipeline(model_st, model_name)
    threads = default_threads() if threads is None else _positive_threads(threads, "onnx_threads")
    folder = ensure_exported(model_st, weights_digest=weights_digest, backend=backend)
    return shared_model(folder, model_st=model_st, pipeline=pipeline, threads=threads)


def shared_model(folder: Path, *, model_st: Any, pipeline: SentencePipeline,
                 threads: int) -> OnnxSentenceModel:
    """One `OnnxSentenceModel` per export folder and thread count, shared by the process."""
    key = (str(folder), threads)
    with _sessions_lock:
        if key not in _sessions:
            tokenizer = model_st.tokenizer
            if not getattr(tokenizer, "is_fast", False):
                raise ValueError("the ONNX backends need a fast (Rust) tokenizer; this model has "
                                 f"{type(tokenizer).__name__}. Use backend='torch'.")
            pad = (tokenizer.pad_token or "[PAD]", int(tokenizer.pad_token_id or 0))
            _sessions[key] = OnnxSentenceModel(
                folder, tokenizer_json=tokenizer.backend_tokenizer.to_str(), pad_token=pad,
                padding_side=getattr(tokenizer, "padding_side", "right") or "right",
                pipeline=pipeline, threads=threads)
        return _sessions[key]


def pool(tokens: np.ndarray, mask: np.ndarray, modes: tuple[str, ...]) -> np.ndarray:
    """Pool ``(batch, seq, dim)`` token embeddings as sentence-transformers' Pooling module does."""
    return np.concatenate([_POOLERS[mode](tokens, mask) for mode in modes], axis=1)


def _cls(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    first = mask.argmax(axis=1)  # the first real token, also under left padding
    return tokens[np.arange(len(tokens)), first]


def _masked_sum(tokens: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    weights = mask[..., None].astype(tokens.dtype)
    return (tokens * weights).sum(axis=1), np.maximum(weights.sum(axis=1), 1e-9)


def _mean(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    total, count = _masked_sum(tokens, mask)
    return total / count


def _mean_sqrt_len(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    total, count = _masked_sum(tokens, mask)
    return total / np.sqrt(count)


def _max(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask[..., None] == 0, -np.inf, tokens).max(axis=1)


def _weighted_mean(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    positions = np.arange(1, tokens.shape[1] + 1, dtype=tokens.dtype)[None, :]
    weights = (positions - mask.argmax(axis=1)[:, None]) * mask
    total = (tokens * weights[..., None]).sum(axis=1)
    return total / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)


def _last_token(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    seq_len = mask.shape[1]
    last = seq_len - 1 - mask[:, ::-1].argmax(axis=1)  # the last real token, either padding side
    return tokens[np.arange(len(tokens)), last] * mask[np.arange(len(tokens)), last][:, None]


_POOLERS = {"cls": _cls, "mean": _mean, "mean_sqrt_len_tokens": _mean_sqrt_len, "max": _max,
            "weightedmean": _weighted_mean, "lasttoken": _last_token}
