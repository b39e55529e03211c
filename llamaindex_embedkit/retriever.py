"""`EmbedKitHybridRetriever`: embedkit's BM25 + dense fusion as a LlamaIndex retriever.

Translation only: nodes become the index's texts, a vector store's results become engine
`DenseCandidates`, and hits become ``NodeWithScore``. Ranking, score units, the premium
re-ranking and persistence are the engine's (`embedkit.retrieval`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embedkit import Budget, Embedder, HybridIndex, SearchHit
from embedkit.extras import require
from embedkit.retrieval.searcher import HybridSearcher
from embedkit.retrieval.two_stage import DEFAULT_MARGIN, Policy, TwoStageRetriever

require("llama_index.core", extra="llamaindex")

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.callbacks.base import CallbackManager
from llama_index.core.constants import DEFAULT_SIMILARITY_TOP_K
from llama_index.core.indices.vector_store.base import VectorStoreIndex
from llama_index.core.schema import BaseNode, NodeWithScore, QueryBundle, TextNode
from llama_index.core.storage.docstore.types import BaseDocumentStore
from llama_index.core.storage.docstore.utils import doc_to_json, json_to_doc
from llama_index.core.vector_stores.types import MetadataFilters

from ._stores import (
    add_nodes,
    check_top_k,
    as_candidates,
    corpus_nodes,
    docstore_nodes,
    filter_fn,
    store_score_kind,
    vector_retriever,
    with_keys,
)
from .embedding import EmbedKitEmbedding

SETTINGS_KEY = "llamaindex_retriever"
_FORMAT = 2


class EmbedKitHybridRetriever(BaseRetriever):
    """BM25 and dense search over the same nodes, fused by embedkit; needs no LLM.

    Build it with `from_defaults`. ``NodeWithScore.score`` is the fused score; the node is a copy
    of the stored one whose metadata also carries ``dense_score``, ``bm25_score``,
    ``dense_rank`` and ``bm25_rank`` (a rank is None when that side did not list the node),
    kept out of what the LLM and the embedder see. Nodes that neither side found are never
    returned, so a query can yield fewer than ``similarity_top_k`` results.

    The BM25 side holds the nodes it was built with: after inserting into the vector index,
    build the retriever again (dense hits for nodes it has not seen are left out).

    With ``premium`` (see `from_defaults`), escalated queries are re-ranked by that model;
    the metadata then also holds ``premium_score``, ``premium_rank``, ``stage1_score`` and
    ``stage1_rank`` (`embedkit.TwoStageHit`).
    """

    def __init__(
        self,
        hybrid_index: HybridIndex,
        nodes: Sequence[BaseNode] = (),
        *,
        vector_retriever: BaseRetriever | None = None,
        similarity_top_k: int = DEFAULT_SIMILARITY_TOP_K,
        filters: MetadataFilters | None = None,
        premium: BaseEmbedding | None = None,
        premium_top_n: int = 20,
        premium_policy: Policy = "uncertain",
        premium_margin: float = DEFAULT_MARGIN,
        budget: Budget | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        check_top_k(similarity_top_k)
        if premium is not None and not isinstance(premium, EmbedKitEmbedding):
            raise TypeError(f"premium must be an EmbedKitEmbedding, got {type(premium).__name__}")
        self._searcher = HybridSearcher(
            hybrid_index, premium.embedder if premium is not None else None, top_n=premium_top_n,
            policy=premium_policy, margin=premium_margin, budget=budget)
        self._index = hybrid_index
        self._nodes = {node.node_id: node for node in nodes}
        self._vector_retriever = vector_retriever
        # A VectorIndexRetriever's store says what its scores are; any other retriever's
        # scores are taken as relevance (higher is better).
        self._score_kind = store_score_kind(getattr(vector_retriever, "_vector_store", None))
        self._similarity_top_k = similarity_top_k
        self._filters = filters
        self._filter = filter_fn(filters)
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    @property
    def hybrid_index(self) -> HybridIndex:
        """The engine index doing the ranking (its tokenizer, fusion settings, `save`)."""
        return self._index

    @property
    def similarity_top_k(self) -> int:
        return self._similarity_top_k

    @property
    def two_stage(self) -> TwoStageRetriever | None:
        """The engine's two-stage retriever when ``premium`` is set: its ``stats`` report
        escalations and dollars; ``two_stage.retrieve(q, escalate=True)`` forces stage 2."""
        return self._searcher.two_stage

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_defaults(
        cls,
        index: VectorStoreIndex | HybridIndex | None = None,
        nodes: Sequence[BaseNode] | None = None,
        docstore: BaseDocumentStore | None = None,
        *,
        embed_model: BaseEmbedding | None = None,
        similarity_top_k: int = DEFAULT_SIMILARITY_TOP_K,
        fusion: str | None = None,
        alpha: float | None = None,
        filters: MetadataFilters | None = None,
        premium: BaseEmbedding | None = None,
        premium_top_n: int = 20,
        premium_policy: Policy = "uncertain",
        premium_margin: float = DEFAULT_MARGIN,
        budget: Budget | None = None,
        **index_options: Any,
    ) -> EmbedKitHybridRetriever:
        """Build the retriever from a VectorStoreIndex, from nodes, or from a HybridIndex.

        Args:
            index: a ``VectorStoreIndex`` (dense side from its vector store, any store; BM25
                over its nodes) or a ready `embedkit.HybridIndex`. None: embedkit's own index is
                built over ``nodes`` or ``docstore`` with ``embed_model``.
            nodes: the nodes to search. With a VectorStoreIndex, the BM25 side indexes these
                instead of the index's docstore.
            docstore: where to take the nodes from instead.
            embed_model: an `EmbedKitEmbedding` for embedkit's own index (default:
                ``Settings.embed_model`` when one is set, else the bundled model).
            similarity_top_k: results per query.
            fusion: ``"auto"``, ``"auto-v1"``, ``"rrf"``, ``"weighted"``, ``"dense"`` or
                ``"bm25"``; None keeps `HybridIndex`'s default.
            alpha: dense weight for ``"weighted"`` (and ``"rrf"``) fusion; None: the default.
            filters: LlamaIndex metadata filters (any operator and condition), applied to both
                sides before the top k is taken.
            premium, premium_top_n, premium_policy, premium_margin, budget: a second, better
                (typically API) `EmbedKitEmbedding` that re-ranks the top ``premium_top_n`` of
                queries that escalate, within ``budget``
                (`embedkit.retrieval.searcher.HybridSearcher` documents each). Not persisted:
                pass them to `from_persist_dir` again.
            **index_options: passed to `HybridIndex`: ``candidates``, ``rrf_k``, ``bm25``,
                ``tokenizer``, ``feedback`` (dense feedback needs embedkit's own vectors, so
                it is skipped over a VectorStoreIndex), ``policy``, and for a large corpus
                ``vectors="int8"|"binary"``, ``rescore``, ``ann="hnsw"``, ``ann_min_rows``,
                ``ef_search``...
        """
        options = {"fusion": fusion, "alpha": alpha, **index_options}
        options = {key: value for key, value in options.items() if value is not None}
        if isinstance(index, HybridIndex) and options:
            raise ValueError(f"{sorted(options)} configure a new HybridIndex; this one is "
                             "already built (set them when you create it)")
        common = {"similarity_top_k": similarity_top_k, "filters": filters, "premium": premium,
                  "premium_top_n": premium_top_n, "premium_policy": premium_policy,
                  "premium_margin": premium_margin, "budget": budget}
        if isinstance(index, HybridIndex):
            return cls(index, nodes or (), **common)
        if isinstance(index, VectorStoreIndex):
            return cls._over_vector_index(index, nodes, docstore, embed_model, options, common)
        if index is not None:
            raise TypeError(f"index must be a VectorStoreIndex or an embedkit HybridIndex, "
                            f"got {type(index).__name__}")
        if (nodes is None) == (docstore is None):
            raise ValueError("pass exactly one of nodes= or docstore= (or index=)")
        node_list = list(nodes) if nodes is not None else docstore_nodes(docstore)
        embedder = _engine_of(embed_model, "embedkit's own dense index")
        hybrid = HybridIndex(embedder, **options)
        add_nodes(hybrid, node_list)
        return cls(hybrid, node_list, **common)

    @classmethod
    def _over_vector_index(cls, index: VectorStoreIndex, nodes: Sequence[BaseNode] | None,
                           docstore: BaseDocumentStore | None, embed_model: BaseEmbedding | None,
                           options: dict[str, Any], common: dict[str, Any]
                           ) -> EmbedKitHybridRetriever:
        node_list = corpus_nodes(index, nodes, docstore)
        # VectorStoreIndex keeps its model private; LlamaIndex's own as_retriever reads it too.
        embedder = _engine_of(embed_model or getattr(index, "_embed_model", None),
                              "the hybrid index")
        hybrid = HybridIndex(embedder, store_vectors=False, **options)
        add_nodes(hybrid, node_list)
        dense = vector_retriever(index, hybrid.candidates, common["filters"])
        return cls(hybrid, node_list, vector_retriever=dense, **common)

    # ------------------------------------------------------------------ retrieval
    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        dense = None
        if self._vector_retriever is not None:
            # Own copy: the sync vector retriever writes the query embedding into its bundle.
            dense = self._vector_retriever.retrieve(dataclasses.replace(query_bundle))
        hits = self._searcher.search(query_bundle.query_str, self._similarity_top_k,
                                     filter=self._filter, dense_candidates=self._dense(dense))
        return self._results(hits)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        dense = None
        if self._vector_retriever is not None:
            dense = await self._vector_retriever.aretrieve(dataclasses.replace(query_bundle))
        hits = await self._searcher.asearch(query_bundle.query_str, self._similarity_top_k,
                                            filter=self._filter,
                                            dense_candidates=self._dense(dense))
        return self._results(hits)

    def _dense(self, results: list[NodeWithScore] | None) -> Any:
        return None if results is None else as_candidates(results, self._score_kind or "")

    def _results(self, hits: list[SearchHit]) -> list[NodeWithScore]:
        return [NodeWithScore(node=self._scored_node(hit), score=hit.score) for hit in hits]

    def _scored_node(self, hit: SearchHit) -> BaseNode:
        stored = self._nodes.get(hit.id) or TextNode(id_=hit.id, text=hit.text,
                                                     metadata=dict(hit.metadata or {}))
        # A copy: the scores belong to this query, not to the stored node. They stay out of
        # what the LLM and the embedder see.
        node = stored.model_copy(deep=False)
        scores = hit.score_fields()
        node.metadata = {**stored.metadata, **scores}
        node.excluded_llm_metadata_keys = with_keys(stored.excluded_llm_metadata_keys, scores)
        node.excluded_embed_metadata_keys = with_keys(stored.excluded_embed_metadata_keys, scores)
        return node

    # ------------------------------------------------------------------ persistence
    def persist(self, persist_dir: str | Path) -> None:
        """Save the index (with its tokenizer and fusion settings), the nodes and this
        retriever's settings as JSON and .npy files, no pickle, in one atomic save: a crash
        mid-save leaves the previous save loadable. The premium model, its settings and the
        budget are not saved: pass them to `from_persist_dir` again.
        """
        settings = {
            "format": _FORMAT,
            "similarity_top_k": self._similarity_top_k,
            "filters": self._filters.model_dump(mode="json") if self._filters else None,
            "dense": "vector_index" if self._vector_retriever is not None else "embedkit",
            "nodes": [doc_to_json(node) for node in self._nodes.values()],
        }
        self._index.save(persist_dir, extra={SETTINGS_KEY: settings})

    @classmethod
    def from_persist_dir(cls, persist_dir: str | Path, embed_model: BaseEmbedding | Embedder,
                         *, index: VectorStoreIndex | None = None,
                         similarity_top_k: int | None = None,
                         **premium_options: Any) -> EmbedKitHybridRetriever:
        """Load what `persist` wrote. ``embed_model`` must be the model it was built with.

        A retriever whose dense side was a VectorStoreIndex needs that index again (``index=``).
        ``premium_options``: ``premium``, ``premium_top_n``, ``premium_policy``,
        ``premium_margin``, ``budget`` as in `from_defaults` (they are not persisted).
        """
        embedder = embed_model if isinstance(embed_model, Embedder) else _engine_of(
            embed_model, "loading a hybrid index")
        try:
            hybrid = HybridIndex.load(persist_dir, embedder)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{persist_dir} holds no saved EmbedKitHybridRetriever "
                                    f"({exc})") from None
        config = hybrid.saved_extra.get(SETTINGS_KEY) or {}
        if config.get("format") != _FORMAT:
            raise ValueError(f"{persist_dir}: no EmbedKitHybridRetriever settings of format "
                             f"{_FORMAT} (found {config.get('format')!r}); persist it again")
        filters = MetadataFilters.model_validate(config["filters"]) if config["filters"] else None
        dense = None
        if config["dense"] == "vector_index":
            if index is None:
                raise ValueError(f"{persist_dir} was built over a VectorStoreIndex; pass it again: "
                                 "from_persist_dir(dir, embed_model, index=your_index)")
            dense = vector_retriever(index, hybrid.candidates, filters)
        return cls(hybrid, [json_to_doc(item) for item in config["nodes"]],
                   vector_retriever=dense, filters=filters,
                   similarity_top_k=similarity_top_k or config["similarity_top_k"],
                   **premium_options)


# ---------------------------------------------------------------------- helpers
def _engine_of(embed_model: BaseEmbedding | None, purpose: str) -> Embedder:
    if embed_model is None:
        from llama_index.core import Settings

        # Settings.embed_model would build OpenAIEmbedding when none was set: use embedkit's
        # bundled model instead, as the LangChain adapter does.
        embed_model = Settings._embed_model or EmbedKitEmbedding()
    if not isinstance(embed_model, EmbedKitEmbedding):
        raise TypeError(f"{purpose} needs an EmbedKitEmbedding (it embeds with the embedkit "
                        f"engine), got {type(embed_model).__name__}; pass embed_model=")
    return embed_model.embedder


__all__ = ["EmbedKitHybridRetriever"]
