"""``embedkit cost estimate|report``: what embedding costs, and what premium re-ranking spent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import CacheDirOption
from .output import add_columns, console, print_json_lines


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Embedding costs: estimates per model, and the spend ledger.",
                        no_args_is_help=True)
    group.command("estimate")(estimate)
    group.command("report")(report)
    app.add_typer(group, name="cost")


def estimate(
    model: Annotated[Optional[list[str]], typer.Option(
        "--model", "-m", help="Catalog model (repeatable); default: every catalogued model.")
    ] = None,
    docs: Annotated[Optional[list[int]], typer.Option(
        "--docs", "-d", min=0, help="Documents (repeatable); default: 10K and 1M.")
    ] = None,
    avg_tokens: Annotated[int, typer.Option(
        "--avg-tokens", "-t", min=0, help="Average tokens per document.")] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Cost table: dollars to embed N documents once, per model."""
    from ..cost.pricing import GUIDE_SCENARIOS, cost_table

    counts = docs or [n for n, _ in GUIDE_SCENARIOS]
    try:
        rows = cost_table(model or None, [(n, avg_tokens) for n in counts])
    except (KeyError, ValueError) as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="--model") from None
    if as_json:
        print_json_lines(item.to_dict() for row in rows for item in row.estimates)
        return
    _print_estimates(rows, counts, avg_tokens)


def _print_estimates(rows, counts: list[int], avg_tokens: int) -> None:
    from rich.table import Table

    table = Table(title=f"embedding cost, {avg_tokens} tokens per document")
    amounts = ("$ / 1M tokens", *(f"{n:,} docs" for n in counts))
    add_columns(table, ("model", *amounts), right=amounts)
    for row in rows:
        price = row.spec.price_per_million
        shown = "usage-based" if price is None else "local" if row.spec.is_local \
            else f"${price:.2f}"
        table.add_row(row.spec.model_string, shown, *(e.display for e in row.estimates))
    console().print(table)


def report(
    cache_dir: CacheDirOption = None,
    ledger: Annotated[Optional[Path], typer.Option(
        "--ledger", help="Ledger file (default: cost-ledger.jsonl in the cache directory).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """What two-stage (premium) retrieval spent and saved, from the cost ledger."""
    from ..cost.ledger import CostTracker, default_ledger_path, summarize

    path = ledger or default_ledger_path(cache_dir)
    if not path.is_file():
        typer.echo(f"error: no cost ledger at {path}: a TwoStageRetriever writes one in its "
                   "premium embedder's cache directory (pass that with --cache-dir, or --ledger)",
                   err=True)
        raise typer.Exit(1)
    rows = summarize(CostTracker.read(path))
    if as_json:
        print_json_lines(row.to_dict() for row in rows)
        return
    typer.echo(f"ledger: {path}")
    for row in rows:
        typer.echo(_describe(row))


def _describe(row) -> str:
    corpus = row.corpus
    lines = [
        f"\n{row.source} -> {row.model}  ({row.first} .. {row.last})",
        f"  queries           {row.queries:,}  (escalated {row.escalated:,}, forced "
        f"{row.forced:,}, skipped for budget {row.skipped_budget:,}, failed {row.failed:,})",
        f"  spent             {_usd(row.dollars)}  ({row.tokens:,} tokens, "
        f"{row.documents_sent:,} documents paid for)",
        f"  cache savings     {_usd(row.dollars_saved)}",
    ]
    if corpus:
        lines += [
            f"  whole corpus      {_usd(corpus['full_corpus_dollars'])} to embed all "
            f"{corpus['documents']:,} documents with this model",
            f"  corpus paid for   {corpus['paid']:,} of {corpus['documents']:,} documents "
            f"({corpus['paid_share']:.1%}), ever",
        ]
    else:
        lines.append("  whole corpus      (no snapshot yet: read retriever.stats to record one)")
    if row.budget:
        lines.append(f"  budget            {_usd(row.budget['spent'])} of "
                     f"{_usd(row.budget['max_usd'])} spent; {row.budget['refused']} API call(s) "
                     "refused by the embedder")
    return "\n".join(lines)


def _usd(amount: float) -> str:
    """Cents for amounts of a cent or more, micro-dollars below (API calls cost fractions)."""
    return f"${amount:,.2f}" if amount >= 0.01 else f"${amount:.6f}"
