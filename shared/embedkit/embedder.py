"""`Embedder`: the one pipeline that decides what a vector is.

text -> validate -> glossary -> role prefix -> token check -> cache lookup
     -> (misses) dedupe -> batch -> provider -> dimensions / normalize -> cache write per batch
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from ._asyncio import gather_all, run_sync
from .cost.budget import NO_RESERVATION, Budget, Reservation
from .arguments import check_positive_int
from .cache import DiskVectorCache, VectorCache, keys_for
from .cache_codec import is_unit_norm
from .catalog import ModelSpec, find_spec
from .concurrency import ConcurrencyLimit
from .cost.pricing import CallEstimate, dollars_for
from .dimensions import requested_dimensions
from .errors import CacheError, ProviderError
from .fingerprint import compute_fingerprint
from .glossary import Glossary, as_glossary
from .prefixes import resolve_prefixes
from .progress import progress, progress_reported, report_done
from .providers.base import Provider
from .providers.registry import create_provider
from .providers.resolve import parse_model_string
from .roles import ROLES, Role
from .stats import EmbedStats, StatsCounter
from .validation import validate_query, validate_texts
from .vectors import batch_problem, cut_dimensions

logger = logging.getLogger("embedkit")

DEFAULT_LOCAL_BATCH_SIZE = 32  # measured fastest on a 2-core CPU: 59 docs/s, against 46 at 128


@dataclass
class _EmbedPlan:
    """One call's work: which distinct texts the cache lacks, and where results go."""

    role: Role
    keys: list[str]
    distinct: dict[str, str]
    """Cache key -> glossary-expanded text, one entry per distinct text of the call."""
    vectors: dict[str, np.ndarray]
    missing_keys: list[str] = field(default_factory=list)
    missing_texts: list[str] = field(default_factory=list)
    token_counts: list[int] = field(default_factory=list)
    """Tokens of each missing text as the model will see it (capped at its limit)."""
    truncated: int = 0
    """Missing texts longer than the model's limit."""
    cached_tokens: int = 0
    """Capped tokens of the distinct cached texts (0 where they were not counted)."""
    cache_write_failed: bool = False
    """A cache write of this call failed (warned once; the vectors are still returned)."""


