"""Compare models and retrieval modes on one test set: "test on your domain, not on MTEB".

```python
from embedkit.evaluate import compare, load_beir
data = load_beir("beir/msmarco")
table = compare(data, models=[None, "BAAI/bge-small-en-v1.5"],
                modes=["dense", "bm25", "hybrid"], glossary="glossary.json")
for run in table.runs:
    print(run.label, run.result["ndcg@10"])
```

Every model is embedded once per glossary setting: one `Embedder` (with the disk cache) and one
`HybridIndex` per (model, glossary), and every mode is a ``fusion=`` override on that index.
The queries are embedded in one batch per index, so a comparison of five modes costs one corpus
embedding per model, and a second comparison over the same data costs none (cache hits).
BM25 does not depend on the model: it runs once per glossary setting.

Modes: ``dense``, ``bm25``, ``hybrid-rrf``, ``hybrid-weighted``, ``hybrid-auto`` (the default
search, with its own per-query feedback), ``hybrid-auto-v1`` (the previous default); ``hybrid``
means rrf, weighted and auto. ``hybrid-weighted@0.7`` / ``hybrid-rrf@0.7`` set the dense weight
(default: ``alpha`` for weighted, 0.5, plain RRF, for rrf). A feedback suffix sets
pseudo-relevance feedback (`embedkit.retrieval.feedback`): ``+prf`` (dense, Rocchio), ``+rm3``
(BM25 expansion), ``+prf+rm3`` (both), ``+nofb`` (none), e.g. ``dense+prf``,
``hybrid-auto+nofb``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..embedder import Embedder
from ..glossary import Glossary, as_glossary
from ..retrieval.index import HybridIndex
from .datasets import RetrievalDataset
from .metrics import DEFAULT_METRICS, EvalResult, evaluate_run, parse_metric

HYBRID_MODES = ("hybrid-rrf", "hybrid-weighted", "hybrid-auto")
MODES = ("dense", "bm25", *HYBRID_MODES, "hybrid-auto-v1")
DEFAULT_MODES = ("dense", "bm25", "hybrid")
_FUSION = {"dense": "dense", "bm25": "bm25", "hybrid-rrf": "rrf",
           "hybrid-weighted": "weighted", "hybrid-auto": "auto", "hybrid-auto-v1": "auto-v1"}
_FEEDBACK = {"+prf": "dense", "+rm3": "bm25", "+prf+rm3": "both", "+rm3+prf": "both",
             "+nofb": "none"}
_FEEDBACK_SUFFIX = {"dense": "+prf", "bm25": "+rm3", "both": "+prf+rm3", "none": "+nofb"}
_ALIASES = {"hybrid": HYBRID_MODES, "rrf": ("hybrid-rrf",), "weighted": ("hybrid-weighted",),
            "auto": ("hybrid-auto",)}
BM25_MODEL = "-"  # the model column of BM25 runs, which use no embedding model
DEFAULT_DEPTH = 100  # results per query when a metric has no cutoff


@dataclass(frozen=True)
class Mode:
    """One retrieval mode: its name, for the weighted hybrids the dense weight, and the
    pseudo-relevance feedback (None: the fusion's own choice)."""

    name: str
    alpha: float | None = None
    feedback: str | None = None

    @property
    def fusion(self) -> str:
        return _FUSION[self.name]

    @property
    def label(self) -> str:
        label = self.name if self.alpha is None else f"{self.name}@{self.alpha:g}"
        return label + (_FEEDBACK_SUFFIX[self.feedback] if self.feedback else "")

    @property
    def uses_model(self) -> bool:
        return self.name != "bm25"


def parse_modes(modes: str | Sequence[str]) -> list[Mode]:
    """``"dense,bm25,hybrid"`` or a list of names -> `Mode`s, aliases expanded, in order.

    Raises:
        ValueError: an unknown mode, or an ``@alpha`` outside [0, 1] or on a mode without one.
    """
    names = modes.split(",") if isinstance(modes, str) else list(modes)
    parsed: list[Mode] = []
    for raw in names:
        text = raw.strip().lower()
        if not text:
            continue
        text, feedback = _split_feedback(raw, text)
        name, at, weight = text.partition("@")
        for expanded in _ALIASES.get(name, (name,)):
            if expanded not in MODES:
                raise ValueError(f"unknown mode {raw.strip()!r}; choose from "
                                 f"{', '.join((*MODES, 'hybrid'))} (optionally @alpha, and "
                                 f"{', '.join(_FEEDBACK)})")
            parsed.append(Mode(expanded, _parse_alpha(raw, expanded, weight) if at else None,
                               feedback))
    if not parsed:
        raise ValueError("no retrieval mode given; e.g. 'dense,bm25,hybrid'")
    return list(dict.fromkeys(parsed))


def _split_feedback(raw: str, text: str) -> tuple[str, str | None]:
    """``"dense+prf"`` -> ``("dense", "dense")``; no suffix -> ``(text, None)``."""
    head, plus, tail = text.partition("+")
    if not plus:
        return text, None
    feedback = _FEEDBACK.get(plus + tail)
    if feedback is None:
        raise ValueError(f"mode {raw.strip()!r}: unknown feedback suffix {plus + tail!r}; "
                         f"choose from {', '.join(_FEEDBACK)}")
    return head, feedback


def _parse_alpha(raw: str, name: str, weight: str) -> float:
    if name not in ("hybrid-rrf", "hybrid-weighted"):
        raise ValueError(f"mode {raw!r}: only hybrid-rrf and hybrid-weighted take @alpha")
    try:
        alpha = float(weight)
    except ValueError:
        raise ValueError(f"mode {raw!r}: {weight!r} after '@' is not a number") from None
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"mode {raw!r}: alpha must be in [0, 1]")
    return alpha


