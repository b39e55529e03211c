"""`compare`: models x modes x glossary on one data set, with the real bundled model and cache."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit import Embedder
from embedkit.evaluate import (
    RetrievalDataset,
    compare,
    evaluate_run,
    from_simple_list,
    parse_modes,
)
from embedkit.evaluate.compare import Mode

CORPUS = {
    "e4031": "Error NMB-4031 means the firmware signature check failed; download the image again.",
    "e4301": "Error NMB-4301 appears when a gateway is claimed twice in the console.",
    "pw": "To reset your password, open Settings > Security and send a reset link.",
    "rma": "Broken power supplies are replaced through a return merchandise authorization.",
    "sla": "The service level agreement promises 99.95% monthly uptime for the console.",
    "vpn": "Remote staff connect through the IPsec tunnel; rekey jitter avoids storms.",
    "bill": "Invoices are issued on the first business day of every month.",
    "fan": "A failing chassis fan raises alarm E1127 on the front panel.",
}
QUERIES = {"q1": "NMB-4031", "q2": "I forgot my login credentials", "q3": "RMA for a PSU",
           "q4": "uptime promised in the SLA", "q5": "E1127 on the front panel",
           "q6": "NMB-4301"}
QRELS = {"q1": {"e4031": 3, "e4301": 1}, "q2": {"pw": 3}, "q3": {"rma": 3},
         "q4": {"sla": 3}, "q5": {"fan": 3}, "q6": {"e4301": 3}}
GLOSSARY = {"RMA": "return merchandise authorization", "PSU": "power supply unit",
            "SLA": "service level agreement"}


@pytest.fixture
def dataset() -> RetrievalDataset:
    return RetrievalDataset(dict(CORPUS), dict(QUERIES), {q: dict(g) for q, g in QRELS.items()})


def test_every_mode_with_and_without_glossary_is_a_row(dataset, cache_dir):
    table = compare(dataset, modes="dense,bm25,hybrid", glossary=GLOSSARY, cache_dir=cache_dir)
    labels = [(r.mode, r.glossary) for r in table.runs]
    modes = ["dense", "bm25", "hybrid-rrf", "hybrid-weighted@0.5", "hybrid-auto"]
    assert labels == [(m, False) for m in modes] + [(m, True) for m in modes]
    assert all(r.result.n_queries == len(QRELS) for r in table.runs)
    assert table.get("bm25").model == "-"  # BM25 uses no embedding model
    assert table.get("dense").model.endswith("all-MiniLM-L6-v2")
    row = table.rows()[0]
    assert set(table.metrics) <= set(row) and 0.0 <= row["ndcg@10"] <= 1.0


def test_each_model_config_is_embedded_once_and_a_rerun_is_all_cache_hits(dataset, cache_dir):
    first = compare(dataset, modes="dense,hybrid", glossary=GLOSSARY, cache_dir=cache_dir)
    # Four dense-using modes per glossary setting, but one corpus embedding each.
    assert [(e["glossary"], e["misses"], e["hits"]) for e in first.embedding] == [
        (False, len(CORPUS), 0), (True, len(CORPUS), 0)]
    again = compare(dataset, modes="dense,hybrid", glossary=GLOSSARY, cache_dir=cache_dir)
    assert [(e["misses"], e["hits"]) for e in again.embedding] == [(0, len(CORPUS))] * 2
    assert [r.result.mean for r in again.runs] == [r.result.mean for r in first.runs]


def test_dense_run_matches_brute_force_cosine_ranking(dataset, cache_dir):
    table = compare(dataset, modes="dense", cache_dir=cache_dir)
    embedder = Embedder(cache_dir=cache_dir)
    ids = list(CORPUS)
    docs = embedder.embed_documents([CORPUS[i] for i in ids])
    run = {}
    for qid, text in QUERIES.items():
        scores = docs @ embedder.embed_query(text)
        run[qid] = [ids[i] for i in np.argsort(-scores, kind="stable")]
    expected = evaluate_run(run, QRELS)
    assert table.get("dense").result.per_query == expected.per_query


def test_weighted_alpha_reaches_the_index(dataset, cache_dir):
    table = compare(dataset, modes="dense,hybrid-weighted@1,hybrid-weighted@0",
                    cache_dir=cache_dir)
    dense = table.get("dense").result.per_query
    # alpha = 1 is dense alone; alpha = 0 puts BM25's exact code match first, which the
    # bundled model ranks second ("NMB-4301" vs "NMB-4031").
    assert table.get("hybrid-weighted@1").result.per_query == dense
    assert dense["q6"]["mrr@10"] == 0.5
    assert table.get("hybrid-weighted@0").result.per_query["q6"]["mrr@10"] == 1.0


def test_glossary_lets_bm25_match_an_acronym_to_its_spelled_out_form(dataset, cache_dir):
    table = compare(dataset, modes="bm25", glossary=GLOSSARY, cache_dir=cache_dir)
    # "RMA for a PSU" shares no word with "return merchandise authorization" text.
    assert table.get("bm25").result.per_query["q3"]["ndcg@10"] == 0.0
    assert table.get("bm25", glossary=True).result.per_query["q3"]["ndcg@10"] == 1.0


def test_per_query_pools_are_honoured(cache_dir):
    # The decoy repeats query 1 word for word but sits only in query 2's pool.
    items = [
        {"query": "how do I reset my password",
         "relevant_docs": ["Security settings let you send yourself a new sign-in link."],
         "all_docs": ["Security settings let you send yourself a new sign-in link.",
                      "Invoices are issued monthly."]},
        {"query": "what does the pro plan cost",
         "relevant_docs": ["The pro plan costs 20 dollars a month."],
         "all_docs": ["The pro plan costs 20 dollars a month.", "how do I reset my password"]},
    ]
    pooled = from_simple_list(items)
    table = compare(pooled, modes="dense,bm25,hybrid", cache_dir=cache_dir)
    assert all(run.result["mrr@10"] == 1.0 for run in table.runs if run.mode != "bm25")
    whole_corpus = RetrievalDataset(pooled.corpus, pooled.queries, pooled.qrels)
    unpooled = compare(whole_corpus, modes="dense", cache_dir=cache_dir)
    assert unpooled.get("dense").result["mrr@10"] < 1.0  # the decoy wins without pools


def test_json_round_trip(dataset, cache_dir, tmp_path):
    import json

    table = compare(dataset, modes="bm25", cache_dir=cache_dir)
    data = json.loads(table.write_json(tmp_path / "out" / "bench.json").read_text())
    assert data["runs"][0]["mode"] == "bm25"
    assert data["runs"][0]["result"]["per_query"].keys() == QRELS.keys()
    assert data["embedding"] == []  # BM25 alone embeds nothing


def test_parse_modes_aliases_and_weights():
    assert parse_modes("dense, hybrid") == [
        Mode("dense"), Mode("hybrid-rrf"), Mode("hybrid-weighted"), Mode("hybrid-auto")]
    assert parse_modes(["weighted@0.7", "rrf@0.25"]) == [
        Mode("hybrid-weighted", 0.7), Mode("hybrid-rrf", 0.25)]
    assert parse_modes("bm25,bm25") == [Mode("bm25")]


@pytest.mark.parametrize("modes, message", [
    ("dense,sparse", "unknown mode 'sparse'"),
    ("hybrid-weighted@1.5", "alpha must be in [0, 1]"),
    ("dense@0.5", "only hybrid-rrf and hybrid-weighted take @alpha"),
    ("weighted@x", "'x' after '@' is not a number"),
    (" , ", "no retrieval mode given"),
])
def test_bad_modes_are_named(modes, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_modes(modes)


def test_glossary_runs_without_a_glossary_are_refused(dataset):
    with pytest.raises(ValueError, match="none was given"):
        compare(dataset, modes="bm25", glossary_variants=[True])


def test_dataset_without_judgments_is_refused():
    empty = RetrievalDataset({"d": "text"}, {"q": "query"}, {"q": {"d": 0}})
    with pytest.raises(ValueError, match="no query with a relevant"):
        compare(empty, modes="bm25")


def test_two_models_share_one_bm25_run(dataset, cache_dir, prompt_model_dir):
    table = compare(dataset, models=[None, f"local:{prompt_model_dir}"], modes="dense,bm25",
                    cache_dir=cache_dir)
    assert [(r.model.split("/")[-1], r.mode) for r in table.runs] == [
        ("all-MiniLM-L6-v2", "dense"), ("-", "bm25"), ("prompted-minilm", "dense")]
    assert [e["misses"] for e in table.embedding] == [len(CORPUS), len(CORPUS)]
    # Same weights, different saved prompts: different vectors, so the runs can differ.
    assert table.embedding[0]["fingerprint"] != table.embedding[1]["fingerprint"]
