"""``embedkit bench DATA``: compare models and retrieval modes on your own test set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import CacheDirOption, NoCacheOption


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)


def bench(
    data: Annotated[Path, typer.Argument(
        help="A BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) or a JSON/JSONL "
             "list of {query, relevant_docs, all_docs}.")],
    model: Annotated[Optional[list[str]], typer.Option(
        "--model", "-m", help="Model to compare (repeat for several); default the bundled "
                              "all-MiniLM-L6-v2.")] = None,
    mode: Annotated[Optional[list[str]], typer.Option(
        "--mode", help="Comma-separated: dense, bm25, hybrid-rrf, hybrid-weighted, hybrid-auto "
                       "(the default search), hybrid-auto-v1; 'hybrid' = rrf, weighted, auto; "
                       "'@alpha' sets a hybrid's dense weight, e.g. hybrid-weighted@0.7; a "
                       "suffix sets feedback: +prf (dense), +rm3 (BM25), +prf+rm3, +nofb, "
                       "e.g. dense+prf. Default dense,bm25,hybrid.")] = None,
    glossary: Annotated[Optional[Path], typer.Option(
        "--glossary", help="JSON/CSV glossary: every run is done with and without it.")] = None,
    glossary_only: Annotated[bool, typer.Option(
        "--glossary-only", help="With --glossary: skip the runs without it.")] = False,
    metric: Annotated[Optional[list[str]], typer.Option(
        "--metric", help="Metric to report (repeat); default ndcg@10 mrr@10 recall@10 "
                         "precision@10 map@10.")] = None,
    alpha: Annotated[float, typer.Option(
        "--alpha", min=0.0, max=1.0, help="Dense weight of hybrid-weighted.")] = 0.5,
    candidates: Annotated[int, typer.Option(
        "--candidates", min=1, help="Results each method contributes before fusion.")] = 100,
    split: Annotated[str, typer.Option("--split", help="BEIR qrels split.")] = "test",
    json_path: Annotated[Path, typer.Option(
        "--json", help="Where to write the full results (per-query scores too).")] =
        Path("bench.json"),
    chart: Annotated[Optional[Path], typer.Option(
        "--chart", help="Where to write the PNG chart.")] = Path("bench.png"),
    no_chart: Annotated[bool, typer.Option("--no-chart", help="Do not draw the chart.")] = False,
    batch_size: Annotated[Optional[int], typer.Option(
        "--batch-size", min=1, help="Texts per model call.")] = None,
    cache_dir: CacheDirOption = None,
    no_cache: NoCacheOption = False,
) -> None:
    """Score models x retrieval modes (x glossary) on DATA: table, JSON and PNG chart."""
    from rich.console import Console

    from ..evaluate import DEFAULT_METRICS, compare
    from ..evaluate.report import comparison_table, plot_comparison, short_model_name

    console = Console(stderr=True)
    dataset = _load(data, split)
    console.print(f"{data}: {dataset!r}")

    def announce(model_name: str, with_glossary: bool, documents: int) -> None:
        suffix = " +glossary" if with_glossary else ""
        console.print(f"indexing {documents} documents with {short_model_name(model_name)}"
                      f"{suffix}")

    try:
        result = compare(
            dataset, models=list(model or [None]), modes=",".join(mode or ["dense,bm25,hybrid"]),
            glossary=glossary, glossary_variants=_variants(glossary, glossary_only),
            metrics=list(metric or DEFAULT_METRICS), alpha=alpha, candidates=candidates,
            cache_dir=cache_dir, show_progress=True, on_index=announce,
            embedder_options=_embedder_options(batch_size, no_cache))
    except (ValueError, KeyError, FileNotFoundError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    _wide_console().print(comparison_table(result, title=f"{data.name}: {dataset!r}"))
    _report_cache(console, result.embedding)
    console.print(f"wrote {result.write_json(json_path)}")
    if chart is not None and not no_chart:
        console.print(f"wrote {plot_comparison(result, chart, title=f'{data.name}')}")


def _wide_console():
    """stdout; when it is a file or pipe, wide enough that no column is cut."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=max(console.width, 150))


def _load(data: Path, split: str):
    from ..evaluate import load_beir, load_simple_json

    try:
        if data.is_dir():
            return load_beir(data, split=split)
        return load_simple_json(data)
    except (ValueError, FileNotFoundError) as exc:
        raise typer.BadParameter(str(exc), param_hint="DATA") from exc


def _variants(glossary: Path | None, glossary_only: bool) -> list[bool] | None:
    if glossary_only and glossary is None:
        raise typer.BadParameter("--glossary-only needs --glossary FILE")
    return [True] if glossary_only else None


def _embedder_options(batch_size: int | None, no_cache: bool) -> dict[str, object]:
    options: dict[str, object] = {"batch_size": batch_size}
    if no_cache:
        options["cache"] = False
    return options


def _report_cache(console, embedding: list[dict]) -> None:
    from ..evaluate.report import short_model_name

    for entry in embedding:
        suffix = " +glossary" if entry["glossary"] else ""
        console.print(f"{short_model_name(entry['model'])}{suffix}: {entry['documents']} documents,"
                      f" {entry['hits']} from cache, {entry['misses']} embedded "
                      f"({entry['seconds']:.1f} s, ${entry['dollars']:.4f})")
