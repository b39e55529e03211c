"""Tokenizer: words, codes, Unicode, stopwords, stemming, glossary, persistence."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from embedkit import Glossary
from embedkit.retrieval.tokenizer import Tokenizer

GLOSSARY = {"SLA": "service level agreement", "IT": "information technology"}


def expand_like_engine(text: str, terms: dict[str, str]) -> str:
    """What embedkit.Glossary.expand writes: ``SLA`` -> ``SLA (service level agreement)``,
    leaving a term that already carries its expansion as it is."""
    for term, expansion in terms.items():
        already = re.escape(f" ({expansion})")
        text = re.sub(rf"(?<!\w){re.escape(term)}(?!\w)(?!{already})", f"{term} ({expansion})",
                      text)
    return text


# ---- words and codes ------------------------------------------------------------------------
def test_lowercases_stems_and_drops_stopwords_by_default():
    assert Tokenizer()("The Dogs were Running to the parks") == ["dog", "were", "run", "park"]


def test_code_yields_joined_token_and_parts():
    assert Tokenizer()("NMB-4031") == ["nmb4031", "nmb", "4031"]
    assert Tokenizer()("pn-88-2210-b") == ["pn882210b", "pn", "88", "2210", "b"]


@pytest.mark.parametrize("spelling", ["NMB-4031", "NMB4031", "nmb_4031", "NMB.4031", "nmb/4031",
                                      "NMB\u20114031"])
def test_code_spellings_share_the_joined_token(spelling):
    assert "nmb4031" in Tokenizer()(spelling)


def test_neighbouring_codes_share_only_the_prefix():
    a, b = set(Tokenizer()("NMB-4031")), set(Tokenizer()("NMB-4032"))
    assert a & b == {"nmb"}


def test_tokens_with_digits_are_not_stemmed_but_words_are():
    tokens = Tokenizer()("e1127 errors on v2.3.1 builds")
    assert tokens[:2] == ["e1127", "error"]
    assert "v231" in tokens and "build" in tokens


def test_sentence_punctuation_does_not_glue_codes():
    assert Tokenizer()("Order NMB-4031. Then stop.") == ["order", "nmb4031", "nmb", "4031",
                                                        "stop"]


def test_unicode_words_case_and_compatibility_forms():
    tok = Tokenizer(stemmer_language=None)
    assert tok("CAFÉ Ünïcödé") == tok("café ünïcödé") == ["café", "ünïcödé"]
    assert tok("ＮＭＢ－４０３１") == tok("NMB-4031")  # full-width forms (NFKC)
    assert tok("Москва и Токио") == ["москва", "и", "токио"]


def test_custom_pattern_is_used():
    tok = Tokenizer(pattern=r"\S+", stopwords=None, stemmer_language=None)
    assert tok("C++ rocks!") == ["c", "rocks"]  # "C++" has one part "C"; "rocks!" one part
    with pytest.raises(ValueError, match="not a valid regex"):
        Tokenizer(pattern="(")


# ---- stopwords and stemming -----------------------------------------------------------------
def test_stopwords_none_keeps_everything():
    assert Tokenizer(stopwords=None)("the cat") == ["the", "cat"]


def test_stopword_list_and_language_names():
    assert Tokenizer(stopwords=["Cat"])("the cat sat") == ["the", "sat"]
    german = Tokenizer(stopwords="de", stemmer_language="german")
    assert german("Die Häuser und die Gärten") == ["haus", "gart"]
    with pytest.raises(ValueError, match="no stopword list for 'klingon'"):
        Tokenizer(stopwords="klingon")


def test_stemming_on_and_off():
    assert Tokenizer()("connections connected") == ["connect", "connect"]
    assert Tokenizer(stemmer_language=None)("connections connected") == ["connections",
                                                                         "connected"]
    with pytest.raises(ValueError, match="no stemmer for 'klingon'"):
        Tokenizer(stemmer_language="klingon")


def test_bad_input_names_the_item():
    with pytest.raises(TypeError, match="text 1 is int"):
        Tokenizer().tokenize_many(["fine", 3])
    with pytest.raises(TypeError, match="expects str"):
        Tokenizer()(None)


# ---- glossary -------------------------------------------------------------------------------
def test_acronym_gets_the_expansion_tokens():
    tok = Tokenizer(glossary=GLOSSARY)
    assert tok("SLA breach") == ["sla", "servic", "level", "agreement", "breach"]


def test_expansion_gets_the_acronym_token_even_inflected():
    tok = Tokenizer(glossary=GLOSSARY)
    expected = ["sla", "servic", "level", "agreement"]
    assert tok("service level agreement") == expected
    assert tok("Service-Level Agreements") == expected
    assert tok("service level") == ["servic", "level"]  # a partial phrase is not a mention


@pytest.mark.parametrize("text", [
    "The SLA was breached by IT twice.",
    "service level agreement and information technology",
    "SLA (service level agreement)",
    "service level agreement (SLA)",
    "SLA, SLA and SLA",
])
def test_glossary_is_idempotent_with_text_level_expansion(text):
    tok = Tokenizer(glossary=GLOSSARY)
    once = expand_like_engine(text, GLOSSARY)
    assert tok(once) == tok(text)


def test_both_forms_adjacent_count_once():
    tok = Tokenizer(glossary=GLOSSARY)
    assert tok("SLA (service level agreement)").count("sla") == 1
    assert tok("service level agreement (SLA)").count("agreement") == 1


def test_terms_match_case_sensitively_unless_asked():
    tok = Tokenizer(glossary=GLOSSARY)
    assert tok("it is down") == ["down"]  # the pronoun is a stopword, not the term IT
    assert tok("IT is down") == ["it", "inform", "technolog", "down"]
    loose = Tokenizer(glossary={"SLA": "service level agreement"}, glossary_ignore_case=True)
    assert loose("sla") == ["sla", "servic", "level", "agreement"]


def test_glossary_object_with_terms_and_ignore_case():
    class FakeGlossaryLike:  # the two attributes Tokenizer reads from embedkit.Glossary
        terms = {"SLA": "service level agreement"}
        ignore_case = True

    assert Tokenizer(glossary=FakeGlossaryLike())("Sla") == ["sla", "servic", "level",
                                                             "agreement"]


def test_longest_term_wins():
    tok = Tokenizer(glossary={"SLA": "service level agreement", "SLA breach": "penalty event"})
    assert tok("SLA breach") == ["sla", "breach", "penalti", "event"]


@pytest.mark.parametrize("text", [
    "Our SLA with IT: the service level agreement (SLA) says 99.9%.",
    "information technology (IT) owns the SLA breach process",
    "SLA (service level agreement)",
])
def test_engine_glossary_expansion_tokenizes_like_raw_text(text):
    glossary = Glossary(GLOSSARY)
    tok = Tokenizer(glossary=glossary)
    expanded = glossary.expand(text)
    assert expanded != text or "(" in text
    assert tok(expanded) == tok(text)
    assert tok(glossary.expand(expanded)) == tok(text)


def test_threads_share_one_tokenizer_safely():
    texts = [f"Running connections {i} for NMB-{4000 + i} and the SLA" for i in range(300)]
    expected = Tokenizer(glossary=GLOSSARY).tokenize_many(texts)
    shared = Tokenizer(glossary=GLOSSARY)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(shared.tokenize, texts))
    assert results == expected


# ---- persistence ----------------------------------------------------------------------------
def test_to_dict_round_trip_is_json_and_equal():
    tok = Tokenizer(stopwords=["foo"], stemmer_language="porter", glossary=GLOSSARY,
                    glossary_ignore_case=True)
    data = json.loads(json.dumps(tok.to_dict()))
    again = Tokenizer.from_dict(data)
    assert again == tok and hash(again) == hash(tok)
    text = "The foo SLA is about IT connections NMB-4031"
    assert again(text) == tok(text)
    assert Tokenizer.from_dict(Tokenizer(stopwords=None).to_dict()).stopwords == ()


def test_settings_are_read_only():
    tok = Tokenizer(glossary=GLOSSARY)
    with pytest.raises(AttributeError):
        tok.stopwords = ()
    tok.glossary_terms["NEW"] = "changed"  # a copy: the tokenizer is unaffected
    assert "NEW" not in tok.glossary_terms


def test_to_dict_stores_the_resolved_stopword_list():
    assert "the" in Tokenizer().to_dict()["stopwords"]
    with pytest.raises(ValueError, match="unsupported tokenizer format"):
        Tokenizer.from_dict({**Tokenizer().to_dict(), "format": 99})
