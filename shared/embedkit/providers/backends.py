"""Inference backends of local models: names, the default, and what they add to a fingerprint."""

from __future__ import annotations

BACKENDS = ("torch", "onnx", "onnx-int8")
"""``torch``: sentence-transformers on PyTorch. ``onnx``: the same graph exported to ONNX and run
by onnxruntime (fp32, same vectors). ``onnx-int8``: that graph with its weights quantized to int8
(dynamic, per channel), about twice as fast on CPU with vectors at cosine ~0.99 to torch's."""

BUNDLED_DEFAULT_BACKEND = "onnx"
"""The bundled all-MiniLM-L6-v2's backend when none is given: the fastest whose nDCG@10 stays
within 0.005 of torch on msmarco-5k, cisi and med, dense and hybrid. fp32 ONNX returns torch's
vectors (max difference ~1e-7) with a quarter of its per-query cost; int8 lost 0.006-0.008 on
cisi (README, performance), so it stays an opt-in."""

OTHER_DEFAULT_BACKEND = "torch"
"""Other local models keep PyTorch unless asked: their quantized quality is unmeasured."""

QUANTIZATION = {"onnx-int8": "int8 dynamic per-channel"}


def resolve_backend(backend: str | None, *, bundled: bool) -> str:
    """The backend to use: ``backend`` checked, or the default for this model."""
    if backend is None:
        return BUNDLED_DEFAULT_BACKEND if bundled else OTHER_DEFAULT_BACKEND
    if not isinstance(backend, str) or backend.lower() not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return backend.lower()


def backend_identity(backend: str) -> dict[str, object]:
    """Fingerprint parts of a backend. Torch adds none, so torch fingerprints stay as they were."""
    if backend == "torch":
        return {}
    return {"backend": backend, "quantization": QUANTIZATION.get(backend)}
