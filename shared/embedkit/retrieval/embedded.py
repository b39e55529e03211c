"""Read `embedkit.distributed.embed_dataset` output as (ids, vectors) for an index.

The output must come from the same embedder (fingerprint in its manifest and on every row) and
hold document vectors: a query-role output or another model's vectors is a
`FingerprintMismatchError`, never silently mixed into the index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..distributed import _OutputDir, read_vectors
from ..embedder import Embedder
from ..errors import FingerprintMismatchError


def read_embedded(output: str | Path, embedder: Embedder) -> tuple[list[str], np.ndarray]:
    """(ids, float32 vectors of shape (n, embedder.dimension)) from an output folder."""
    manifest = _OutputDir(output).read_manifest()
    if manifest is None:
        raise FileNotFoundError(f"{output} has no embed_dataset manifest (_embedkit.json)")
    fingerprint = embedder.fingerprint
    if manifest.get("fingerprint") != fingerprint:
        raise FingerprintMismatchError(
            f"{output} was embedded with fingerprint {manifest.get('fingerprint')}, this "
            f"index's embedder ({embedder.model_name}) has {fingerprint}; embed it with the "
            "same settings or index it with the embedder that made it")
    if manifest.get("role", "document") != "document":
        raise FingerprintMismatchError(
            f"{output} holds {manifest.get('role')} vectors; an index needs document vectors")
    table = read_vectors(output)
    others = set(table["fingerprint"].unique().to_pylist()) - {fingerprint}
    if others:
        raise FingerprintMismatchError(f"{output} has rows with fingerprint "
                                       f"{sorted(others)[0]}, not {fingerprint}")
    ids = [str(i) for i in table["id"].to_pylist()]
    column = table["vector"].combine_chunks()
    flat = column.flatten().to_numpy(zero_copy_only=False)
    dimension = embedder.dimension
    if flat.size != len(ids) * dimension:
        raise ValueError(f"{output}: {flat.size} vector values for {len(ids)} rows of "
                         f"dimension {dimension}")
    return ids, np.asarray(flat, dtype=np.float32).reshape(len(ids), dimension)
