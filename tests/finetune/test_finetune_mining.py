"""Hard-negative mining with the real bundled model through `Embedder`."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from embedkit.finetune import TrainingPair, mine_hard_negatives

RESET = "To reset your password, open Settings and choose Security, then click Reset."
RESET_COPY = "To reset your password open settings and choose security then click reset"
RULES = "Password rules: at least twelve characters, including one digit and one symbol."
INVOICE = "Invoices are emailed on the first day of each month to the billing contact."
DOCS = [RESET, RESET_COPY, RULES, INVOICE,
        "Our office is closed on public holidays and weekends.",
        "The cafeteria serves lunch from noon until two in the afternoon.",
        "Refunds for annual plans are prorated to the remaining months."]
PAIRS = [TrainingPair("How do I reset my password?", RESET),
         TrainingPair("When do invoices arrive?", INVOICE)]


def test_the_positive_is_never_its_own_negative(embedder):
    mined = mine_hard_negatives(PAIRS, DOCS, embedder=embedder, num_negatives=4)
    for pair in mined:
        assert len(pair.negatives) == 4
        assert pair.positive not in pair.negatives
        assert len(set(pair.negatives)) == 4


def test_near_duplicates_of_the_positive_are_skipped(embedder):
    copy_similarity = float(embedder.embed_documents([RESET, RESET_COPY]).prod(axis=0).sum())
    assert copy_similarity >= 0.95  # the copy really is a near-duplicate for this model
    strict = mine_hard_negatives(PAIRS[:1], DOCS, embedder=embedder)[0]
    assert RESET_COPY not in strict.negatives
    assert strict.negatives == (RULES,)
    # Without the threshold the copy is the "hardest negative": exactly the false negative
    # the threshold exists to avoid.
    loose = mine_hard_negatives(PAIRS[:1], DOCS, embedder=embedder, max_positive_similarity=1.0)[0]
    assert loose.negatives == (RESET_COPY,)


def test_negatives_are_the_most_similar_allowed_documents(embedder):
    mined = mine_hard_negatives(PAIRS, DOCS, embedder=embedder, num_negatives=3)
    doc_vectors = embedder.embed_documents(DOCS)
    for pair in mined:
        scores = doc_vectors @ embedder.embed_query(pair.query)
        positive = embedder.embed_documents([pair.positive])[0]
        allowed = [DOCS[i] for i in np.argsort(-scores)
                   if DOCS[i] != pair.positive and doc_vectors[i] @ positive < 0.95]
        assert list(pair.negatives) == allowed[:3]


def test_other_positives_of_the_same_query_are_not_negatives(embedder):
    pairs = [TrainingPair("How do I reset my password?", RESET),
             TrainingPair("How do I reset my password?", RULES)]
    mined = mine_hard_negatives(pairs, DOCS, embedder=embedder, num_negatives=2)
    for pair in mined:
        assert not {RESET, RULES} & set(pair.negatives)


def test_existing_negatives_are_kept_and_not_mined_again(embedder):
    pair = TrainingPair("How do I reset my password?", RESET, (RULES,))
    mined = mine_hard_negatives([pair], DOCS, embedder=embedder, num_negatives=2)[0]
    assert mined.negatives[0] == RULES
    assert len(mined.negatives) == 3 and mined.negatives.count(RULES) == 1


def test_default_pool_is_the_pairs_positives_and_short_pairs_are_logged(embedder, caplog):
    with caplog.at_level(logging.WARNING, logger="embedkit.finetune"):
        mined = mine_hard_negatives(PAIRS, embedder=embedder, num_negatives=2)
    assert [pair.negatives for pair in mined] == [(INVOICE,), (RESET,)]
    assert "2 of 2 pairs got fewer than 2 hard negative(s)" in caplog.text


def test_mining_accepts_a_model_string_and_dicts(prompt_model_dir):
    mined = mine_hard_negatives([{"query": "When do invoices arrive?", "positive": INVOICE}],
                                DOCS, embedder=f"local:{prompt_model_dir}")
    assert len(mined[0].negatives) == 1 and mined[0].negatives[0] != INVOICE


def test_bad_arguments_are_named(embedder):
    with pytest.raises(ValueError, match="num_negatives must be >= 1"):
        mine_hard_negatives(PAIRS, DOCS, embedder=embedder, num_negatives=0)
    with pytest.raises(ValueError, match="cosine in"):
        mine_hard_negatives(PAIRS, DOCS, embedder=embedder, max_positive_similarity=2)
    with pytest.raises(ValueError, match="document at index 1"):
        mine_hard_negatives(PAIRS, ["fine", ""], embedder=embedder)
    assert mine_hard_negatives([], DOCS, embedder=embedder) == []
