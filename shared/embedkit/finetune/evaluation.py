"""Held-out retrieval quality of an embedder, at its full size and at smaller (Matryoshka) sizes.

The corpus and queries are embedded once at full size; each smaller size keeps the first ``d``
values and re-normalizes, exactly what ``Embedder(dimensions=d)`` does for a local model, so
comparing sizes costs no extra model calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Union

import numpy as np

from ..embedder import Embedder
from ..vectors import cut_dimensions
from ..evaluate import EvalResult, RetrievalDataset, evaluate_run, load_beir, load_simple_json

EVAL_METRICS = ("ndcg@10", "mrr@10", "recall@10", "recall@100")
RUN_DEPTH = 100  # documents kept per query; enough for every metric above

EvalSource = Union[RetrievalDataset, str, Path]


def load_eval_set(source: EvalSource, split: str = "test") -> RetrievalDataset:
    """A RetrievalDataset as is; a folder as BEIR; a file as a JSON/JSONL list of
    ``{query, relevant_docs, all_docs}``."""
    if isinstance(source, RetrievalDataset):
        return source
    path = Path(source).expanduser()
    if path.is_dir():
        return load_beir(path, split=split)
    if path.is_file():
        return load_simple_json(path)
    raise FileNotFoundError(f"evaluation set not found: {path} (expected a BEIR folder or a "
                            "JSON list of {query, relevant_docs, all_docs})")


def evaluate_embedder(embedder: Embedder, dataset: RetrievalDataset, *,
                      dimensions: Sequence[int] | None = None,
                      metrics: Sequence[str] = EVAL_METRICS) -> dict[int, EvalResult]:
    """Metrics of dense retrieval with ``embedder`` on the judged queries, per vector size.

    Returns ``{dimension: EvalResult}`` for the embedder's own size and each of ``dimensions``.
    """
    sizes = sorted({embedder.dimension, *(dimensions or ())}, reverse=True)
    if sizes[0] > embedder.dimension:
        raise ValueError(f"cannot evaluate at {sizes[0]} dimensions: the embedder returns "
                         f"{embedder.dimension}")
    doc_ids = list(dataset.corpus)
    query_ids = [qid for qid in dataset.judged_queries if qid in dataset.queries]
    if not query_ids or not doc_ids:
        raise ValueError(f"nothing to evaluate: {dataset!r} has no judged queries or no documents")
    doc_vectors = embedder.embed_documents([dataset.corpus[d] for d in doc_ids])
    query_vectors = embedder.embed_queries([dataset.queries[q] for q in query_ids])
    return {
        size: evaluate_run(
            _dense_run(truncate(query_vectors, size), truncate(doc_vectors, size),
                       query_ids, doc_ids, dataset.candidates),
            dataset.qrels, metrics=tuple(metrics))
        for size in sizes
    }


def truncate(vectors: np.ndarray, dimension: int) -> np.ndarray:
    """The first ``dimension`` values of each row, L2-normalized again (as the `Embedder` does)."""
    if dimension >= vectors.shape[1]:
        return vectors
    return cut_dimensions(vectors, dimension, normalize=True)


def _dense_run(query_vectors: np.ndarray, doc_vectors: np.ndarray, query_ids: list[str],
               doc_ids: list[str],
               candidates: Mapping[str, list[str]] | None) -> dict[str, dict[str, float]]:
    scores = query_vectors @ doc_vectors.T
    row_of = {doc_id: i for i, doc_id in enumerate(doc_ids)}
    run: dict[str, dict[str, float]] = {}
    for qi, qid in enumerate(query_ids):
        pool = np.array([row_of[d] for d in candidates.get(qid, [])], dtype=int) \
            if candidates is not None else np.arange(len(doc_ids))
        if pool.size == 0:
            run[qid] = {}
            continue
        row = scores[qi, pool]
        top = np.argsort(-row, kind="stable")[:RUN_DEPTH]
        run[qid] = {doc_ids[pool[i]]: float(row[i]) for i in top}
    return run
