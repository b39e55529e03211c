"""Model selection: the embedding guide's decision tree and use-case table as a function.

Both are reproduced in docs/guide-reference.md section 3 (the reasons cite "guide 3.1" and
"guide 3.2"). The tree asks, in order: privacy, multilingual, code, long context, cost, quality,
and stops at the first "yes". Taken literally that drops requirements (private *and*
multilingual would get English-only BGE). Here every "yes" to the first four questions is a hard
requirement that every recommended model meets; the tree still decides the order:

1. a use case, when given: its row of the table (primary choice, then budget alternative);
2. the leaf of each "yes", in the tree's order (every leaf when none was answered "yes" reaches
   the cost and quality questions, whose answers pick their leaves);
3. ``cost_sensitive`` / ``highest_quality`` then move the models their leaves name ahead;
4. other catalogued models that meet every requirement.

When no catalogued model meets every requirement, requirements are kept in the tree's order
as long as some model meets all kept ones; the others are relaxed, and the reason says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .catalog import CATALOG, ModelSpec, get_spec
from .providers.resolve import KNOWN_PROVIDERS

Predicate = Callable[[ModelSpec], bool]


@dataclass(frozen=True)
class Recommendation:
    """One ranked model: the catalog record, why it was chosen, its 1-based rank."""

    spec: ModelSpec
    reason: str
    rank: int
    relaxed: tuple[str, ...] = ()
    """Requirements (flag names) dropped because no catalogued model meets them with the rest."""

    @property
    def model(self) -> str:
        """The string to pass to `Embedder`."""
        return self.spec.model_string


@dataclass(frozen=True)
class Leaf:
    """One answer in the decision tree: the models it names, in its order."""

    says: str
    """The answer as worded in the tree, e.g. "Open source models (BGE, E5, GTE)"."""
    models: tuple[str, ...]
    admits: Predicate | None = None
    """Models the answer covers beyond the named ones (e.g. "or local models")."""

    def specs(self) -> list[ModelSpec]:
        return [get_spec(name) for name in self.models]

    def covers(self, spec: ModelSpec) -> bool:
        named = any(get_spec(name) == spec for name in self.models)
        return named or (self.admits is not None and self.admits(spec))


@dataclass(frozen=True)
class Requirement:
    """A "yes" to one of the first four questions: a leaf and a property every model must have."""

    flag: str
    question: str
    leaf: Leaf
    meets: Predicate
    description: str


def _is_local(spec: ModelSpec) -> bool:
    return spec.is_local


REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("private", "Is data privacy critical?",
                Leaf("Open source models (BGE, E5, GTE)",
                     ("BAAI/bge-large-en-v1.5", "intfloat/e5-large-v2", "thenlper/gte-large")),
                _is_local, "runs locally, so your data never leaves your machines"),
    Requirement("multilingual", "Do you need multilingual support?",
                Leaf("multilingual-e5-large or Cohere multilingual",
                     ("intfloat/multilingual-e5-large", "embed-multilingual-v3.0")),
                lambda s: s.multilingual, "multilingual"),
    Requirement("code", "Is your content primarily code?",
                Leaf("voyage-code-2 or CodeBERT", ("voyage-code-2", "microsoft/codebert-base")),
                lambda s: s.code, "trained on code"),
    Requirement("long_context", "Do you need long context (>512 tokens)?",
                Leaf("nomic-embed, BGE-M3, or text-embedding-3",
                     ("nomic-ai/nomic-embed-text-v1.5", "BAAI/bge-m3", "text-embedding-3-large",
                      "text-embedding-3-small")),
                lambda s: s.long_context, "reads more than 512 tokens"),
)

COST_QUESTION = "Is cost a primary concern?"
QUALITY_QUESTION = "Need highest quality?"
# "local models" in the cost leaf: a free stack, the named local models or any other local one.
COST_LEAVES = {
    True: Leaf("text-embedding-3-small or local models",
               ("text-embedding-3-small", "BAAI/bge-large-en-v1.5",
                "sentence-transformers/all-MiniLM-L6-v2"), admits=_is_local),
    False: Leaf("text-embedding-3-large or voyage-large-2",
                ("text-embedding-3-large", "voyage-large-2")),
}
QUALITY_LEAVES = {
    True: Leaf("E5-mistral-7b or voyage-large-2",
               ("intfloat/e5-mistral-7b-instruct", "voyage-large-2")),
    False: Leaf("BGE-large or text-embedding-3-small",
                ("BAAI/bge-large-en-v1.5", "text-embedding-3-small")),
}


@dataclass(frozen=True)
class UseCase:
    """A row of the use-case table: models with their role in the row."""

    title: str
    choices: tuple[tuple[str, str], ...]
    """(model, role) pairs: role is "primary choice", "budget alternative" or "specialized"."""
    implies: tuple[str, ...] = ()
    """Requirement flags the use case makes hard (code search needs a code model...)."""
    aliases: tuple[str, ...] = field(default=())
    section: str = "3.2"
    """The guide section the row comes from: 3.2 (use cases) or 2.3 (specialized models)."""


def _row(title: str, primary: str, budget: str, *implies: str, aliases: Sequence[str] = ()
         ) -> UseCase:
    return UseCase(title, ((primary, "primary choice"), (budget, "budget alternative")),
                   implies, tuple(aliases))


# The use-case rows, then two rows for domains only the specialized models cover.
USE_CASES: tuple[UseCase, ...] = (
    _row("General Q&A", "text-embedding-3-small", "BAAI/bge-large-en-v1.5",
         aliases=("qa", "general")),
    _row("Enterprise Search", "text-embedding-3-large", "mixedbread-ai/mxbai-embed-large-v1",
         aliases=("enterprise",)),
    _row("Customer Support", "text-embedding-3-small", "sentence-transformers/all-MiniLM-L6-v2",
         aliases=("support",)),
    _row("Code Search", "voyage-code-2", "microsoft/codebert-base", "code", aliases=("code",)),
    _row("Legal Documents", "voyage-large-2", "nlpaueb/legal-bert-base-uncased",
         aliases=("legal",)),
    _row("Multilingual", "embed-multilingual-v3.0", "intfloat/multilingual-e5-large",
         "multilingual"),
    _row("Long Documents", "text-embedding-3-large", "nomic-ai/nomic-embed-text-v1.5",
         "long_context", aliases=("long", "long context")),
    _row("High Volume", "text-embedding-3-small", "sentence-transformers/all-MiniLM-L6-v2",
         aliases=("volume",)),
    UseCase("Medical", (("microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract-fulltext",
                         "specialized"), ("dmis-lab/biobert-base-cased-v1.2", "specialized")),
            aliases=("biomedical", "scientific"), section="2.3"),
    UseCase("Financial", (("ProsusAI/finbert", "specialized"),), aliases=("finance",),
            section="2.3"),
)


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def find_use_case(name: str) -> UseCase:
    """The use case named ``name`` (title or alias, any case or punctuation)."""
    key = _norm(name)
    for case in USE_CASES:
        if key in {_norm(case.title), *(_norm(a) for a in case.aliases)}:
            return case
    known = ", ".join(case.title for case in USE_CASES)
    raise ValueError(f"unknown use case {name!r}; known use cases: {known}")


@dataclass
class _Candidate:
    spec: ModelSpec
    reasons: list[str]
    leaves: int = 0
    """How many of the answered leaves cover it (more agreement ranks higher)."""
    order: tuple[int, int] = (0, 0)


def recommend(
    *,
    private: bool = False,
    multilingual: bool = False,
    code: bool = False,
    long_context: bool = False,
    cost_sensitive: bool = False,
    highest_quality: bool = False,
    use_case: str | None = None,
    limit: int | None = 5,
) -> list[Recommendation]:
    """Ranked catalog models for your needs, each with the reason, best first.

    Args:
        private: data must not leave your machines (local models only).
        multilingual: text in several languages.
        code: the content is mainly source code.
        long_context: documents longer than 512 tokens must be embedded whole.
        cost_sensitive: cost is a primary concern.
        highest_quality: quality matters more than anything else.
        use_case: a row of the use-case table ("General Q&A", "Code Search",
            "legal", ...); its models come first.
        limit: at most this many (None: every model that qualifies).

    Example:
        >>> [r.model for r in recommend(private=True, multilingual=True)][:1]
        ['intfloat/multilingual-e5-large']
    """
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    case = find_use_case(use_case) if use_case is not None else None
    flags = {"private": private, "multilingual": multilingual, "code": code,
             "long_context": long_context}
    for flag in case.implies if case else ():
        flags[flag] = True
    required = [req for req in REQUIREMENTS if flags[req.flag]]
    required, dropped = _satisfiable(required)
    groups = [_use_case_group(case, cost_sensitive)] if case else []
    groups.append(_tree_group(required, cost_sensitive, highest_quality))
    ranked = _merge(groups, required)
    ranked += _fallbacks(ranked, required, cost_sensitive)
    return _finish(ranked[:limit] if limit else ranked, required, dropped)


# ----------------------------------------------------------------------------- steps
def _satisfiable(required: list[Requirement]) -> tuple[list[Requirement], list[Requirement]]:
    """Keep requirements in the tree's order while some catalogued model meets all kept ones;
    drop (relax) any that would leave none."""
    kept: list[Requirement] = []
    dropped: list[Requirement] = []
    for req in required:
        if any(_meets_all(spec, [*kept, req]) for spec in CATALOG):
            kept.append(req)
        else:
            dropped.append(req)
    return kept, dropped


def _meets_all(spec: ModelSpec, required: Iterable[Requirement]) -> bool:
    return all(req.meets(spec) for req in required)


def _use_case_group(case: UseCase, cost_sensitive: bool) -> list[_Candidate]:
    choices = list(case.choices)
    if cost_sensitive:  # the budget alternative first
        choices.sort(key=lambda choice: choice[1] != "budget alternative")
    return [_Candidate(get_spec(model), [f"guide {case.section}, {case.title}: {role}"])
            for model, role in choices]


def _tree_group(required: list[Requirement], cost_sensitive: bool,
                highest_quality: bool) -> list[_Candidate]:
    """Models the answered leaves name, ordered by agreement, then tree order."""
    answered: list[tuple[str, Leaf]] = [(f"{req.question} yes", req.leaf) for req in required]
    reached_end = not required  # the tree stops at the first "yes"
    if reached_end or cost_sensitive:
        answered.append((f"{COST_QUESTION} {_yes_no(cost_sensitive)}",
                         COST_LEAVES[cost_sensitive]))
    if reached_end or highest_quality:
        answered.append((f"{QUALITY_QUESTION} {_yes_no(highest_quality)}",
                         QUALITY_LEAVES[highest_quality]))
    candidates: dict[str, _Candidate] = {}
    for leaf_index, (question, leaf) in enumerate(answered):
        for position, spec in enumerate(leaf.specs()):
            candidates.setdefault(spec.name, _Candidate(spec, [], order=(leaf_index, position)))
    for candidate in candidates.values():
        for question, leaf in answered:
            if leaf.covers(candidate.spec):
                candidate.leaves += 1
                candidate.reasons.append(f'guide 3.1, "{question}" -> {leaf.says}')
    ordered = sorted(candidates.values(), key=lambda c: (-c.leaves, c.order))
    if cost_sensitive:
        ordered = _to_front(ordered, COST_LEAVES[True])
    if highest_quality:  # the last question of the tree: the most specific preference
        ordered = _to_front(ordered, QUALITY_LEAVES[True])
    return ordered


def _to_front(ordered: list[_Candidate], leaf: Leaf) -> list[_Candidate]:
    return sorted(ordered, key=lambda c: not leaf.covers(c.spec))  # stable


def _merge(groups: list[list[_Candidate]], required: list[Requirement]) -> list[_Candidate]:
    merged: dict[str, _Candidate] = {}
    for group in groups:
        for candidate in group:
            if not _meets_all(candidate.spec, required):
                continue
            if candidate.spec.name in merged:
                merged[candidate.spec.name].reasons += candidate.reasons
            else:
                merged[candidate.spec.name] = _Candidate(candidate.spec, list(candidate.reasons))
    return list(merged.values())


def _fallbacks(ranked: list[_Candidate], required: list[Requirement],
               cost_sensitive: bool) -> list[_Candidate]:
    """General-purpose retrieval models the tree's leaves did not name but that qualify."""
    taken = {c.spec.name for c in ranked}
    extra = [spec for spec in CATALOG if spec.name not in taken and _meets_all(spec, required)
             and _general_purpose(spec)]
    if cost_sensitive:
        extra.sort(key=lambda s: (s.price_per_million is None, s.price_per_million or 0.0))
    why = ("also meets every requirement" if required
           else "a current general-purpose model the tree's leaves do not name")
    return [_Candidate(spec, [why]) for spec in extra]


