"""Fine-tuning on msmarco-5k: nDCG@10 on held-out queries before and after one short CPU run.

    PYTHONPATH=shared .venv/bin/python benchmarks/finetune.py --steps 60 --batch-size 32

Design (the data set has 5,000 passages and only 43 judged queries):

- Held out: all 43 judged queries. None of them, and none of their judgments, is used for
  training, so every figure is on queries the training never saw.
- Training pairs come from the corpus passages alone, with a deterministic non-LLM generator:
  the inverse cloze task (Lee et al., 2019). One sentence of a passage, cut to its content
  words (stopwords dropped, at most 12 words) so it reads like a keyword query, is the query;
  the passage without that sentence is the positive (the sentence is left in 10% of the time,
  as in the paper). This is the guide's scenario (queries generated from your own documents)
  with a rule instead of an LLM; the model sees corpus text, never a test query.
- Runs: MNRL (in-batch negatives, no-duplicates sampler) and Matryoshka-MNRL at 384/256/128/64,
  same pairs, same steps. Every model is evaluated at every size by truncating its vectors, so
  the Matryoshka model is compared with the untrained model truncated to the same size and with
  the MNRL model truncated the same way.

all-MiniLM-L6-v2 was itself trained on MS MARCO pairs, so a large gain at full size is not
expected; the figures say what a short run does, not what a long GPU run would.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _data import msmarco_dir  # noqa: E402

from embedkit import Embedder  # noqa: E402
import numpy as np  # noqa: E402

from embedkit.evaluate import EvalResult, RetrievalDataset, load_beir  # noqa: E402
from embedkit.finetune import TrainingPair, finetune  # noqa: E402
from embedkit.finetune.evaluation import evaluate_embedder  # noqa: E402

DIMS = (384, 256, 128, 64)
METRIC = "ndcg@10"
BOOTSTRAP = 2000
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
_STOPWORDS = frozenset("""a an and are as at be been being but by for from had has have he her
his i if in into is it its of on or our she so such that the their them then there these they
this those to was we were which while who will with would you your can could may might also
not no do does did""".split())


def ict_pairs(corpus: dict[str, str], count: int, seed: int) -> list[TrainingPair]:
    """Inverse-cloze pairs from passages with at least two sentences, one per passage."""
    rng = random.Random(seed)
    ids = sorted(corpus)
    rng.shuffle(ids)
    pairs = []
    for doc_id in ids:
        sentences = [s for s in _SENTENCE_END.split(corpus[doc_id].strip()) if s.strip()]
        if len(sentences) < 2:
            continue
        index = rng.randrange(len(sentences))
        query = keyword_query(sentences[index])
        if len(query.split()) < 3:
            continue
        kept = sentences if rng.random() < 0.1 else sentences[:index] + sentences[index + 1:]
        pairs.append(TrainingPair(query, " ".join(kept)))
        if len(pairs) == count:
            break
    return pairs


def keyword_query(sentence: str, max_words: int = 12) -> str:
    words = [w for w in _WORD.findall(sentence) if w.lower() not in _STOPWORDS]
    return " ".join(words[:max_words]).lower()


def paired_change(after: EvalResult, before: EvalResult, seed: int) -> dict[str, float]:
    """Mean per-query change in nDCG@10 with a 95% paired-bootstrap interval (43 queries are
    few: a change inside the interval's span is noise)."""
    queries = sorted(before.per_query)
    diffs = np.array([after.per_query[q][METRIC] - before.per_query[q][METRIC] for q in queries])
    resamples = np.random.default_rng(seed).integers(0, len(diffs), (BOOTSTRAP, len(diffs)))
    low, high = np.percentile(diffs[resamples].mean(axis=1), [2.5, 97.5])
    return {"mean": float(diffs.mean()), "ci_low": float(low), "ci_high": float(high)}


def table(results: dict[str, dict[int, EvalResult]], seed: int) -> str:
    names = list(results)
    lines = ["| dimensions | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for dim in DIMS:
        cells = [f"{results[names[0]][dim].mean[METRIC]:.4f}"]
        for name in names[1:]:
            change = paired_change(results[name][dim], results[names[0]][dim], seed)
            cells.append(f"{results[name][dim].mean[METRIC]:.4f} ({change['mean']:+.4f}, 95% CI "
                         f"{change['ci_low']:+.3f}..{change['ci_high']:+.3f})")
        lines.append(f"| {dim} | " + " | ".join(cells) + " |")
    return f"{METRIC} on held-out queries (change vs untrained at the same size)\n" + \
        "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="training steps per run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="embedkit cache for the base model's vectors (default: the usual)")
    parser.add_argument("--data", type=Path, default=None,
                        help="BEIR folder (default ../shared/data/msmarco-5k)")
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args()

    data = load_beir(args.data or msmarco_dir())
    held_out = RetrievalDataset(data.corpus, {q: data.queries[q] for q in data.judged_queries},
                                data.qrels)
    pairs = ict_pairs(data.corpus, args.steps * args.batch_size, args.seed)
    print(f"{len(held_out.judged_queries)} held-out queries, {len(data.corpus)} passages, "
          f"{len(pairs)} inverse-cloze training pairs; e.g. {pairs[0].query!r}", file=sys.stderr)

    started = time.perf_counter()
    base = evaluate_embedder(Embedder(cache_dir=args.cache_dir, show_progress=True), held_out,
                             dimensions=DIMS)
    results = {"untrained": base}
    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, loss in (("MNRL", "mnrl"), ("Matryoshka-MNRL", "matryoshka")):
            run_started = time.perf_counter()
            result = finetune(None, pairs, Path(tmp) / loss, loss=loss,
                              matryoshka_dims=DIMS if loss == "matryoshka" else None,
                              batch_size=args.batch_size, max_steps=args.steps,
                              learning_rate=args.learning_rate, seed=args.seed,
                              save_checkpoints=False, cache_dir=args.cache_dir)
            timings[name] = {"train_seconds": round(time.perf_counter() - run_started, 1),
                             "train_loss": round(result.train_loss, 4), "steps": result.steps}
            trained = evaluate_embedder(Embedder(result.model_string, cache=False,
                                                 show_progress=True), held_out, dimensions=DIMS)
            results[name] = trained
    print(table(results, args.seed))
    for dim in DIMS:
        change = paired_change(results["Matryoshka-MNRL"][dim], results["MNRL"][dim], args.seed)
        print(f"Matryoshka-MNRL vs MNRL at {dim}: {change['mean']:+.4f} "
              f"(95% CI {change['ci_low']:+.3f}..{change['ci_high']:+.3f})")
    print(json.dumps(timings), f"total {time.perf_counter() - started:.0f} s")
    if args.output:
        figures = {name: {dim: r.mean for dim, r in by_dim.items()}
                   for name, by_dim in results.items()}
        args.output.write_text(json.dumps({"mean": figures, "runs": timings,
                                           "args": {k: str(v) for k, v in vars(args).items()}},
                                          indent=2) + "\n")


if __name__ == "__main__":
    main()
