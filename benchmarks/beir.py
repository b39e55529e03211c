"""BEIR data for the retrieval benchmarks: find ``../shared/data``, load, score nDCG@k.

Loading and the metric are ``embedkit.evaluate``'s (one nDCG implementation in the project);
this module adds the lookup of the data folder (which also works from a git worktree) and a
list-shaped view that the benchmarks index by position.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from embedkit.evaluate import load_beir as load_beir_folder
from embedkit.evaluate.metrics import ndcg_at_k

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """``$EMBEDKIT_DATA_DIR``, else the nearest ``shared/data`` above the checkout.

    That is ``../shared/data`` for a plain checkout; searching further up also finds it from a
    git worktree nested one level deeper.
    """
    override = os.environ.get("EMBEDKIT_DATA_DIR")
    if override:
        return Path(override)
    for parent in REPO_ROOT.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return REPO_ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class BeirSet:
    """Corpus, queries and graded judgments of one data set, as parallel lists."""

    name: str
    doc_ids: list[str]
    doc_texts: list[str]
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: grade}

    @property
    def judged_queries(self) -> list[int]:
        """Positions of the queries that have at least one positive judgment."""
        return [i for i, q in enumerate(self.query_ids)
                if any(g > 0 for g in self.qrels.get(q, {}).values())]


def data_dir(name: str) -> Path:
    """A BEIR folder: ``name`` itself if it is one, else ``../shared/data/<name>``."""
    path = Path(name) if (Path(name) / "corpus.jsonl").is_file() else data_root() / name
    if not (path / "corpus.jsonl").is_file():
        raise FileNotFoundError(f"BEIR data set {name!r} not found at {path}")
    return path


def load_beir(name: str = "msmarco-5k", split: str = "test") -> BeirSet:
    """Read a BEIR folder (by name under ``../shared/data`` or by path)."""
    path = data_dir(name)
    data = load_beir_folder(path, split)
    return BeirSet(path.name, list(data.corpus), list(data.corpus.values()),
                   list(data.queries), list(data.queries.values()), data.qrels)


def mean_ndcg(data: BeirSet, rankings: dict[str, list[str]], k: int = 10) -> float:
    """Mean nDCG@k (graded gains, ideal from all judgments) over the judged queries; a judged
    query without a ranking scores 0."""
    judged = [data.query_ids[i] for i in data.judged_queries]
    return sum(ndcg_at_k(rankings.get(q, []), data.qrels[q], k) for q in judged) / len(judged)
