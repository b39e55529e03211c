"""Bench modes for the new default, the old one and each feedback option."""

from __future__ import annotations

import pytest

from embedkit.evaluate import RetrievalDataset, compare, parse_modes
from embedkit.evaluate.compare import Mode

CORPUS = {
    "tea1": "Green tea is brewed from unoxidized leaves of Camellia sinensis.",
    "tea2": "Oolong tea leaves are partly oxidized before they are rolled and dried.",
    "tea3": "Black tea is fully oxidized, which gives it a darker color.",
    "bike": "Adjust the rear derailleur limit screws so the chain stays on.",
    "code": "Error NMB-4031: the firmware signature check failed.",
}
QUERIES = {"q1": "oxidized tea leaves", "q2": "NMB-4031", "q3": "bicycle chain falls off"}
QRELS = {"q1": {"tea2": 3, "tea3": 2}, "q2": {"code": 3}, "q3": {"bike": 3}}


def test_feedback_suffixes_parse_to_modes_with_labels():
    modes = parse_modes("dense+prf,bm25+rm3,hybrid-weighted@0.7+prf+rm3,hybrid-auto+nofb,"
                        "hybrid-auto-v1,hybrid-auto")
    assert modes == [Mode("dense", None, "dense"), Mode("bm25", None, "bm25"),
                     Mode("hybrid-weighted", 0.7, "both"), Mode("hybrid-auto", None, "none"),
                     Mode("hybrid-auto-v1"), Mode("hybrid-auto")]
    assert [m.label for m in modes] == ["dense+prf", "bm25+rm3", "hybrid-weighted@0.7+prf+rm3",
                                        "hybrid-auto+nofb", "hybrid-auto-v1", "hybrid-auto"]
    with pytest.raises(ValueError, match=r"unknown feedback suffix '\+rocchio'"):
        parse_modes("dense+rocchio")


def test_each_feedback_mode_is_a_run(cache_dir):
    data = RetrievalDataset(dict(CORPUS), dict(QUERIES), {q: dict(g) for q, g in QRELS.items()})
    result = compare(data, modes="dense,dense+prf,bm25+rm3,hybrid-auto,hybrid-auto+nofb,"
                                 "hybrid-auto-v1", metrics=["ndcg@10"], cache_dir=cache_dir)
    labels = [run.mode for run in result.runs]
    assert labels == ["dense", "dense+prf", "bm25+rm3", "hybrid-auto", "hybrid-auto+nofb",
                      "hybrid-auto-v1"]
    assert result.get("bm25+rm3").model == "-"
    for run in result.runs:
        assert 0.0 < run.result["ndcg@10"] <= 1.0
