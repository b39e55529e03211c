"""Options several commands share, and how they become an `Embedder`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

ModelOption = Annotated[Optional[str], typer.Option(
    "--model", "-m", help="provider:model or a local model id/path; default: bundled MiniLM.")]
CacheDirOption = Annotated[Optional[Path], typer.Option(
    "--cache-dir", help="Cache directory (default ~/.cache/embedkit or $EMBEDKIT_CACHE_DIR).")]
GlossaryOption = Annotated[Optional[Path], typer.Option(
    "--glossary", help="JSON or CSV glossary of term -> expansion.")]
DimensionsOption = Annotated[Optional[int], typer.Option(
    "--dimensions", min=1, help="Smaller vector size (Matryoshka / API dimensions).")]
NoCacheOption = Annotated[bool, typer.Option("--no-cache", help="Do not read or write the cache.")]


def make_embedder(model: str | None, *, cache_dir: Path | None = None,
                  glossary: Any = None, dimensions: int | None = None,
                  no_cache: bool = False, show_progress: bool = True) -> Any:
    """An `Embedder` from the shared options; ``glossary`` is a path or a `Glossary`."""
    from ..embedder import Embedder

    return Embedder(model, cache_dir=cache_dir, glossary=glossary, dimensions=dimensions,
                    cache=not no_cache, show_progress=show_progress)