@dataclass(frozen=True)
class RunResult:
    """One run: a model, a mode, with or without the glossary, and its scores."""

    model: str
    mode: str
    glossary: bool
    result: EvalResult
    seconds: float
    """Wall time to retrieve for every query (embedding excluded)."""

    @property
    def label(self) -> str:
        parts = [self.mode] if self.model == BM25_MODEL else [self.model, self.mode]
        return " ".join(parts) + (" +glossary" if self.glossary else "")

    @property
    def ms_per_query(self) -> float:
        return 1000 * self.seconds / max(self.result.n_queries, 1)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "mode": self.mode, "glossary": self.glossary,
                "label": self.label, "mean": dict(self.result.mean),
                "ms_per_query": self.ms_per_query, "result": self.result.to_dict()}


@dataclass
class Comparison:
    """A table of runs x metrics, with how each model's embeddings were obtained."""

    runs: list[RunResult]
    metrics: tuple[str, ...]
    dataset: str
    settings: dict[str, Any] = field(default_factory=dict)
    embedding: list[dict[str, Any]] = field(default_factory=list)
    """Per (model, glossary): documents, cache hits and misses, tokens, dollars, seconds."""

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per run: model, mode, glossary, then each metric's mean."""
        return [{"model": r.model, "mode": r.mode, "glossary": r.glossary,
                 **{m: r.result[m] for m in self.metrics}, "ms_per_query": r.ms_per_query}
                for r in self.runs]

    def get(self, mode: str, *, model: str | None = None, glossary: bool = False) -> RunResult:
        """The run of ``mode`` (a label such as ``hybrid-weighted@0.7``) for one model."""
        for run in self.runs:
            if run.mode == mode and run.glossary == glossary and (
                    model is None or run.model in (model, BM25_MODEL)):
                return run
        raise KeyError(f"no run for mode={mode!r}, model={model!r}, glossary={glossary}; "
                       f"runs: {[r.label for r in self.runs]}")

    def best(self, metric: str = "ndcg@10") -> RunResult:
        """The run with the highest mean ``metric`` (NaN counts as lowest)."""
        label = parse_metric(metric).label

        def score(run: RunResult) -> float:
            value = run.result.mean[label]
            return -math.inf if math.isnan(value) else value

        return max(self.runs, key=score)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "metrics": list(self.metrics),
                "settings": dict(self.settings), "embedding": list(self.embedding),
                "runs": [run.to_dict() for run in self.runs]}

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=True), encoding="utf-8")
        return path


