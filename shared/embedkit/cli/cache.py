"""``embedkit cache stats|clear``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .options import CacheDirOption
from .output import print_json

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Inspect or empty the embedding cache.", no_args_is_help=True)
    group.command("stats")(stats)
    group.command("clear")(clear)
    app.add_typer(group, name="cache")


def stats(cache_dir: CacheDirOption = None, as_json: JsonOption = False) -> None:
    """Entries and size of the disk cache."""
    from ..cache import DiskVectorCache

    info = DiskVectorCache(cache_dir).stats()
    if as_json:
        print_json({"directory": str(info["directory"]), "entries": int(info["entries"]),
                    "size_bytes": int(info["size_bytes"])})
        return
    typer.echo(f"directory: {info['directory']}\nentries:   {info['entries']}\n"
               f"size:      {int(info['size_bytes']) / 2**20:.1f} MiB")


def clear(
    cache_dir: CacheDirOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete every cached vector."""
    from ..cache import DiskVectorCache

    cache = DiskVectorCache(cache_dir)
    if not yes:
        if not sys.stdin.isatty():
            raise typer.BadParameter("not a terminal, so nothing can be confirmed: pass --yes "
                                     "to delete every cached vector", param_hint="--yes")
        typer.confirm(f"Delete all {cache.stats()['entries']} entries in {cache.directory}?",
                      abort=True)
    removed = cache.clear()
    if as_json:
        print_json({"directory": str(cache.directory), "removed": removed})
        return
    typer.echo(f"removed {removed} entries from {cache.directory}")
