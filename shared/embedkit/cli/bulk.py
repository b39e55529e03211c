"""``embedkit bulk``: embed a Parquet / JSONL corpus on Ray into Parquet, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .options import CacheDirOption, DimensionsOption, GlossaryOption, ModelOption, NoCacheOption
from .output import print_json


def register(app: typer.Typer) -> None:
    app.command("bulk")(bulk)


def bulk(
    source: Annotated[str, typer.Argument(
        help="Parquet or JSONL file or folder to embed.", metavar="INPUT")],
    output: Annotated[str, typer.Argument(
        help="Output folder for Parquet parts (id, vector, fingerprint); shared storage on a "
             "cluster. Rerunning into it skips ids already written.", metavar="OUTPUT")],
    id_column: Annotated[str, typer.Option("--id-column", help="Column with row ids.")] = "id",
    text_column: Annotated[str, typer.Option("--text-column", help="Column to embed.")] = "text",
    query: Annotated[bool, typer.Option(
        "--query", help="Embed as queries, not documents.")] = False,
    model: ModelOption = None,
    cache: Annotated[Optional[str], typer.Option(
        "--cache", help="redis://host:6379/0 to share one cache across machines "
                        "(?ttl=SECONDS&prefix=NAME: allowed); default: each machine's disk "
                        "cache.")] = None,
    cache_dir: CacheDirOption = None,
    no_cache: NoCacheOption = False,
    glossary: GlossaryOption = None,
    dimensions: DimensionsOption = None,
    actors: Annotated[int, typer.Option("--actors", min=1, help="Embedder actors (one model "
                                        "copy each).")] = 1,
    cpus_per_actor: Annotated[float, typer.Option(
        "--cpus-per-actor", min=0, help="CPUs each actor reserves (= its torch threads); "
                                        "leave one CPU of the cluster free.")] = 1.0,
    gpus_per_actor: Annotated[float, typer.Option(
        "--gpus-per-actor", min=0, help="1 = one actor per GPU.")] = 0.0,
    model_batch_size: Annotated[Optional[int], typer.Option(
        "--model-batch-size", min=1, help="Texts per model call (default 32 locally; raise "
                                          "it on a GPU).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Rows per actor call.")
                          ] = 256,
    rows_per_file: Annotated[int, typer.Option("--rows-per-file", min=1, help="Rows per "
                             "Parquet part.")] = 10_000,
    address: Annotated[Optional[str], typer.Option(
        "--address", envvar="RAY_ADDRESS", help="Ray cluster to join (auto, ray://head:10001); "
                                                "default: a local Ray.")] = None,
    redo: Annotated[bool, typer.Option("--redo", help="Embed every row again, even ids "
                                       "already in OUTPUT.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Embed a corpus with a pool of Ray actors into Parquet (resumable, cache-backed)."""
    from ..distributed import embed_dataset

    if cache and no_cache:
        raise typer.BadParameter("--cache and --no-cache contradict each other")
    config = _embedder_config(model, cache=cache, cache_dir=cache_dir, no_cache=no_cache,
                              glossary=glossary, dimensions=dimensions,
                              batch_size=model_batch_size)
    # Errors (bad input, unreachable cluster, ...) become one line in errors.guard.
    result = embed_dataset(
        source, output, embedder=config, id_column=id_column, text_column=text_column,
        role="query" if query else "document", actors=actors, batch_size=batch_size,
        num_cpus=cpus_per_actor, num_gpus=gpus_per_actor, skip_existing=not redo,
        rows_per_file=rows_per_file, address=address, show_progress=progress)
    _report(_summary(result), as_json)


def _embedder_config(model: str | None, *, cache: str | None, cache_dir: Path | None,
                     no_cache: bool, glossary: Path | None, dimensions: int | None,
                     batch_size: int | None) -> dict[str, Any]:
    """Plain, picklable Embedder kwargs: every actor builds its own from them."""
    config: dict[str, Any] = {"model": model, "dimensions": dimensions, "batch_size": batch_size,
                              "glossary": str(glossary) if glossary else None,
                              "cache": False if no_cache else (cache or True)}
    if cache_dir is not None:
        config["cache_dir"] = str(cache_dir.expanduser().resolve())
    return config


def _summary(result: Any) -> dict[str, Any]:
    stats = result.stats
    return {
        "output": result.output, "fingerprint": result.fingerprint, "role": result.role,
        "dimension": result.dimension, "rows_written": result.rows_written,
        "rows_skipped": result.rows_skipped, "embedded_by_model": stats.misses,
        "cache_hits": stats.hits, "tokens": stats.tokens, "dollars": round(stats.dollars, 6),
        "dollars_saved": round(stats.dollars_saved, 6), "seconds": round(result.seconds, 2),
    }


def _report(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(summary)
        return
    typer.echo(
        f"wrote {summary['rows_written']} row(s) to {summary['output']} "
        f"({summary['rows_skipped']} already there) in {summary['seconds']} s\n"
        f"model: {summary['embedded_by_model']} text(s), {summary['tokens']} tokens, "
        f"${summary['dollars']:.4f}; cache: {summary['cache_hits']} hit(s), "
        f"${summary['dollars_saved']:.4f} saved\nfingerprint: {summary['fingerprint']}")
