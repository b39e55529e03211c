"""`SimilarityMonitor`: drift on a real domain shift, none on a same-domain sample, bad vectors."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from scipy import stats

from embedkit import Embedder, HybridIndex, demo_data
from embedkit.retrieval.monitor import (
    SimilarityMonitor,
    ks_critical_value,
    ks_p_value,
    ks_statistic,
    similarities,
)

# Questions from everyday life: nothing a network appliance's support site covers.
OFF_DOMAIN_QUERIES = [
    "how long should I boil an egg for a runny yolk", "best time of year to visit Kyoto",
    "what causes the northern lights", "how many players are on a rugby union team",
    "recipe for a simple tomato pasta sauce", "who painted the ceiling of the Sistine Chapel",
    "how to get red wine out of a carpet", "symptoms of a vitamin D deficiency",
    "why do cats purr", "how to train for a first marathon", "what is the capital of Australia",
    "how do I repot an orchid", "when did the Roman Empire fall", "how to make sourdough starter",
    "what is the offside rule in football", "how to fold a fitted sheet",
    "why is the sky blue", "how much water should a dog drink per day",
    "easy chords for a beginner guitarist", "what is the plot of Pride and Prejudice",
    "how to remove rust from a bicycle chain", "tips for sleeping better at night",
    "how do tides work", "what wine goes with grilled salmon",
    "how to knit a scarf for beginners", "who wrote the Odyssey",
    "how to grow tomatoes on a balcony", "what are the rules of chess castling",
    "how many calories are in a banana", "best way to learn to swim as an adult",
    "how do volcanoes form", "how to make cold brew coffee at home",
    "what is a haiku", "how to clean a cast iron pan", "what do pandas eat",
    "how to write a wedding toast", "what causes hiccups",
    "how long do sea turtles live", "how to paint a room without streaks",
    "which planets have rings", "how to make pancakes without eggs",
    "what is the tallest mountain in Africa", "how to care for a succulent",
    "history of the Olympic Games", "how to choose a ripe avocado",
    "why do leaves change colour in autumn", "how to tie a bowline knot",
    "what is the difference between a frog and a toad", "how to bake banana bread",
    "where do monarch butterflies migrate",
]


@pytest.fixture(scope="module")
def kb(demo_cache_dir):
    """The demo knowledge base in a HybridIndex, plus its article titles as same-domain queries."""
    data = demo_data.load()
    embedder = Embedder(cache_dir=demo_cache_dir)
    index = HybridIndex(embedder)
    index.add(list(data.corpus.values()), ids=list(data.corpus))
    return index, list(demo_data.titles().values())


def feed(index: HybridIndex, monitor: SimilarityMonitor, queries: list[str]) -> list:
    """Search every query through the monitored index; return the alerts raised."""
    vectors = index.embedder.embed_queries(queries)  # one batch, as a busy service would
    index.monitor = monitor
    try:
        alerts = []
        for query, vector in zip(queries, vectors):
            before = len(monitor.alerts)
            index.search(query, k=5, fusion="dense", query_vector=vector)
            alerts += monitor.alerts[before:]
        return alerts
    finally:
        index.monitor = None


def shuffled(items: list[str], seed: int) -> list[str]:
    order = np.random.default_rng(seed).permutation(len(items))
    return [items[i] for i in order]


def test_same_domain_queries_raise_no_drift(kb):
    index, titles = kb
    titles = shuffled(titles, seed=1)
    monitor = SimilarityMonitor(baseline_size=150, window_size=100, min_window=40)
    assert feed(index, monitor, titles[:150]) == []
    assert monitor.baseline_ready
    assert feed(index, monitor, titles[150:]) == []
    report = monitor.drift()
    assert report is not None and not report.drifting
    assert report.ks_statistic < monitor.threshold


def test_queries_from_another_domain_raise_drift_once(kb):
    index, titles = kb
    titles = shuffled(titles, seed=2)
    monitor = SimilarityMonitor(baseline_size=150, window_size=100, min_window=40)
    feed(index, monitor, titles[:150])
    assert feed(index, monitor, titles[150:200]) == []
    alerts = feed(index, monitor, OFF_DOMAIN_QUERIES)
    assert [a.kind for a in alerts] == ["drift"]  # raised once, not once per query
    report = monitor.drift()
    assert report.drifting and report.ks_statistic >= 0.5
    assert report.window_mean < report.baseline_mean and report.mean_shift_std < -1
    assert report.p_value < 1e-6


def test_msmarco_queries_against_the_demo_kb_drift(kb, msmarco_dir):
    index, titles = kb
    queries = [json.loads(line)["text"] for line in
               (msmarco_dir / "queries.jsonl").read_text().splitlines() if line.strip()]
    monitor = SimilarityMonitor(baseline_size=100, window_size=len(queries), min_window=30)
    feed(index, monitor, shuffled(titles, seed=3)[:100])
    alerts = feed(index, monitor, queries)
    assert [a.kind for a in alerts] == ["drift"]
    assert monitor.drift().ks_statistic > 0.8


def test_drift_alert_rearms_after_recovery():
    rng = np.random.default_rng(0)
    seen = []
    monitor = SimilarityMonitor(baseline_size=100, window_size=50, min_window=50,
                                on_alert=seen.append)
    for value in rng.normal(0.6, 0.05, 100):
        monitor.observe(None, [value])
    for value in rng.normal(0.3, 0.05, 50):  # drift
        monitor.observe(None, [value])
    for value in rng.normal(0.6, 0.05, 50):  # recovered: the window is back to normal
        monitor.observe(None, [value])
    assert not monitor.drift().drifting
    for value in rng.normal(0.3, 0.05, 50):  # drifts again: a second alert
        monitor.observe(None, [value])
    assert [a.kind for a in seen] == ["drift", "drift"]


def test_broken_vectors_are_flagged_and_kept_out_of_the_baseline(caplog):
    monitor = SimilarityMonitor(baseline_size=10, window_size=10, min_window=5)
    good = np.full(4, 0.5, dtype=np.float32)
    assert monitor.observe(good, [0.7, 0.5]) == []
    with caplog.at_level(logging.WARNING, logger="embedkit.retrieval.monitor"):
        nan = monitor.observe(np.array([0.5, np.nan, 0.5, 0.5]), [0.9])
        zero = monitor.observe(np.zeros(4), [0.0])
        wider = monitor.observe(np.full(8, 0.35), [0.6])
        bad_score = monitor.observe(good, [float("nan"), 0.4])
    assert [a.kind for a in nan] == ["nan_vector"]
    assert [a.kind for a in zero] == ["zero_norm"]
    assert [a.kind for a in wider] == ["dimension_change"]
    assert wider[0].details == {"expected": 4, "got": 8}
    assert [a.kind for a in bad_score] == ["nan_score"]
    assert "8 dimensions, expected 4" in caplog.text
    # Only the good observation and the wider vector's finite score entered the baseline.
    assert monitor.baseline.tolist() == [0.7, 0.6]
    assert monitor.summary()["alerts"] == {"nan_vector": 1, "zero_norm": 1,
                                           "dimension_change": 1, "nan_score": 1}


def test_expected_dimension_is_checked_from_the_first_query():
    monitor = SimilarityMonitor(dimension=384)
    alerts = monitor.observe(np.ones(1536), [0.8])
    assert [a.kind for a in alerts] == ["dimension_change"]


def test_top_k_similarities_are_recorded_best_first():
    monitor = SimilarityMonitor(k=3)
    monitor.observe(None, [0.2, 0.9, 0.5, 0.7])
    assert [row.tolist() for row in monitor.recent] == [[0.9, 0.7, 0.5]]
    assert monitor.baseline.tolist() == [0.9]


def test_scores_from_langchain_llamaindex_and_engine_results():
    from langchain_core.documents import Document
    from llama_index.core.schema import NodeWithScore, TextNode

    from embedkit import SearchHit

    hit = SearchHit("a", "t", {}, score=0.05, dense_score=0.81, bm25_score=3.0,
                    dense_rank=1, bm25_rank=1)
    assert similarities([hit]).tolist() == [0.81]  # the cosine, not the fused score
    assert similarities([(Document(page_content="x"), 0.42)]).tolist() == [0.42]
    assert similarities([NodeWithScore(node=TextNode(text="x"), score=0.33)]).tolist() == [0.33]
    assert similarities(np.array([0.1, 0.2])).tolist() == [0.1, 0.2]
    with pytest.raises(TypeError, match="hit at index 0 .*has no similarity score"):
        similarities([object()])


def test_hybrid_index_reports_external_dense_candidates(kb):
    index, _ = kb
    monitor = SimilarityMonitor()
    index.monitor = monitor
    try:
        index.search("NMB-4031", k=2, dense_candidates=[("kb-0070", 0.61), ("kb-0267", 0.4)])
        index.search("NMB-4031", k=2, fusion="bm25")  # no dense side: nothing to record
    finally:
        index.monitor = None
    assert monitor.observations == 1
    assert [row.tolist() for row in monitor.recent] == [pytest.approx([0.61, 0.4])]


def test_ks_matches_scipy():
    rng = np.random.default_rng(7)
    for n, m, shift in ((200, 100, 0.0), (150, 60, 0.3), (40, 40, 0.6), (500, 80, 0.15)):
        a, b = rng.normal(0, 1, n), rng.normal(shift, 1, m)
        reference = stats.ks_2samp(a, b, method="asymp")
        d = ks_statistic(a, b)
        assert d == pytest.approx(reference.statistic, abs=1e-12)
        if reference.pvalue > 1e-4:
            assert ks_p_value(d, n, m) == pytest.approx(reference.pvalue, rel=0.1, abs=0.01)
    # The critical value is the D at which the p-value equals the significance level.
    critical = ks_critical_value(100, 100, 0.05)
    assert critical == pytest.approx(1.358 * np.sqrt(2 / 100), rel=1e-3)


@pytest.mark.parametrize("kwargs, message", [
    ({"threshold": 0.0}, "threshold is a KS statistic"),
    ({"significance": 1.0}, "significance must be in"),
    ({"baseline_size": 1}, "at least 2"),
    ({"window_size": 0}, "window_size must be a positive integer"),
])
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SimilarityMonitor(**kwargs)


def test_set_baseline_replaces_the_collected_one():
    monitor = SimilarityMonitor(baseline_size=3, window_size=10, min_window=10)
    monitor.set_baseline(0.6 + 0.01 * np.sin(np.arange(20)))
    assert monitor.baseline_ready and monitor.baseline.size == 20
    for value in 0.2 + 0.01 * np.cos(np.arange(10)):
        monitor.observe(None, [value])
    assert monitor.drift().drifting
    with pytest.raises(ValueError, match="at least 2 finite"):
        monitor.set_baseline([0.5])
