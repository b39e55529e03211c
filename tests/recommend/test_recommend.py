"""`recommend` against the guide: every row of the use-case table (3.2), every branch of the
decision tree (3.1), and the requirements holding for every combination of answers."""

from __future__ import annotations

import itertools
import json

import pytest
from typer.testing import CliRunner

from embedkit.catalog import get_spec
from embedkit.cli.app import build_app
from embedkit.recommend import USE_CASES, Recommendation, find_use_case, recommend

FLAGS = ("private", "multilingual", "code", "long_context", "cost_sensitive", "highest_quality")


def names(picks: list[Recommendation]) -> list[str]:
    return [pick.spec.name for pick in picks]


def canonical(*models: str) -> list[str]:
    return [get_spec(model).name for model in models]


# ------------------------------------------------------------------ guide 3.2, row by row
# (use case, primary choice, budget alternative) exactly as the guide's table spells them.
GUIDE_TABLE = [
    ("General Q&A", "text-embedding-3-small", "BGE-large-en-v1.5"),
    ("Enterprise Search", "text-embedding-3-large", "mxbai-embed-large"),
    ("Customer Support", "text-embedding-3-small", "all-MiniLM-L6-v2"),
    ("Code Search", "voyage-code-2", "CodeBERT"),
    ("Legal Documents", "voyage-large-2", "legal-bert-base"),
    ("Multilingual", "embed-multilingual-v3.0", "multilingual-e5-large"),
    ("Long Documents", "text-embedding-3-large", "nomic-embed-text"),
    ("High Volume", "text-embedding-3-small", "all-MiniLM-L6-v2"),
]


@pytest.mark.parametrize(("use_case", "primary", "budget"), GUIDE_TABLE,
                         ids=[row[0] for row in GUIDE_TABLE])
def test_use_case_row_primary_then_budget(use_case, primary, budget):
    picks = recommend(use_case=use_case)
    assert names(picks)[:2] == canonical(primary, budget)
    assert "primary choice" in picks[0].reason and use_case in picks[0].reason
    assert "budget alternative" in picks[1].reason


@pytest.mark.parametrize(("use_case", "primary", "budget"), GUIDE_TABLE,
                         ids=[row[0] for row in GUIDE_TABLE])
def test_use_case_row_cost_sensitive_puts_budget_first(use_case, primary, budget):
    assert names(recommend(use_case=use_case, cost_sensitive=True))[:2] == canonical(budget,
                                                                                       primary)


@pytest.mark.parametrize("spelling", ["general q&a", "General-QA", "general_qa", "qa"])
def test_use_case_spellings(spelling):
    assert find_use_case(spelling).title == "General Q&A"


def test_unknown_use_case_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown use case 'recipes'.*Code Search"):
        recommend(use_case="recipes")


def test_specialized_rows_from_guide_2_3():
    assert names(recommend(use_case="medical"))[:2] == canonical("PubMedBERT", "BioBERT")
    assert names(recommend(use_case="financial"))[:1] == canonical("FinBERT")
    assert "guide 2.3" in recommend(use_case="financial")[0].reason


def test_private_use_case_keeps_only_the_local_choice():
    picks = recommend(use_case="Code Search", private=True)
    assert names(picks)[0] == get_spec("CodeBERT").name
    assert all(pick.spec.is_local for pick in picks)


def test_use_case_implies_its_requirement():
    # Code search needs a code model: nothing else is offered, not even as filler.
    assert all(pick.spec.code for pick in recommend(use_case="code search", limit=None))
    assert all(pick.spec.long_context for pick in recommend(use_case="long documents", limit=None))


# ------------------------------------------------------------------ guide 3.1, branch by branch
def test_privacy_yes_open_source_bge_e5_gte():
    picks = recommend(private=True)
    assert names(picks)[:3] == canonical("BGE-large-en-v1.5", "E5-large-v2", "GTE-large")
    assert all(pick.spec.is_local for pick in recommend(private=True, limit=None))
    assert "Is data privacy critical? yes" in picks[0].reason


def test_multilingual_yes():
    picks = recommend(multilingual=True)
    assert names(picks)[:2] == canonical("multilingual-e5-large", "embed-multilingual-v3.0")
    assert all(pick.spec.multilingual for pick in recommend(multilingual=True, limit=None))


def test_code_yes():
    picks = recommend(code=True)
    assert names(picks)[:2] == canonical("voyage-code-2", "CodeBERT")
    assert "Is your content primarily code? yes" in picks[0].reason


def test_long_context_yes():
    picks = recommend(long_context=True)
    assert names(picks)[:4] == canonical("nomic-embed-text-v1.5", "BGE-M3",
                                         "text-embedding-3-large", "text-embedding-3-small")
    assert all(pick.spec.long_context for pick in recommend(long_context=True, limit=None))


def test_cost_yes_quality_no():
    # Both leaves reached ("3-small or local models", "BGE-large or 3-small") agree.
    picks = recommend(cost_sensitive=True)
    assert names(picks)[:2] == canonical("text-embedding-3-small", "BGE-large-en-v1.5")
    assert "Is cost a primary concern? yes" in picks[0].reason
    assert "Need highest quality? no" in picks[0].reason
    assert all(p.spec.is_local or p.spec.price_per_million <= 0.02 for p in picks)


