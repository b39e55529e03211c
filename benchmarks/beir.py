"""Load a BEIR-layout data set and score rankings with standard nDCG@k.

Shared by ``benchmarks/bm25.py`` and ``benchmarks/quality.py`` (and the retrieval tests).
Data lives beside the checkout in ``../shared/data`` and is never copied into the repo.
"""

from __future__ import annotations

import json
import os
import math
from dataclasses import dataclass
from pathlib import Path

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
    """Corpus, queries and graded judgments of one BEIR data set."""

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
    """Read ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.

    A document's text is ``title + " " + text`` when it has a title. The qrels file may or may
    not start with a header line; a line whose score is not an integer is taken as a header.
    """
    path = data_dir(name)
    doc_ids, doc_texts = [], []
    for record in _jsonl(path / "corpus.jsonl"):
        title, text = (record.get("title") or "").strip(), record.get("text") or ""
        doc_ids.append(str(record["_id"]))
        doc_texts.append(f"{title} {text}" if title else text)
    queries = [(str(r["_id"]), r["text"]) for r in _jsonl(path / "queries.jsonl")]
    return BeirSet(path.name, doc_ids, doc_texts, [q for q, _ in queries], [t for _, t in queries],
                   _read_qrels(path / "qrels" / f"{split}.tsv"))


def ndcg_at_k(ranked_doc_ids: list[str], judgments: dict[str, int], k: int = 10) -> float:
    """Standard nDCG@k: graded gains, log2 discount, ideal DCG from all of the query's judgments."""
    dcg = sum(judgments.get(doc, 0) / math.log2(rank + 2)
              for rank, doc in enumerate(ranked_doc_ids[:k]))
    ideal = sorted((g for g in judgments.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def mean_ndcg(data: BeirSet, rankings: dict[str, list[str]], k: int = 10) -> float:
    """Mean nDCG@k over the judged queries; a judged query without a ranking scores 0."""
    judged = [data.query_ids[i] for i in data.judged_queries]
    return sum(ndcg_at_k(rankings.get(q, []), data.qrels[q], k) for q in judged) / len(judged)


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) < 3:
                continue
            try:
                grade = int(fields[-1])
            except ValueError:
                continue  # a header line
            qrels.setdefault(fields[0], {})[fields[1]] = grade
    return qrels
