"""The ``embedkit`` command line as a real process: one-line errors with exit codes (2 usage,
1 runtime), no traceback, one JSON convention, tables whole through a pipe, nothing written to
the current folder unless asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from embedkit.catalog import list_models
from embedkit.cli.errors import describe

from tests.fakeapi import FakeEmbeddingServer

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 240  # seconds; a busy 2-core machine loads torch slowly


def cli(*args: str, cwd: Path | None = None, stdin: str | None = "",
        **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m embedkit.cli ARGS`` on this checkout's code, stdin and stdout pipes."""
    environ = {k: v for k, v in os.environ.items()
               if k not in ("OPENAI_API_KEY", "COHERE_API_KEY", "OPENAI_BASE_URL")}
    paths = [str(REPO_ROOT / "shared"), str(REPO_ROOT), environ.get("PYTHONPATH", "")]
    environ.update(PYTHONPATH=os.pathsep.join(p for p in paths if p), HF_HUB_OFFLINE="1",
                   TOKENIZERS_PARALLELISM="false", **env)
    return subprocess.run([sys.executable, "-m", "embedkit.cli", *args], input=stdin,
                          capture_output=True, text=True, cwd=cwd, env=environ, timeout=TIMEOUT)


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int,
                          *named: str) -> str:
    """Exit ``code``, no traceback, exactly one line on stderr naming each of ``named``."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in named:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    not_utf8 = tmp_path / "latin1.txt"
    not_utf8.write_bytes("café crème\n".encode("latin-1"))
    bad_glossary = tmp_path / "bad-glossary.json"
    bad_glossary.write_text('{"SLA": "service level agreement",}')
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    return {"not_utf8": not_utf8, "bad_glossary": bad_glossary, "a_file": a_file,
            "missing": tmp_path / "missing.txt"}


USAGE_ERRORS = [
    (["embed", "   "], ["empty", "indices 0"]),
    (["embed", "-i", "{missing}"], ["missing.txt"]),
    (["embed", "-i", "{not_utf8}"], ["latin1.txt", "UTF-8"]),
    (["embed", "x", "--glossary", "{bad_glossary}"], ["bad-glossary.json", "JSON"]),
    (["embed", "x", "--dimensions", "0"], ["--dimensions"]),
    (["embed", "x", "--dimensions", "1000"], ["dimensions=1000", "384"]),
    (["embed", "x", "--model", "no-such-org/no-such-model"], ["no-such-org/no-such-model"]),
    (["embed", "x", "--model", "bogus:model"], ["bogus", "openai"]),
    (["embed", "x", "--model", "openai:text-embedding-3-small"],
     ["openai:text-embedding-3-small", "OPENAI_API_KEY"]),
    (["embed", "--no-such-option"], ["--no-such-option", "embedkit embed --help"]),
    (["models", "-p", "bogus"], ["bogus", "local", "openai", "cohere"]),
    (["cache", "stats", "--cache-dir", "{a_file}"], ["a-file"]),
    (["cache", "clear"], ["--yes"]),
    (["bench", "{missing}"], ["missing.txt"]),
    (["cost", "estimate", "-m", "no-such-model"], ["no-such-model"]),
    (["recommend", "--use-case", "no such case"], ["no such case"]),
    (["no-such-command"], ["no-such-command"]),
]


@pytest.mark.parametrize("args, named", USAGE_ERRORS,
                         ids=[" ".join(args) for args, _ in USAGE_ERRORS])
def test_usage_errors_are_one_line_with_exit_2(files, args, named):
    args = [arg.format(**files) for arg in args]
    named = [word.format(**files) for word in named]
    if args[0] == "embed" and "--no-such-option" not in args:
        args.append("--no-cache")
    assert_one_line_error(cli(*args), 2, *named)


def test_rejected_api_key_is_one_line_with_exit_1_and_never_shows_the_key():
    key = "sk-wrong-key-0123456789abcdef"
    with FakeEmbeddingServer(api_key="sk-the-right-key-000") as server:
        result = cli("embed", "hello", "--model", "openai:text-embedding-3-small",
                     "--no-cache", OPENAI_API_KEY=key, OPENAI_BASE_URL=server.openai_base_url)
    line = assert_one_line_error(result, 1, "401", "OPENAI_API_KEY")
    assert key not in line and key[8:] not in line


def test_debug_shows_the_traceback():
    result = cli("--debug", "embed", "   ", "--no-cache")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "ValueError" in result.stderr


def test_unexpected_errors_say_internal_error_and_point_to_debug():
    message, code = describe(RuntimeError("boom\nsecond line"))
    assert code == 1
    assert message == ("internal error: RuntimeError: boom second line (run with --debug for "
                       "the traceback)")


def test_messages_mask_an_api_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-123456789")
    message, _ = describe(OSError("proxy said sk-secret-123456789 is bad"))
    assert "sk-secret" not in message and "***" in message


# ---------------------------------------------------------------------- output conventions
@pytest.mark.parametrize("args, key", [
    (["models"], "model"),
    (["models", "-p", "cohere"], "model"),
    (["recommend", "--private", "-n", "2"], "model"),
    (["cost", "estimate", "-m", "openai:text-embedding-3-small"], "model"),
])
def test_json_flag_prints_json_lines_to_stdout(args, key):
    result = cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows and all(key in row for row in rows)


def test_cache_stats_json(tmp_path):
    result = cli("cache", "stats", "--cache-dir", str(tmp_path / "c"), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["entries"] == 0


@pytest.mark.parametrize("args", [["models"], ["cost", "estimate"]])
def test_piped_tables_show_every_model_name_whole(args):
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    for spec in list_models():
        if spec.price_per_million or args == ["models"]:
            assert spec.model_string in result.stdout, spec.model_string
    assert "…" not in result.stdout


def test_bench_writes_nothing_to_the_current_folder(tmp_path):
    answer = "To reset your password, open Settings and then Security."
    items = [{"query": "forgot my password", "relevant_docs": [answer],
              "all_docs": [answer, "Invoices are issued monthly."]},
             {"query": "when are invoices sent", "relevant_docs": ["Invoices are issued monthly."],
              "all_docs": [answer, "Invoices are issued monthly."]}]
    data = tmp_path / "data" / "tests.json"
    data.parent.mkdir()
    data.write_text(json.dumps(items))
    work = tmp_path / "work"
    work.mkdir()
    # BM25 alone: nothing to embed, so the test stays short.
    result = cli("bench", str(data), "--mode", "bm25", "--json", "--output",
                 str(tmp_path / "asked" / "r.json"), "--cache-dir", str(tmp_path / "cache"),
                 cwd=work)
    assert result.returncode == 0, result.stderr
    assert list(work.iterdir()) == []
    report = json.loads(result.stdout)
    assert [run["mode"] for run in report["runs"]] == ["bm25"]
    assert json.loads((tmp_path / "asked" / "r.json").read_text()) == report
    assert "ndcg@10" in result.stderr  # with --json the table goes to stderr
