"""Glossary expansion: whole words, longest first, regex-safe, idempotent, in the fingerprint."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedkit import Embedder, Glossary

TERMS = {
    "SLA": "service level agreement",
    "SLA breach": "missed service level target",
    "C++": "C plus plus",
    "U.S.": "United States",
    "k8s": "Kubernetes",
    "(beta)": "preview release",
}


@pytest.fixture
def glossary() -> Glossary:
    return Glossary(TERMS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Our SLA is 99.9%.", "Our SLA (service level agreement) is 99.9%."),
        ("An SLA breach today", "An SLA breach (missed service level target) today"),
        ("SLAs and xSLA stay", "SLAs and xSLA stay"),
        ("Write C++ code", "Write C++ (C plus plus) code"),
        ("Made in the U.S. today", "Made in the U.S. (United States) today"),
        ("U.S.A stays", "U.S.A stays"),
        ("Run k8s, (beta)!", "Run k8s (Kubernetes), (beta) (preview release)!"),
        ("sla is lower case", "sla is lower case"),
        ("part SLA-750R and X-SLA stay", "part SLA-750R and X-SLA stay"),
        ("SLA - details", "SLA (service level agreement) - details"),
        ("SLA,SLA;SLA", "SLA (service level agreement),SLA (service level agreement);"
                        "SLA (service level agreement)"),
    ],
)
def test_expansion_cases(glossary, text, expected):
    assert glossary.expand(text) == expected


@pytest.mark.parametrize("text", ["Our SLA is 99.9%.", "An SLA breach and an SLA", "C++ (beta)",
                                  "SLA (service level agreement) already"])
def test_expansion_is_idempotent(glossary, text):
    once = glossary.expand(text)
    assert glossary.expand(once) == once


def test_words_inside_an_expansion_are_not_expanded_again():
    g = Glossary({"SLA": "service level agreement", "service level": "SL"})
    once = g.expand("the SLA")
    assert once == "the SLA (service level agreement)"
    assert g.expand(once) == once


def test_regex_characters_in_keys_are_literal():
    g = Glossary({"a.b": "dotted", "x*": "star"})
    assert g.expand("axb a.b x* xx") == "axb a.b (dotted) x* (star) xx"


def test_ignore_case_option():
    g = Glossary({"SLA": "service level agreement"}, ignore_case=True)
    assert g.expand("the Sla") == "the Sla (service level agreement)"
    assert Glossary({"SLA": "x"}).expand("the Sla") == "the Sla"


def test_from_json_and_csv(tmp_path):
    (tmp_path / "g.json").write_text(json.dumps({"SLA": "service level agreement"}))
    (tmp_path / "g.csv").write_text("term,expansion\nSLA,service level agreement\n")
    assert Glossary.from_file(tmp_path / "g.json") == Glossary.from_file(tmp_path / "g.csv")
    (tmp_path / "bad.csv").write_text("SLA\n")
    with pytest.raises(ValueError, match="rows \\[1\\]"):
        Glossary.from_file(tmp_path / "bad.csv")


def test_bad_entries_are_named():
    with pytest.raises(ValueError, match="empty side"):
        Glossary({"SLA": " "})
    with pytest.raises(TypeError, match="str -> str"):
        Glossary({"SLA": 3})  # type: ignore[dict-item]


def test_glossary_changes_vectors_and_fingerprint_identically_for_both_roles(cache_dir):
    plain = Embedder(cache_dir=cache_dir)
    expanded = Embedder(cache_dir=cache_dir, glossary={"RMA": "return merchandise authorization"})
    assert plain.fingerprint != expanded.fingerprint
    text = "How do I open an RMA?"
    assert expanded.final_text(text, "query") == expanded.final_text(text, "document")
    direct = plain.embed_documents(["How do I open an RMA (return merchandise authorization)?"])
    np.testing.assert_allclose(expanded.embed_documents([text]), direct, atol=1e-6)
    np.testing.assert_allclose(expanded.embed_query(text), direct[0], atol=1e-6)


def test_fingerprint_follows_glossary_content_not_identity():
    a = Glossary({"SLA": "service level agreement"})
    b = Glossary({"SLA": "service level agreement"})
    c = Glossary({"SLA": "service-level agreement"})
    assert a.fingerprint == b.fingerprint != c.fingerprint