def test_cost_no_quality_no_all_answers_no():
    picks = recommend()
    assert names(picks)[:4] == canonical("text-embedding-3-large", "voyage-large-2",
                                         "BGE-large-en-v1.5", "text-embedding-3-small")
    assert "Is cost a primary concern? no" in picks[0].reason
    assert "Need highest quality? no" in picks[2].reason


def test_quality_yes_cost_no():
    picks = recommend(highest_quality=True)
    # voyage-large-2 answers both questions; E5-mistral the quality one.
    assert names(picks)[:2] == canonical("voyage-large-2", "E5-mistral-7b")
    assert "Need highest quality? yes" in picks[1].reason


def test_quality_yes_cost_yes_prefers_the_free_top_model():
    picks = recommend(highest_quality=True, cost_sensitive=True)
    assert names(picks)[:2] == canonical("E5-mistral-7b", "voyage-large-2")
    assert picks[0].spec.price_per_million == 0


def test_quality_preference_reorders_an_earlier_leaf():
    picks = recommend(long_context=True, highest_quality=True)
    assert names(picks)[:2] == canonical("E5-mistral-7b", "voyage-large-2")
    assert get_spec("nomic-embed-text").name in names(picks)


def test_cost_preference_reorders_an_earlier_leaf():
    picks = recommend(long_context=True, cost_sensitive=True)
    assert names(picks)[:3] == canonical("nomic-embed-text-v1.5", "BGE-M3",
                                         "text-embedding-3-small")


# ------------------------------------------------------------------ requirements combine
def test_private_and_multilingual_is_not_english_bge():
    picks = recommend(private=True, multilingual=True)
    assert names(picks)[0] == get_spec("multilingual-e5-large").name
    assert all(p.spec.is_local and p.spec.multilingual for p in picks)


def test_relaxes_only_what_conflicts():
    picks = recommend(multilingual=True, code=True, long_context=True)
    assert picks[0].relaxed == ("code",)
    assert all(p.spec.multilingual and p.spec.long_context for p in picks)  # BGE-M3


def test_private_and_long_context():
    picks = recommend(private=True, long_context=True)
    assert names(picks)[:2] == canonical("nomic-embed-text-v1.5", "BGE-M3")
    assert all(p.spec.is_local and p.spec.long_context for p in picks)


def test_unmeetable_combination_relaxes_the_latest_requirement_and_says_so():
    picks = recommend(code=True, multilingual=True)  # no catalogued multilingual code model
    assert picks and all(p.spec.multilingual for p in picks)
    assert all(p.relaxed == ("code",) and "code, so that was relaxed" in p.reason for p in picks)


@pytest.mark.parametrize("answers", list(itertools.product([False, True], repeat=len(FLAGS))),
                         ids=lambda a: "".join("YN"[not x] for x in a))
def test_every_combination_is_ranked_unique_and_meets_what_can_be_met(answers):
    kwargs = dict(zip(FLAGS, answers))
    picks = recommend(**kwargs, limit=None)
    assert picks, kwargs
    assert [p.rank for p in picks] == list(range(1, len(picks) + 1))
    assert len(set(names(picks))) == len(picks)
    relaxed = set(picks[0].relaxed)
    assert all(set(p.relaxed) == relaxed for p in picks)
    assert not relaxed or "relaxed" in picks[0].reason
    checks = {"private": lambda s: s.is_local, "multilingual": lambda s: s.multilingual,
              "code": lambda s: s.code, "long_context": lambda s: s.long_context}
    for flag, meets in checks.items():
        if kwargs[flag] and flag not in relaxed:
            assert all(meets(p.spec) for p in picks), (flag, names(picks))
    assert all(p.reason for p in picks)


def test_limit():
    assert len(recommend(limit=2)) == 2
    assert len(recommend(limit=None)) > 5
    with pytest.raises(ValueError, match="limit"):
        recommend(limit=0)


def test_unserved_providers_say_so():
    voyage = next(p for p in recommend(code=True) if p.spec.provider == "voyage")
    assert "no embedkit voyage backend yet" in voyage.reason


# ------------------------------------------------------------------ CLI
def test_cli_flags_match_the_function():
    result = CliRunner().invoke(build_app(), ["recommend", "--private", "--long-context",
                                              "--json", "-n", "3"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    expected = recommend(private=True, long_context=True, limit=3)
    assert [r["model"] for r in rows] == [p.model for p in expected]
    assert [r["reason"] for r in rows] == [p.reason for p in expected]


def test_cli_table_and_bad_use_case():
    runner = CliRunner()
    result = runner.invoke(build_app(), ["recommend", "--use-case", "legal"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "voyage-large-2" in result.output and "legal-bert" in result.output
    bad = runner.invoke(build_app(), ["recommend", "--use-case", "astrology"])
    assert bad.exit_code != 0 and "unknown use case" in bad.output


def test_every_use_case_is_reachable_from_its_title():
    for case in USE_CASES:
        assert recommend(use_case=case.title)[0].spec.name == get_spec(case.choices[0][0]).name
