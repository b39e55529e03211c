"""Training pairs: a query, the document that answers it, optional hard negatives; JSONL I/O.

One JSON object per line (the embedding guide's format, docs/guide-reference.md section 4),
plus a list for several negatives::

    {"query": "how do I reset my password", "positive": "To reset ...", "negatives": ["..."]}

``"negative": "..."`` (one string) is read too. Every error names the file
and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

PathLike = Union[str, Path]


@dataclass(frozen=True)
class TrainingPair:
    """A query, the document that answers it, and documents that look close but do not."""

    query: str
    positive: str
    negatives: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("query", "positive"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"TrainingPair.{name} must be a non-empty string, got {value!r}")
        negatives = tuple(self.negatives)
        for index, negative in enumerate(negatives):
            if not isinstance(negative, str) or not negative.strip():
                raise ValueError(f"TrainingPair.negatives[{index}] must be a non-empty string, "
                                 f"got {negative!r}")
        object.__setattr__(self, "negatives", negatives)

    def with_negatives(self, negatives: Sequence[str]) -> TrainingPair:
        return TrainingPair(self.query, self.positive, tuple(negatives))

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"query": self.query, "positive": self.positive}
        if self.negatives:
            record["negatives"] = list(self.negatives)
        return record

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> TrainingPair:
        """Build from ``{"query", "positive", "negatives" | "negative"}``."""
        missing = [key for key in ("query", "positive") if key not in record]
        if missing:
            raise ValueError(f"missing key(s) {missing}; expected 'query' and 'positive'")
        if "negative" in record and "negatives" in record:
            raise ValueError("give either 'negative' (one text) or 'negatives' (a list), not both")
        negatives = record.get("negatives", [])
        if "negative" in record:
            negatives = [record["negative"]] if record["negative"] is not None else []
        if isinstance(negatives, str) or not isinstance(negatives, list):
            raise ValueError(f"'negatives' must be a list of strings, got {negatives!r:.80}")
        return cls(record["query"], record["positive"], tuple(negatives))


def as_pairs(items: Iterable[TrainingPair | Mapping[str, Any]]) -> list[TrainingPair]:
    """TrainingPair objects or ``{"query", "positive", "negative(s)"}`` dicts, checked, as a list;
    errors name the index."""
    if isinstance(items, (str, bytes, Mapping)):
        raise TypeError("expected a list of pairs (TrainingPair or dicts), "
                        f"got a single {type(items).__name__}")
    pairs = []
    for index, item in enumerate(items):
        if isinstance(item, TrainingPair):
            pairs.append(item)
            continue
        if not isinstance(item, Mapping):
            raise TypeError(f"pair at index {index} is {type(item).__name__}; "
                            "expected a TrainingPair or a dict with 'query' and 'positive'")
        try:
            pairs.append(TrainingPair.from_dict(item))
        except ValueError as exc:
            raise ValueError(f"pair at index {index}: {exc}") from None
    return pairs


def write_pairs(pairs: Iterable[TrainingPair | Mapping[str, Any]], path: PathLike) -> Path:
    """Write pairs as JSONL (UTF-8, one object per line); returns the path."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (json.dumps(pair.to_dict(), ensure_ascii=False) for pair in as_pairs(pairs))
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def read_pairs(path: PathLike) -> list[TrainingPair]:
    """Read a JSONL file of pairs; blank lines are skipped, bad lines name their number."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"pairs file not found: {path}")
    pairs = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            pairs.append(_parse_line(line, path, number))
    return pairs


def check_documents(documents: Sequence[str]) -> None:
    """Raise unless ``documents`` is a list of non-empty strings, naming the first bad index."""
    if isinstance(documents, (str, bytes)):
        raise TypeError("documents must be a list of strings, got a single string")
    for index, document in enumerate(documents):
        if not isinstance(document, str) or not document.strip():
            raise ValueError(f"document at index {index} must be a non-empty string, "
                             f"got {document!r:.60}")


def _parse_line(line: str, path: Path, number: int) -> TrainingPair:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise ValueError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
    try:
        return TrainingPair.from_dict(record)
    except ValueError as exc:
        raise ValueError(f"{path}:{number}: {exc}") from None
