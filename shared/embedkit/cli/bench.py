"""``embedkit bench DATA``: compare models and retrieval modes on your own test set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .options import CacheDirOption, NoCacheOption
from .output import console, fold, print_json
from .progress_bar import OverallBar


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
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the full results (per-query scores too) as JSON to stdout; the "
                       "table then goes to stderr.")] = False,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Also write the full results as JSON to this file.")] = None,
    plot: Annotated[Optional[Path], typer.Option(
        "--plot", "--chart", help="Draw a PNG chart to this file (needs matplotlib).")] = None,
    no_chart: Annotated[bool, typer.Option(
        "--no-chart", hidden=True, help="Accepted for compatibility: no chart is drawn "
                                        "without --plot.")] = False,
    batch_size: Annotated[Optional[int], typer.Option(
        "--batch-size", min=1, help="Texts per model call.")] = None,
    cache_dir: CacheDirOption = None,
    no_cache: NoCacheOption = False,
) -> None:
    """Score models x retrieval modes (x glossary) on DATA: a table; JSON and a PNG on request.

    Nothing is written unless asked: --output FILE for the JSON, --plot FILE for the chart.
    """
    from ..evaluate import DEFAULT_METRICS, compare
    from ..evaluate.report import comparison_table, plot_comparison
    from ..progress import report_progress

    messages = console(stderr=True)
    dataset = _load(data, split)
    messages.print(f"{data}: {dataset!r}")
    models = list(dict.fromkeys(model or [None]))
    modes = ",".join(mode or ["dense,bm25,hybrid"])
    variants = _variants(glossary, glossary_only)
    indexes = _indexes_to_embed(modes, models, glossary, variants)
    with BenchProgress(messages, per_index=len(dataset.corpus) + len(dataset.judged_queries),
                       indexes=indexes) as bar, report_progress(bar.advance):
        result = compare(
            dataset, models=models, modes=modes, glossary=glossary, glossary_variants=variants,
            metrics=list(metric or DEFAULT_METRICS), alpha=alpha, candidates=candidates,
            cache_dir=cache_dir, show_progress=False, on_index=bar.next_index,
            embedder_options=_embedder_options(batch_size, no_cache))
    title = f"{data.name}: {dataset!r}"
    (messages if as_json else console()).print(fold(comparison_table(result, title=title)))
    _report_cache(messages, result.embedding)
    if as_json:
        print_json(result.to_dict())
    if output is not None:
        messages.print(f"wrote {result.write_json(output)}")
    if plot is not None:
        messages.print(f"wrote {plot_comparison(result, plot, title=data.name)}")


class BenchProgress(OverallBar):
    """One bar with an ETA over every text bench embeds: each model's (and glossary
    setting's) documents and queries. Texts found in the cache are skipped over when the next
    model starts."""

    def __init__(self, messages: Any, *, per_index: int, indexes: int) -> None:
        super().__init__(messages, total=per_index * indexes)
        self.per_index = per_index
        self.started = 0

    def next_index(self, model: str, with_glossary: bool, documents: int) -> None:
        """compare's on_index: the previous model is done, ``model`` starts."""
        from ..evaluate.report import short_model_name

        name = short_model_name(model) + (" +glossary" if with_glossary else "")
        self.reach(self.per_index * self.started, description=name)
        self.started += 1
        self.print(f"indexing {documents} documents with {name}")


def _indexes_to_embed(modes: str, models: list[str | None], glossary: Path | None,
                      variants: list[bool] | None) -> int:
    """How many corpora compare embeds: one per model and glossary setting, if any mode needs
    vectors."""
    from ..evaluate.compare import parse_modes

    if not any(m.uses_model for m in parse_modes(modes)):
        return 0
    settings = len(variants) if variants else (2 if glossary is not None else 1)
    return settings * len(models)


def _load(data: Path, split: str):
    from ..evaluate import load_beir, load_simple_json

    if not data.exists():
        raise typer.BadParameter(f"{data} does not exist: give a BEIR folder or a JSON/JSONL "
                                 "file", param_hint="DATA")
    try:
        if data.is_dir():
            return load_beir(data, split=split)
        return load_simple_json(data)
    except (ValueError, FileNotFoundError) as exc:
        raise typer.BadParameter(" ".join(str(exc).split()), param_hint="DATA") from exc


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
