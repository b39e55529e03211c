"""Two-stage retrieval: pay an API model only for the queries that need it, without mixing
vector spaces.

Embedding documents with a free local model and "premium" queries with an API model, then
comparing the two (the embedding guide's ``HybridEmbedder``, docs/guide-reference.md,
"HybridRetriever and HybridEmbedder") does not work: vectors from different models live in
different spaces (often of different sizes), so that similarity is noise. Here:

- stage 1 (free): a `HybridIndex` (local model + BM25) ranks the whole corpus;
- stage 2 (paid, only for queries that escalate): the premium embedder embeds the query and the
  *texts* of the top ``top_n`` candidates, and re-ranks them by premium-query x premium-document
  similarity, optionally fused with the stage-1 ranking (RRF). Documents go through the premium
  embedder's cache, so each one is paid for at most once, ever.

Stage 2 receives texts, never vectors, and scores only vectors it made itself (`PremiumScorer`),
so a local vector and a premium vector can never meet.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..arguments import check_int, check_positive_int
from .._asyncio import gather_all
from ..cost.budget import Budget
from ..cost.pricing import CallEstimate, dollars_for
from ..embedder import Embedder
from ..errors import BudgetExceeded, ProviderError
from .candidates import CandidatesInput
from .fusion import rrf
from .index import HybridIndex, SearchHit
from ..cost.ledger import CostTracker, default_ledger_path
from ..stats import EmbedStats
from ..validation import validate_query

logger = logging.getLogger("embedkit.retrieval.two_stage")

Policy = Union[str, Callable[[str, Sequence[SearchHit]], bool]]
POLICIES = ("always", "never", "uncertain")
DEFAULT_MARGIN = 0.02
"""Escalate when the stage-1 top two are closer than this in local cosine. A heuristic: it
escalated 27% of the demo knowledge base's queries and 60% of msmarco-5k's (README)."""


class BudgetWarning(UserWarning):
    """Stage 2 was skipped because its cost would cross the budget (warned once per retriever)."""


class Stage2Warning(UserWarning):
    """Stage 2 failed (the API gave up) and stage 1's ranking was returned."""


@dataclass(frozen=True)
class TwoStageHit(SearchHit):
    """A `SearchHit` with both stages' view of it.

    ``score`` is the premium cosine (or the RRF score with ``fuse_with_stage1``) for re-ranked
    hits, and the stage-1 score otherwise. ``premium_*`` are None when stage 2 did not score it.
    """

    stage1_rank: int | None = None
    stage1_score: float | None = None
    premium_score: float | None = None
    premium_rank: int | None = None

    def score_fields(self) -> dict[str, Any]:
        """`SearchHit.score_fields` plus ``premium_score``, ``premium_rank``,
        ``stage1_score`` and ``stage1_rank``."""
        return {**super().score_fields(),
                **{name: getattr(self, name) for name in PREMIUM_FIELDS}}


PREMIUM_FIELDS = ("premium_score", "premium_rank", "stage1_score", "stage1_rank")


@dataclass(frozen=True)
class TwoStageResult:
    """One query's hits and what happened to it."""

    hits: list[TwoStageHit]
    escalated: bool
    """Stage 2 re-ranked these hits."""
    outcome: str
    """``stage1`` (not escalated), ``reranked``, ``skipped_budget`` or ``failed``."""
    why: str
    """The escalation decision in words (policy, margin, forced, budget...)."""
    margin: float | None
    """Stage-1 confidence: top-1 minus top-2 local cosine (None with fewer than 2 hits)."""
    documents_sent: int = 0
    """Candidate texts stage 2 paid for (the rest came from the cache)."""
    tokens: int = 0
    dollars: float = 0.0
    """Estimated from token counts at the catalog price (exact for OpenAI's tokenizer)."""
    dollars_saved: float = 0.0
    """What the cached query and candidates would have cost."""


