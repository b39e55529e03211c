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
from embedkit.evaluate import RetrievalDataset, load_beir  # noqa: E402
from embedkit.finetune import TrainingPair, finetune  # noqa: E402
from embedkit.finetune.evaluation import evaluate_embedder  # noqa: E402

DIMS = (384, 256, 128, 64)
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


def table(rows: dict[str, dict[int, float]], metric: str) -> str:
    header = "| dimensions | " + " | ".join(rows) + " |"
    lines = [header, "| --- |" + " --- |" * len(rows)]
    for dim in DIMS:
        lines.append(f"| {dim} | " + " | ".join(f"{rows[name][dim]:.4f}" for name in rows) + " |")
    return f"{metric} on held-out queries\n" + "\n".join(lines)


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
    ndcg = {"untrained": {d: r.mean["ndcg@10"] for d, r in base.items()}}
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
            ndcg[name] = {d: r.mean["ndcg@10"] for d, r in trained.items()}
    print(table(ndcg, "nDCG@10"))
    print(json.dumps(timings), f"total {time.perf_counter() - started:.0f} s")
    if args.output:
        args.output.write_text(json.dumps({"ndcg@10": ndcg, "runs": timings,
                                           "args": {k: str(v) for k, v in vars(args).items()}},
                                          indent=2) + "\n")


if __name__ == "__main__":
    main()
