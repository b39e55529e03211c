"""`load_beir` on a single-split folder: ``qrels.tsv`` beside the corpus (the demo data's layout)."""

from __future__ import annotations

import json

import pytest

from embedkit.evaluate import load_beir


def write_folder(root, *, flat: bool, nested: bool) -> None:
    root.mkdir()
    (root / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "text": "hello"}) + "\n")
    (root / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "hi"}) + "\n")
    if flat:
        (root / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\n")
    if nested:
        (root / "qrels").mkdir()
        (root / "qrels" / "dev.tsv").write_text("q1\td1\t1\n")


def test_flat_qrels_file_is_read(tmp_path):
    write_folder(tmp_path / "set", flat=True, nested=False)
    assert load_beir(tmp_path / "set").qrels == {"q1": {"d1": 2}}


def test_a_qrels_folder_wins_and_a_missing_split_is_named(tmp_path):
    write_folder(tmp_path / "set", flat=True, nested=True)
    assert load_beir(tmp_path / "set", split="dev").qrels == {"q1": {"d1": 1}}
    with pytest.raises(FileNotFoundError, match=r"test\.tsv.*splits present: \['dev'\]"):
        load_beir(tmp_path / "set")
