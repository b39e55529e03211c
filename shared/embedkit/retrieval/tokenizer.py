"""Text to BM25 tokens, identical for documents and queries.

Pipeline: Unicode NFKC -> find words and codes -> casefold -> drop stopwords -> stem -> glossary.

Codes such as ``NMB-4031``, ``pn-88-2210-b`` or ``v2.3.1`` are words joined by ``- . / _``.
Each code yields its parts (``nmb``, ``4031``) and one joined token with the separators removed
(``nmb4031``). A query for ``NMB-4031`` therefore shares the rare joined token only with
documents that contain that exact code (however it is punctuated: ``NMB4031``, ``nmb_4031``),
while ``NMB 4031`` typed with a space still matches through the parts. Tokens that contain a
digit are never stemmed: a code is not an English word.

Glossary (``{"SLA": "service level agreement"}``): every mention of a term, of its expansion,
or of both side by side (``SLA (service level agreement)``, ``service level agreement (SLA)``)
yields the term's tokens and the expansion's tokens exactly once. So a query for the acronym
finds documents that only spell it out and the reverse, and text already expanded by
``Glossary.expand`` tokenizes exactly like the raw text: no double counting.
Terms match case-sensitively by default, like ``embedkit.Glossary`` (so the glossary term
``IT`` does not fire on the pronoun "it"); expansions match on processed tokens, so inflections
("service level agreements") and casing do not matter.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..extras import require

#: Words of letters/digits, optionally joined into a code by - . / _ or Unicode hyphens.
DEFAULT_PATTERN = r"[^\W_]+(?:[-./_\u2010\u2011][^\W_]+)*"
#: Patterns a saved tokenizer may name. A regex read from a file is never compiled unless it is
#: one of these: a hostile pattern such as ``(a+)+$`` makes every search take exponential time.
#: A tokenizer with any other pattern is saved as usual and loaded by passing it again
#: (``HybridIndex.load(path, embedder, tokenizer=...)``).
PATTERNS = {
    "words-and-codes": DEFAULT_PATTERN,
    "words-and-hyphen-codes": r"[^\W_]+(?:-[^\W_]+)*",
    "words": r"[^\W_]+",
    "whitespace": r"\S+",
}
_PART = re.compile(r"[^\W_]+")
_DIGIT = re.compile(r"\d")
_FORMAT = 1

# Stopword lists shipped with bm25s (the NLTK/Lucene lists), by name and ISO code.
_STOPWORD_LISTS = {
    "english": "STOPWORDS_EN", "en": "STOPWORDS_EN",
    "german": "STOPWORDS_GERMAN", "de": "STOPWORDS_GERMAN",
    "dutch": "STOPWORDS_DUTCH", "nl": "STOPWORDS_DUTCH",
    "french": "STOPWORDS_FRENCH", "fr": "STOPWORDS_FRENCH",
    "spanish": "STOPWORDS_SPANISH", "es": "STOPWORDS_SPANISH",
    "portuguese": "STOPWORDS_PORTUGUESE", "pt": "STOPWORDS_PORTUGUESE",
    "italian": "STOPWORDS_ITALIAN", "it": "STOPWORDS_ITALIAN",
    "russian": "STOPWORDS_RUSSIAN", "ru": "STOPWORDS_RUSSIAN",
    "swedish": "STOPWORDS_SWEDISH", "sv": "STOPWORDS_SWEDISH",
    "norwegian": "STOPWORDS_NORWEGIAN", "no": "STOPWORDS_NORWEGIAN",
    "danish": "STOPWORDS_DANISH", "da": "STOPWORDS_DANISH",
    "turkish": "STOPWORDS_TURKISH", "tr": "STOPWORDS_TURKISH",
    "chinese": "STOPWORDS_CHINESE", "zh": "STOPWORDS_CHINESE",
    "korean": "STOPWORDS_KOREAN", "ko": "STOPWORDS_KOREAN",
}
_CACHE_LIMIT = 1_000_000


class _Unit(NamedTuple):
    """One pattern match: its text as written and its processed tokens (empty: a stopword).

    ``words`` are the tokens of its parts without a code's joined token; glossary expansions
    match on them, so "service-level agreement" matches "service level agreement".
    """

    surface: str
    tokens: tuple[str, ...]
    words: tuple[str, ...]


@dataclass(frozen=True)
class _Entry:
    """A glossary entry compiled to token space."""

    term_surfaces: tuple[str, ...]     # the term's words as written (folded if ignore_case)
    expansion_words: tuple[str, ...]   # the expansion's processed words, stopwords dropped
    tokens: tuple[str, ...]            # what one mention yields: term tokens + expansion tokens


class Tokenizer:
    """Lowercasing, stopword-removing, stemming, code- and glossary-aware tokenizer.

    Args:
        pattern: regex whose matches are words or codes; a match with several runs of
            letters/digits is a code (parts plus one joined token).
        stopwords: ``"en"`` (default), another language name/code known to bm25s, a list of
            words, or None for no stopword removal.
        stemmer_language: any PyStemmer language (``"english"``, ``"de"``, ...); None disables.
        glossary: ``{term: expansion}`` (e.g. ``Embedder.glossary.terms``) or an object with
            ``.terms`` and ``.ignore_case`` such as ``embedkit.Glossary``.
        glossary_ignore_case: match terms regardless of case (taken from a Glossary object
            when one is given).

    Example:
        >>> tok = Tokenizer(glossary={"SLA": "service level agreement"})
        >>> tok("SLA breach on NMB-4031")
        ['sla', 'servic', 'level', 'agreement', 'breach', 'nmb4031', 'nmb', '4031']
    """

    def __init__(self, *, pattern: str = DEFAULT_PATTERN,
                 stopwords: str | Iterable[str] | None = "en",
                 stemmer_language: str | None = "english",
                 glossary: Mapping[str, str] | Any | None = None,
                 glossary_ignore_case: bool = False) -> None:
        try:
            self._regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"Tokenizer pattern {pattern!r} is not a valid regex: {exc}") from exc
        self._pattern = pattern
        self._stopwords = _resolve_stopwords(stopwords)
        self._stopword_set = frozenset(self._stopwords)
        self._stemmer_language = stemmer_language
        self._stem = _make_stemmer(stemmer_language)
        self._stem_lock = threading.Lock()
        self._glossary_terms, self._ignore_case = _glossary_terms(glossary, glossary_ignore_case)
        self._unit_cache: dict[str, _Unit] = {}
        self._by_term, self._by_expansion = self._compile_glossary()

    # Settings are read-only: tokens already in an index depend on them.
    @property
    def pattern(self) -> str:
        return self._pattern

    @property
    def stopwords(self) -> tuple[str, ...]:
        return self._stopwords

    @property
    def stemmer_language(self) -> str | None:
        return self._stemmer_language

    @property
    def glossary_terms(self) -> dict[str, str]:
        return dict(self._glossary_terms)

    @property
    def glossary_ignore_case(self) -> bool:
        return self._ignore_case

    # ---- public API -------------------------------------------------------------------------
    def __call__(self, text: str) -> list[str]:
        return self.tokenize(text)

    def tokenize(self, text: str) -> list[str]:
        """Tokens of one text (a document or a query: the processing is the same)."""
        if not isinstance(text, str):
            raise TypeError(f"Tokenizer expects str, got {type(text).__name__}: {text!r:.80}")
        units = self._units(text)
        if self._by_term or self._by_expansion:
            return self._apply_glossary(units)
        return [token for unit in units for token in unit.tokens]

    def tokenize_many(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokens of many texts; an error names the position of a bad item."""
        out = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {i} is {type(text).__name__}, expected str: {text!r:.80}")
            out.append(self.tokenize(text))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Every setting, JSON-ready; stopwords are stored resolved so a saved index keeps
        tokenizing the same way even if a library's default list changes."""
        return {
            "format": _FORMAT,
            "pattern": self.pattern,
            "stopwords": list(self.stopwords),
            "stemmer_language": self.stemmer_language,
            "glossary": dict(self.glossary_terms),
            "glossary_ignore_case": self.glossary_ignore_case,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tokenizer:
        """Rebuild a tokenizer from :meth:`to_dict` output (e.g. read from a saved index).

        Every field is type-checked, and the pattern must be one of `PATTERNS`: a regex from a
        file is never compiled. Raises ValueError / TypeError naming the bad field.
        """
        _check_dict(data)
        return cls(pattern=data["pattern"], stopwords=list(data["stopwords"]) or None,
                   stemmer_language=data["stemmer_language"], glossary=data["glossary"] or None,
                   glossary_ignore_case=data["glossary_ignore_case"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and other.to_dict() == self.to_dict()

    def __hash__(self) -> int:
        return hash((self.pattern, self.stopwords, self.stemmer_language,
                     tuple(sorted(self.glossary_terms.items())), self.glossary_ignore_case))

    def __repr__(self) -> str:
        return (f"Tokenizer(stopwords={len(self.stopwords)} words, "
                f"stemmer_language={self.stemmer_language!r}, "
                f"glossary={len(self.glossary_terms)} terms)")

    # ---- words and codes --------------------------------------------------------------------
    def _surfaces(self, text: str) -> list[str]:
        if not text.isascii():  # ASCII is already NFKC: skip the normalization for speed
            text = unicodedata.normalize("NFKC", text)
        if self._regex.groups == 0:
            return self._regex.findall(text)
        return [m.group(0) for m in self._regex.finditer(text)]

    def _units(self, text: str) -> list[_Unit]:
        # One dict lookup per word: the analysis of a surface form is cached.
        cache = self._unit_cache
        surfaces = self._surfaces(text)
        units = [cache.get(surface) for surface in surfaces]
        if None in units:
            units = [u if u is not None else self._cache_unit(surfaces[i])
                     for i, u in enumerate(units)]
        return units

    def _cache_unit(self, surface: str) -> _Unit:
        if len(self._unit_cache) >= _CACHE_LIMIT:
            self._unit_cache.clear()
        unit = self._unit_cache[surface] = self._unit(surface, keep_stopwords=False)
        return unit

    def _unit(self, surface: str, keep_stopwords: bool) -> _Unit:
        parts = _PART.findall(surface)
        if len(parts) <= 1:
            word = self._word(parts[0] if parts else surface, keep_stopwords)
            return _Unit(surface, (word,), (word,)) if word else _Unit(surface, (), ())
        # A code: the joined form (never a stopword) plus its parts.
        words = tuple(w for w in (self._word(p, keep_stopwords) for p in parts) if w)
        joined = self._word("".join(parts), keep_stopwords=True)
        return _Unit(surface, (joined, *words) if joined else words, words)

    def _word(self, word: str, keep_stopwords: bool) -> str | None:
        folded = word.casefold()
        if folded in self._stopword_set and not keep_stopwords:
            return None
        return self._stem_word(folded)

    def _stem_word(self, folded: str) -> str:
        if not folded or self._stem is None or _DIGIT.search(folded):
            return folded
        with self._stem_lock:  # PyStemmer objects are not thread-safe; misses only, cheap
            return self._stem(folded)

    # ---- glossary ---------------------------------------------------------------------------
    def _fold_term(self, surface: str) -> str:
        return unicodedata.normalize("NFKC", surface).casefold() if self._ignore_case \
            else surface

    def _compile_glossary(self) -> tuple[dict[str, list[_Entry]], dict[tuple, list[_Entry]]]:
        by_term: dict[str, list[_Entry]] = {}
        by_expansion: dict[tuple, list[_Entry]] = {}
        for term, expansion in self._glossary_terms.items():
            term_units = [self._unit(s, keep_stopwords=True) for s in self._surfaces(term)]
            exp_units = self._units(expansion)
            if not term_units:
                continue  # no letters or digits (e.g. "++"): cannot be matched on tokens
            entry = _Entry(
                term_surfaces=tuple(self._fold_term(u.surface) for u in term_units),
                expansion_words=tuple(w for u in exp_units for w in u.words),
                tokens=tuple(t for u in term_units for t in u.tokens)
                + tuple(t for u in exp_units for t in u.tokens),
            )
            by_term.setdefault(entry.term_surfaces[0], []).append(entry)
            if entry.expansion_words:
                by_expansion.setdefault(entry.expansion_words[0], []).append(entry)
        # Longest first, so "SLA breach" wins over "SLA".
        for entries in by_term.values():
            entries.sort(key=lambda e: -len(e.term_surfaces))
        for entries in by_expansion.values():
            entries.sort(key=lambda e: -len(e.expansion_words))
        return by_term, by_expansion

    def _apply_glossary(self, units: list[_Unit]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(units):
            end, tokens = self._mention_at(units, i)
            if end > i:
                out.extend(tokens)
                i = end
            else:
                out.extend(units[i].tokens)
                i += 1
        return out

    def _mention_at(self, units: list[_Unit], i: int) -> tuple[int, tuple[str, ...]]:
        """(end, tokens) of a glossary mention starting at unit i, or (i, ()) if none.

        A mention is a term, an expansion, or both adjacent in either order; it yields the
        entry's tokens once.
        """
        for entry in self._by_term.get(self._fold_term(units[i].surface), ()):
            end = self._match_term(units, i, entry)
            if end is not None:
                after = self._match_expansion(units, end, entry)
                return (after if after is not None else end), entry.tokens
        if units[i].words:
            for entry in self._by_expansion.get(units[i].words[0], ()):
                end = self._match_expansion(units, i, entry)
                if end is not None:
                    return self._term_after(units, end, entry)
        return i, ()

    def _term_after(self, units: list[_Unit], end: int, entry: _Entry) -> tuple[int, tuple]:
        """An expansion followed by a term that shares it: "service level agreement (SLA)",
        and that written once more by Glossary.expand: "... (SLA (service level agreement))"."""
        if end < len(units):
            for other in self._by_term.get(self._fold_term(units[end].surface), ()):
                if other.expansion_words == entry.expansion_words:
                    after = self._match_term(units, end, other)
                    if after is not None:
                        again = self._match_expansion(units, after, other)
                        return (again if again is not None else after), other.tokens
        return end, entry.tokens

    def _match_term(self, units: list[_Unit], i: int, entry: _Entry) -> int | None:
        n = len(entry.term_surfaces)
        window = units[i:i + n]
        if len(window) == n and all(self._fold_term(u.surface) == s
                                    for u, s in zip(window, entry.term_surfaces)):
            return i + n
        return None

    @staticmethod
    def _match_expansion(units: list[_Unit], i: int, entry: _Entry) -> int | None:
        """End of the expansion's words starting at unit i, or None.

        Stopwords between the words are skipped; the match must start and end on unit
        boundaries, so it never splits a code.
        """
        wanted = entry.expansion_words
        if not wanted or i >= len(units) or not units[i].words:
            return None
        j, matched = i, 0
        while matched < len(wanted):
            while j < len(units) and not units[j].words:
                j += 1
            if j >= len(units):
                return None
            words = units[j].words
            if wanted[matched:matched + len(words)] != words:
                return None
            j, matched = j + 1, matched + len(words)
        return j


def _resolve_stopwords(stopwords: str | Iterable[str] | None) -> tuple[str, ...]:
    if stopwords is None or stopwords is False:
        return ()
    if isinstance(stopwords, str):
        name = stopwords.strip().lower()
        if name not in _STOPWORD_LISTS:
            known = ", ".join(sorted(k for k in _STOPWORD_LISTS if len(k) > 2))
            raise ValueError(f"no stopword list for {stopwords!r}; known languages: {known} "
                             "(or pass a list of words, or None)")
        words = getattr(require("bm25s.stopwords", extra="bm25"), _STOPWORD_LISTS[name])
        return tuple(sorted({w.casefold() for w in words}))
    words = list(stopwords)
    bad = [w for w in words if not isinstance(w, str)]
    if bad:
        raise TypeError(f"stopwords must be strings; got {bad[:5]!r}")
    return tuple(sorted({w.casefold() for w in words}))


def _make_stemmer(language: str | None):
    if language is None:
        return None
    stemmer_module = require("Stemmer", extra="bm25")
    try:
        return stemmer_module.Stemmer(language).stemWord
    except KeyError as exc:
        raise ValueError(f"PyStemmer has no stemmer for {language!r}; choose one of "
                         f"{', '.join(stemmer_module.algorithms())} or None") from exc


def _glossary_terms(glossary: Any, ignore_case: bool) -> tuple[dict[str, str], bool]:
    if glossary is None:
        return {}, ignore_case
    if hasattr(glossary, "terms") and not isinstance(glossary, Mapping):
        return dict(glossary.terms), bool(getattr(glossary, "ignore_case", ignore_case))
    if not isinstance(glossary, Mapping):
        raise TypeError(f"glossary must be a mapping term -> expansion or a Glossary, "
                        f"got {type(glossary).__name__}")
    for term, expansion in glossary.items():
        if not isinstance(term, str) or not isinstance(expansion, str):
            raise TypeError(f"glossary entries must be str -> str, got {term!r}: {expansion!r}")
    return dict(glossary), ignore_case


_DICT_KEYS = ("format", "pattern", "stopwords", "stemmer_language", "glossary",
              "glossary_ignore_case")


def _check_dict(data: Mapping[str, Any]) -> None:
    """What `Tokenizer.to_dict` writes, and nothing else."""
    if not isinstance(data, Mapping):
        raise TypeError(f"tokenizer settings must be a dict, got {type(data).__name__}")
    if data.get("format") != _FORMAT:
        raise ValueError(f"unsupported tokenizer format {data.get('format')!r} "
                         f"(this version reads format {_FORMAT})")
    if sorted(data) != sorted(_DICT_KEYS):
        raise ValueError(f"tokenizer settings must have exactly the keys {list(_DICT_KEYS)}, "
                         f"got {sorted(map(str, data))[:10]}")
    if data["pattern"] not in PATTERNS.values():
        raise ValueError(f"tokenizer pattern {str(data['pattern'])[:80]!r} is not one of the "
                         "known patterns (embedkit.retrieval.tokenizer.PATTERNS); a regex read "
                         "from a file is never compiled: build that Tokenizer yourself and pass "
                         "it (HybridIndex.load(path, embedder, tokenizer=...))")
    words = data["stopwords"]
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise TypeError("tokenizer stopwords must be a list of strings")
    language = data["stemmer_language"]
    if language is not None and not isinstance(language, str):
        raise TypeError(f"tokenizer stemmer_language must be a string or null, got {language!r}")
    glossary = data["glossary"]
    if not isinstance(glossary, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in glossary.items()):
        raise TypeError("tokenizer glossary must map strings to strings")
    if not isinstance(data["glossary_ignore_case"], bool):
        raise TypeError("tokenizer glossary_ignore_case must be true or false")
