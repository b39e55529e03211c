"""Bundled sample knowledge base for ``embedkit demo`` (see README.md in this folder).

```python
from embedkit import demo_data
data = demo_data.load()          # RetrievalDataset: 300 documents, 48 graded queries
glossary = demo_data.glossary()  # Glossary of the acronyms the articles use
```
"""

from __future__ import annotations

import json
import tempfile
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..evaluate import RetrievalDataset
    from ..glossary import Glossary

_FILES = ("corpus.jsonl", "queries.jsonl", "qrels.tsv", "glossary.json")


@lru_cache(maxsize=1)
def folder() -> Path:
    """The folder holding the data files (copied to a temporary one if the package is zipped)."""
    root = files(__name__)
    if isinstance(root, Path):
        return root
    copy = Path(tempfile.mkdtemp(prefix="embedkit-demo-data-"))
    for name in _FILES:
        (copy / name).write_bytes((root / name).read_bytes())
    return copy


def load() -> RetrievalDataset:
    """Corpus (``"title. text"``), queries and graded judgments as a `RetrievalDataset`."""
    from ..evaluate import load_beir

    return load_beir(folder())


def glossary() -> Glossary:
    """The acronym glossary for the corpus."""
    from ..glossary import Glossary

    return Glossary.from_file(folder() / "glossary.json")


def titles() -> dict[str, str]:
    """Article id -> title."""
    return {row["_id"]: row["title"] for row in _rows("corpus.jsonl")}


def query_kinds() -> dict[str, str]:
    """Query id -> ``paraphrase``, ``code`` or ``acronym``."""
    return {row["_id"]: row["kind"] for row in _rows("queries.jsonl")}


def _rows(name: str) -> list[dict]:
    with (folder() / name).open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


__all__ = ["folder", "glossary", "load", "query_kinds", "titles"]