class Embedder:
    """Embeds queries and documents the way the model expects, once, cached on disk.

    Args:
        model: ``provider:model`` (``openai:text-embedding-3-small``, ``cohere:embed-english-v3.0``),
            a Hugging Face id or ``local:/path``. None means the bundled all-MiniLM-L6-v2.
        dimensions: smaller vector size. API models that support it produce it server-side;
            local models keep the first ``dimensions`` values (Matryoshka) and re-normalize.
        normalize: L2-normalize vectors, so the inner product is the cosine.
        glossary: a `Glossary`, a ``{term: expansion}`` mapping or a JSON/CSV file path.
        cache_dir: where the disk cache lives (default ``~/.cache/embedkit``).
        cache: True for the disk cache, False for none, a ``redis://host:6379/0`` URL for a
            Redis cache shared between processes and machines, or any `VectorCache` object.
        batch_size: texts per model call (default 32 locally, the provider's choice for APIs).
        query_prefix: overrides the catalog's and the model's saved query prefix.
        document_prefix: overrides the catalog's and the model's saved document prefix.
        device: torch device for local models.
        backend: how a local model runs: ``"torch"`` (sentence-transformers on PyTorch),
            ``"onnx"`` (exported once to ONNX, run by onnxruntime: same vectors, less overhead
            per call) or ``"onnx-int8"`` (int8 weights: about twice torch's throughput, cosine
            ~0.99 to its vectors). None: onnx for the bundled model, torch for others.
            Part of the fingerprint. The ONNX backends need ``pip install "embedkit[onnx]"``.
        show_progress: show a progress bar over batches.
        max_concurrency: API requests in flight at once for this embedder, whatever the number of
            concurrent calls, threads and event loops using it (API providers only).
        budget: a `Budget` every API call of this embedder draws from: a call whose estimated
            cost would cross it is not made (`BudgetExceeded`). Share one budget by sharing
            the embedder (or the `Budget` object).
        **provider_options: passed to the backend (``api_key``, ``base_url``, ``timeout``...).

    Example:
        >>> emb = Embedder()  # doctest: +SKIP
        >>> emb.embed_documents(["Reset a password", "Billing FAQ"]).shape  # doctest: +SKIP
        (2, 384)
        >>> emb.embed_query("forgot my password").dtype  # doctest: +SKIP
        dtype('float32')
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        dimensions: int | None = None,
        normalize: bool = True,
        glossary: Glossary | Mapping[str, str] | str | Path | None = None,
        cache_dir: str | Path | None = None,
        cache: bool | str | VectorCache = True,
        batch_size: int | None = None,
        query_prefix: str | None = None,
        document_prefix: str | None = None,
        device: str | None = None,
        backend: str | None = None,
        show_progress: bool = False,
        max_concurrency: int = 4,
        budget: Budget | None = None,
        **provider_options: Any,
    ) -> None:
        self.model_ref = parse_model_string(model)
        _check_cache_argument(cache)
        _check_prefix("query_prefix", query_prefix)
        _check_prefix("document_prefix", document_prefix)
        for name, value in (("dimensions", dimensions), ("batch_size", batch_size),
                            ("max_concurrency", max_concurrency)):
            check_positive_int(name, value, optional=True)
        self.provider: Provider = create_provider(
            self.model_ref, dimensions=dimensions, device=device, options=provider_options,
            backend=backend)
        self.dimensions = _check_dimensions(dimensions, self.provider, self.spec)
        self.normalize = normalize
        self.glossary = as_glossary(glossary)
        self.batch_size = batch_size or _default_batch_size(self.provider)
        self.show_progress = show_progress
        self.max_concurrency = max_concurrency
        self._in_flight = ConcurrencyLimit(max_concurrency)
        self.prefixes = resolve_prefixes(
            {"query": query_prefix, "document": document_prefix},
            self.spec, getattr(self.provider, "saved_prompts", None))
        self.fingerprint = compute_fingerprint(self._fingerprint_parts())
        self.cache = _open_cache(cache, cache_dir)
        self._stats = StatsCounter()
        self.budget = _check_budget(budget, self.spec)

    # ----------------------------------------------------------------- public API
    @property
    def dimension(self) -> int:
        """Length of the vectors this embedder returns."""
        return self.dimensions or self.provider.dimension

    @property
    def model_name(self) -> str:
        return str(self.model_ref)

    @property
    def spec(self) -> ModelSpec:
        """The catalog record, or one made from what the loaded model reports."""
        provider_spec = getattr(self.provider, "spec", None)
        spec = provider_spec or find_spec(str(self.model_ref))
        if spec is not None:
            return spec
        return ModelSpec(self.provider.model, self.provider.name, self.provider.dimension,
                         self.provider.max_tokens, None if self.provider.is_remote else 0.0)

    @property
    def stats(self) -> EmbedStats:
        """Counters since creation: hits, misses, tokens, requests, dollars, dollars_saved."""
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        self._stats.reset()

    def describe(self) -> dict[str, object]:
        """A non-secret summary, for logs and error messages."""
        return {
            "model": self.model_name,
            "backend": getattr(self.provider, "backend", None),
            "dimension": self.dimension,
            "normalize": self.normalize,
            "query_prefix": self.prefixes["query"],
            "document_prefix": self.prefixes["document"],
            "glossary_terms": len(self.glossary) if self.glossary else 0,
            "fingerprint": self.fingerprint,
        }

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts to be searched: an ``(n, dimension)`` float32 array."""
        return self._embed(validate_texts(texts), "document")

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query: a ``(dimension,)`` float32 array."""
        return self._embed([validate_query(text)], "query")[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed many queries at once (batched), ``(n, dimension)``."""
        return self._embed(validate_texts(texts), "query")

    async def aembed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """`embed_documents` without blocking the event loop."""
        return await self._aembed(validate_texts(texts), "document")

    async def aembed_query(self, text: str) -> np.ndarray:
        """`embed_query` without blocking the event loop."""
        return (await self._aembed([validate_query(text)], "query"))[0]

    async def aembed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """`embed_queries` without blocking the event loop."""
        return await self._aembed(validate_texts(texts), "query")

    def estimate(self, texts: Sequence[str], role: Role = "document") -> CallEstimate:
        """What embedding ``texts`` would cost right now (only cache misses are paid).

        Sends nothing and changes no counters. For a `Budget` check before a call, or to
        report what the cache saved. Its figures are the ones the call itself records.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        plan = self._lookup(validate_texts(texts), role)
        self._count_tokens(plan, include_cached=True)
        first: dict[str, int] = {}
        for index, key in enumerate(plan.keys):
            first.setdefault(key, index)
        tokens = sum(plan.token_counts)
        return CallEstimate(
            texts=len(plan.distinct), uncached=tuple(first[key] for key in plan.missing_keys),
            tokens=tokens, cached_tokens=plan.cached_tokens,
            dollars=float(self._exact_dollars(tokens)),
            dollars_saved=float(self._exact_dollars(plan.cached_tokens)))

    def final_text(self, text: str, role: Role) -> str:
        """Exactly what the model sees for ``text``: glossary expansion, then the role prefix."""
        expanded = self.glossary.expand(text) if self.glossary else text
        return self.prefixes[role] + expanded

    def __repr__(self) -> str:
        cache = (getattr(self.cache, "directory", None) or getattr(self.cache, "url", None)
                 if self.cache else None)
        return (f"Embedder(model={self.model_name!r}, dimension={self.dimension}, "
                f"cache={str(cache) if cache else bool(self.cache)!r}, "
                f"fingerprint={self.fingerprint!r})")

    # ----------------------------------------------------------------- pipeline
    def _embed(self, texts: list[str], role: Role) -> np.ndarray:
        plan = self._plan(texts, role)
        if self.provider.is_remote:
            run_sync(self._run_async(plan))
        else:
            self._run_sync(plan)
        return self._assemble(plan)

    async def _aembed(self, texts: list[str], role: Role) -> np.ndarray:
        plan = await asyncio.to_thread(self._plan, texts, role)
        await self._run_async(plan)
        return self._assemble(plan)

    def _plan(self, texts: list[str], role: Role) -> _EmbedPlan:
        """Look the texts up, count their tokens once, record the call and warn on truncation."""
        plan = self._lookup(texts, role)
        # Cached texts are counted only when they have a price, for dollars_saved.
        self._count_tokens(plan, include_cached=bool(self.spec.price_per_million))
        self._stats.add(texts=len(texts), hits=len(plan.distinct) - len(plan.missing_keys),
                        misses=len(plan.missing_keys), duplicates=len(texts) - len(plan.distinct),
                        truncated=plan.truncated,
                        dollars_saved=float(self._exact_dollars(plan.cached_tokens)))
        if plan.truncated:
            warnings.warn(
                f"{plan.truncated} of {len(plan.missing_texts)} text(s) exceed {self.spec.name}'s "
                f"limit of {self.provider.max_tokens} tokens and were truncated to it",
                UserWarning, stacklevel=4)  # the caller of embed_documents / embed_query
        return plan

    def _lookup(self, texts: list[str], role: Role) -> _EmbedPlan:
        """Which distinct final texts the cache holds; no side effects."""
        expanded = [self.glossary.expand(t) for t in texts] if self.glossary else texts
        prefix = self.prefixes[role]
        keys = keys_for(self.fingerprint, role, [prefix + t for t in expanded])
        distinct = dict(zip(keys, expanded))
        cached = self._read_cache(list(distinct))
        plan = _EmbedPlan(role, keys, distinct, dict(cached))
        for key, text in distinct.items():
            if key not in cached:
                plan.missing_keys.append(key)
                plan.missing_texts.append(text)
        return plan

    def _read_cache(self, keys: list[str]) -> dict[str, np.ndarray]:
        """Valid cached vectors; a normalizing embedder only trusts unit-norm entries (a
        checksummed entry of the wrong norm was written by something else: recompute it)."""
        if not self.cache:
            return {}
        cached = self.cache.get_many(keys, self.dimension)
        if self.normalize:
            cached = {key: vector for key, vector in cached.items() if is_unit_norm(vector)}
        return dict(cached)

    def _count_tokens(self, plan: _EmbedPlan, *, include_cached: bool) -> None:
        """Fill the plan's token figures with one count of each distinct text (prefix included).

        Every figure derived from them (estimate, stats, budget holds, the truncation warning)
        uses tokens capped at the model's limit, since that is what the model is sent.
        """
        cached = [text for key, text in plan.distinct.items() if key in plan.vectors] \
            if include_cached else []
        texts = plan.missing_texts + cached
        prefix = self.prefixes[plan.role]
        counts = self.provider.count_tokens([prefix + t for t in texts]) if texts else []
        limit = self.provider.max_tokens
        capped = [min(c, limit) for c in counts] if limit else list(counts)
        missing = len(plan.missing_texts)
        plan.token_counts = capped[:missing]
        plan.truncated = sum(c > limit for c in counts[:missing]) if limit else 0
        plan.cached_tokens = sum(capped[missing:])

    def _batches(self, plan: _EmbedPlan) -> list[list[int]]:
        return self.provider.split_batches(plan.missing_texts, self.batch_size)

    def _run_sync(self, plan: _EmbedPlan) -> None:
        batches = self._batches(plan)
        for batch in progress(batches, total=len(batches), desc="embedding",
                              enabled=self.show_progress and len(batches) > 1, size=len):
            texts = [plan.missing_texts[i] for i in batch]
            result = self.provider.embed(texts, role=plan.role, prefix=self.prefixes[plan.role])
            self._store(plan, batch, result.vectors, result.tokens)

    async def _run_async(self, plan: _EmbedPlan) -> None:
        batches = self._batches(plan)
        if not batches:
            return
        # API requests share the embedder-wide limit; a local model runs one batch at a time.
        local_gate = asyncio.Semaphore(1)
        bar = _AsyncBar(len(batches), self.show_progress and len(batches) > 1)

        async def run(batch: list[int]) -> None:
            async with self._in_flight.ahold() if self.provider.is_remote else local_gate:
                texts = [plan.missing_texts[i] for i in batch]
                hold = self._reserve(plan, batch)  # BudgetExceeded here: nothing is sent
                try:
                    result = await self.provider.aembed(
                        texts, role=plan.role, prefix=self.prefixes[plan.role])
                except BaseException:
                    hold.release()
                    raise
                hold.commit(self._exact_dollars(self._billed_tokens(plan, batch, result.tokens)))
                # Each finished batch is cached at once: a later failure costs nothing before it.
                self._store(plan, batch, result.vectors, result.tokens)
                bar.update(len(batch))

        try:
            await gather_all(*(run(batch) for batch in batches))
        finally:
            bar.close()

    def _reserve(self, plan: _EmbedPlan, batch: list[int]) -> Reservation:
        """Hold the batch's estimated cost on the budget, before the request is sent."""
        if self.budget is None or not self.spec.price_per_million:
            return NO_RESERVATION
        tokens = sum(plan.token_counts[i] for i in batch) if plan.token_counts else 0
        return self.budget.reserve(self._exact_dollars(tokens),
                                   what=f"embedding {len(batch)} {plan.role} text(s) "
                                        f"({tokens} tokens) with {self.model_name}")

    @staticmethod
    def _billed_tokens(plan: _EmbedPlan, batch: list[int], tokens: int) -> int:
        """Billed tokens when the backend reports them, else what we counted."""
        if not tokens and plan.token_counts:
            return sum(plan.token_counts[i] for i in batch)
        return tokens

    def _store(self, plan: _EmbedPlan, batch: list[int], raw: np.ndarray, tokens: int) -> None:
        vectors = self._postprocess(raw, expected=len(batch))
        tokens = self._billed_tokens(plan, batch, tokens)
        keys = [plan.missing_keys[i] for i in batch]
        fresh = dict(zip(keys, vectors))
        plan.vectors.update(fresh)  # before the cache write: a refused write loses nothing
        if self.cache:
            self._write_cache(plan, fresh)
        self._stats.add(tokens=tokens, requests=1, dollars=float(self._exact_dollars(tokens)))

    def _write_cache(self, plan: _EmbedPlan, fresh: dict[str, np.ndarray]) -> None:
        """Cache a batch; a failing cache costs a warning (once per call), never the vectors."""
        try:
            self.cache.put_many(fresh)  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - any backend failure; the vectors are paid for
            if plan.cache_write_failed:
                return
            plan.cache_write_failed = True
            # A foreign cache's message could quote a key: only our own errors are shown.
            reason = str(exc) if isinstance(exc, CacheError) else type(exc).__name__
            warnings.warn(f"the cache refused to store vectors ({reason}); they are returned but "
                          "not cached, so they will be computed (and billed, for API models) "
                          "again next time", UserWarning, stacklevel=2)

    def _postprocess(self, raw: np.ndarray, *, expected: int) -> np.ndarray:
        vectors = np.asarray(raw, dtype=np.float32)
        problem = batch_problem(vectors, expected=expected, dimension=self.provider.dimension)
        if problem:
            raise ProviderError(f"{self.model_name} {problem}; nothing from this batch was cached")
        try:
            return cut_dimensions(vectors, self.dimension, normalize=self.normalize)
        except ValueError as exc:  # an all-zero row
            raise ProviderError(f"{self.model_name} returned an {exc}; "
                                "nothing from this batch was cached") from None

    def _assemble(self, plan: _EmbedPlan) -> np.ndarray:
        if not plan.keys:
            return np.empty((0, self.dimension), dtype=np.float32)
        return np.stack([plan.vectors[key] for key in plan.keys]).astype(np.float32, copy=False)

    def _exact_dollars(self, tokens: int) -> Decimal:
        return dollars_for(tokens, self.spec.price_per_million) or Decimal(0)

    def _fingerprint_parts(self) -> dict[str, object]:
        return {
            **self.provider.identity(),
            "dimensions": self.dimension,
            "normalize": self.normalize,
            "query_prefix": self.prefixes["query"],
            "document_prefix": self.prefixes["document"],
            "glossary": self.glossary.fingerprint if self.glossary else None,
        }


