"""``embedkit finetune`` through typer's runner: mining, training, evaluation, JSON summary."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from embedkit import Embedder
from embedkit.cli.app import build_app
from embedkit.evaluate import from_simple_list
from embedkit.finetune import read_pairs, write_pairs

from .test_finetune_training import PAIRS, TOPICS

runner = CliRunner()


def test_finetune_command_mines_trains_and_reports(tmp_path):
    pairs_path = write_pairs([pair.with_negatives([]) for pair in PAIRS], tmp_path / "pairs.jsonl")
    eval_path = tmp_path / "eval.json"
    eval_path.write_text(json.dumps([
        {"query": "forgot my password", "relevant_docs": [TOPICS[0][1]],
         "all_docs": [d for _, d in TOPICS]},
        {"query": "when do I get billed", "relevant_docs": [TOPICS[1][1]],
         "all_docs": [d for _, d in TOPICS]},
    ]))
    out, mined, summary = tmp_path / "model", tmp_path / "mined.jsonl", tmp_path / "report.json"
    result = runner.invoke(build_app(), [
        "finetune", str(pairs_path), "-o", str(out), "--loss", "contrastive",
        "--matryoshka-dims", "384,64", "--max-steps", "2", "--batch-size", "4",
        "--mine-negatives", "1", "--save-pairs", str(mined), "--eval", str(eval_path),
        "--no-checkpoints", "--cache-dir", str(tmp_path / "cache"), "--report", str(summary)])
    assert result.exit_code == 0, result.output
    assert "trained contrastive for 2 steps" in result.output
    assert "| 64 |" in result.output and "| 384 |" in result.output
    trained_pairs = read_pairs(mined)
    assert all(len(p.negatives) == 1 and p.negatives[0] != p.positive for p in trained_pairs)
    report = json.loads(summary.read_text())
    assert report["steps"] == 2 and report["matryoshka_dims"] == [384, 64]
    assert set(report["after"]) == {"384", "64"}
    # The "after" figures are the saved model's, evaluated again here from scratch.
    from embedkit.finetune.evaluation import evaluate_embedder

    dataset = from_simple_list(json.loads(eval_path.read_text()))
    again = evaluate_embedder(Embedder(f"local:{out}", cache=False), dataset, dimensions=(64,))
    assert again[64].mean == report["after"]["64"]
    assert np.isfinite(report["train_loss"])


def test_finetune_command_names_bad_input(tmp_path):
    pairs_path = write_pairs(PAIRS, tmp_path / "pairs.jsonl")
    result = runner.invoke(build_app(), ["finetune", str(pairs_path), "-o", str(tmp_path / "m"),
                                         "--matryoshka-dims", "384,abc"])
    assert result.exit_code != 0
    assert "comma-separated integers" in result.output
    result = runner.invoke(build_app(), ["finetune", str(pairs_path), "-o", str(tmp_path / "m"),
                                         "--loss", "triplet"])
    assert result.exit_code != 0 and "unknown loss 'triplet'" in result.output