def compare(
    dataset: RetrievalDataset,
    models: Sequence[str | None] = (None,),
    modes: str | Sequence[str] = DEFAULT_MODES,
    *,
    glossary: Glossary | Mapping[str, str] | str | Path | None = None,
    glossary_variants: Sequence[bool] | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    alpha: float = 0.5,
    rrf_k: float = 60.0,
    candidates: int = 100,
    cache_dir: str | Path | None = None,
    show_progress: bool = False,
    embedder_options: Mapping[str, Any] | None = None,
    on_index: Callable[[str, bool, int], object] | None = None,
) -> Comparison:
    """Score every (model, mode, glossary) combination on ``dataset``.

    Args:
        dataset: corpus, queries and judgments (`load_beir`, `load_simple_json`, ...). When it
            has per-query ``candidates`` (the simple list's ``all_docs``), each query ranks only its
            own pool.
        models: model strings for `Embedder` (None: the bundled model).
        modes: see the module docstring; ``"hybrid"`` expands to the three hybrids.
        glossary: term -> expansion, used by the embedder and by BM25's tokenizer.
        glossary_variants: which settings to run, e.g. ``[True]``; default both when a
            glossary is given, else without only.
        metrics: e.g. ``("ndcg@10", "mrr@10", "recall@10")``.
        alpha: dense weight of ``hybrid-weighted`` (without ``@alpha``).
        rrf_k, candidates: `HybridIndex` settings shared by every run.
        cache_dir: the embedding cache (default: embedkit's); embeddings are reused across
            runs and across calls.
        show_progress: progress bars while embedding.
        embedder_options: more `Embedder` arguments (``batch_size``, ``api_key``, ...).
        on_index: called as ``on_index(model, glossary, n_documents)`` before each corpus is
            indexed (the CLI prints what it is embedding).
    """
    parsed = list(dict.fromkeys(_with_alpha(mode, alpha) for mode in parse_modes(modes)))
    glossary = as_glossary(glossary)
    labels = tuple(parse_metric(m).label for m in ([metrics] if isinstance(metrics, str)
                                                    else metrics))
    variants = _glossary_variants(glossary, glossary_variants)
    queries = _queries_to_run(dataset)
    depth = _depth(labels)
    models = _check_models(models)
    comparison = Comparison([], labels, repr(dataset), settings={
        "alpha": alpha, "rrf_k": rrf_k, "candidates": candidates, "depth": depth,
        "modes": [m.label for m in parsed], "glossary_terms": len(glossary) if glossary else 0})
    options = {"cache_dir": cache_dir, "show_progress": show_progress,
               **dict(embedder_options or {})}
    for with_glossary in variants:
        for position, model in enumerate(models):
            # BM25 does not depend on the model: only the first model runs it.
            model_modes = [m for m in parsed if m.uses_model or position == 0]
            if model_modes:
                embedder = Embedder(model, glossary=glossary if with_glossary else None,
                                    **options)
                comparison.runs += _runs_of_one_index(
                    embedder, dataset, queries, model_modes, depth, with_glossary, comparison,
                    rrf_k=rrf_k, candidates=candidates, on_index=on_index)
    return comparison


def _runs_of_one_index(embedder: Embedder, dataset: RetrievalDataset, queries: list[str],
                       modes: list[Mode], depth: int, with_glossary: bool,
                       comparison: Comparison, *, rrf_k: float, candidates: int,
                       on_index: Callable[[str, bool, int], object] | None) -> list[RunResult]:
    """Index the corpus once with ``embedder``; every mode is a ``fusion=`` override on it."""
    store = any(m.uses_model for m in modes)  # BM25 alone needs no vectors: embed nothing
    index = _build_index(embedder, dataset, store, rrf_k, candidates, on_index,
                         comparison.embedding, with_glossary)
    vectors = _query_vectors(embedder, dataset, queries) if store else {}
    return [_run(index, dataset, queries, vectors, mode, depth, comparison.metrics,
                 embedder.model_name, with_glossary) for mode in modes]


