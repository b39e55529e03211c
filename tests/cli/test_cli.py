"""The ``embedkit`` command line, through typer's runner and as a real console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embedkit import Embedder
from embedkit.cli.app import build_app

runner = CliRunner()
app = build_app()


def _commands(typer_app) -> list[list[str]]:
    import typer.main

    click_app = typer.main.get_command(typer_app)
    paths = []
    for name, command in click_app.commands.items():
        paths.append([name])
        for sub in getattr(command, "commands", {}):
            paths.append([name, sub])
    return paths


@pytest.mark.parametrize("path", _commands(app), ids=lambda p: " ".join(p))
def test_every_command_has_help(path):
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_embed_arguments_to_jsonl(tmp_path):
    out = tmp_path / "v.jsonl"
    result = runner.invoke(app, ["embed", "first text", "second text", "-o", str(out),
                                 "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in rows] == ["first text", "second text"]
    expected = Embedder(cache=False).embed_documents(["first text"])[0]
    np.testing.assert_allclose(rows[0]["embedding"], expected, atol=1e-6)


def test_embed_file_to_npy_as_queries(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("alpha\n\nbeta\n")
    out = tmp_path / "v.npy"
    result = runner.invoke(app, ["embed", "-i", str(source), "-o", str(out), "--query",
                                 "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    matrix = np.load(out, allow_pickle=False)
    assert matrix.shape == (2, 384) and matrix.dtype == np.float32


def test_embed_jsonl_with_a_bad_line_names_it(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "ok"}\n{"txt": "bad"}\n')
    result = runner.invoke(app, ["embed", "-i", str(source), "--no-cache"])
    assert result.exit_code != 0 and "line 2" in result.output


def test_embed_from_stdin_as_console_script(tmp_path):
    script = Path(sys.executable).with_name("embedkit")
    result = subprocess.run([str(script), "embed", "--no-cache"], input="from stdin\n",
                            capture_output=True, text=True, check=True)
    row = json.loads(result.stdout)
    assert row["text"] == "from stdin" and len(row["embedding"]) == 384
    assert "embedded 1 text" in result.stderr


def test_models_lists_the_catalog():
    result = runner.invoke(app, ["models"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for name in ("text-embedding-3-small", "bge-large-en-v1.5", "all-MiniLM-L6-v2"):
        assert name in result.output


def test_cache_stats_and_clear(tmp_path):
    cache_dir = tmp_path / "c"
    Embedder(cache_dir=cache_dir).embed_documents(["one", "two"])
    stats = runner.invoke(app, ["cache", "stats", "--cache-dir", str(cache_dir)])
    assert "entries:   2" in stats.output
    cleared = runner.invoke(app, ["cache", "clear", "--yes", "--cache-dir", str(cache_dir)])
    assert "removed 2 entries" in cleared.output
