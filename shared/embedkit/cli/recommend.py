"""``embedkit recommend``: the model-selection tree and use-case table over the catalog
(docs/guide-reference.md section 3)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .output import console, print_json_lines


def register(app: typer.Typer) -> None:
    app.command("recommend")(recommend)


def _use_case_help() -> str:
    from ..recommend import USE_CASES

    return "A row of the use-case table: " + ", ".join(
        f'"{case.title}"' for case in USE_CASES) + "."


def recommend(
    private: Annotated[bool, typer.Option(
        "--private", help="Data privacy is critical: local models only.")] = False,
    multilingual: Annotated[bool, typer.Option(
        "--multilingual", help="Text in several languages.")] = False,
    code: Annotated[bool, typer.Option("--code", help="Content is mainly source code.")] = False,
    long_context: Annotated[bool, typer.Option(
        "--long-context", help="Documents over 512 tokens must be embedded whole.")] = False,
    cost_sensitive: Annotated[bool, typer.Option(
        "--cost-sensitive", help="Cost is a primary concern.")] = False,
    highest_quality: Annotated[bool, typer.Option(
        "--highest-quality", help="Quality matters most.")] = False,
    use_case: Annotated[Optional[str], typer.Option(
        "--use-case", "-u", help=_use_case_help())] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Ranked models for your needs, each with the reason (decision tree and use-case table)."""
    from ..recommend import recommend as run

    try:
        picks = run(private=private, multilingual=multilingual, code=code,
                    long_context=long_context, cost_sensitive=cost_sensitive,
                    highest_quality=highest_quality, use_case=use_case, limit=limit)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--use-case") from None
    if as_json:
        print_json_lines({"rank": pick.rank, "model": pick.model, "provider": pick.spec.provider,
                          "reason": pick.reason} for pick in picks)
        return
    _print_table(picks)


def _print_table(picks) -> None:
    from rich.table import Table

    table = Table(title="recommended embedding models", show_lines=True)
    for column in ("#", "model", "provider", "reason"):
        table.add_column(column, overflow="fold")
    for pick in picks:
        table.add_row(str(pick.rank), pick.model, pick.spec.provider, pick.reason)
    console().print(table)
