"""What training optimizes: the loss, the dataset columns it reads, and how batches are drawn.

- ``"mnrl"``: MultipleNegativesRankingLoss. Each query must rank its own document above every
  other document in the batch (in-batch negatives) and above its mined hard negatives, if any.
  Batches come from the no-duplicates sampler: a text repeated inside a batch would be a false
  in-batch negative for its own query.
- ``"contrastive"``: CoSENTLoss on labelled pairs, (query, positive, 1.0) and (query, negative,
  0.0). Chosen over CosineSimilarityLoss (the embedding guide's choice) and over
  (Online)ContrastiveLoss because it only asks that positive pairs score above negative pairs;
  it sets no absolute target (cosine 1 for positives, 0 or a margin for negatives), which for
  short queries against long passages would bend the pretrained geometry, and it has no margin
  to tune. It also accepts graded labels, and sentence-transformers reports faster convergence
  than CosineSimilarityLoss.
- ``"matryoshka"``: MNRL inside MatryoshkaLoss, so the first 256, 128, 64... values of each
  vector are a good embedding too. ``matryoshka_dims`` with ``"contrastive"`` wraps CoSENT.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..extras import require
from .pairs import TrainingPair

logger = logging.getLogger("embedkit.finetune")

LOSSES = ("mnrl", "contrastive", "matryoshka")
_STANDARD_DIMS = (768, 512, 256, 128, 64)


@dataclass
class Objective:
    """A dataset, the loss that reads it, and the trainer settings they need."""

    name: str
    dataset: Any            # datasets.Dataset
    loss: Any               # torch.nn.Module
    batch_sampler: str      # a sentence-transformers BatchSamplers value
    prompts: dict[str, str]  # column -> prefix the model sees in training
    matryoshka_dims: tuple[int, ...] | None


def build_objective(model: Any, pairs: Sequence[TrainingPair], loss: str, *,
                    prefixes: dict[str, str],
                    matryoshka_dims: Sequence[int] | None = None) -> Objective:
    """The training objective for ``loss`` on ``pairs``; prompts carry the model's prefixes."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
    if not pairs:
        raise ValueError("no training pairs: give at least one (query, positive) pair")
    dimension = _dimension(model)
    dims = check_matryoshka_dims(matryoshka_dims, dimension) if matryoshka_dims else None
    if loss == "matryoshka" and dims is None:
        dims = default_matryoshka_dims(dimension)
    losses = _losses_module()
    if loss == "contrastive":
        dataset, columns = _labelled_dataset(pairs), {"query": "query", "document": "document"}
        base_loss, sampler = losses.CoSENTLoss(model), "batch_sampler"
    else:
        dataset, columns = _ranking_dataset(pairs)
        base_loss, sampler = losses.MultipleNegativesRankingLoss(model), "no_duplicates"
    wrapped = losses.MatryoshkaLoss(model, base_loss, matryoshka_dims=list(dims)) if dims \
        else base_loss
    return Objective(loss, dataset, wrapped, sampler, _prompts(columns, prefixes), dims)


def default_matryoshka_dims(dimension: int) -> tuple[int, ...]:
    """The full size, then the usual 768/512/256/128/64 below it (384 -> 384, 256, 128, 64)."""
    return (dimension, *(d for d in _STANDARD_DIMS if d < dimension))


def check_matryoshka_dims(dims: Sequence[int], dimension: int) -> tuple[int, ...]:
    """Distinct dimensions, largest first; each a positive int no larger than the model's."""
    if isinstance(dims, (str, bytes)) or not isinstance(dims, Sequence):
        raise TypeError(f"matryoshka_dims must be a sequence of ints, got {dims!r}")
    for dim in dims:
        if isinstance(dim, bool) or not isinstance(dim, int) or not 0 < dim <= dimension:
            raise ValueError(f"matryoshka dimension {dim!r} must be an int in 1..{dimension} "
                             "(the model's embedding size)")
    return tuple(sorted(set(dims), reverse=True))


def _ranking_dataset(pairs: Sequence[TrainingPair]) -> tuple[Any, dict[str, str]]:
    """(anchor, positive, negative_1..k) with k the fewest negatives any pair has."""
    counts = [len(pair.negatives) for pair in pairs]
    k = min(counts)
    if k < max(counts):
        logger.warning("pairs have %d to %d hard negatives; training uses %d per pair (the "
                       "fewest any pair has) so that every row has the same columns",
                       k, max(counts), k)
    columns: dict[str, list[str]] = {
        "anchor": [pair.query for pair in pairs],
        "positive": [pair.positive for pair in pairs],
    }
    for i in range(k):
        columns[f"negative_{i + 1}"] = [pair.negatives[i] for pair in pairs]
    roles = {name: "query" if name == "anchor" else "document" for name in columns}
    return _dataset(columns), roles


def _labelled_dataset(pairs: Sequence[TrainingPair]) -> Any:
    """(query, document, score): 1.0 for each positive, 0.0 for each negative, interleaved."""
    if not any(pair.negatives for pair in pairs):
        raise ValueError("the contrastive loss needs labelled negatives and no pair has one: "
                         "add 'negatives' to the pairs or mine them with mine_hard_negatives()")
    rows: dict[str, list[Any]] = {"query": [], "document": [], "score": []}
    for pair in pairs:
        for document, score in ((pair.positive, 1.0), *((n, 0.0) for n in pair.negatives)):
            rows["query"].append(pair.query)
            rows["document"].append(document)
            rows["score"].append(score)
    return _dataset(rows)


def _prompts(columns: dict[str, str], prefixes: dict[str, str]) -> dict[str, str]:
    """Column -> prefix, for the roles whose prefix is set (an empty prompt is no prompt)."""
    return {column: prefixes[role] for column, role in columns.items() if prefixes.get(role)}


def _dataset(columns: dict[str, list[Any]]) -> Any:
    datasets = require("datasets", extra="finetune")
    return datasets.Dataset.from_dict(columns)


def _losses_module() -> Any:
    require("sentence_transformers", extra="finetune")
    try:  # sentence-transformers >= 6 moved the losses; older releases only have the old path
        from sentence_transformers.sentence_transformer import losses
    except ImportError:
        from sentence_transformers import losses
    return losses


def _dimension(model: Any) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or \
        model.get_sentence_embedding_dimension
    return int(getter())