@dataclass(frozen=True)
class TwoStageStats:
    """What a `TwoStageRetriever` did and what it cost, since it was created."""

    queries: int
    escalated: int
    """Queries stage 2 re-ranked."""
    forced: int
    """Queries escalated because the caller passed ``escalate=True``."""
    skipped_budget: int
    """Queries that should have escalated but would have crossed the budget."""
    failed: int
    """Queries whose stage 2 failed at the API (stage 1 returned)."""
    documents_sent: int
    tokens: int
    dollars: float
    """Spent by this retriever's stage 2 (estimated from token counts)."""
    dollars_saved: float
    """What cache hits saved this retriever's stage 2."""
    corpus_documents: int
    corpus_paid: int
    """Corpus documents whose premium vector is in the cache: paid for, once, ever."""
    paid_share: float
    full_corpus_dollars: float
    """What embedding the whole corpus with the premium model would cost."""
    premium_model: str
    premium: EmbedStats
    """The premium embedder's own counters (all its users; billed tokens and dollars)."""
    budget: dict[str, float | int] | None

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["premium"] = self.premium.to_dict()
        return out


class PremiumScorer:
    """Scores texts against a query with one embedder's vectors, and nothing else.

    Texts go in, scores come out; its vectors never leave it and no vector can come in, so a
    query vector is only ever compared with document vectors of the same model.
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        query_vector = self.embedder.embed_query(query)
        return self._similarities(query_vector, self.embedder.embed_documents(list(texts)))

    async def ascore(self, query: str, texts: Sequence[str]) -> np.ndarray:
        query_vector, doc_vectors = await gather_all(
            self.embedder.aembed_query(query), self.embedder.aembed_documents(list(texts)))
        return self._similarities(query_vector, doc_vectors)

    @staticmethod
    def _similarities(query_vector: np.ndarray, doc_vectors: np.ndarray) -> np.ndarray:
        return doc_vectors @ query_vector


def stage1_margin(hits: Sequence[SearchHit]) -> float | None:
    """How sure stage 1 is: top-1 minus top-2 local cosine (the fused score without dense
    scores). Negative when BM25 put a less similar document first. None with < 2 hits."""
    if len(hits) < 2:
        return None
    first, second = hits[0], hits[1]
    if first.dense_score is not None and second.dense_score is not None:
        return float(first.dense_score - second.dense_score)
    return float(first.score - second.score)


@dataclass
class _QueryRoute:
    """One query's way through the two stages."""

    query: str
    k: int
    hits: list[SearchHit]
    escalate: bool
    why: str
    margin: float | None
    forced: bool
    top_n: int

    @property
    def candidates(self) -> list[SearchHit]:
        return self.hits[: self.top_n]


class _Unaffordable(Exception):
    """Stage 2's estimated cost would cross the budget (checked before any request)."""


