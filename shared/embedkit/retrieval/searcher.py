"""`HybridSearcher`: what a framework retriever runs for each query.

A LangChain or LlamaIndex retriever holds one of these and only translates types around it: it
wires the optional premium re-ranking (`TwoStageRetriever`) to the index, checks that a budget
comes with a premium model, and sends each query to the right one.
"""

from __future__ import annotations

from typing import Any

from ..cost.budget import Budget
from ..embedder import Embedder
from .candidates import CandidatesInput
from .index import HybridIndex, MetadataFilter, SearchHit
from .two_stage import DEFAULT_MARGIN, Policy, TwoStageRetriever


class HybridSearcher:
    """A `HybridIndex`, optionally followed by a premium model's re-ranking.

    Args:
        index: the hybrid index (stage 1).
        premium: a second, better (typically API) embedder that re-ranks the top ``top_n`` of
            queries that escalate; None searches the index only.
        top_n: candidates the premium model re-ranks.
        policy: which queries escalate (``"always"``, ``"never"``, ``"uncertain"`` or a
            callable ``(query, stage1_hits) -> bool``).
        margin: the ``"uncertain"`` policy's threshold.
        budget: a `embedkit.Budget` for the premium model's calls; needs ``premium``.

    Raises:
        ValueError: ``budget`` without ``premium`` (a budget limits only premium calls).
    """

    def __init__(self, index: HybridIndex, premium: Embedder | None = None, *,
                 top_n: int = 20, policy: Policy = "uncertain", margin: float = DEFAULT_MARGIN,
                 budget: Budget | None = None) -> None:
        self.index = index
        self.two_stage: TwoStageRetriever | None = None
        if premium is not None:
            self.two_stage = TwoStageRetriever(index, premium, top_n=top_n, policy=policy,
                                               margin=margin, budget=budget)
        elif budget is not None:
            raise ValueError("budget limits the premium model's API calls; it needs premium=")

    def search(self, query: str, k: int, *, filter: MetadataFilter | None = None,
               dense_candidates: CandidatesInput | None = None,
               escalate: bool | None = None) -> list[SearchHit]:
        """The best ``k`` hits; ``escalate`` forces the premium re-ranking on or off."""
        if self.two_stage is None:
            _check_escalate(escalate)
            return self.index.search(query, k=k, filter=filter,
                                     dense_candidates=dense_candidates)
        return list(self.two_stage.search(query, k=k, filter=filter, escalate=escalate,
                                          dense_candidates=dense_candidates))

    async def asearch(self, query: str, k: int, *, filter: MetadataFilter | None = None,
                      dense_candidates: CandidatesInput | None = None,
                      escalate: bool | None = None) -> list[SearchHit]:
        """`search` without blocking the event loop."""
        if self.two_stage is None:
            _check_escalate(escalate)
            return await self.index.asearch(query, k=k, filter=filter,
                                            dense_candidates=dense_candidates)
        return list(await self.two_stage.asearch(query, k=k, filter=filter, escalate=escalate,
                                                 dense_candidates=dense_candidates))

    def __repr__(self) -> str:
        return f"HybridSearcher({self.index!r}, premium={self.two_stage is not None})"


def _check_escalate(escalate: Any) -> None:
    if escalate is not None:
        raise ValueError(f"escalate={escalate!r} needs a premium model: build the retriever "
                         "with premium=...")
