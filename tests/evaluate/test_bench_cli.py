"""``embedkit bench`` through typer's CliRunner: table, JSON and PNG on a tiny data set."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embedkit.cli.app import build_app

runner = CliRunner()
app = build_app()

CORPUS = {
    "e4031": ("Error codes", "NMB-4031 means the firmware signature check failed."),
    "e4301": ("Error codes", "NMB-4301 appears when a gateway is claimed twice."),
    "pw": ("Accounts", "To reset your password, open Settings > Security."),
    "rma": ("Returns", "Broken power supplies go back through a return merchandise authorization."),
    "bill": ("Billing", "Invoices are issued on the first business day of every month."),
}
QUERIES = {"q1": "NMB-4031", "q2": "I forgot my login credentials", "q3": "RMA for a PSU"}
QRELS = [("q1", "e4031", 2), ("q1", "e4301", 1), ("q2", "pw", 1), ("q3", "rma", 1)]
GLOSSARY = {"RMA": "return merchandise authorization", "PSU": "power supply unit"}


@pytest.fixture
def beir_dir(tmp_path) -> Path:
    root = tmp_path / "tiny-beir"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, (t, x) in CORPUS.items()))
    (root / "queries.jsonl").write_text("".join(
        json.dumps({"_id": q, "text": t}) + "\n" for q, t in QUERIES.items()))
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{g}\n" for q, d, g in QRELS))
    return root


def plain(output: str) -> str:
    """CLI output without rich's panel borders and line wrapping."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])  # IHDR width, height


def test_bench_beir_folder_writes_table_json_and_chart(beir_dir, tmp_path, cache_dir):
    out_json, out_png = tmp_path / "r" / "bench.json", tmp_path / "r" / "bench.png"
    result = runner.invoke(app, [
        "bench", str(beir_dir), "--mode", "dense,bm25", "--mode", "hybrid-weighted@0.7",
        "--metric", "ndcg@10", "--metric", "mrr@10", "--output", str(out_json),
        "--chart", str(out_png), "--cache-dir", str(cache_dir)])
    assert result.exit_code == 0, result.output
    assert "ndcg@10" in result.stdout and "hybrid-weighted@0.7" in result.stdout
    data = json.loads(out_json.read_text())
    assert [run["mode"] for run in data["runs"]] == ["dense", "bm25", "hybrid-weighted@0.7"]
    assert data["metrics"] == ["ndcg@10", "mrr@10"]
    assert all(run["result"]["n_queries"] == 3 for run in data["runs"])
    assert data["embedding"][0]["misses"] == len(CORPUS)
    width, height = png_size(out_png)
    assert width > 500 and height > 150


def test_second_bench_is_served_from_the_cache(beir_dir, tmp_path, cache_dir):
    args = ["bench", str(beir_dir), "--mode", "dense", "--no-chart",
            "--cache-dir", str(cache_dir)]
    first = runner.invoke(app, [*args, "--output", str(tmp_path / "1.json")])
    second = runner.invoke(app, [*args, "--output", str(tmp_path / "2.json")])
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    runs = [json.loads((tmp_path / f"{n}.json").read_text()) for n in (1, 2)]
    assert [(e["misses"], e["hits"]) for r in runs for e in r["embedding"]] == [
        (len(CORPUS), 0), (0, len(CORPUS))]
    assert "5 from cache, 0 embedded" in second.output
    assert not (tmp_path / "bench.png").exists()


def test_bench_simple_list_with_glossary_only(tmp_path, cache_dir):
    answer = "Power supplies go back through a return merchandise authorization."
    items = [{"query": "RMA for a PSU", "relevant_docs": [answer],
              "all_docs": [answer, "Invoices are issued monthly."]}]
    data_file = tmp_path / "tests.json"
    data_file.write_text(json.dumps(items))
    glossary = tmp_path / "glossary.json"
    glossary.write_text(json.dumps(GLOSSARY))
    out_json = tmp_path / "out.json"
    result = runner.invoke(app, [
        "bench", str(data_file), "--mode", "bm25,dense", "--glossary", str(glossary),
        "--glossary-only", "--output", str(out_json), "--plot", str(tmp_path / "c.png"),
        "--cache-dir", str(cache_dir)])
    assert result.exit_code == 0, result.output
    runs = json.loads(out_json.read_text())["runs"]
    assert [(r["mode"], r["glossary"]) for r in runs] == [("bm25", True), ("dense", True)]
    assert runs[0]["mean"]["mrr@10"] == 1.0  # the glossary lets BM25 match the acronyms
    assert png_size(tmp_path / "c.png")[0] > 0


@pytest.mark.parametrize("extra, message", [
    (["--mode", "dense,sparse"], "unknown mode 'sparse'"),
    (["--glossary-only"], "--glossary-only needs --glossary"),
    (["--metric", "ndcg@ten"], "cutoff after '@' must be a positive integer"),
])
def test_bad_options_are_named(beir_dir, tmp_path, extra, message):
    result = runner.invoke(app, ["bench", str(beir_dir), "--output", str(tmp_path / "x.json"),
                                 *extra])
    assert result.exit_code != 0
    assert message in plain(result.output)


def test_missing_data_is_named(tmp_path):
    missing = tmp_path / "nope.json"
    result = runner.invoke(app, ["bench", str(missing)])
    assert result.exit_code != 0
    assert "nope.json" in plain(result.output)
