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

from ._asyncio import run_sync
from .cost.budget import NO_RESERVATION, Budget, Reservation
from .cache import DiskVectorCache, VectorCache, keys_for
from .catalog import ModelSpec, find_spec
from .cost.pricing import CallEstimate, dollars_for
from .errors import ProviderError
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

logger = logging.getLogger("embedkit")

DEFAULT_LOCAL_BATCH_SIZE = 32  # fastest on these CPUs (NOTES-retrieval.md: 59 docs/s vs 46 at 128)


@dataclass
class _Plan:
    """One call's work: which distinct texts the cache lacks, and where results go."""

    role: Role
    keys: list[str]
    vectors: dict[str, np.ndarray]
    missing_keys: list[str] = field(default_factory=list)
    missing_texts: list[str] = field(default_factory=list)
    token_counts: list[int] = field(default_factory=list)
    """Tokens of each missing text as the model will see it (capped at its limit)."""


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
        max_concurrency: API requests in flight at once (API providers only).
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
        _check_positive("dimensions", dimensions)
        _check_positive("batch_size", batch_size)
        _check_positive("max_concurrency", max_concurrency)
        self.provider: Provider = create_provider(
            self.model_ref, dimensions=dimensions, device=device, options=provider_options,
            backend=backend)
        self.dimensions = _check_dimensions(dimensions, self.provider, self.spec)
        self.normalize = normalize
        self.glossary = as_glossary(glossary)
        self.batch_size = batch_size or _default_batch_size(self.provider)
        self.show_progress = show_progress
        self.max_concurrency = max_concurrency
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
        plan = self._plan(validate_texts(texts), "document")
        if self.provider.is_remote:
            run_sync(self._run_async(plan))
        else:
            self._run_sync(plan)
        return self._assemble(plan)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query: a ``(dimension,)`` float32 array."""
        return self.embed_queries([validate_query(text)])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed many queries at once (batched), ``(n, dimension)``."""
        plan = self._plan(validate_texts(texts), "query")
        if self.provider.is_remote:
            run_sync(self._run_async(plan))
        else:
            self._run_sync(plan)
        return self._assemble(plan)

    async def aembed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """`embed_documents` without blocking the event loop."""
        plan = await asyncio.to_thread(self._plan, validate_texts(texts), "document")
        await self._run_async(plan)
        return self._assemble(plan)

    async def aembed_query(self, text: str) -> np.ndarray:
        """`embed_query` without blocking the event loop."""
        return (await self.aembed_queries([validate_query(text)]))[0]

    async def aembed_queries(self, texts: Sequence[str]) -> np.ndarray:
        plan = await asyncio.to_thread(self._plan, validate_texts(texts), "query")
        await self._run_async(plan)
        return self._assemble(plan)

    def estimate(self, texts: Sequence[str], role: Role = "document") -> CallEstimate:
        """What embedding ``texts`` would cost right now (only cache misses are paid).

        Sends nothing and changes no counters. For a `Budget` check before a call, or to
        report what the cache saved.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        texts = validate_texts(texts)
        plan, unique = self._lookup(texts, role)
        missing = set(plan.missing_keys)
        first: dict[str, int] = {}
        for index, key in enumerate(plan.keys):
            first.setdefault(key, index)
        cached_texts = [text for key, text in unique.items() if key not in missing]
        tokens = sum(self._capped_token_counts(plan.missing_texts, role))
        cached_tokens = sum(self._capped_token_counts(cached_texts, role))
        return CallEstimate(
            texts=len(unique), uncached=tuple(first[key] for key in plan.missing_keys),
            tokens=tokens, cached_tokens=cached_tokens,
            dollars=float(self._exact_dollars(tokens)),
            dollars_saved=float(self._exact_dollars(cached_tokens)))

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
    def _plan(self, texts: list[str], role: Role) -> _Plan:
        plan, unique = self._lookup(texts, role)
        self._record_plan(plan, unique, texts=len(texts))
        self._warn_if_truncated(plan)
        return plan

    def _lookup(self, texts: list[str], role: Role) -> tuple[_Plan, dict[str, str]]:
        """Which distinct final texts the cache holds; no side effects."""
        expanded = [self.glossary.expand(t) for t in texts] if self.glossary else texts
        prefix = self.prefixes[role]
        keys = keys_for(self.fingerprint, role, [prefix + t for t in expanded])
        unique = dict(zip(keys, expanded))
        cached = self.cache.get_many(list(unique), self.dimension) if self.cache else {}
        plan = _Plan(role, keys, dict(cached))
        for key, text in unique.items():
            if key not in cached:
                plan.missing_keys.append(key)
                plan.missing_texts.append(text)
        return plan, unique

    def _capped_token_counts(self, texts: list[str], role: Role) -> list[int]:
        """Tokens of each text as the model will see it (with prefix, capped at its limit)."""
        if not texts:
            return []
        prefix = self.prefixes[role]
        counts = self.provider.count_tokens([prefix + t for t in texts])
        limit = self.provider.max_tokens
        return [min(c, limit) for c in counts] if limit else counts

    def _record_plan(self, plan: _Plan, unique: dict[str, str], *, texts: int) -> None:
        hit_texts = [text for key, text in unique.items() if key in plan.vectors]
        saved = 0.0
        if hit_texts and self.spec.price_per_million:
            prefix = self.prefixes[plan.role]
            saved = self._dollars(sum(self.provider.count_tokens([prefix + t for t in hit_texts])))
        self._stats.add(texts=texts, hits=len(hit_texts), misses=len(plan.missing_keys),
                        duplicates=texts - len(unique), dollars_saved=saved)

    def _warn_if_truncated(self, plan: _Plan) -> None:
        if not plan.missing_texts:
            return
        prefix = self.prefixes[plan.role]
        counts = self.provider.count_tokens([prefix + t for t in plan.missing_texts])
        limit = self.provider.max_tokens or max(counts)
        plan.token_counts = [min(c, limit) for c in counts]
        over = sum(c > limit for c in counts)
        if over:
            self._stats.add(truncated=over)
            warnings.warn(
                f"{over} of {len(counts)} text(s) exceed {self.spec.name}'s limit of {limit} "
                "tokens and were truncated to it", UserWarning, stacklevel=4)

    def _batches(self, plan: _Plan) -> list[list[int]]:
        return self.provider.split_batches(plan.missing_texts, self.batch_size)

    def _run_sync(self, plan: _Plan) -> None:
        batches = self._batches(plan)
        for batch in progress(batches, total=len(batches), desc="embedding",
                              enabled=self.show_progress and len(batches) > 1, size=len):
            texts = [plan.missing_texts[i] for i in batch]
            result = self.provider.embed(texts, role=plan.role, prefix=self.prefixes[plan.role])
            self._store(plan, batch, result.vectors, result.tokens)

    async def _run_async(self, plan: _Plan) -> None:
        batches = self._batches(plan)
        if not batches:
            return
        limit = asyncio.Semaphore(self.max_concurrency if self.provider.is_remote else 1)
        bar = _AsyncBar(len(batches), self.show_progress and len(batches) > 1)

        async def run(batch: list[int]) -> None:
            async with limit:
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
            await _gather_all(run(batch) for batch in batches)
        finally:
            bar.close()

    def _reserve(self, plan: _Plan, batch: list[int]) -> Reservation:
        """Hold the batch's estimated cost on the budget, before the request is sent."""
        if self.budget is None or not self.spec.price_per_million:
            return NO_RESERVATION
        tokens = sum(plan.token_counts[i] for i in batch) if plan.token_counts else 0
        return self.budget.reserve(self._exact_dollars(tokens),
                                   what=f"embedding {len(batch)} {plan.role} text(s) "
                                        f"({tokens} tokens) with {self.model_name}")

    @staticmethod
    def _billed_tokens(plan: _Plan, batch: list[int], tokens: int) -> int:
        """Billed tokens when the backend reports them, else what we counted."""
        if not tokens and plan.token_counts:
            return sum(plan.token_counts[i] for i in batch)
        return tokens

    def _store(self, plan: _Plan, batch: list[int], raw: np.ndarray, tokens: int) -> None:
        vectors = self._postprocess(raw, expected=len(batch))
        tokens = self._billed_tokens(plan, batch, tokens)
        keys = [plan.missing_keys[i] for i in batch]
        fresh = dict(zip(keys, vectors))
        if self.cache:
            self.cache.put_many(fresh)
        plan.vectors.update(fresh)
        self._stats.add(tokens=tokens, requests=1, dollars=self._dollars(tokens))

    def _postprocess(self, raw: np.ndarray, *, expected: int) -> np.ndarray:
        vectors = np.asarray(raw, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != expected:
            raise ProviderError(f"{self.model_name} returned {vectors.shape[0] if vectors.ndim else 0}"
                                f" vectors for {expected} texts; nothing from this batch was cached")
        if vectors.shape[1] != self.provider.dimension:
            raise ProviderError(f"{self.model_name} returned vectors of dimension "
                                f"{vectors.shape[1]}, expected {self.provider.dimension}; "
                                "nothing from this batch was cached")
        vectors = vectors[:, : self.dimension]
        if not np.isfinite(vectors).all():
            raise ProviderError(f"{self.model_name} returned NaN or infinite values; "
                                "nothing from this batch was cached")
        if self.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            if (norms == 0).any():
                raise ProviderError(f"{self.model_name} returned an all-zero vector")
            vectors = vectors / norms
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _assemble(self, plan: _Plan) -> np.ndarray:
        if not plan.keys:
            return np.empty((0, self.dimension), dtype=np.float32)
        return np.stack([plan.vectors[key] for key in plan.keys]).astype(np.float32, copy=False)

    def _exact_dollars(self, tokens: int) -> Decimal:
        return dollars_for(tokens, self.spec.price_per_million) or Decimal(0)

    def _dollars(self, tokens: int) -> float:
        price = self.spec.price_per_million or 0.0
        return tokens * price / 1_000_000

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


async def _gather_all(coros: Any) -> None:
    """Run every task; on the first failure let the others finish (their batches get cached),
    then raise that failure."""
    results = await asyncio.gather(*coros, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]


def _check_budget(budget: Budget | None, spec: ModelSpec) -> Budget | None:
    if budget is not None and not isinstance(budget, Budget):
        raise TypeError(f"budget must be an embedkit Budget, got {type(budget).__name__}")
    if budget is not None and spec.price_per_million is None:
        raise ValueError(f"cannot enforce a budget for {spec.name}: its price is unknown "
                         "(usage-based or not in the catalog)")
    return budget


def _check_positive(name: str, value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_dimensions(dimensions: int | None, provider: Provider, spec: ModelSpec) -> int | None:
    if dimensions is None or dimensions == provider.dimension:
        return None if dimensions is None else dimensions
    if dimensions > provider.dimension:
        raise ValueError(f"dimensions={dimensions} is larger than {spec.name}'s "
                         f"{provider.dimension}; pick a value up to {provider.dimension}")
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
    if cache is False:
        return None
    if cache is True:
        return DiskVectorCache(cache_dir)
    if isinstance(cache, str):
        from .cache_redis import RedisVectorCache

        return RedisVectorCache.from_url(cache)
    return cache


__all__ = ["Embedder", "ROLES"]