def _with_alpha(mode: Mode, alpha: float) -> Mode:
    """Weighted fusion always names its weight; RRF without one is plain (equal weights)."""
    if mode.name == "hybrid-weighted" and mode.alpha is None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        return Mode(mode.name, float(alpha), mode.feedback)
    return mode


def _glossary_variants(glossary: Any, variants: Sequence[bool] | None) -> list[bool]:
    if variants is None:
        return [False, True] if glossary is not None else [False]
    variants = list(dict.fromkeys(bool(v) for v in variants))
    if True in variants and glossary is None:
        raise ValueError("glossary_variants asks for runs with a glossary, but none was given")
    if not variants:
        raise ValueError("glossary_variants is empty; use [False], [True] or [False, True]")
    return variants


def _queries_to_run(dataset: RetrievalDataset) -> list[str]:
    queries = dataset.judged_queries
    if not queries:
        raise ValueError(f"{dataset!r} has no query with a relevant (grade > 0) judgment")
    unknown = [qid for qid in queries if qid not in dataset.queries]
    if unknown:
        raise ValueError(f"{len(unknown)} judged query ids have no query text: {unknown[:5]}")
    return queries


def _depth(labels: Sequence[str]) -> int:
    cutoffs = [parse_metric(label).k for label in labels]
    return DEFAULT_DEPTH if None in cutoffs else max(max(cutoffs), 1)  # type: ignore[type-var]


def _check_models(models: Sequence[str | None]) -> list[str | None]:
    if isinstance(models, str) or models is None:
        models = [models]  # type: ignore[list-item]
    models = list(dict.fromkeys(models))
    if not models:
        raise ValueError("no model given; use [None] for the bundled model")
    return models


def _build_index(embedder: Embedder, dataset: RetrievalDataset, store_vectors: bool,
                 rrf_k: float, candidates: int,
                 on_index: Callable[[str, bool, int], object] | None,
                 embedding_log: list[dict[str, Any]], with_glossary: bool) -> HybridIndex:
    index = HybridIndex(embedder, rrf_k=rrf_k, candidates=candidates,
                        store_vectors=store_vectors)
    if on_index is not None and store_vectors:
        on_index(embedder.model_name, with_glossary, len(dataset.corpus))
    started = time.perf_counter()
    index.add(list(dataset.corpus.values()), ids=list(dataset.corpus))
    if store_vectors:
        stats = embedder.stats
        embedding_log.append({
            "model": embedder.model_name, "glossary": with_glossary,
            "fingerprint": embedder.fingerprint, "documents": len(dataset.corpus),
            "hits": stats.hits, "misses": stats.misses, "tokens": stats.tokens,
            "dollars": stats.dollars, "seconds": time.perf_counter() - started})
    return index


def _query_vectors(embedder: Embedder, dataset: RetrievalDataset,
                   queries: list[str]) -> dict[str, Any]:
    matrix = embedder.embed_queries([dataset.queries[qid] for qid in queries])
    return dict(zip(queries, matrix))


def _run(index: HybridIndex, dataset: RetrievalDataset, queries: list[str],
         vectors: Mapping[str, Any], mode: Mode, depth: int,
         metrics: tuple[str, ...], model: str, with_glossary: bool) -> RunResult:
    alpha = 0.5 if mode.alpha is None else mode.alpha  # only rrf and weighted read it
    started = time.perf_counter()
    run: dict[str, list[str]] = {}
    for qid in queries:
        pool = dataset.candidates.get(qid) if dataset.candidates is not None else None
        hits = index.search(dataset.queries[qid], k=depth, fusion=mode.fusion, alpha=alpha,
                            ids=pool, query_vector=vectors.get(qid), feedback=mode.feedback)
        run[qid] = [hit.id for hit in hits]  # a ranked list: evaluate_run keeps its order
    seconds = time.perf_counter() - started
    return RunResult(model if mode.uses_model else BM25_MODEL, mode.label, with_glossary,
                     evaluate_run(run, dataset.qrels, metrics), seconds)


__all__ = ["DEFAULT_MODES", "HYBRID_MODES", "MODES", "Comparison", "Mode", "RunResult",
           "compare", "parse_modes"]
