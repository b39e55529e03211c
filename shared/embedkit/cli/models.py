"""``embedkit models``: the catalog as a table."""

from __future__ import annotations

from typing import Annotated, Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("models")(models)


def models(
    provider: Annotated[Optional[str], typer.Option(
        "--provider", "-p", help="Only this provider (local, openai, cohere, ...).")] = None,
) -> None:
    """List every catalogued model: size, limits, price, MTEB, prefixes."""
    from rich.console import Console
    from rich.table import Table

    from ..catalog import list_models

    table = Table(title="embedkit model catalog")
    for column in ("model", "provider", "dims", "max tokens", "$/1M tok", "MTEB",
                   "query prefix", "doc prefix", "matryoshka", "best for"):
        table.add_column(column)
    for spec in list_models(provider):
        price = "usage" if spec.price_per_million is None else f"{spec.price_per_million:.2f}"
        mteb = f"{spec.mteb_score:.2f}" if spec.mteb_score is not None else (spec.mteb_rank or "")
        table.add_row(spec.model_string, spec.provider, str(spec.dimensions or ""),
                      str(spec.max_tokens or ""), price, mteb, _short(spec.query_prefix),
                      _short(spec.document_prefix), "yes" if spec.matryoshka else "",
                      spec.best_for)
    Console().print(table)


def _short(prefix: str, width: int = 24) -> str:
    text = repr(prefix) if prefix else ""
    return text if len(text) <= width else text[: width - 1] + "…"
