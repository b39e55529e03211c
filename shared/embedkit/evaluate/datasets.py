"""Retrieval test sets (corpus, queries, graded judgments) from BEIR folders or a simple list.

Two input formats:

- BEIR folders: ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``,
  ``text``) and ``qrels/<split>.tsv`` (or one ``qrels.tsv`` beside them). The qrels file may or may not start with a header line
  (some published subsets drop it, and then the first line is a real judgment that a loader
  skipping line 1 unconditionally would lose); a header is recognised by its non-integer
  score column. TREC-style four-column qrels (``qid iter docid grade``) are read too.
- A list ``[{"query": ..., "relevant_docs": [texts], "all_docs": [texts]}]`` (the embedding
  guide's format, docs/guide-reference.md, "Evaluation list format"), where
  documents are given as texts. Identical texts become one document with an id derived from the
  text's hash, so ids stay the same from one run to the next and across items.

Every error on bad input names the file and line (or the item index) it comes from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

PathLike = Union[str, Path]

_SENTENCE_END = (".", "!", "?", ":", ";")


@dataclass
class RetrievalDataset:
    """What an evaluation needs: documents, queries and who judged what relevant.

    ``candidates`` is set only when each query has its own pool of documents to rank (the
    list's ``all_docs``); ``None`` means every query is ranked against the whole corpus.
    """

    corpus: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    candidates: dict[str, list[str]] | None = None

    @property
    def judged_queries(self) -> list[str]:
        """Query ids with at least one relevant (grade > 0) judgment: the ones metrics use."""
        return [qid for qid, grades in self.qrels.items() if any(g > 0 for g in grades.values())]

    def __repr__(self) -> str:
        return (
            f"RetrievalDataset({len(self.corpus)} documents, {len(self.queries)} queries, "
            f"{len(self.judged_queries)} judged)"
        )


# ---------------------------------------------------------------- BEIR folders
def load_beir(folder: PathLike, split: str = "test") -> RetrievalDataset:
    """Load a BEIR-format folder; titles are joined to texts as ``"title. text"``."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"BEIR folder not found: {root}")
    corpus = {
        doc_id: _join_title(record.get("title"), record.get("text"), path, line)
        for doc_id, record, path, line in _read_jsonl_records(root / "corpus.jsonl")
    }
    queries = {
        query_id: _require_text(record.get("text"), "text", path, line)
        for query_id, record, path, line in _read_jsonl_records(root / "queries.jsonl")
    }
    qrels = load_qrels(_qrels_path(root, split))
    return RetrievalDataset(corpus=corpus, queries=queries, qrels=qrels)


def _qrels_path(root: Path, split: str) -> Path:
    path = root / "qrels" / f"{split}.tsv"
    flat = root / "qrels.tsv"  # a single-split folder (e.g. embedkit's demo data)
    if not path.is_file() and flat.is_file() and not (root / "qrels").is_dir():
        return flat
    if not path.is_file():
        available = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
        raise FileNotFoundError(f"qrels file not found: {path} (splits present: {available})")
    return path


def _read_jsonl_records(path: Path) -> Iterator[tuple[str, dict[str, Any], Path, int]]:
    """Yield (id, record, path, line number) for each non-blank line; ids must be unique."""
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    first_line: dict[str, int] = {}
    with path.open(encoding="utf-8") as lines:
        for line_number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            record = _parse_json_line(line, path, line_number)
            record_id = _record_id(record, path, line_number)
            if record_id in first_line:
                raise ValueError(
                    f"{path}:{line_number}: duplicate _id {record_id!r} "
                    f"(first seen on line {first_line[record_id]})"
                )
            first_line[record_id] = line_number
            yield record_id, record, path, line_number


def _parse_json_line(line: str, path: Path, line_number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{line_number}: invalid JSON: {error.msg}") from None
    if not isinstance(record, dict):
        kind = type(record).__name__
        raise ValueError(f"{path}:{line_number}: expected a JSON object, got {kind}")
    return record


def _record_id(record: Mapping[str, Any], path: Path, line_number: int) -> str:
    record_id = record.get("_id")
    if isinstance(record_id, bool) or not isinstance(record_id, (str, int)) or record_id == "":
        raise ValueError(f"{path}:{line_number}: missing or invalid '_id' (got {record_id!r})")
    # BEIR ids are strings; numeric ids in some dumps become strings so they match the qrels.
    return str(record_id)


def _require_text(value: Any, field_name: str, path: Path, line_number: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{path}:{line_number}: '{field_name}' must be a string, got {value!r}")
    return value


def _join_title(title: Any, text: Any, path: Path, line_number: int) -> str:
    text = _require_text(text, "text", path, line_number)
    title = _require_text(title if title is not None else "", "title", path, line_number).strip()
    if not title:
        return text
    # "title. text", without doubling punctuation the title already ends with.
    separator = " " if title.endswith(_SENTENCE_END) else ". "
    return f"{title}{separator}{text}"


def load_qrels(path: PathLike) -> dict[str, dict[str, int]]:
    """Read a qrels TSV (``query-id  corpus-id  score``, or TREC's 4 columns), header optional."""
    path = Path(path)
    qrels: dict[str, dict[str, int]] = {}
    first_line: dict[tuple[str, str], int] = {}
    at_first_line = True
    with path.open(encoding="utf-8") as lines:
        for line_number, line in enumerate(lines, start=1):
            fields = line.split()
            if not fields:
                continue
            if at_first_line:
                at_first_line = False
                if _is_header(fields):
                    continue
            query_id, doc_id, grade = _parse_judgment(fields, path, line_number)
            previous = qrels.setdefault(query_id, {}).get(doc_id)
            if previous is not None and previous != grade:
                raise ValueError(
                    f"{path}:{line_number}: ({query_id!r}, {doc_id!r}) judged {grade} here but "
                    f"{previous} on line {first_line[(query_id, doc_id)]}"
                )
            first_line.setdefault((query_id, doc_id), line_number)
            qrels[query_id][doc_id] = grade
    return qrels


def _is_header(fields: Sequence[str]) -> bool:
    # Asked of the first non-blank line only: a header is a line whose score is not a number.
    return len(fields) in (3, 4) and _parse_grade(fields[-1]) is None


def _parse_judgment(fields: Sequence[str], path: Path, line_number: int) -> tuple[str, str, int]:
    if len(fields) == 3:
        query_id, doc_id, grade_text = fields
    elif len(fields) == 4:
        query_id, _iteration, doc_id, grade_text = fields
    else:
        raise ValueError(
            f"{path}:{line_number}: expected 3 columns (query-id, corpus-id, score) "
            f"or 4 (TREC), got {len(fields)}"
        )
    grade = _parse_grade(grade_text)
    if grade is None:
        raise ValueError(f"{path}:{line_number}: score {grade_text!r} is not an integer grade")
    return query_id, doc_id, grade


def _parse_grade(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else None


# ---------------------------------------------------------------- the simple list
def from_simple_list(items: Sequence[Mapping[str, Any]]) -> RetrievalDataset:
    """Build a dataset from ``[{"query", "relevant_docs", "all_docs"?}, ...]`` (texts).

    ``all_docs`` defaults to ``relevant_docs``. Relevant documents get grade 1,
    the other candidates grade 0. Each query ranks only its own ``all_docs`` (``candidates``).
    """
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
        raise TypeError("expected a list of {'query', 'relevant_docs', 'all_docs'} items")
    return _build_simple((f"item {index}", item) for index, item in enumerate(items))


def load_simple_json(path: PathLike) -> RetrievalDataset:
    """Read the simple list from ``.json`` (a JSON array) or ``.jsonl`` (one item a line)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        located = _jsonl_items(text, path)
    else:
        located = _json_array_items(text, path)
    return _build_simple(located)


def _jsonl_items(text: str, path: Path) -> Iterator[tuple[str, Any]]:
    for line_number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield f"{path}:{line_number}", _parse_json_value(line, path, line_number)


def _parse_json_value(line: str, path: Path, line_number: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{line_number}: invalid JSON: {error.msg}") from None


def _json_array_items(text: str, path: Path) -> Iterator[tuple[str, Any]]:
    """Yield each element of a top-level JSON array with the line it starts on."""
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if not text.startswith("[", position):
        raise ValueError(f"{path}:{_line_of(text, position)}: expected a JSON array of items")
    position = _skip_space(text, position + 1)
    index = 0
    while not text.startswith("]", position):
        line_number = _line_of(text, position)
        try:
            item, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{error.lineno}: invalid JSON: {error.msg}") from None
        yield f"{path}:{line_number} (item {index})", item
        index += 1
        position = _skip_space(text, position)
        if text.startswith(",", position):
            position = _skip_space(text, position + 1)
        elif not text.startswith("]", position):
            raise ValueError(f"{path}:{_line_of(text, position)}: expected ',' or ']' in the array")
    if text[position + 1 :].strip():
        raise ValueError(f"{path}:{_line_of(text, position + 1)}: unexpected text after the array")


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _build_simple(located_items: Iterator[tuple[str, Any]]) -> RetrievalDataset:
    corpus: dict[str, str] = {}
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    candidates: dict[str, list[str]] = {}
    query_origin: dict[str, str] = {}
    for where, item in located_items:
        query, relevant, pool = _simple_item_parts(item, where)
        query_id = text_id(query, prefix="q")
        if query_id in queries:
            first = query_origin[query_id]
            raise ValueError(f"{where}: duplicate query {query!r} (also at {first})")
        query_origin[query_id] = where
        queries[query_id] = query
        doc_ids = [_add_document(corpus, doc, where) for doc in pool]
        candidates[query_id] = list(dict.fromkeys(doc_ids))
        relevant_ids = {text_id(doc, prefix="d") for doc in relevant}
        qrels[query_id] = {doc_id: int(doc_id in relevant_ids) for doc_id in candidates[query_id]}
    return RetrievalDataset(corpus=corpus, queries=queries, qrels=qrels, candidates=candidates)


def _simple_item_parts(item: Any, where: str) -> tuple[str, list[str], list[str]]:
    """Validate one item; return (query, relevant texts, candidate texts)."""
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: expected an object with 'query' and 'relevant_docs'")
    query = item.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"{where}: 'query' must be a non-empty string, got {query!r}")
    relevant = _text_list(item.get("relevant_docs"), "relevant_docs", where)
    if "all_docs" not in item:
        return query, relevant, relevant
    pool = _text_list(item["all_docs"], "all_docs", where)
    pool_set = set(pool)
    for doc in relevant:
        if doc not in pool_set:
            raise ValueError(f"{where}: relevant doc {_preview(doc)} is not in 'all_docs'")
    return query, relevant, pool


def _text_list(value: Any, key: str, where: str) -> list[str]:
    # A bare string is a list of characters to Python; reject it rather than rank letters.
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{where}: '{key}' must be a list of document texts, got {value!r:.80}")
    for position, doc in enumerate(value):
        if not isinstance(doc, str) or not doc.strip():
            raise ValueError(
                f"{where}: '{key}'[{position}] must be a non-empty string, got {doc!r:.80}"
            )
    return list(value)


def _add_document(corpus: dict[str, str], text: str, where: str) -> str:
    doc_id = text_id(text, prefix="d")
    known = corpus.setdefault(doc_id, text)
    if known != text:  # 64-bit hash collision: astronomically rare, but never merge two texts
        raise ValueError(f"{where}: id collision between {_preview(known)} and {_preview(text)}")
    return doc_id


def text_id(text: str, *, prefix: str) -> str:
    """A stable id for a text: ``prefix`` + the first 16 hex digits of its SHA-256."""
    return f"{prefix}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}"


def _preview(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
