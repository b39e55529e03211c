"""``embedkit embed``: texts from arguments, a file or stdin; JSONL or .npy out."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import (CacheDirOption, DimensionsOption, GlossaryOption, ModelOption,
                      NoCacheOption, make_embedder)


def register(app: typer.Typer) -> None:
    app.command("embed")(embed)


def embed(
    texts: Annotated[Optional[list[str]], typer.Argument(help="Texts to embed.")] = None,
    input_file: Annotated[Optional[Path], typer.Option(
        "--input", "-i", help="File with one text per line, or JSONL with a 'text' field; "
                              "'-' reads stdin.")] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Write here: .npy for a float32 matrix, else JSONL.")] = None,
    query: Annotated[bool, typer.Option("--query", help="Embed as queries, not documents.")] = False,
    model: ModelOption = None,
    cache_dir: CacheDirOption = None,
    glossary: GlossaryOption = None,
    dimensions: DimensionsOption = None,
    no_cache: NoCacheOption = False,
    as_json: Annotated[bool, typer.Option(
        "--json", help="JSON lines on stdout (the default without --output).")] = False,
) -> None:
    """Embed texts with the full pipeline (prefixes, glossary, cache)."""
    if as_json and output is not None:
        raise typer.BadParameter("--json prints to stdout; drop it or --output",
                                 param_hint="--json")
    from ..glossary import Glossary
    from ..validation import validate_texts

    items = _read_texts(texts, input_file)
    if not items:
        raise typer.BadParameter("no texts: pass them as arguments, with --input FILE, or on stdin")
    # Bad texts and glossaries fail here, before a model is loaded.
    validate_texts(items)
    terms = Glossary.from_file(glossary) if glossary is not None else None
    emb = make_embedder(model, cache_dir=cache_dir, glossary=terms, dimensions=dimensions,
                        no_cache=no_cache)
    vectors = emb.embed_queries(items) if query else emb.embed_documents(items)
    _write(vectors, items, output, emb.fingerprint)
    stats = emb.stats
    typer.echo(f"embedded {len(items)} text(s) with {emb.model_name} (dim {emb.dimension}): "
               f"{stats.hits} cached, {stats.misses} computed", err=True)


def _read_texts(texts: list[str] | None, input_file: Path | None) -> list[str]:
    if texts:
        return list(texts)
    if input_file is None and sys.stdin.isatty():
        return []
    handle = sys.stdin if input_file in (None, Path("-")) else input_file.open(encoding="utf-8")
    try:
        with handle:
            lines = [line.rstrip("\n") for line in handle if line.strip()]
    except UnicodeDecodeError as exc:
        source = "stdin" if handle is sys.stdin else str(input_file)
        raise typer.BadParameter(
            f"{source} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at position "
            f"{exc.start}): convert it, e.g. iconv -f latin1 -t utf-8", param_hint="--input") \
            from None
    if input_file is not None and input_file.suffix == ".jsonl":
        return [_text_field(line, number) for number, line in enumerate(lines, start=1)]
    return lines


def _text_field(line: str, number: int) -> str:
    try:
        return json.loads(line)["text"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise typer.BadParameter(f"line {number}: expected a JSON object with a 'text' field") \
            from exc


def _write(vectors, items: list[str], output: Path | None, fingerprint: str) -> None:
    import numpy as np

    if output is not None and output.suffix == ".npy":
        np.save(output, vectors, allow_pickle=False)
        return
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        for text, vector in zip(items, vectors):
            out.write(json.dumps({"text": text, "embedding": vector.tolist(),
                                  "fingerprint": fingerprint}) + "\n")
    finally:
        if output:
            out.close()