class TwoStageRetriever:
    """Local hybrid search for every query; premium re-ranking of the top few for some.

    Args:
        index: stage 1: a `HybridIndex` over the whole corpus (local model + BM25).
        premium: stage 2: an `Embedder` on another model (typically an API model). It must
            keep a cache: that is what makes each document cost at most once.
        top_n: candidates stage 2 re-ranks.
        policy: which queries escalate: ``"always"``, ``"never"``, ``"uncertain"`` (stage 1's
            `stage1_margin` below ``margin``) or a callable ``(query, stage1_hits) -> bool``.
            ``escalate=True/False`` on a call overrides it for that query.
        margin: the ``"uncertain"`` threshold.
        fuse_with_stage1: rank by RRF of the stage-1 and premium rankings instead of the
            premium score alone.
        rrf_k: the RRF constant for that fusion.
        budget: a `Budget` to attach to ``premium`` (shared by everything using it). A stage 2
            that would cross it is skipped: stage 1's ranking is returned and one
            `BudgetWarning` says so.
        ledger: where per-query costs go for ``embedkit cost report``: True (default) for
            ``cost-ledger.jsonl`` in the premium embedder's cache folder, a path, a
            `CostTracker`, or None/False for memory only.
        name: this retriever's name in the ledger.

    Example:
        >>> index = HybridIndex(Embedder())                                # doctest: +SKIP
        >>> premium = Embedder("openai:text-embedding-3-small")             # doctest: +SKIP
        >>> retriever = TwoStageRetriever(index, premium, top_n=20,        # doctest: +SKIP
        ...                               budget=Budget(max_usd=5))
        >>> retriever.search("how do I rotate the VPN keys?", k=5)         # doctest: +SKIP
    """

    def __init__(
        self,
        index: HybridIndex,
        premium: Embedder,
        *,
        top_n: int = 20,
        policy: Policy = "uncertain",
        margin: float = DEFAULT_MARGIN,
        fuse_with_stage1: bool = False,
        rrf_k: float = 60.0,
        budget: Budget | None = None,
        ledger: bool | str | Path | CostTracker | None = True,
        name: str = "two-stage",
    ) -> None:
        _check_spaces(index, premium)
        _check_settings(top_n, policy, margin)
        self.index = index
        self.premium = premium
        self.scorer = PremiumScorer(premium)
        self.top_n, self.policy, self.margin = top_n, policy, float(margin)
        self.fuse_with_stage1, self.rrf_k = fuse_with_stage1, rrf_k
        self.name = name
        _attach_budget(premium, budget)
        self.tracker = _tracker(ledger, premium)
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(("queries", "escalated", "forced", "skipped_budget",
                                      "failed", "documents_sent", "tokens"), 0)
        self._money = {"dollars": Decimal(0), "dollars_saved": Decimal(0)}
        self._budget_warned = False

    @property
    def budget(self) -> Budget | None:
        """The premium embedder's `Budget` (None when it has none)."""
        return self.premium.budget

    # ------------------------------------------------------------------ search
    def search(self, query: str, k: int = 10, *, escalate: bool | None = None,
               filter: Mapping[str, Any] | None = None,
               dense_candidates: CandidatesInput | None = None) -> list[TwoStageHit]:
        """The best ``k`` documents; see `retrieve` for what happened to the query."""
        return self.retrieve(query, k, escalate=escalate, filter=filter,
                             dense_candidates=dense_candidates).hits

    async def asearch(self, query: str, k: int = 10, *, escalate: bool | None = None,
                      filter: Mapping[str, Any] | None = None,
                      dense_candidates: CandidatesInput | None = None
                      ) -> list[TwoStageHit]:
        return (await self.aretrieve(query, k, escalate=escalate, filter=filter,
                                     dense_candidates=dense_candidates)).hits

    def retrieve(self, query: str, k: int = 10, *, escalate: bool | None = None,
                 filter: Mapping[str, Any] | None = None,
                 dense_candidates: CandidatesInput | None = None) -> TwoStageResult:
        """Stage 1 for every query, stage 2 when the policy (or ``escalate``) says so.

        Args:
            escalate: True/False forces stage 2 on/off for this query; None asks the policy.
            filter: metadata equality filter, applied in stage 1.
            dense_candidates: external ``(id, similarity)`` pairs for stage 1's dense side
                (local model), as in `HybridIndex.search`.
        """
        validate_query(query)
        hits = self.index.search(query, k=self._depth(k), filter=filter,
                                 dense_candidates=dense_candidates)
        plan = self._plan(query, k, hits, escalate)
        if not plan.escalate:
            return self._finish(plan, self._stage1_result(plan, "stage1", plan.why))
        texts = [hit.text for hit in plan.candidates]
        try:
            estimates = self._estimate(query, texts)
            scores = self.scorer.score(query, texts)
        except (_Unaffordable, BudgetExceeded, ProviderError) as exc:
            return self._finish(plan, self._degraded(plan, exc))
        return self._finish(plan, self._reranked(plan, scores, estimates))

    async def aretrieve(self, query: str, k: int = 10, *, escalate: bool | None = None,
                        filter: Mapping[str, Any] | None = None,
                        dense_candidates: CandidatesInput | None = None
                        ) -> TwoStageResult:
        """`retrieve` without blocking the event loop."""
        validate_query(query)
        hits = await self.index.asearch(query, k=self._depth(k), filter=filter,
                                        dense_candidates=dense_candidates)
        plan = self._plan(query, k, hits, escalate)
        if not plan.escalate:
            return self._finish(plan, self._stage1_result(plan, "stage1", plan.why))
        texts = [hit.text for hit in plan.candidates]
        try:
            estimates = await asyncio.to_thread(self._estimate, query, texts)
            scores = await self.scorer.ascore(query, texts)
        except (_Unaffordable, BudgetExceeded, ProviderError) as exc:
            return self._finish(plan, self._degraded(plan, exc))
        return self._finish(plan, self._reranked(plan, scores, estimates))

    def should_escalate(self, query: str, hits: Sequence[SearchHit]) -> tuple[bool, str]:
        """The policy's decision for stage-1 ``hits``, with the reason."""
        margin = stage1_margin(hits)
        if self.policy == "always":
            return True, "policy always"
        if self.policy == "never":
            return False, "policy never"
        if self.policy == "uncertain":
            if margin is None:
                return False, "uncertain: fewer than 2 stage-1 hits, nothing to re-rank"
            verdict = margin < self.margin
            return verdict, (f"uncertain: margin {margin:.4f} "
                             f"{'<' if verdict else '>='} {self.margin:.4f}")
        verdict = bool(self.policy(query, list(hits)))  # type: ignore[operator]
        return verdict, f"policy {getattr(self.policy, '__name__', 'callable')} -> {verdict}"

    # ------------------------------------------------------------------ reporting
    @property
    def stats(self) -> TwoStageStats:
        """Counters, money, and the corpus figures. Reading it changes nothing, but it reads the
        cache for every corpus document (a pass over the corpus); `record_stats` also writes
        the snapshot to the ledger."""
        return self._snapshot()[0]

    def record_stats(self) -> TwoStageStats:
        """`stats`, also appended to the cost ledger as a corpus record (the corpus figures
        ``embedkit cost report`` shows)."""
        stats, corpus = self._snapshot()
        self.tracker.record("corpus", source=self.name, model=self.premium.model_name,
                            budget=stats.budget, **corpus)
        return stats

    def _snapshot(self) -> tuple[TwoStageStats, dict[str, Any]]:
        corpus = self.corpus_costs()
        with self._lock:
            counts = dict(self._counts)
            money = {k: float(v) for k, v in self._money.items()}
        budget = self.budget.snapshot() if self.budget is not None else None
        stats = TwoStageStats(
            **counts, **money, corpus_documents=corpus["documents"],
            corpus_paid=corpus["paid"], paid_share=corpus["paid_share"],
            full_corpus_dollars=corpus["full_corpus_dollars"],
            premium_model=self.premium.model_name, premium=self.premium.stats, budget=budget)
        return stats, corpus

    def corpus_costs(self) -> dict[str, Any]:
        """Documents in the index, how many are paid for (premium vector cached), and what
        embedding all of them with the premium model costs."""
        texts = [self.index.get(doc_id)[0] for doc_id in self.index.ids]
        if not texts:
            return {"documents": 0, "paid": 0, "paid_share": 0.0, "full_corpus_dollars": 0.0}
        estimate = self.premium.estimate(texts, "document")
        unpaid = {texts[i] for i in estimate.uncached}
        paid = sum(text not in unpaid for text in texts)
        full = dollars_for(estimate.tokens + estimate.cached_tokens,
                           self.premium.spec.price_per_million) or Decimal(0)
        return {"documents": len(texts), "paid": paid, "paid_share": paid / len(texts),
                "full_corpus_dollars": float(full)}

    def reset_stats(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(self._counts, 0)
            self._money = dict.fromkeys(self._money, Decimal(0))

    def __repr__(self) -> str:
        return (f"TwoStageRetriever(stage1={self.index.embedder.model_name!r}, "
                f"premium={self.premium.model_name!r}, top_n={self.top_n}, "
                f"policy={getattr(self.policy, '__name__', self.policy)!r})")

    # ------------------------------------------------------------------ internals
    def _depth(self, k: int) -> int:
        check_int("k", k, minimum=0)
        return max(k, self.top_n) if k else 0

    def _plan(self, query: str, k: int, hits: list[SearchHit], escalate: bool | None) -> _QueryRoute:
        margin = stage1_margin(hits)
        if escalate is not None:
            verdict, why = bool(escalate), f"forced by escalate={bool(escalate)}"
        else:
            verdict, why = self.should_escalate(query, hits)
        verdict = verdict and k > 0 and bool(hits)
        return _QueryRoute(query, k, hits, verdict, why, margin, forced=escalate is True,
                     top_n=self.top_n)

    def _estimate(self, query: str, texts: list[str]) -> tuple[CallEstimate, CallEstimate]:
        """The query's and candidates' cost now; `_Unaffordable` when the budget cannot pay
        for both (so the query is not paid for when its candidates cannot be)."""
        on_query = self.premium.estimate([query], "query")
        on_docs = self.premium.estimate(texts, "document")
        budget = self.budget
        need = dollars_for(on_query.tokens + on_docs.tokens, self.premium.spec.price_per_million)
        if budget is not None and need and not budget.can_afford(need):
            raise _Unaffordable(f"stage 2 would cost about ${float(need):.6f} but the budget "
                                f"has ${budget.remaining:.6f} left of ${budget.max_usd}")
        return on_query, on_docs

    def _degraded(self, plan: _QueryRoute, exc: Exception) -> TwoStageResult:
        if isinstance(exc, _Unaffordable | BudgetExceeded):
            return self._stage1_result(plan, "skipped_budget",
                                       f"{exc}; returned stage 1's ranking")
        return self._stage1_result(plan, "failed", f"stage 2 failed: {exc}")

    def _stage1_result(self, plan: _QueryRoute, outcome: str, why: str) -> TwoStageResult:
        hits = [_hit(hit, stage1_rank=rank) for rank, hit in enumerate(plan.hits[: plan.k], 1)]
        return TwoStageResult(hits, False, outcome, why, plan.margin)

    def _reranked(self, plan: _QueryRoute, scores: np.ndarray,
                  estimates: tuple[CallEstimate, CallEstimate]) -> TwoStageResult:
        candidates = plan.candidates
        premium_order = sorted(range(len(candidates)), key=lambda i: -float(scores[i]))
        premium_rank = {i: rank for rank, i in enumerate(premium_order, 1)}
        if self.fuse_with_stage1:
            fused = rrf([[(i, float(len(candidates) - i)) for i in range(len(candidates))],
                         [(i, float(scores[i])) for i in range(len(candidates))]], k=self.rrf_k)
            order = [(int(item.id), item.score) for item in fused]
        else:
            order = [(i, float(scores[i])) for i in premium_order]
        hits = [_hit(candidates[i], stage1_rank=i + 1, score=score,
                     premium_score=float(scores[i]), premium_rank=premium_rank[i])
                for i, score in order]
        tail = [_hit(hit, stage1_rank=rank)
                for rank, hit in enumerate(plan.hits[len(candidates): plan.k], len(hits) + 1)]
        on_query, on_docs = estimates
        return TwoStageResult(
            (hits + tail)[: plan.k], True, "reranked", plan.why, plan.margin,
            documents_sent=len(on_docs.uncached), tokens=on_query.tokens + on_docs.tokens,
            dollars=on_query.dollars + on_docs.dollars,
            dollars_saved=on_query.dollars_saved + on_docs.dollars_saved)

    def _finish(self, plan: _QueryRoute, result: TwoStageResult) -> TwoStageResult:
        if result.outcome == "skipped_budget":
            self._warn_budget(result.why)
        elif result.outcome == "failed":
            warnings.warn(f"{result.why}; returned stage 1's ranking", Stage2Warning,
                          stacklevel=3)
        self._count(plan, result)
        return result

    def _warn_budget(self, why: str) -> None:
        with self._lock:
            first, self._budget_warned = not self._budget_warned, True
        if first:
            warnings.warn(f"{why}. Further skips are counted in stats.skipped_budget, "
                          "not warned.", BudgetWarning, stacklevel=4)
        else:
            logger.info("%s", why)

    def _count(self, plan: _QueryRoute, result: TwoStageResult) -> None:
        event = {"escalated": result.escalated, "forced": plan.forced and result.escalated,
                 "skipped_budget": result.outcome == "skipped_budget",
                 "failed": result.outcome == "failed",
                 "documents_sent": result.documents_sent, "tokens": result.tokens}
        with self._lock:
            self._counts["queries"] += 1
            for name, value in event.items():
                self._counts[name] += int(value)
            self._money["dollars"] += Decimal(repr(result.dollars))
            self._money["dollars_saved"] += Decimal(repr(result.dollars_saved))
        budget = self.budget.snapshot() if self.budget is not None else None
        self.tracker.record("query", source=self.name, model=self.premium.model_name,
                            outcome=result.outcome, dollars=result.dollars,
                            dollars_saved=result.dollars_saved,
                            corpus_documents=len(self.index), budget=budget, **event)


# ---------------------------------------------------------------------------- helpers
def _hit(hit: SearchHit, **extra: Any) -> TwoStageHit:
    base = {f.name: getattr(hit, f.name) for f in fields(SearchHit)}
    score = extra.pop("score", None)
    return TwoStageHit(**{**base, "score": hit.score if score is None else score},
                       stage1_score=hit.score, **extra)


def _check_spaces(index: HybridIndex, premium: Embedder) -> None:
    if not isinstance(index, HybridIndex):
        raise TypeError(f"index must be a HybridIndex, got {type(index).__name__}")
    if not isinstance(premium, Embedder):
        raise TypeError(f"premium must be an Embedder, got {type(premium).__name__}")
    if premium is index.embedder or premium.fingerprint == index.embedder.fingerprint:
        raise ValueError("premium is the same model as stage 1's "
                         f"({premium.model_name}); stage 2 would change nothing")
    if premium.cache is None:
        raise ValueError("the premium embedder has no cache (cache=False): every escalated "
                         "query would pay again for the same documents; give it a cache")


def _check_settings(top_n: int, policy: Policy, margin: float) -> None:
    check_positive_int("top_n", top_n)
    if not callable(policy) and policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)} or a callable "
                         f"(query, hits) -> bool, got {policy!r}")
    if not isinstance(margin, int | float) or not math.isfinite(margin):
        raise ValueError(f"margin must be a finite number, got {margin!r}")


