"""``embedkit models``: the catalog as a table (or JSON lines)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .output import add_columns, console, print_json_lines

COLUMNS = ("model", "provider", "dims", "max tokens", "$/1M tok", "MTEB", "query prefix",
           "doc prefix", "matryoshka", "best for")


def register(app: typer.Typer) -> None:
    app.command("models")(models)


def models(
    provider: Annotated[Optional[str], typer.Option(
        "--provider", "-p", help="Only this provider (local, openai, cohere, ...).")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object per model instead of the table.")] = False,
) -> None:
    """List every catalogued model: size, limits, price, MTEB, prefixes."""
    from rich.table import Table

    from ..catalog import list_models

    specs = list_models(_check_provider(provider))
    if as_json:
        print_json_lines({"model": spec.model_string, **spec.to_dict()} for spec in specs)
        return
    table = Table(title="embedkit model catalog")
    add_columns(table, COLUMNS, right=("dims", "max tokens", "$/1M tok", "MTEB"))
    for spec in specs:
        price = "usage" if spec.price_per_million is None else f"{spec.price_per_million:.2f}"
        mteb = f"{spec.mteb_score:.2f}" if spec.mteb_score is not None else (spec.mteb_rank or "")
        table.add_row(spec.model_string, spec.provider, str(spec.dimensions or ""),
                      str(spec.max_tokens or ""), price, mteb, _shown(spec.query_prefix),
                      _shown(spec.document_prefix), "yes" if spec.matryoshka else "",
                      spec.best_for)
    console().print(table)


def _check_provider(provider: str | None) -> str | None:
    from ..catalog import CATALOG

    known = sorted({spec.provider for spec in CATALOG})
    if provider is not None and provider not in known:
        raise typer.BadParameter(f"unknown provider {provider!r}; use one of {', '.join(known)}",
                                 param_hint="--provider")
    return provider


def _shown(prefix: str) -> str:
    """Quoted, so a trailing space is visible."""
    return repr(prefix) if prefix else ""
