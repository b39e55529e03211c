"""`estimate_cost` and the guide's cost table (section 7) for every catalog model, and the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from embedkit.catalog import CATALOG
from embedkit.cli.app import build_app
from embedkit.cost import GUIDE_SCENARIOS, cost_table, dollars_for, estimate_cost

# The guide's table: model, $/1M, 10K docs of 500 tokens, 1M docs.
GUIDE_ROWS = [
    ("openai:text-embedding-3-large", 0.13, 0.65, 65.0),
    ("openai:text-embedding-3-small", 0.02, 0.10, 10.0),
    ("cohere:embed-english-v3.0", 0.10, 0.50, 50.0),   # "Cohere embed-v3"
    ("cohere:embed-multilingual-v3.0", 0.10, 0.50, 50.0),
]


@pytest.mark.parametrize(("model", "price", "ten_k", "one_m"), GUIDE_ROWS)
def test_guide_cost_table_rows(model, price, ten_k, one_m):
    small, large = (estimate_cost(model, docs, tokens) for docs, tokens in GUIDE_SCENARIOS)
    assert small.price_per_million == price
    assert small.dollars == pytest.approx(ten_k, abs=1e-12)
    assert large.dollars == pytest.approx(one_m, abs=1e-9)
    assert small.display == f"${ten_k:,.2f}"
    assert (small.tokens, large.tokens) == (5_000_000, 500_000_000)


@pytest.mark.parametrize("model", ["BAAI/bge-large-en-v1.5", "intfloat/e5-large-v2",
                                   "local:/models/my-finetune"])
def test_local_models_cost_zero_plus_compute(model):
    estimate = estimate_cost(model, 1_000_000, 500)
    assert estimate.dollars == 0 and estimate.is_local
    assert estimate.display == "$0 + compute"


def test_usage_based_price_is_unknown_and_says_so():
    estimate = estimate_cost("google:text-embedding-004", 10_000, 500)
    assert estimate.dollars is None
    assert "unknown" in estimate.display and "usage-based" in estimate.display


def test_every_catalog_model_has_both_guide_scenarios():
    rows = cost_table()
    assert [row.spec for row in rows] == list(CATALOG)
    for row in rows:
        assert [(e.documents, e.avg_tokens) for e in row.estimates] == list(GUIDE_SCENARIOS)
        for e in row.estimates:
            price = row.spec.price_per_million
            expected = None if price is None else e.tokens * price / 1e6
            assert e.dollars == pytest.approx(expected) if expected is not None \
                else e.dollars is None


def test_dollars_are_exact_decimals():
    # 0.1 + 0.2 style float error would make 15 tokens at $0.02/1M not exactly 3e-7.
    assert str(dollars_for(15, 0.02)) == "3E-7"
    assert dollars_for(10, None) is None


@pytest.mark.parametrize(("docs", "tokens"), [(-1, 10), (10, -5), (1.5, 10), (True, 10)])
def test_bad_numbers_are_named(docs, tokens):
    with pytest.raises(ValueError, match="docs|avg_tokens"):
        estimate_cost("openai:text-embedding-3-small", docs, tokens)


def test_unknown_name_is_an_error_with_suggestions():
    with pytest.raises(KeyError, match="did you mean text-embedding-3-small"):
        estimate_cost("text-embeding-3-small", 10, 10)


runner = CliRunner()


def test_cli_estimate_one_model_json():
    result = runner.invoke(build_app(), ["cost", "estimate", "--model", "openai:text-embedding-3-large",
                                         "--docs", "10000", "--avg-tokens", "500", "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    assert row["display"] == "$0.65" and row["tokens"] == 5_000_000


def test_cli_estimate_default_is_the_guide_table_for_every_model():
    result = runner.invoke(build_app(), ["cost", "estimate", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 2 * len(CATALOG)
    assert {r["documents"] for r in rows} == {10_000, 1_000_000}


def test_cli_estimate_table_and_bad_model():
    result = runner.invoke(build_app(), ["cost", "estimate", "-m", "cohere-embed-v3"],
                           env={"COLUMNS": "160"})
    assert result.exit_code == 0 and "$50.00" in result.output and "$0.50" in result.output
    bad = runner.invoke(build_app(), ["cost", "estimate", "-m", "text-embeding-3-small"],
                        env={"COLUMNS": "300"})
    assert bad.exit_code != 0 and "not in the embedkit catalog" in bad.output
