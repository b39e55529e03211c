"""Fixtures for the retrieval tests: the msmarco-5k passages from ../shared/data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from embedkit.retrieval.bm25 import BM25Index
from embedkit.retrieval.tokenizer import Tokenizer

REPO_ROOT = Path(__file__).resolve().parents[2]


def _msmarco_dir() -> Path | None:
    """``$EMBEDKIT_DATA_DIR/msmarco-5k``, else the nearest ``shared/data/msmarco-5k`` above
    the checkout (``../shared/data`` for a plain clone, one more level for a git worktree)."""
    roots = [Path(os.environ["EMBEDKIT_DATA_DIR"])] if os.environ.get("EMBEDKIT_DATA_DIR") \
        else [parent / "shared" / "data" for parent in REPO_ROOT.parents]
    for root in roots:
        if (root / "msmarco-5k" / "corpus.jsonl").is_file():
            return root / "msmarco-5k"
    return None


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="session")
def msmarco() -> dict[str, list[str]]:
    """``{"docs": [...], "queries": [...]}`` texts of msmarco-5k (skips if the data is absent)."""
    folder = _msmarco_dir()
    if folder is None:
        pytest.skip("msmarco-5k not found in ../shared/data (set EMBEDKIT_DATA_DIR)")
    docs = [f"{r.get('title') or ''} {r['text']}".strip()
            for r in _read_jsonl(folder / "corpus.jsonl")]
    queries = [r["text"] for r in _read_jsonl(folder / "queries.jsonl")]
    return {"docs": docs, "queries": queries}


@pytest.fixture(scope="session")
def msmarco_tokens(msmarco):
    """The msmarco-5k passages and queries through the default Tokenizer."""
    from embedkit.retrieval.tokenizer import Tokenizer

    tokenizer = Tokenizer()
    return {"docs": tokenizer.tokenize_many(msmarco["docs"]),
            "queries": tokenizer.tokenize_many(msmarco["queries"])}


@pytest.fixture(scope="module")
def parts_index():
    """A BM25 index over part codes (rare), a repeated how-to (common) and one name, with its
    tokenizer: the lexical signals' and the auto weight's test corpus."""
    tokenizer = Tokenizer()
    texts = [f"Bearing model NMB-{4000 + i} for the spindle, a standard service part."
             for i in range(40)]
    texts += ["How to replace the spindle motor bearing safely."] * 30
    texts += ["The Kessler gauge measures spindle runout."]
    index = BM25Index()
    index.build(tokenizer.tokenize_many(texts))
    return index, tokenizer