class _AsyncBar:
    def __init__(self, total: int, enabled: bool) -> None:
        self._bar = None
        if enabled and not progress_reported():
            try:
                from tqdm.auto import tqdm

                self._bar = tqdm(total=total, desc="embedding", unit="batch")
            except ImportError:
                pass

    def update(self, texts: int) -> None:
        if self._bar is not None:
            self._bar.update(1)
        else:
            report_done(texts)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _check_budget(budget: Budget | None, spec: ModelSpec) -> Budget | None:
    if budget is not None and not isinstance(budget, Budget):
        raise TypeError(f"budget must be an embedkit Budget, got {type(budget).__name__}")
    if budget is not None and spec.price_per_million is None:
        raise ValueError(f"cannot enforce a budget for {spec.name}: its price is unknown "
                         "(usage-based or not in the catalog)")
    return budget


def _check_cache_argument(cache: object) -> None:
    if cache is None or isinstance(cache, bool | str):
        return
    if not (callable(getattr(cache, "get_many", None)) and callable(getattr(cache, "put_many",
                                                                            None))):
        raise TypeError(f"cache must be True, False, a redis:// URL or a VectorCache object "
                        f"(with get_many and put_many), got {type(cache).__name__}")


def _check_prefix(name: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a string or None, got {type(value).__name__}")


def _check_dimensions(dimensions: int | None, provider: Provider, spec: ModelSpec) -> int | None:
    """``dimensions`` checked against the loaded model (API providers have checked theirs)."""
    if dimensions is None or dimensions == provider.dimension:
        return dimensions
    requested_dimensions(dimensions, native=provider.dimension, label=spec.name, sizes=None)
    if spec.is_local and not spec.matryoshka and spec.mteb_score is not None:
        warnings.warn(f"{spec.name} was not trained for Matryoshka truncation; its first "
                      f"{dimensions} dimensions may retrieve noticeably worse than all "
                      f"{provider.dimension}", UserWarning, stacklevel=3)
    return dimensions


def _default_batch_size(provider: Provider) -> int:
    if provider.is_remote:
        return provider.max_batch_size
    return DEFAULT_LOCAL_BATCH_SIZE


def _open_cache(cache: bool | str | VectorCache,
                cache_dir: str | Path | None) -> VectorCache | None:
    if cache is False or cache is None:
        return None
    if cache is True:
        return DiskVectorCache(cache_dir)
    if isinstance(cache, str):
        from .cache_redis import RedisVectorCache

        return RedisVectorCache.from_url(cache)
    return cache


__all__ = ["Embedder", "ROLES"]
