"""Label-free search signals and the default policy built on them, over a real BM25 index."""

from __future__ import annotations

import numpy as np
import pytest

from embedkit.retrieval.feedback import Feedback
from embedkit.retrieval.policy import SearchPolicy
from embedkit.retrieval.signals import (QuerySignals, coherence, is_code, overlap, query_signals,
                                        rarity, top_gap)


def signals_for(query: str, parts_index) -> QuerySignals:
    index, tokenizer = parts_index
    tokens = tokenizer(query)
    return query_signals(tokens, index.idf(tokens), len(index))


def test_rarity_is_one_for_a_term_in_one_document_and_falls_with_frequency(parts_index):
    index, _ = parts_index
    rare, common, absent = rarity(index.idf(["kessler", "spindl", "zebra"]), len(index))
    assert rare == pytest.approx(1.0)
    assert 0.0 < common < 0.2
    assert absent == 0.0
    assert rarity([], 10).size == 0 and rarity([3.0], 0).tolist() == [0.0]


def test_query_signals_separate_codes_from_words(parts_index):
    code = signals_for("NMB-4017 bearing", parts_index)
    assert code.code_rarity == pytest.approx(1.0)  # the joined code is in one document
    assert code.word_rarity < 0.5                  # "bearing" is everywhere
    name = signals_for("Kessler gauge", parts_index)
    assert name.code_rarity == 0.0 and name.word_rarity == pytest.approx(1.0)
    assert signals_for("how to replace a spindle motor", parts_index).n_tokens == 4
    assert signals_for("XJ-9000 zebra", parts_index) == QuerySignals(4, 0.0, 0.0)  # not in corpus
    assert is_code("nmb4017") and not is_code("kessler")
    with pytest.raises(ValueError, match="one idf per token"):
        query_signals(["a", "b"], [1.0], 10)


def test_overlap_counts_shared_heads():
    assert overlap([1, 2, 3, 4], [4, 3, 9, 8], depth=4) == 0.5
    assert overlap([1, 2, 3], [7, 8, 9], depth=3) == 0.0
    assert overlap([1, 2], [2, 1], depth=10) == 0.2  # a short list cannot agree fully
    assert overlap([], [1], depth=5) == 0.0
    assert overlap(list(range(20)), list(range(20)), depth=10) == 1.0
    with pytest.raises(ValueError, match="depth"):
        overlap([1], [1], depth=0)


def test_top_gap_is_high_for_a_standout_and_low_for_a_flat_head():
    standout = top_gap([0.9, 0.3, 0.29, 0.28, 0.27], depth=3)
    flat = top_gap([0.9, 0.89, 0.88, 0.2], depth=3)
    assert standout > 0.9 and flat < 0.05
    assert top_gap([0.5]) == 0.0 and top_gap([0.4, 0.4]) == 0.0


def test_coherence_of_similar_and_unrelated_vectors():
    same_topic = np.array([[1.0, 0.1, 0.0], [0.9, 0.2, 0.0], [1.0, 0.0, 0.1]])
    unrelated = np.eye(3)
    assert coherence(same_topic) > 0.95
    assert coherence(unrelated) == pytest.approx(0.0)
    assert coherence(np.ones((1, 3))) == 0.0


def test_policy_alpha_moves_with_agreement_and_codes(parts_index):
    policy = SearchPolicy()
    words = signals_for("how to replace a spindle motor", parts_index)
    assert policy.alpha(words, agreement=0.0) == pytest.approx(policy.dense_alpha)
    assert policy.alpha(words, agreement=1.0) == pytest.approx(policy.agreement_alpha)
    halfway = policy.alpha(words, agreement=0.5)
    assert policy.agreement_alpha < halfway < policy.dense_alpha
    code = signals_for("NMB-4017", parts_index)
    assert policy.alpha(code, agreement=0.0) == pytest.approx(policy.lexical_alpha)
    # a rare word is not a code: entity names must not pull the weight toward BM25
    assert policy.alpha(signals_for("Kessler gauge", parts_index), 0.0) == policy.dense_alpha


def test_policy_gates_feedback_off_for_known_item_lookups(parts_index):
    policy = SearchPolicy()
    assert policy.wants_feedback(signals_for("how to replace a spindle motor", parts_index))
    assert not policy.wants_feedback(signals_for("NMB-4017", parts_index))
    always = SearchPolicy(feedback_max_code=1.01)
    assert always.wants_feedback(signals_for("NMB-4017", parts_index))


def test_policy_checks_and_round_trips_its_settings():
    policy = SearchPolicy(dense_alpha=0.9, feedback=Feedback(depth=4, beta=0.7))
    assert SearchPolicy(**policy.to_dict()) == policy
    with pytest.raises(ValueError, match="dense_alpha"):
        SearchPolicy(dense_alpha=1.5)
    with pytest.raises(ValueError, match="agreement_depth"):
        SearchPolicy(agreement_depth=0)
    with pytest.raises(TypeError, match="Feedback"):
        SearchPolicy(feedback="dense")
    with pytest.raises(ValueError, match="Feedback.depth"):
        Feedback(depth=0)
