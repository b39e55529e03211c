"""`EmbedKitHybridRetriever`: embedkit's BM25 + dense fusion as a LlamaIndex retriever.

The ranking is `embedkit.HybridIndex`'s. This module turns nodes into the index's texts and
hits back into ``NodeWithScore``, and, when the dense side lives in a LlamaIndex vector store,
hands that store's results to the index as ``dense_candidates``. With a ``premium`` model, the
engine's `TwoStageRetriever` re-ranks escalated queries' top candidates.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from embedkit import Budget, Embedder, HybridIndex, SearchHit
from embedkit.extras import require
from embedkit.atomic_dir import current_version, new_version
from embedkit.retrieval.two_stage import DEFAULT_MARGIN, Policy, TwoStageHit, TwoStageRetriever

require("llama_index.core", extra="llamaindex")

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.callbacks.base import CallbackManager
from llama_index.core.constants import DEFAULT_SIMILARITY_TOP_K
from llama_index.core.indices.vector_store.base import VectorStoreIndex
from llama_index.core.schema import (
    BaseNode,
    MetadataMode,
    NodeWithScore,
    QueryBundle,
    TextNode,
)
from llama_index.core.storage.docstore.types import BaseDocumentStore
from llama_index.core.storage.docstore.utils import doc_to_json, json_to_doc
from llama_index.core.vector_stores.types import MetadataFilters
from llama_index.core.vector_stores.utils import build_metadata_filter_fn

from .embedding import EmbedKitEmbedding

SCORE_KEYS = ("dense_score", "bm25_score", "dense_rank", "bm25_rank")
PREMIUM_KEYS = ("premium_score", "premium_rank", "stage1_score", "stage1_rank")
_FORMAT = 1
_CONFIG_FILE = "retriever.json"
_NODES_FILE = "nodes.json"
_INDEX_DIR = "hybrid_index"


class EmbedKitHybridRetriever(BaseRetriever):
    """BM25 and dense search over the same nodes, fused by embedkit; needs no LLM.

    Build it with `from_defaults`. ``NodeWithScore.score`` is the fused score; the node is a copy
    of the stored one whose metadata also carries ``dense_score``, ``bm25_score``,
    ``dense_rank`` and ``bm25_rank`` (a rank is None when that side did not list the node),
    kept out of what the LLM and the embedder see. Nodes that neither side found are never
    returned, so a query can yield fewer than ``similarity_top_k`` results.

    The BM25 side holds the nodes it was built with: after inserting into the vector index,
    build the retriever again (dense hits for nodes it has not seen are left out).

    With ``premium`` (see `from_defaults`), escalated queries' top ``premium_top_n`` are
    re-ranked by that model; ``score`` is then the premium score and the metadata also holds
    ``premium_score``, ``premium_rank`` (None for nodes it did not score), ``stage1_score``
    and ``stage1_rank`` (the hybrid ranking's).
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
        _check_top_k(similarity_top_k)
        self._two_stage = _two_stage(hybrid_index, premium, premium_top_n, premium_policy,
                                     premium_margin, budget)
        self._index = hybrid_index
        self._nodes = {node.node_id: node for node in nodes}
        self._vector_retriever = vector_retriever
        self._similarity_top_k = similarity_top_k
        self._filters = filters
        self._filter = _filter_fn(filters)
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
        return self._two_stage

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
                ``Settings.embed_model``).
            similarity_top_k: results per query.
            fusion: ``"rrf"``, ``"weighted"``, ``"auto"``, ``"auto-v1"``, ``"dense"`` or ``"bm25"``; None
                keeps `HybridIndex`'s default.
            alpha: dense weight for ``"weighted"`` (and ``"rrf"``) fusion; None: the default.
            filters: LlamaIndex metadata filters (any operator and condition), applied to both
                sides before the top k is taken.
            premium: an `EmbedKitEmbedding` on a second, better (typically API) model that
                re-ranks the top ``premium_top_n`` of queries that escalate
                (`embedkit.retrieval.two_stage.TwoStageRetriever`). It embeds the query and those
                candidates' texts itself (its vectors meet only its own), and its cache makes
                each node cost at most once. None: hybrid search only. Not persisted: pass it
                to `from_persist_dir` again.
            premium_top_n: candidates the premium model re-ranks.
            premium_policy: which queries escalate: ``"always"``, ``"never"``,
                ``"uncertain"`` (top two local cosines closer than ``premium_margin``) or a
                callable ``(query, stage1_hits) -> bool``.
            premium_margin: the ``"uncertain"`` threshold.
            budget: an `embedkit.Budget` for the premium model's API calls. A re-ranking that
                would cross it is skipped: the hybrid ranking is returned and one
                `embedkit.retrieval.two_stage.BudgetWarning` says so.
            **index_options: passed to `HybridIndex`: ``candidates`` (results each side
                contributes before fusion), ``rrf_k``, ``bm25``, ``tokenizer``, ``feedback``
                (``"none"``, ``"dense"``, ``"bm25"``, ``"both"``, ``"auto"``; dense feedback
                needs embedkit's own vectors, so it is skipped over a VectorStoreIndex),
                ``policy``...
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
        node_list = list(nodes) if nodes is not None else _docstore_nodes(docstore)
        embedder = _engine_of(embed_model, "embedkit's own dense index")
        hybrid = HybridIndex(embedder, **options)
        _add_nodes(hybrid, node_list)
        return cls(hybrid, node_list, **common)

    @classmethod
    def _over_vector_index(cls, index: VectorStoreIndex, nodes: Sequence[BaseNode] | None,
                           docstore: BaseDocumentStore | None, embed_model: BaseEmbedding | None,
                           options: dict[str, Any], common: dict[str, Any]
                           ) -> EmbedKitHybridRetriever:
        node_list = _vector_index_nodes(index, nodes, docstore)
        # VectorStoreIndex keeps its model private; LlamaIndex's own as_retriever reads it too.
        embedder = _engine_of(embed_model or getattr(index, "_embed_model", None),
                              "the hybrid index")
        hybrid = HybridIndex(embedder, store_vectors=False, **options)
        _add_nodes(hybrid, node_list)
        vector_retriever = index.as_retriever(similarity_top_k=hybrid.candidates,
                                              filters=common["filters"])
        return cls(hybrid, node_list, vector_retriever=vector_retriever, **common)

    # ------------------------------------------------------------------ retrieval
    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        dense = None
        if self._vector_retriever is not None:
            # Own copy: the sync vector retriever writes the query embedding into its bundle.
            dense = self._vector_retriever.retrieve(dataclasses.replace(query_bundle))
        search = self._two_stage.search if self._two_stage is not None else self._index.search
        hits = search(query_bundle.query_str, k=self._similarity_top_k, filter=self._filter,
                      **self._dense_arguments(dense))
        return self._results(hits)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        dense = None
        if self._vector_retriever is not None:
            dense = await self._vector_retriever.aretrieve(dataclasses.replace(query_bundle))
        search = self._two_stage.asearch if self._two_stage is not None else self._index.asearch
        hits = await search(query_bundle.query_str, k=self._similarity_top_k,
                            filter=self._filter, **self._dense_arguments(dense))
        return self._results(hits)

    @staticmethod
    def _dense_arguments(dense: list[NodeWithScore] | None) -> dict[str, Any]:
        # Nodes the vector store holds but the BM25 side never saw are skipped by the engine.
        if dense is None:
            return {}
        return {"dense_candidates": [(r.node.node_id, float(r.score or 0.0)) for r in dense]}

    def _results(self, hits: list[SearchHit]) -> list[NodeWithScore]:
        return [NodeWithScore(node=self._scored_node(hit), score=hit.score) for hit in hits]

    def _scored_node(self, hit: SearchHit) -> BaseNode:
        stored = self._nodes.get(hit.id) or TextNode(id_=hit.id, text=hit.text,
                                                     metadata=dict(hit.metadata or {}))
        # A copy: the scores belong to this query, not to the stored node. They stay out of
        # what the LLM and the embedder see.
        node = stored.model_copy(deep=False)
        node.metadata = {**stored.metadata, "dense_score": hit.dense_score,
                         "bm25_score": hit.bm25_score, "dense_rank": hit.dense_rank,
                         "bm25_rank": hit.bm25_rank}
        keys = SCORE_KEYS
        if isinstance(hit, TwoStageHit):  # premium_* are None when stage 2 did not score it
            node.metadata.update(premium_score=hit.premium_score, premium_rank=hit.premium_rank,
                                 stage1_score=hit.stage1_score, stage1_rank=hit.stage1_rank)
            keys = SCORE_KEYS + PREMIUM_KEYS
        node.excluded_llm_metadata_keys = _with(stored.excluded_llm_metadata_keys, keys)
        node.excluded_embed_metadata_keys = _with(stored.excluded_embed_metadata_keys, keys)
        return node

    # ------------------------------------------------------------------ persistence
    def persist(self, persist_dir: str | Path) -> None:
        """Save the index (with its tokenizer and fusion settings), the nodes and this
        retriever's settings as JSON and .npy files, no pickle. The premium model, its
        settings and the budget are not saved: pass them to `from_persist_dir` again.

        The folder is replaced as a whole: a crash mid-save leaves the previous save loadable.
        """
        with new_version(persist_dir) as folder:
            self._index.save(folder / _INDEX_DIR)
            nodes = [doc_to_json(node) for node in self._nodes.values()]
            (folder / _NODES_FILE).write_text(json.dumps(nodes), encoding="utf-8")
            config = {
                "format": _FORMAT,
                "similarity_top_k": self._similarity_top_k,
                "filters": self._filters.model_dump(mode="json") if self._filters else None,
                "dense": "vector_index" if self._vector_retriever is not None else "embedkit",
            }
            (folder / _CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")

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
        directory = _saved_folder(persist_dir)
        config = _read_config(directory)
        embedder = embed_model if isinstance(embed_model, Embedder) else _engine_of(
            embed_model, "loading a hybrid index")
        hybrid = HybridIndex.load(directory / _INDEX_DIR, embedder)
        nodes = [json_to_doc(item) for item in
                 json.loads((directory / _NODES_FILE).read_text(encoding="utf-8"))]
        filters = MetadataFilters.model_validate(config["filters"]) if config["filters"] else None
        vector_retriever = None
        if config["dense"] == "vector_index":
            if index is None:
                raise ValueError(f"{persist_dir} was built over a VectorStoreIndex; pass it again: "
                                 "from_persist_dir(dir, embed_model, index=your_index)")
            vector_retriever = index.as_retriever(similarity_top_k=hybrid.candidates,
                                                  filters=filters)
        return cls(hybrid, nodes, vector_retriever=vector_retriever, filters=filters,
                   similarity_top_k=similarity_top_k or config["similarity_top_k"],
                   **premium_options)


# ---------------------------------------------------------------------- helpers
def _check_top_k(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"similarity_top_k must be a positive integer, got {k!r}")


def _engine_of(embed_model: BaseEmbedding | None, purpose: str) -> Embedder:
    if embed_model is None:
        from llama_index.core import Settings

        embed_model = Settings.embed_model
    if not isinstance(embed_model, EmbedKitEmbedding):
        raise TypeError(f"{purpose} needs an EmbedKitEmbedding (it embeds with the embedkit "
                        f"engine), got {type(embed_model).__name__}; pass embed_model=")
    return embed_model.embedder


def _two_stage(hybrid: HybridIndex, premium: BaseEmbedding | None, top_n: int, policy: Policy,
               margin: float, budget: Budget | None) -> TwoStageRetriever | None:
    if premium is None:
        if budget is not None:
            raise ValueError("budget limits the premium model's API calls; it needs premium=")
        return None
    if not isinstance(premium, EmbedKitEmbedding):
        raise TypeError(f"premium must be an EmbedKitEmbedding, got {type(premium).__name__}")
    return TwoStageRetriever(hybrid, premium.embedder, top_n=top_n, policy=policy,
                             margin=margin, budget=budget)


def _docstore_nodes(docstore: BaseDocumentStore) -> list[BaseNode]:
    return list(docstore.docs.values())


def _vector_index_nodes(index: VectorStoreIndex, nodes: Sequence[BaseNode] | None,
                        docstore: BaseDocumentStore | None) -> list[BaseNode]:
    if nodes is not None:
        return list(nodes)
    found = _docstore_nodes(docstore or index.docstore)
    if found:
        return found
    # Vector stores that keep the text (Chroma, Qdrant, ...) leave the docstore empty.
    try:
        found = list(index.vector_store.get_nodes())
    except NotImplementedError:
        found = []
    if not found:
        raise ValueError(
            f"no nodes for the BM25 side: the index's docstore is empty and "
            f"{type(index.vector_store).__name__} does not list its nodes; pass nodes=")
    return found


def _add_nodes(hybrid: HybridIndex, nodes: list[BaseNode]) -> None:
    if not nodes:
        raise ValueError("no nodes to index; pass a non-empty nodes= or docstore=")
    hybrid.add([node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes],
               ids=[node.node_id for node in nodes],
               metadatas=[dict(node.metadata) for node in nodes])


def _filter_fn(filters: MetadataFilters | None) -> Callable[[Mapping[str, Any]], bool] | None:
    if filters is None:
        return None
    return build_metadata_filter_fn(lambda metadata: metadata, filters)


def _with(keys: list[str], extra: Sequence[str]) -> list[str]:
    return list(keys) + [k for k in extra if k not in keys]


def _saved_folder(persist_dir: str | Path) -> Path:
    try:
        return current_version(persist_dir)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{persist_dir} holds no saved EmbedKitHybridRetriever "
                                f"({exc})") from None


def _read_config(directory: Path) -> dict[str, Any]:
    path = directory / _CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory} holds no saved EmbedKitHybridRetriever "
                                f"({_CONFIG_FILE} is missing)")
    config = json.loads(path.read_text(encoding="utf-8"))
    if config.get("format") != _FORMAT:
        raise ValueError(f"{path}: format {config.get('format')!r} is not supported "
                         f"(this version reads {_FORMAT})")
    return config


__all__ = ["EmbedKitHybridRetriever"]
