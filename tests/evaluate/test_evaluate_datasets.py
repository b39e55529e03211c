"""Loaders: BEIR folders (with and without a qrels header) and the guide's simple list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedkit.evaluate import (
    evaluate_run,
    from_simple_list,
    load_beir,
    load_qrels,
    load_simple_json,
    text_id,
)

# The team's data sits beside the checkout: <repo>/../shared/data (never inside the repo).
SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"

CORPUS = [
    {"_id": "d1", "title": "Paris", "text": "The capital of France."},
    {"_id": "d2", "title": "", "text": "Berlin is in Germany."},
    {"_id": "d3", "title": "Why?", "text": "Because."},
    {"_id": "d4", "text": "No title field at all."},
]
QUERIES = [{"_id": "q1", "text": "capital of france"}, {"_id": "q2", "text": "german city"}]
JUDGMENTS = "q1\td1\t2\nq1\td3\t0\nq2\td2\t1\n"


def write_beir(folder: Path, qrels_text: str, split: str = "test") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in CORPUS))
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in QUERIES))
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / f"{split}.tsv").write_text(qrels_text)
    return folder


# ---------------------------------------------------------------- BEIR
def test_load_beir_joins_titles_only_when_present(tmp_path):
    data = load_beir(write_beir(tmp_path / "set", JUDGMENTS))
    assert data.corpus == {
        "d1": "Paris. The capital of France.",
        "d2": "Berlin is in Germany.",
        "d3": "Why? Because.",  # no ". " after a title that already ends a sentence
        "d4": "No title field at all.",
    }
    assert data.queries == {"q1": "capital of france", "q2": "german city"}
    assert data.qrels == {"q1": {"d1": 2, "d3": 0}, "q2": {"d2": 1}}
    assert data.candidates is None
    assert data.judged_queries == ["q1", "q2"]


def test_qrels_header_is_detected_not_assumed(tmp_path):
    with_header = load_beir(write_beir(tmp_path / "a", "query-id\tcorpus-id\tscore\n" + JUDGMENTS))
    without_header = load_beir(write_beir(tmp_path / "b", JUDGMENTS))
    assert with_header.qrels == without_header.qrels
    # the first line of a header-less file is a real judgment, not dropped
    assert without_header.qrels["q1"]["d1"] == 2


def test_trec_four_column_qrels(tmp_path):
    path = tmp_path / "qrels.txt"
    path.write_text("q1 0 d1 2\nq1 0 d3 0\nq2 0 d2 1\n")
    assert load_qrels(path) == {"q1": {"d1": 2, "d3": 0}, "q2": {"d2": 1}}


def test_split_is_chosen_and_a_missing_split_lists_the_present_ones(tmp_path):
    folder = write_beir(tmp_path / "set", "q1\td1\t1\n", split="dev")
    assert load_beir(folder, split="dev").qrels == {"q1": {"d1": 1}}
    with pytest.raises(FileNotFoundError, match=r"test\.tsv.*splits present: \['dev'\]"):
        load_beir(folder)


@pytest.mark.parametrize(
    ("qrels_text", "message"),
    [
        ("q1\td1\t1\nq1\td2\tyes\n", r"test\.tsv:2: score 'yes' is not an integer grade"),
        ("q1\td1\t1\n\nq1\td2\n", r"test\.tsv:3: expected 3 columns"),
        ("q1\td1\t1\nq1\td1\t2\n", r"test\.tsv:2: \('q1', 'd1'\) judged 2 here but 1 on line 1"),
        ("query-id\tcorpus-id\tscore\nq-id\tc-id\tscore\n", r"test\.tsv:2: score 'score'"),
    ],
)
def test_bad_qrels_lines_are_named(tmp_path, qrels_text, message):
    with pytest.raises(ValueError, match=message):
        load_beir(write_beir(tmp_path / "set", qrels_text))


def test_bad_jsonl_lines_are_named(tmp_path):
    folder = write_beir(tmp_path / "set", JUDGMENTS)
    corpus = folder / "corpus.jsonl"
    corpus.write_text(corpus.read_text() + '{"_id": "d5", "text": \n')
    with pytest.raises(ValueError, match=r"corpus\.jsonl:5: invalid JSON"):
        load_beir(folder)
    corpus.write_text(json.dumps(CORPUS[0]) + "\n" + json.dumps(CORPUS[0]) + "\n")
    duplicate = r"corpus\.jsonl:2: duplicate _id 'd1' \(first seen on line 1\)"
    with pytest.raises(ValueError, match=duplicate):
        load_beir(folder)
    corpus.write_text(json.dumps({"title": "x", "text": "y"}) + "\n")
    with pytest.raises(ValueError, match=r"corpus\.jsonl:1: missing or invalid '_id'"):
        load_beir(folder)
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": 5}\n')
    corpus.write_text(json.dumps(CORPUS[0]) + "\n")
    with pytest.raises(ValueError, match=r"queries\.jsonl:1: 'text' must be a string"):
        load_beir(folder)


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_beir(tmp_path / "nowhere")


def test_msmarco_5k_counts():
    folder = SHARED_DATA / "msmarco-5k"
    if not (folder / "corpus.jsonl").is_file():
        pytest.skip("../shared/data/msmarco-5k is not present beside the checkout")
    data = load_beir(folder)
    assert len(data.corpus) == 5000
    assert len(data.queries) == 50
    assert len(data.judged_queries) == 43
    # This file has no header: every non-blank line is a judgment, the first one included.
    lines = [line.split() for line in (folder / "qrels" / "test.tsv").read_text().splitlines()]
    lines = [fields for fields in lines if fields]
    assert sum(len(grades) for grades in data.qrels.values()) == len(lines)
    first_query, first_doc, first_grade = lines[0]
    assert data.qrels[first_query][first_doc] == int(first_grade)
    # every judged document is in the corpus, every judged query in the queries
    assert all(doc in data.corpus for grades in data.qrels.values() for doc in grades)
    assert set(data.qrels) <= set(data.queries)
    # titles are empty here, so texts are the passages unchanged (no leading ". ")
    assert not any(text.startswith(". ") for text in data.corpus.values())
    # ideal ranking from the qrels scores nDCG@10 = 1 over the 43 judged queries
    ideal = {q: sorted(g, key=g.__getitem__, reverse=True) for q, g in data.qrels.items()}
    result = evaluate_run(ideal, data.qrels, metrics=("ndcg@10",))
    assert result.n_queries == 43
    assert result.mean["ndcg@10"] == pytest.approx(1.0)


# ---------------------------------------------------------------- the guide's simple list
GUIDE_ITEMS = [
    {
        "query": "How do I reset my password?",
        "relevant_docs": ["Use the 'Forgot password' link."],
        "all_docs": [
            "Use the 'Forgot password' link.",
            "Our office opens at 9am.",
            "Our office opens at 9am.",  # duplicate text inside one item
        ],
    },
    {
        "query": "When does the office open?",
        "relevant_docs": ["Our office opens at 9am."],  # shared with the first item
        "all_docs": ["Our office opens at 9am.", "Parking is free."],
    },
    {"query": "Is parking free?", "relevant_docs": ["Parking is free."]},  # no all_docs
]


def test_from_simple_list_dedupes_texts_with_stable_ids():
    data = from_simple_list(GUIDE_ITEMS)
    assert sorted(data.corpus.values()) == sorted(
        {"Use the 'Forgot password' link.", "Our office opens at 9am.", "Parking is free."}
    )
    office = text_id("Our office opens at 9am.", prefix="d")
    assert data.corpus[office] == "Our office opens at 9am."
    # same ids from a second, independent build: ids come from the text, not from order
    again = from_simple_list(list(reversed(GUIDE_ITEMS)))
    assert again.corpus == data.corpus and again.qrels == data.qrels


def test_from_simple_list_grades_and_candidates():
    data = from_simple_list(GUIDE_ITEMS)
    reset, opening, parking = (text_id(item["query"], prefix="q") for item in GUIDE_ITEMS)
    forgot = text_id("Use the 'Forgot password' link.", prefix="d")
    office = text_id("Our office opens at 9am.", prefix="d")
    free = text_id("Parking is free.", prefix="d")
    assert data.queries[reset] == "How do I reset my password?"
    assert data.qrels[reset] == {forgot: 1, office: 0}
    assert data.candidates[reset] == [forgot, office]
    assert data.qrels[opening] == {office: 1, free: 0}
    # without all_docs the candidates are the relevant docs, as in the guide
    assert data.candidates[parking] == [free]
    assert data.judged_queries == [reset, opening, parking]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"relevant_docs": ["a"]}, r"item 1: 'query' must be a non-empty string"),
        ({"query": "q", "relevant_docs": "a"}, r"item 1: 'relevant_docs' must be a list"),
        ({"query": "q", "relevant_docs": ["a", ""]}, r"item 1: 'relevant_docs'\[1\] must be"),
        (
            {"query": "q", "relevant_docs": ["a"], "all_docs": ["b"]},
            r"item 1: relevant doc 'a' is not in",
        ),
        (
            {"query": "How do I reset my password?", "relevant_docs": ["x"]},
            r"item 1: duplicate query.*item 0",
        ),
        ("just a string", r"item 1: expected an object"),
    ],
)
def test_from_simple_list_errors_name_the_item(item, message):
    with pytest.raises(ValueError, match=message):
        from_simple_list([GUIDE_ITEMS[0], item])


def test_load_simple_json_array_and_jsonl(tmp_path):
    array_file = tmp_path / "test.json"
    array_file.write_text(json.dumps(GUIDE_ITEMS, indent=2))
    lines_file = tmp_path / "test.jsonl"
    lines_file.write_text("".join(json.dumps(item) + "\n" for item in GUIDE_ITEMS))
    expected = from_simple_list(GUIDE_ITEMS)
    assert load_simple_json(array_file) == expected
    assert load_simple_json(lines_file) == expected


def test_load_simple_json_errors_name_file_and_line(tmp_path):
    path = tmp_path / "test.json"
    bad_item = {"query": "q", "relevant_docs": ["a"], "all_docs": ["b"]}
    path.write_text(json.dumps([GUIDE_ITEMS[0], bad_item], indent=2))
    item_starts = [n for n, line in enumerate(path.read_text().splitlines(), 1) if line == "  {"]
    start_line = item_starts[1]  # the line where item 1 begins
    with pytest.raises(ValueError, match=rf"test\.json:{start_line} \(item 1\): relevant doc 'a'"):
        load_simple_json(path)
    path.write_text('[\n  {"query": "q",\n   "relevant_docs": ["a"],,\n  }\n]')
    with pytest.raises(ValueError, match=r"test\.json:3: invalid JSON"):
        load_simple_json(path)
    path.write_text('{"query": "q"}')
    with pytest.raises(ValueError, match=r"test\.json:1: expected a JSON array"):
        load_simple_json(path)
    lines = tmp_path / "test.jsonl"
    lines.write_text(json.dumps(GUIDE_ITEMS[0]) + "\n\n" + '{"query": "q", "relevant_docs": "a"}\n')
    with pytest.raises(ValueError, match=r"test\.jsonl:3: 'relevant_docs' must be a list"):
        load_simple_json(lines)


def test_simple_list_end_to_end_with_a_hand_ranking():
    data = from_simple_list(GUIDE_ITEMS)
    reset = text_id(GUIDE_ITEMS[0]["query"], prefix="q")
    # rank the reset query's candidates worst-first: relevant doc at rank 2 -> MRR 1/2
    run = {qid: list(reversed(pool)) for qid, pool in data.candidates.items()}
    result = evaluate_run(run, data.qrels, metrics=("mrr@10",))
    assert result.per_query[reset]["mrr@10"] == 0.5
    assert result.n_queries == 3
