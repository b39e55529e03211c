"""``embedkit finetune``: train a local model on a JSONL file of query/positive pairs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import CacheDirOption, ModelOption
from .output import print_json


def register(app: typer.Typer) -> None:
    app.command("finetune")(finetune_command)


def finetune_command(
    pairs: Annotated[Path, typer.Argument(
        help="JSONL of {\"query\", \"positive\", \"negatives\"?} pairs.",
        exists=True, dir_okay=False)],
    output_dir: Annotated[Path, typer.Option(
        "--output-dir", "-o", help="Where the fine-tuned model is saved.")],
    model: ModelOption = None,
    loss: Annotated[str, typer.Option(
        help="mnrl (in-batch + hard negatives), contrastive (CoSENT; needs negatives) or "
             "matryoshka (MNRL at several sizes).")] = "mnrl",
    matryoshka_dims: Annotated[Optional[str], typer.Option(
        help="Comma-separated sizes to train, e.g. 384,256,128,64 (wraps the loss).")] = None,
    epochs: Annotated[float, typer.Option(help="Passes over the pairs.")] = 1.0,
    batch_size: Annotated[int, typer.Option(help="Pairs per step.")] = 32,
    learning_rate: Annotated[float, typer.Option(help="Peak AdamW learning rate.")] = 2e-5,
    max_steps: Annotated[Optional[int], typer.Option(
        help="Stop after this many steps (overrides --epochs).")] = None,
    eval_set: Annotated[Optional[Path], typer.Option(
        "--eval", help="Held-out set, evaluated before and after: a BEIR folder or a JSON "
                       "list of {query, relevant_docs, all_docs}.")] = None,
    mine_negatives: Annotated[int, typer.Option(
        help="Mine this many hard negatives per pair with the base model first.")] = 0,
    documents: Annotated[Optional[Path], typer.Option(
        help="Where to mine negatives from: one text per line, or JSONL with 'text' "
             "(default: the pairs' positives).", exists=True, dir_okay=False)] = None,
    max_positive_similarity: Annotated[float, typer.Option(
        help="Skip mined candidates at least this similar to the positive.")] = 0.95,
    save_pairs: Annotated[Optional[Path], typer.Option(
        help="Write the pairs actually trained on (after mining) to this JSONL file.")] = None,
    checkpoints: Annotated[bool, typer.Option(
        help="Save resumable checkpoints in <output-dir>/checkpoints.")] = True,
    save_steps: Annotated[int, typer.Option(help="Checkpoint every N steps.")] = 500,
    resume: Annotated[bool, typer.Option(
        help="Resume from the newest checkpoint in <output-dir>/checkpoints.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    cache_dir: CacheDirOption = None,
    report: Annotated[Optional[Path], typer.Option(
        help="Write a JSON summary (steps, loss, metrics before/after) to this file.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the JSON summary to stdout; the report then goes to stderr.")
    ] = False,
) -> None:
    """Fine-tune a local embedding model; print nDCG@10 before and after when --eval is given."""
    from ..finetune import finetune, mine_hard_negatives, read_pairs, write_pairs

    try:
        training = read_pairs(pairs)
        if mine_negatives:
            pool = _read_documents(documents) if documents else None
            training = mine_hard_negatives(
                training, pool, embedder=_embedder(model, cache_dir),
                num_negatives=mine_negatives, max_positive_similarity=max_positive_similarity,
                show_progress=True)
        if save_pairs:
            write_pairs(training, save_pairs)
        result = finetune(
            model, training, output_dir, loss=loss, matryoshka_dims=_dims(matryoshka_dims),
            epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
            max_steps=max_steps, eval=eval_set, save_checkpoints=checkpoints,
            save_steps=save_steps, seed=seed, cache_dir=cache_dir,
            resume_from_checkpoint=True if resume else None)
    except (ValueError, FileNotFoundError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"trained {result.loss} for {result.steps} steps (loss {result.train_loss:.4f}, "
               f"{result.seconds:.0f} s); use it as Embedder({result.model_string!r})",
               err=as_json)
    if eval_set:
        typer.echo(result.report(), err=as_json)
    if as_json:
        print_json(_summary(result))
    if report:
        report.write_text(json.dumps(_summary(result), indent=2) + "\n", encoding="utf-8")


def _embedder(model: str | None, cache_dir: Path | None):
    from ..embedder import Embedder

    return Embedder(model, cache_dir=cache_dir, show_progress=True)


def _dims(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(f"--matryoshka-dims must be comma-separated integers, "
                                 f"got {text!r}") from None


def _read_documents(path: Path) -> list[str]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if path.suffix != ".jsonl":
        return lines
    texts = []
    for number, line in enumerate(lines, start=1):
        try:
            texts.append(json.loads(line)["text"])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise typer.BadParameter(f"{path}: line {number}: expected a JSON object with a "
                                     "'text' field") from None
    return texts


def _summary(result) -> dict[str, object]:
    return {
        "model": result.model_string,
        "loss": result.loss,
        "steps": result.steps,
        "train_loss": result.train_loss,
        "seconds": result.seconds,
        "prefixes": result.prefixes,
        "matryoshka_dims": list(result.matryoshka_dims or ()),
        "before": {str(dim): r.mean for dim, r in result.before.items()},
        "after": {str(dim): r.mean for dim, r in result.after.items()},
    }
