"""`finetune`: train a local embedding model on query/document pairs, save it, measure it.

Built on the sentence-transformers trainer (`SentenceTransformerTrainer` over a `datasets`
Dataset), not the deprecated ``model.fit``. The saved folder is a normal sentence-transformers
model that loads with ``Embedder("local:<output_dir>")``: the base model's query/document
prefixes are used during training and stored as the model's saved prompts, so the engine applies
the same prefixes to the fine-tuned model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from ..arguments import check_positive_int
from ..extras import require
from ..embedder import Embedder
from ..evaluate import EvalResult
from ..providers import local as local_provider
from ..providers.resolve import parse_model_string
from .evaluation import EVAL_METRICS, EvalSource, evaluate_embedder, load_eval_set
from .objectives import LOSSES, Objective, build_objective
from .pairs import TrainingPair, as_pairs, read_pairs

logger = logging.getLogger("embedkit.finetune")

TrainSource = Union[str, Path, Iterable[Union[TrainingPair, Mapping[str, Any]]]]
CHECKPOINT_DIR = "checkpoints"


@dataclass
class FinetuneResult:
    """What a run produced: where the model is, how training went, before/after metrics.

    ``before`` and ``after`` map a vector size to its `EvalResult` (the full size, plus each
    Matryoshka size when training used them); empty when no evaluation set was given.
    """

    output_dir: Path
    model: Any = field(repr=False)   # the trained SentenceTransformer, still in memory
    loss: str
    steps: int
    train_loss: float
    seconds: float
    prefixes: dict[str, str]
    matryoshka_dims: tuple[int, ...] | None
    before: dict[int, EvalResult] = field(default_factory=dict, repr=False)
    after: dict[int, EvalResult] = field(default_factory=dict, repr=False)

    @property
    def model_string(self) -> str:
        """What to pass to `Embedder` to use the fine-tuned model."""
        return f"local:{self.output_dir}"

    def comparison(self, metric: str = "ndcg@10") -> list[dict[str, float]]:
        """Rows of ``{dimension, before, after, delta}`` for ``metric``, largest size first."""
        return [
            {"dimension": dim, "before": self.before[dim].mean[metric],
             "after": self.after[dim].mean[metric],
             "delta": self.after[dim].mean[metric] - self.before[dim].mean[metric]}
            for dim in sorted(self.after, reverse=True) if dim in self.before
        ]

    def report(self, metric: str = "ndcg@10") -> str:
        """A Markdown table of ``metric`` before and after training, per vector size."""
        rows = self.comparison(metric)
        if not rows:
            return "(no evaluation set given)"
        lines = [f"| dimensions | {metric} before | {metric} after | change |",
                 "| --- | --- | --- | --- |"]
        lines += [f"| {r['dimension']} | {r['before']:.4f} | {r['after']:.4f} | "
                  f"{r['delta']:+.4f} |" for r in rows]
        return "\n".join(lines)


def finetune(
    base_model: str | None,
    train: TrainSource,
    output_dir: str | Path,
    *,
    loss: str = "mnrl",
    matryoshka_dims: Sequence[int] | None = None,
    epochs: float = 1.0,
    batch_size: int = 32,
    learning_rate: float = 2e-5,
    warmup_ratio: float = 0.1,
    max_steps: int | None = None,
    eval: EvalSource | None = None,  # noqa: A002 - the issue's name for the held-out set
    eval_metrics: Sequence[str] = EVAL_METRICS,
    save_checkpoints: bool = True,
    save_steps: int = 500,
    save_total_limit: int | None = 2,
    seed: int = 42,
    device: str | None = None,
    cache_dir: str | Path | None = None,
    resume_from_checkpoint: str | bool | None = None,
    show_progress: bool = True,
) -> FinetuneResult:
    """Fine-tune ``base_model`` on ``train`` and save it to ``output_dir``.

    Args:
        base_model: an embedkit model string for a local model (``None`` = the bundled
            all-MiniLM-L6-v2, a Hugging Face id, ``local:/path``). API models cannot be trained.
        train: pairs (TrainingPair or ``{"query", "positive", "negatives"}`` dicts) or a JSONL path.
        output_dir: where the model is saved; checkpoints go to ``<output_dir>/checkpoints``.
        loss: ``"mnrl"`` (in-batch + hard negatives), ``"contrastive"`` (CoSENT on labelled
            pairs; needs negatives) or ``"matryoshka"`` (MNRL at several vector sizes).
        matryoshka_dims: vector sizes to train; with ``"mnrl"``/``"contrastive"`` they wrap that
            loss in MatryoshkaLoss. Default for ``"matryoshka"``: full, 768/512/256/128/64 below.
        epochs: passes over the pairs (ignored when ``max_steps`` is set).
        batch_size: pairs per step; MNRL's in-batch negatives grow with it.
        learning_rate, warmup_ratio: optimizer schedule (AdamW, linear decay after warmup).
        max_steps: stop after this many steps (a quick run or a test).
        eval: held-out set (a RetrievalDataset, a BEIR folder or a JSON list of
            ``{query, relevant_docs, all_docs}``),
            evaluated before and after training at each trained vector size.
        eval_metrics: metrics for ``eval``.
        save_checkpoints: write resumable checkpoints (model + optimizer state) to
            ``<output_dir>/checkpoints`` every ``save_steps`` steps and at the end, keeping the
            newest ``save_total_limit``. The final model is saved either way.
        seed: for shuffling and initialization.
        device: torch device; None lets sentence-transformers choose.
        cache_dir: disk cache for the base model's vectors (evaluation, never the trained model).
        resume_from_checkpoint: a checkpoint folder, or True for the newest in ``checkpoints``.
        show_progress: progress bars for training and evaluation.

    Example:
        >>> result = finetune(None, "pairs.jsonl", "my-model", loss="matryoshka",
        ...                   eval="beir/msmarco")  # doctest: +SKIP
        >>> print(result.report())  # doctest: +SKIP
        >>> Embedder(result.model_string, dimensions=128)  # doctest: +SKIP
    """
    started = time.perf_counter()
    _check_arguments(loss, epochs, batch_size, max_steps, save_steps, warmup_ratio)
    pairs = _load_pairs(train)
    output = Path(output_dir).expanduser().resolve()
    base = _base_embedder(base_model, device, cache_dir, show_progress)
    model = _fresh_model(base, device)
    objective = build_objective(model, pairs, loss, prefixes=base.prefixes,
                                matryoshka_dims=matryoshka_dims)
    eval_set = load_eval_set(eval) if eval is not None else None
    sizes = objective.matryoshka_dims

    before = evaluate_embedder(base, eval_set, dimensions=sizes, metrics=eval_metrics) \
        if eval_set else {}
    trainer = _trainer(model, objective, output / CHECKPOINT_DIR, epochs=epochs,
                       batch_size=batch_size, learning_rate=learning_rate,
                       warmup_ratio=warmup_ratio, max_steps=max_steps,
                       save_steps=save_steps if save_checkpoints else None,
                       save_total_limit=save_total_limit, seed=seed, show_progress=show_progress)
    outcome = trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    _remove_if_empty(output / CHECKPOINT_DIR)  # the trainer creates it even when not saving
    save_model(model, output, base.prefixes)

    after = {}
    if eval_set:
        trained = Embedder(f"local:{output}", cache=False, device=device,
                           show_progress=show_progress)
        after = evaluate_embedder(trained, eval_set, dimensions=sizes, metrics=eval_metrics)
    return FinetuneResult(output, model, objective.name, int(outcome.global_step),
                          float(outcome.training_loss), time.perf_counter() - started,
                          dict(base.prefixes), sizes, before, after)


def save_model(model: Any, output_dir: Path, prefixes: Mapping[str, str]) -> None:
    """Save ``model`` with the prefixes as its saved prompts; forget any stale in-process copy.

    The engine resolves prefixes as explicit > catalog > saved prompts, so a fine-tuned copy of
    a catalog model keeps its prefixes through these prompts whatever its folder is called.
    """
    prompts = dict(getattr(model, "prompts", None) or {})
    prompts.update({role: prefix for role, prefix in prefixes.items() if prefix})
    model.prompts = prompts
    model.save(str(output_dir))
    _forget_loaded(output_dir)


def _trainer(model: Any, objective: Objective, checkpoints: Path, *, epochs: float,
             batch_size: int, learning_rate: float, warmup_ratio: float, max_steps: int | None,
             save_steps: int | None, save_total_limit: int | None, seed: int,
             show_progress: bool) -> Any:
    st = require("sentence_transformers", extra="finetune")
    require("accelerate", extra="finetune")  # the trainer needs it; say which extra brings it
    args = st.SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=epochs,
        max_steps=max_steps if max_steps is not None else -1,
        per_device_train_batch_size=batch_size,
        learning_rate=learning_rate,
        **_warmup(warmup_ratio),
        batch_sampler=objective.batch_sampler,
        prompts=objective.prompts or None,
        save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 500,
        save_total_limit=save_total_limit,
        logging_steps=max(1, min(50, save_steps or 50)),
        seed=seed,
        report_to="none",
        disable_tqdm=not show_progress,
        dataloader_pin_memory=False,  # pinning only helps a GPU and warns on CPU
    )
    return st.SentenceTransformerTrainer(model=model, args=args, train_dataset=objective.dataset,
                                         loss=objective.loss)


def _warmup(ratio: float) -> dict[str, float]:
    # Transformers 5 takes the ratio as a float warmup_steps and deprecates warmup_ratio;
    # Transformers 4 only knows warmup_ratio.
    import transformers

    if int(transformers.__version__.split(".")[0]) >= 5:
        return {"warmup_steps": float(ratio)}
    return {"warmup_ratio": float(ratio)}


def _base_embedder(base_model: str | None, device: str | None, cache_dir: str | Path | None,
                   show_progress: bool) -> Embedder:
    ref = parse_model_string(base_model)
    if ref.provider != "local":
        raise ValueError(f"cannot fine-tune {ref}: only local sentence-transformers models can "
                         "be trained (an API model's weights are not available)")
    return Embedder(base_model, device=device, cache_dir=cache_dir, show_progress=show_progress)


def _fresh_model(base: Embedder, device: str | None) -> Any:
    """A new copy of the base model's weights: the engine's loaded copy must stay untouched."""
    st = require("sentence_transformers", extra="finetune")
    provider = base.provider
    source = str(provider.path) if getattr(provider, "path", None) else provider.requested
    spec = getattr(provider, "spec", None)
    return st.SentenceTransformer(source, device=device,
                                  trust_remote_code=bool(spec and spec.trust_remote_code))


def _remove_if_empty(folder: Path) -> None:
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _forget_loaded(folder: Path) -> None:
    # The local provider caches loaded models per process by model string; a folder just
    # (re)written must be read again, not served from a copy loaded before training.
    for key in [k for k in local_provider._loaded if _same_folder(k[0], folder)]:
        del local_provider._loaded[key]


def _same_folder(model: str, folder: Path) -> bool:
    try:
        return Path(model).expanduser().resolve() == folder
    except (OSError, ValueError):
        return False


def _load_pairs(train: TrainSource) -> list[TrainingPair]:
    if isinstance(train, (str, Path)):
        pairs = read_pairs(train)
    else:
        pairs = as_pairs(train)
    if not pairs:
        raise ValueError("no training pairs: give at least one (query, positive) pair")
    return pairs


def _check_arguments(loss: str, epochs: float, batch_size: int, max_steps: int | None,
                     save_steps: int, warmup_ratio: float) -> None:
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
        raise ValueError(f"batch_size must be an int >= 2 (in-batch negatives need company), "
                         f"got {batch_size!r}")
    if not 0 <= warmup_ratio < 1:
        raise ValueError(f"warmup_ratio is a fraction of the steps in [0, 1), got {warmup_ratio!r}")
    if max_steps is None and not epochs > 0:
        raise ValueError(f"epochs must be > 0, got {epochs!r}")
    check_positive_int("max_steps", max_steps, optional=True)
    check_positive_int("save_steps", save_steps)
