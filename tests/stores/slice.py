"""A small msmarco-5k slice for store parity tests: judged queries and their relevant passages
among other passages, all from ../shared/data (never copied into the repository)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
QUERIES = 10
RELEVANT_PER_QUERY = 25  # msmarco-5k's TREC-style judgments list ~100 relevant per query
DISTRACTORS = 150


@dataclass(frozen=True)
class Slice:
    corpus: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _msmarco_dir() -> Path | None:
    roots = [Path(os.environ["EMBEDKIT_DATA_DIR"])] if os.environ.get("EMBEDKIT_DATA_DIR") \
        else [parent / "shared" / "data" for parent in REPO_ROOT.parents]
    return next((root / "msmarco-5k" for root in roots
                 if (root / "msmarco-5k" / "corpus.jsonl").is_file()), None)


@functools.lru_cache(maxsize=1)
def _load() -> Slice | None:
    from embedkit.evaluate import load_beir

    folder = _msmarco_dir()
    if folder is None:
        return None
    data = load_beir(folder)
    judged = data.judged_queries[:QUERIES]
    qrels = {qid: data.qrels[qid] for qid in judged}
    wanted = {doc_id for grades in qrels.values()
              for doc_id in sorted(d for d, grade in grades.items() if grade > 0)
              [:RELEVANT_PER_QUERY]}
    wanted |= set(list(data.corpus)[:DISTRACTORS])
    corpus = {doc_id: text for doc_id, text in data.corpus.items() if doc_id in wanted}
    return Slice(corpus, {qid: data.queries[qid] for qid in judged}, qrels)


def msmarco_slice() -> Slice:
    """The slice (skips the test when msmarco-5k is absent)."""
    found = _load()
    if found is None:
        pytest.skip("msmarco-5k not found in ../shared/data (set EMBEDKIT_DATA_DIR)")
    return found


def ndcg_at_10(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> float:
    from embedkit.evaluate import evaluate_run

    return evaluate_run(run, qrels, metrics=["ndcg@10"]).mean["ndcg@10"]
