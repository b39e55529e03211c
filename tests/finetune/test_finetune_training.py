"""Each loss trains for a few steps on tiny data; the saved model reloads through `Embedder`.

Three short runs (module-scoped) carry most assertions: MNRL with hard negatives on a prefixed
model with checkpoints and evaluation, contrastive from a JSONL file, Matryoshka with evaluation
at each trained size.
"""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest

from embedkit import Embedder
from embedkit.evaluate import RetrievalDataset
from embedkit.finetune import TrainingPair, finetune, save_model, write_pairs
from embedkit.finetune.evaluation import evaluate_embedder, truncate
from embedkit.finetune.objectives import build_objective

TOPICS = [
    ("How do I reset my password?", "Open Settings, choose Security and click Reset password."),
    ("When are invoices sent?", "Invoices are emailed on the first day of every month."),
    ("Can I get a refund?", "Annual plans are refunded pro rata for the unused months."),
    ("What are the office hours?", "The office is open nine to five on weekdays."),
    ("How do I add a teammate?", "Admins invite teammates from the Members page by email."),
    ("Is my data encrypted?", "All data is encrypted at rest with AES-256 and in transit."),
    ("How do I export reports?", "Reports export to CSV or PDF from the Reports menu."),
    ("Which browsers are supported?", "We support the latest Chrome, Firefox, Safari and Edge."),
]
PAIRS = [TrainingPair(q, d, (TOPICS[(i + 1) % len(TOPICS)][1],))
         for i, (q, d) in enumerate(TOPICS)]
EVAL = RetrievalDataset(
    corpus={f"d{i}": d for i, (_, d) in enumerate(TOPICS)},
    queries={"q0": "forgot my password", "q1": "billing date", "q5": "security of stored data"},
    qrels={"q0": {"d0": 1}, "q1": {"d1": 1}, "q5": {"d5": 1}},
)
QUICK = {"max_steps": 2, "batch_size": 4, "show_progress": False}