def _general_purpose(spec: ModelSpec) -> bool:
    """Trained as a sentence embedder and current (not a raw domain encoder, not legacy)."""
    if spec.is_local:
        return spec.mteb_score is not None
    return spec.mteb_rank != "Legacy" and spec.price_per_million is not None


def _finish(ranked: list[_Candidate], required: list[Requirement],
            dropped: list[Requirement]) -> list[Recommendation]:
    met = "; ".join(req.description for req in required)
    relaxed = tuple(req.flag for req in dropped)
    missing = ""
    if relaxed:
        missing = (f"; no catalogued model also meets {' and '.join(relaxed)}, "
                   f"so {'that was' if len(relaxed) == 1 else 'those were'} relaxed")
    out = []
    for rank, candidate in enumerate(ranked, start=1):
        parts = [*dict.fromkeys(candidate.reasons)]
        if met:
            parts.append(met)
        reason = "; ".join(parts) + missing + f" ({facts(candidate.spec)})"
        out.append(Recommendation(candidate.spec, reason, rank, relaxed))
    return out


def facts(spec: ModelSpec) -> str:
    """One line of the numbers that matter when choosing: size, limit, price, quality."""
    if spec.price_per_million is None:
        price = "usage-based price"
    elif spec.price_per_million == 0:
        price = "free (compute only)"
    else:
        price = f"${spec.price_per_million:.2f}/1M tokens"
    quality = (f"MTEB {spec.mteb_score:.2f}" if spec.mteb_score is not None
               else f"MTEB {spec.mteb_rank}" if spec.mteb_rank else "no MTEB figure")
    served = "" if spec.provider in KNOWN_PROVIDERS else f"; no embedkit {spec.provider} backend yet"
    return f"{spec.dimensions} dims, {spec.max_tokens} tokens, {price}, {quality}{served}"


def _yes_no(answer: bool) -> str:
    return "yes" if answer else "no"


__all__ = ["USE_CASES", "Recommendation", "UseCase", "find_use_case", "recommend"]
