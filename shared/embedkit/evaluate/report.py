"""Show a `Comparison`: a rich table for the terminal and a PNG bar chart."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..extras import require
from .compare import BM25_MODEL, Comparison, RunResult

_PREFIXES = ("local:", "sentence-transformers/")


def short_model_name(model: str) -> str:
    """``local:sentence-transformers/all-MiniLM-L6-v2`` -> ``all-MiniLM-L6-v2``."""
    for prefix in _PREFIXES:
        model = model.removeprefix(prefix)
    return model


def run_label(run: RunResult) -> str:
    """A short row label: ``all-MiniLM-L6-v2 hybrid-auto +glossary``, ``bm25``."""
    parts = [run.mode] if run.model == BM25_MODEL else [short_model_name(run.model), run.mode]
    return " ".join(parts) + (" +glossary" if run.glossary else "")


def comparison_table(comparison: Comparison, *, metrics: Sequence[str] | None = None,
                     title: str | None = None, timing: bool = True) -> Any:
    """A `rich.table.Table` of runs x metrics; the best value of each metric in bold."""
    from rich.table import Table

    metrics = list(metrics or comparison.metrics)
    best = {m: _best_value(comparison.runs, m) for m in metrics}
    table = Table(title=title)
    for column in ("model", "mode", "glossary"):
        table.add_column(column, no_wrap=True)
    for metric in metrics:
        table.add_column(metric, justify="right")
    if timing:
        table.add_column("ms/query", justify="right")
    for run in comparison.runs:
        cells = [_metric_cell(run.result[m], best[m]) for m in metrics]
        extra = [f"{run.ms_per_query:.1f}"] if timing else []
        table.add_row(short_model_name(run.model), run.mode, "yes" if run.glossary else "",
                      *cells, *extra)
    return table


def _best_value(runs: Sequence[RunResult], metric: str) -> float:
    values = [r.result[metric] for r in runs if not math.isnan(r.result[metric])]
    return max(values) if values else math.nan


def _metric_cell(value: float, best: float) -> str:
    text = "n/a" if math.isnan(value) else f"{value:.3f}"
    return f"[bold]{text}[/bold]" if value == best else text


def plot_comparison(comparison: Comparison, path: str | Path, *,
                    metrics: Sequence[str] | None = None, title: str | None = None) -> Path:
    """Write a PNG: one horizontal bar group per run, one bar per metric (at most 4).

    Uses matplotlib's object API with the Agg canvas, so it never changes the pyplot backend
    of the program that calls it and needs no display.
    """
    require("matplotlib", extra="bench")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metrics = list(metrics or comparison.metrics)[:4]
    runs = comparison.runs
    if not runs:
        raise ValueError("nothing to plot: the comparison has no runs")
    height = 0.8 / len(metrics)
    figure = Figure(figsize=(9, 1.4 + 0.45 * len(runs) * max(1, len(metrics) / 2)))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for i, metric in enumerate(metrics):
        positions = [row + (i - (len(metrics) - 1) / 2) * height for row in range(len(runs))]
        values = [_plottable(run.result[metric]) for run in runs]
        bars = axes.barh(positions, values, height=height, label=metric)
        axes.bar_label(bars, labels=[f"{v:.3f}" for v in values], padding=2, fontsize=7)
    axes.set_yticks(range(len(runs)), [run_label(run) for run in runs], fontsize=8)
    axes.invert_yaxis()  # first run on top, as in the table
    axes.set_xlim(0, 1.1)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=len(metrics),
                fontsize=8, frameon=False)
    axes.set_title(title or f"{comparison.dataset}", fontsize=10)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path


def _plottable(value: float) -> float:
    return 0.0 if math.isnan(value) else value


__all__ = ["comparison_table", "plot_comparison", "run_label", "short_model_name"]
