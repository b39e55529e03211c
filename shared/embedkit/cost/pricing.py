"""What embedding costs: estimates for any catalog model, a cost table, call estimates.

Prices are the catalog's (US dollars per 1M input tokens). Local models cost $0 plus your
compute; Google's ``text-embedding-004`` is priced by usage, so its cost is unknown and said to
be. Budgets live in `embedkit.cost.budget`, the spend ledger in `embedkit.cost.ledger`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from ..arguments import check_int
from ..catalog import CATALOG, ModelSpec, find_spec, get_spec

GUIDE_SCENARIOS: tuple[tuple[int, int], ...] = ((10_000, 500), (1_000_000, 500))
"""The default cost-table scenarios: 10K documents and 1M documents of 500 tokens each
(the embedding guide's cost comparison, docs/guide-reference.md section 7)."""

LOCAL_COST = "$0 + compute"
UNKNOWN_COST = "unknown (usage-based pricing)"


def dollars_for(tokens: int, price_per_million: float | None) -> Decimal | None:
    """Exact dollars for ``tokens`` at a per-1M-token price; None when the price is unknown."""
    if price_per_million is None:
        return None
    return Decimal(tokens) * Decimal(repr(float(price_per_million))) / Decimal(1_000_000)


@dataclass(frozen=True)
class CostEstimate:
    """What embedding ``documents`` texts of ``avg_tokens`` tokens once costs with one model."""

    model: str
    """The model string (``openai:text-embedding-3-small``, a local id, ...)."""
    provider: str
    documents: int
    avg_tokens: int
    tokens: int
    price_per_million: float | None
    dollars: float | None
    """0 for local models, None when the price is usage-based (unknown)."""

    @property
    def is_local(self) -> bool:
        return self.provider == "local"

    @property
    def display(self) -> str:
        """``$0.65``; ``$0 + compute`` for local models; the unknown note for usage pricing."""
        if self.is_local:
            return LOCAL_COST
        if self.dollars is None:
            return UNKNOWN_COST
        return f"${self.dollars:,.2f}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "display": self.display}


def estimate_cost(model: str | ModelSpec, docs: int, avg_tokens: int) -> CostEstimate:
    """The cost of embedding ``docs`` documents of ``avg_tokens`` tokens with ``model``.

    Args:
        model: a catalog model: ``provider:model``, a Hugging Face id, an alias, or a `ModelSpec`.
            Any other local model (``local:/path``) costs $0 + compute.
        docs: number of documents (>= 0).
        avg_tokens: average tokens per document (>= 0).

    Example:
        >>> estimate_cost("openai:text-embedding-3-large", 10_000, 500).display
        '$0.65'
    """
    for name, value in (("docs", docs), ("avg_tokens", avg_tokens)):
        check_int(name, value, minimum=0)
    spec = model if isinstance(model, ModelSpec) else _priced_spec(model)
    tokens = docs * avg_tokens
    dollars = dollars_for(tokens, spec.price_per_million)
    return CostEstimate(spec.model_string, spec.provider, docs, avg_tokens, tokens,
                        spec.price_per_million, None if dollars is None else float(dollars))


def _priced_spec(model: str) -> ModelSpec:
    from ..providers.resolve import parse_model_string

    spec = find_spec(model)  # the catalog knows voyage:, google:, aws: models too
    if spec is not None:
        return spec
    ref = parse_model_string(model)
    try:
        return get_spec(str(ref)) if ref.provider != "local" else get_spec(ref.model)
    except KeyError:
        # An uncatalogued local model (``local:...``, a Hugging Face id, a path) is free; a
        # bare unknown name is more likely a typo of a priced model: say so.
        explicit_local = model.strip().lower().startswith("local:") or "/" in ref.model
        if ref.provider == "local" and explicit_local:
            return ModelSpec(ref.model, "local", None, None, 0.0)
        raise


@dataclass(frozen=True)
class CostRow:
    """One model's line of the cost table: its price and one estimate per scenario."""

    spec: ModelSpec
    estimates: tuple[CostEstimate, ...]


def cost_table(models: Iterable[str | ModelSpec] | None = None,
               scenarios: Sequence[tuple[int, int]] = GUIDE_SCENARIOS) -> list[CostRow]:
    """Dollars to embed each scenario's documents once, for every catalog model (or the ones given).

    Args:
        models: model names or specs; default every catalogued model.
        scenarios: ``(documents, avg_tokens)`` pairs; default 10K and 1M documents of 500 tokens.
    """
    specs = [m if isinstance(m, ModelSpec) else _priced_spec(m) for m in models] if models \
        else list(CATALOG)
    return [CostRow(spec, tuple(estimate_cost(spec, docs, tokens) for docs, tokens in scenarios))
            for spec in specs]


@dataclass(frozen=True)
class CallEstimate:
    """What an `Embedder` call would cost now, before anything is sent.

    Only cache misses are paid; ``dollars_saved`` is what the cache hits would have cost.
    """

    texts: int
    """Distinct texts asked for."""
    uncached: tuple[int, ...]
    """Indices (into the texts given) of the first occurrence of each text the cache lacks."""
    tokens: int
    """Tokens that would be sent (capped at the model's limit)."""
    cached_tokens: int
    dollars: float
    dollars_saved: float


__all__ = [
    "GUIDE_SCENARIOS",
    "CallEstimate",
    "CostEstimate",
    "CostRow",
    "cost_table",
    "dollars_for",
    "estimate_cost",
]