def _attach_budget(premium: Embedder, budget: Budget | None) -> None:
    if budget is None or budget is premium.budget:
        return
    if premium.budget is not None:
        raise ValueError("the premium embedder already has a different Budget; a budget is "
                         "shared by everything using one embedder, so pass that one (or none)")
    if not isinstance(budget, Budget):
        raise TypeError(f"budget must be an embedkit Budget, got {type(budget).__name__}")
    if premium.spec.price_per_million is None:
        raise ValueError(f"cannot enforce a budget for {premium.model_name}: its price is "
                         "unknown (usage-based or not in the catalog)")
    premium.budget = budget


def _tracker(ledger: bool | str | Path | CostTracker | None, premium: Embedder) -> CostTracker:
    if isinstance(ledger, CostTracker):
        return ledger
    if ledger is True:
        folder = getattr(premium.cache, "directory", None)
        return CostTracker(default_ledger_path(folder) if folder else None)
    if ledger in (None, False):
        return CostTracker()
    return CostTracker(ledger)  # a path


__all__ = [
    "DEFAULT_MARGIN",
    "POLICIES",
    "BudgetWarning",
    "PremiumScorer",
    "Stage2Warning",
    "TwoStageHit",
    "TwoStageResult",
    "TwoStageRetriever",
    "TwoStageStats",
    "stage1_margin",
]
