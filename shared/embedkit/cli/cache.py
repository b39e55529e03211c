"""``embedkit cache stats|clear``."""

from __future__ import annotations

import typer

from .options import CacheDirOption


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Inspect or empty the embedding cache.", no_args_is_help=True)
    group.command("stats")(stats)
    group.command("clear")(clear)
    app.add_typer(group, name="cache")


def stats(cache_dir: CacheDirOption = None) -> None:
    """Entries and size of the disk cache."""
    from ..cache import DiskVectorCache

    info = DiskVectorCache(cache_dir).stats()
    typer.echo(f"directory: {info['directory']}\nentries:   {info['entries']}\n"
               f"size:      {int(info['size_bytes']) / 2**20:.1f} MiB")


def clear(
    cache_dir: CacheDirOption = None,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete every cached vector."""
    from ..cache import DiskVectorCache

    cache = DiskVectorCache(cache_dir)
    if not yes:
        typer.confirm(f"Delete all {cache.stats()['entries']} entries in {cache.directory}?",
                      abort=True)
    typer.echo(f"removed {cache.clear()} entries from {cache.directory}")