@pytest.fixture(scope="module")
def mnrl_run(prompt_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("mnrl") / "model"
    return finetune(f"local:{prompt_model_dir}", PAIRS, out, loss="mnrl", eval=EVAL,
                    save_steps=2, save_total_limit=1, cache_dir=out.parent / "cache", **QUICK)


@pytest.fixture(scope="module")
def contrastive_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("contrastive")
    path = write_pairs(PAIRS, root / "pairs.jsonl")
    return finetune(None, path, root / "model", loss="contrastive", save_checkpoints=False,
                    **QUICK)


@pytest.fixture(scope="module")
def matryoshka_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("matryoshka") / "model"
    return finetune("sentence-transformers/all-MiniLM-L6-v2", PAIRS, out, loss="matryoshka",
                    matryoshka_dims=(384, 128, 64), eval=EVAL, save_checkpoints=False,
                    cache_dir=out.parent / "cache", **QUICK)


RUNS = ["mnrl_run", "contrastive_run", "matryoshka_run"]


@pytest.mark.parametrize("run_name", RUNS)
def test_each_loss_trains_the_requested_steps(run_name, request):
    run = request.getfixturevalue(run_name)
    assert run.loss == run_name.removesuffix("_run")
    assert run.steps == 2
    assert math.isfinite(run.train_loss) and run.train_loss > 0
    assert (run.output_dir / "modules.json").is_file()


@pytest.mark.parametrize("run_name", RUNS)
def test_saved_model_reloads_with_identical_vectors(run_name, request):
    run = request.getfixturevalue(run_name)
    reloaded = Embedder(run.model_string, cache=False)
    documents = [d for _, d in TOPICS]
    queries = [q for q, _ in TOPICS]
    expected_docs = run.model.encode(documents, prompt=run.prefixes["document"],
                                     normalize_embeddings=True)
    expected_queries = run.model.encode(queries, prompt=run.prefixes["query"],
                                        normalize_embeddings=True)
    np.testing.assert_allclose(reloaded.embed_documents(documents), expected_docs, atol=2e-6)
    np.testing.assert_allclose(reloaded.embed_queries(queries), expected_queries, atol=2e-6)


@pytest.mark.parametrize("run_name", RUNS)
def test_training_changed_the_weights_and_the_fingerprint(run_name, request):
    run = request.getfixturevalue(run_name)
    base = Embedder(None, cache=False, query_prefix=run.prefixes["query"] or None,
                    document_prefix=run.prefixes["document"] or None)
    trained = Embedder(run.model_string, cache=False)
    texts = [d for _, d in TOPICS]
    assert np.abs(trained.embed_documents(texts) - base.embed_documents(texts)).max() > 1e-4
    assert trained.fingerprint != base.fingerprint


def test_base_model_prefixes_are_saved_as_prompts(mnrl_run, prompt_model_dir):
    assert mnrl_run.prefixes == {"query": "query: ", "document": "passage: "}
    config = json.loads((mnrl_run.output_dir / "config_sentence_transformers.json").read_text())
    assert config["prompts"]["query"] == "query: "
    assert config["prompts"]["document"] == "passage: "
    reloaded = Embedder(mnrl_run.model_string, cache=False)
    assert reloaded.prefixes == {"query": "query: ", "document": "passage: "}
    # The prefix really reaches the model: a query and the same text as a document differ.
    assert not np.allclose(reloaded.embed_query("billing"), reloaded.embed_documents(["billing"])[0])


def test_training_columns_get_the_role_prefixes(mnrl_run):
    objective = build_objective(mnrl_run.model, PAIRS, "mnrl", prefixes=mnrl_run.prefixes)
    assert objective.dataset.column_names == ["anchor", "positive", "negative_1"]
    assert objective.prompts == {"anchor": "query: ", "positive": "passage: ",
                                 "negative_1": "passage: "}
    assert objective.batch_sampler == "no_duplicates"
    contrastive = build_objective(mnrl_run.model, PAIRS, "contrastive",
                                  prefixes={"query": "q: ", "document": ""})
    assert contrastive.prompts == {"query": "q: "}
    assert contrastive.dataset.column_names == ["query", "document", "score"]
    assert contrastive.dataset["score"][:2] == [1.0, 0.0]
    assert type(contrastive.loss).__name__ == "CoSENTLoss"


def test_mixed_negative_counts_train_on_the_fewest(mnrl_run, caplog):
    pairs = [PAIRS[0].with_negatives(["a", "b"]), PAIRS[1]]
    with caplog.at_level(logging.WARNING, logger="embedkit.finetune"):
        objective = build_objective(mnrl_run.model, pairs, "mnrl", prefixes=mnrl_run.prefixes)
    assert objective.dataset.column_names == ["anchor", "positive", "negative_1"]
    assert "training uses 1 per pair" in caplog.text


def test_checkpoints_are_written_only_when_asked(mnrl_run, contrastive_run):
    checkpoints = sorted(p.name for p in (mnrl_run.output_dir / "checkpoints").iterdir())
    assert checkpoints == ["checkpoint-2"]
    assert (mnrl_run.output_dir / "checkpoints" / "checkpoint-2" / "modules.json").is_file()
    assert not (contrastive_run.output_dir / "checkpoints").exists()


def test_evaluation_before_and_after_matches_the_embedders(mnrl_run, prompt_model_dir):
    assert set(mnrl_run.before) == set(mnrl_run.after) == {384}
    base = evaluate_embedder(Embedder(f"local:{prompt_model_dir}", cache=False), EVAL)
    assert base[384].mean == mnrl_run.before[384].mean
    trained = evaluate_embedder(Embedder(mnrl_run.model_string, cache=False), EVAL)
    assert trained[384].mean == mnrl_run.after[384].mean
    row = mnrl_run.comparison("ndcg@10")[0]
    assert row["dimension"] == 384
    assert row["delta"] == pytest.approx(row["after"] - row["before"])
    assert "| 384 |" in mnrl_run.report()


def test_matryoshka_evaluates_every_trained_size(matryoshka_run):
    assert matryoshka_run.matryoshka_dims == (384, 128, 64)
    assert set(matryoshka_run.before) == set(matryoshka_run.after) == {384, 128, 64}
    untrained = evaluate_embedder(Embedder(cache=False), EVAL, dimensions=(128, 64))
    assert {d: r.mean for d, r in untrained.items()} == \
        {d: r.mean for d, r in matryoshka_run.before.items()}
    assert [r["dimension"] for r in matryoshka_run.comparison()] == [384, 128, 64]


def test_truncated_evaluation_vectors_equal_embedder_dimensions(matryoshka_run):
    texts = [d for _, d in TOPICS]
    full = Embedder(matryoshka_run.model_string, cache=False).embed_documents(texts)
    small = Embedder(matryoshka_run.model_string, dimensions=64, cache=False)
    np.testing.assert_allclose(truncate(full, 64), small.embed_documents(texts), atol=2e-6)


def test_resaving_into_a_loaded_folder_serves_the_new_weights(mnrl_run, contrastive_run,
                                                               tmp_path):
    out = tmp_path / "model"
    save_model(mnrl_run.model, out, mnrl_run.prefixes)
    first = Embedder(f"local:{out}", cache=False).embed_documents(["billing"])
    save_model(contrastive_run.model, out, contrastive_run.prefixes)
    second = Embedder(f"local:{out}", cache=False).embed_documents(["billing"])
    expected = contrastive_run.model.encode(["billing"], normalize_embeddings=True)
    assert not np.allclose(first, second)
    np.testing.assert_allclose(second, expected, atol=2e-6)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"loss": "triplet"}, "unknown loss 'triplet'"),
    ({"batch_size": 1}, "batch_size must be an int >= 2"),
    ({"max_steps": 0}, "max_steps must be a positive int"),
    ({"warmup_ratio": 1.5}, "warmup_ratio"),
    ({"loss": "matryoshka", "matryoshka_dims": (512, 64)}, "matryoshka dimension 512"),
])
def test_bad_arguments_are_named(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        finetune(None, PAIRS, tmp_path / "m", show_progress=False, **kwargs)


def test_api_models_cannot_be_trained(tmp_path):
    with pytest.raises(ValueError, match="cannot fine-tune openai:text-embedding-3-small"):
        finetune("openai:text-embedding-3-small", PAIRS, tmp_path / "m", show_progress=False)


def test_contrastive_without_negatives_says_how_to_get_them(tmp_path):
    pairs = [TrainingPair(q, d) for q, d in TOPICS]
    with pytest.raises(ValueError, match="mine_hard_negatives"):
        finetune(None, pairs, tmp_path / "m", loss="contrastive", show_progress=False)
