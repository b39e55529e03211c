"""Pairs JSONL: round trip, the guide's single-negative format, errors that name the line."""

from __future__ import annotations

import json

import pytest

from embedkit.finetune import TrainingPair, as_pairs, read_pairs, write_pairs


def test_round_trip_keeps_queries_positives_and_negatives(tmp_path):
    pairs = [TrainingPair("how to reset a password?", "Open Settings → Security.", ("Billing FAQ",)),
             TrainingPair("what is an SLA?", "A service level agreement is ...")]
    path = write_pairs(pairs, tmp_path / "sub" / "pairs.jsonl")
    assert read_pairs(path) == pairs
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["negatives"] == ["Billing FAQ"]
    assert "negatives" not in json.loads(lines[1])
    assert "→" in lines[0]  # written as UTF-8, not escaped


def test_guide_format_with_one_negative_string_is_read(tmp_path):
    path = tmp_path / "guide.jsonl"
    path.write_text(json.dumps({"query": "q", "positive": "p", "negative": "n"}) + "\n\n",
                    encoding="utf-8")
    assert read_pairs(path) == [TrainingPair("q", "p", ("n",))]


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "not valid JSON"),
    ('["q", "p"]', "expected a JSON object"),
    ('{"query": "q"}', "missing key(s) ['positive']"),
    ('{"query": " ", "positive": "p"}', "TrainingPair.query must be a non-empty string"),
    ('{"query": "q", "positive": "p", "negatives": "n"}', "'negatives' must be a list"),
    ('{"query": "q", "positive": "p", "negatives": [""]}', "negatives[0]"),
])
def test_bad_line_is_named_by_number(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"query": "ok", "positive": "fine"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError) as info:
        read_pairs(path)
    assert f"{path}:2:" in str(info.value) and message in str(info.value)


def test_as_pairs_names_the_bad_index():
    with pytest.raises(ValueError, match="pair at index 1"):
        as_pairs([{"query": "q", "positive": "p"}, {"query": "q"}])
    with pytest.raises(TypeError, match="pair at index 0 is str"):
        as_pairs(["q"])
    with pytest.raises(TypeError, match="single dict"):
        as_pairs({"query": "q", "positive": "p"})


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="pairs file not found"):
        read_pairs(tmp_path / "nope.jsonl")
