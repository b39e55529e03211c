"""Acronym and jargon expansion: ``SLA`` becomes ``SLA (service level agreement)``.

Models embed an acronym they never saw in training as noise; writing the expansion beside it
gives them the words they know. Expansion is applied identically to queries and documents,
and its content is part of the embedder's fingerprint.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path


class Glossary:
    """A mapping of terms to expansions, applied with whole-word, longest-first matching.

    Args:
        terms: ``{"SLA": "service level agreement", ...}``.
        ignore_case: match ``sla`` and ``Sla`` too (the written form keeps the text's casing).

    Example:
        >>> g = Glossary({"SLA": "service level agreement"})
        >>> g.expand("Our SLA is 99.9%.")
        'Our SLA (service level agreement) is 99.9%.'
        >>> g.expand(g.expand("Our SLA is 99.9%.")) == g.expand("Our SLA is 99.9%.")
        True
    """

    def __init__(self, terms: Mapping[str, str], *, ignore_case: bool = False) -> None:
        self.terms: dict[str, str] = _clean_terms(terms)
        self.ignore_case = ignore_case
        self._lookup = {self._fold(k): v for k, v in self.terms.items()}
        self._pattern = self._compile()

    @classmethod
    def from_file(cls, path: str | Path, *, ignore_case: bool = False) -> Glossary:
        """Read a JSON object or a two-column CSV (term, expansion; an optional header).

        Raises:
            TypeError: ``path`` is not a str or Path.
            FileNotFoundError: no such file.
            ValueError: naming the file: not a regular file, not UTF-8, not valid JSON/CSV,
                or not term -> expansion pairs.
        """
        if not isinstance(path, str | Path):
            raise TypeError(f"a glossary file path must be str or Path, got {type(path).__name__}")
        path = Path(path).expanduser()
        suffix = path.suffix.lower()
        if suffix not in {".json", ".csv", ".tsv"}:
            raise ValueError(f"{path}: glossary files must be .json, .csv or .tsv")
        if path.exists() and not path.is_file():
            raise ValueError(f"{path}: is not a regular file (a folder?); pass a glossary file")
        if suffix == ".json":
            data = _read_json(path)
            if not isinstance(data, dict):
                raise ValueError(f"{path}: expected a JSON object of term -> expansion")
            return cls(data, ignore_case=ignore_case)
        try:
            return cls(_read_csv(path), ignore_case=ignore_case)
        except csv.Error as exc:
            raise ValueError(f"{path}: not a valid CSV file ({exc})") from None

    def expand(self, text: str) -> str:
        """Write each known term as ``term (expansion)``; already-expanded terms stay as they are."""
        if self._pattern is None:
            return text
        return self._pattern.sub(self._replace, text)

    @property
    def fingerprint(self) -> str:
        """Stable hash of the content, so changing a definition changes every vector's key."""
        payload = json.dumps([sorted(self.terms.items()), self.ignore_case], ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, object]:
        return {"terms": dict(self.terms), "ignore_case": self.ignore_case}

    def __len__(self) -> int:
        return len(self.terms)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Glossary) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return f"Glossary({len(self.terms)} terms, ignore_case={self.ignore_case})"

    def _fold(self, term: str) -> str:
        return term.casefold() if self.ignore_case else term

    def _compile(self) -> re.Pattern[str] | None:
        if not self.terms:
            return None
        # Longest first so "SLA breach" wins over "SLA"; each term optionally followed by its
        # own expansion, which is then consumed unchanged: that makes expand() idempotent and
        # keeps words inside an existing expansion from being expanded again.
        alternatives = [
            f"{re.escape(term)}(?: \\({re.escape(expansion)}\\))?"
            for term, expansion in sorted(self.terms.items(), key=lambda kv: -len(kv[0]))
        ]
        flags = re.IGNORECASE if self.ignore_case else 0
        # Word boundaries that also treat a hyphen joined to a word as part of it, so "PSU"
        # is expanded in "a PSU fault" but not inside the part number "PSU-750R" or "SD-WAN".
        return re.compile(r"(?<!\w)(?<!\w-)(?:" + "|".join(alternatives) + r")(?!\w|-\w)",
                          flags)

    def _replace(self, match: re.Match[str]) -> str:
        found = match.group(0)
        if found.endswith(")") and self._fold(found) not in self._lookup:
            return found  # the term already carries its expansion
        return f"{found} ({self._lookup[self._fold(found)]})"


def as_glossary(value: Glossary | Mapping[str, str] | str | Path | None) -> Glossary | None:
    """Accept a Glossary, a mapping or a path to a JSON/CSV file."""
    if value is None or isinstance(value, Glossary):
        return value
    if isinstance(value, Mapping):
        return Glossary(value)
    if isinstance(value, str | Path):
        return Glossary.from_file(value)
    raise TypeError(f"glossary must be a Glossary, a {{term: expansion}} mapping or a .json/.csv "
                    f"file path, got {type(value).__name__}")


def _clean_terms(terms: Mapping[str, str]) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for term, expansion in terms.items():
        if not isinstance(term, str) or not isinstance(expansion, str):
            raise TypeError(f"glossary entries must be str -> str, got {term!r}: {expansion!r}")
        term, expansion = term.strip(), " ".join(expansion.split())
        if not term or not expansion:
            raise ValueError(f"glossary entry {term!r}: {expansion!r} has an empty side")
        cleaned[term] = expansion
    return cleaned


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column "
                         f"{exc.colno}); expected an object of term -> expansion") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                         f"position {exc.start}); save it as UTF-8") from None


def _read_csv(path: Path) -> dict[str, str]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = [row for row in csv.reader(fh, delimiter=delimiter) if row and any(row)]
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                         f"position {exc.start}); save it as UTF-8") from None
    if rows and [c.strip().lower() for c in rows[0][:2]] in (["term", "expansion"],
                                                               ["acronym", "expansion"]):
        rows = rows[1:]
    bad = [i + 1 for i, row in enumerate(rows) if len(row) < 2]
    if bad:
        raise ValueError(f"{path}: rows {bad[:10]} need two columns: term, expansion")
    return {row[0]: row[1] for row in rows}
