"""Shared benchmark helpers: locate ../shared/data and read BEIR passages."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"


def msmarco_dir() -> Path:
    path = DATA_DIR / "msmarco-5k"
    if not (path / "corpus.jsonl").is_file():
        sys.exit(f"benchmark data not found at {path} (expected ../shared/data/msmarco-5k)")
    return path


def msmarco_passages(limit: int | None = None) -> list[str]:
    texts = []
    with (msmarco_dir() / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            texts.append(" ".join(p for p in (row.get("title"), row["text"]) if p))
            if limit and len(texts) >= limit:
                break
    return texts
