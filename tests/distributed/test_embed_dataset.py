"""`embed_dataset` on a real local Ray (2 CPUs) with real disk and Redis caches.

Ray start-up and each actor's model load take seconds, so the runs are module fixtures that
several tests read, and the data is small.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from embedkit import Embedder, FingerprintMismatchError
from embedkit.distributed import MANIFEST, embed_dataset, read_vectors

pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (embedkit[distributed])")
pq = pytest.importorskip("pyarrow.parquet")

# Ray's own DataContext warns about its deprecated fields on every run; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray")

TOPICS = ["password reset", "invoice schedule", "fan failure E1127", "VPN set-up",
          "refund policy", "SLA breach", "printer driver", "two-factor login"]
ROWS = [{"id": i, "text": f"Note {i} on {TOPICS[i % len(TOPICS)]}: step {i % 5} of the guide."}
        for i in range(36)]
TEXTS = [row["text"] for row in ROWS]


def _by_id(table: pa.Table) -> dict[str, np.ndarray]:
    vectors = table["vector"].combine_chunks()
    flat = vectors.values.to_numpy(zero_copy_only=False).reshape(len(vectors), -1)
    return dict(zip(table["id"].to_pylist(), flat))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("bulk")


@pytest.fixture(scope="module")
def first_run(ray_session, work):
    dataset = ray_session.data.from_items(ROWS)
    return embed_dataset(dataset, work / "out1", embedder={"cache_dir": str(work / "cache")},
                         batch_size=8)


@pytest.fixture(scope="module")
def warm_run(ray_session, work, first_run):
    """The same rows again, this time read from a Parquet file by path."""
    source = work / "input" / "rows.parquet"
    source.parent.mkdir()
    pq.write_table(pa.Table.from_pylist(ROWS), source)
    return embed_dataset(source.parent, work / "out2",
                         embedder={"cache_dir": str(work / "cache")}, batch_size=8)


def test_vectors_equal_the_single_process_embedder(first_run):
    written = _by_id(read_vectors(first_run.output))
    expected = Embedder(cache=False).embed_documents(TEXTS)
    assert sorted(written, key=int) == [str(row["id"]) for row in ROWS]
    for row, vector in zip(ROWS, expected):
        np.testing.assert_allclose(written[str(row["id"])], vector, atol=1e-5)


def test_first_run_embeds_every_row_once(first_run):
    assert first_run.rows_written == len(ROWS) and first_run.rows_skipped == 0
    assert first_run.stats.misses == len(ROWS) and first_run.stats.hits == 0
    assert first_run.stats.requests >= 1


def test_output_is_plain_parquet_with_fingerprint_and_manifest(ray_session, first_run, work):
    table = read_vectors(first_run.output)
    assert table.schema.field("vector").type == pa.list_(pa.float32(), 384)
    assert table.schema.field("id").type == pa.string()
    assert set(table["fingerprint"].to_pylist()) == {Embedder(cache=False).fingerprint}
    manifest = json.loads((work / "out1" / MANIFEST).read_text())
    assert manifest["fingerprint"] == first_run.fingerprint and manifest["role"] == "document"
    # Other readers see only the data files (the manifest's leading underscore hides it).
    assert pq.read_table(work / "out1").num_rows == len(ROWS)
    assert ray_session.data.read_parquet(str(work / "out1")).count() == len(ROWS)


def test_a_second_run_sends_nothing_to_the_model(first_run, warm_run):
    assert warm_run.stats.misses == 0 and warm_run.stats.requests == 0
    assert warm_run.stats.hits == len(ROWS) and warm_run.rows_written == len(ROWS)
    first, again = _by_id(read_vectors(first_run.output)), _by_id(read_vectors(warm_run.output))
    for key, vector in first.items():
        np.testing.assert_array_equal(again[key], vector)


def test_rerun_after_a_crash_skips_finished_ids_and_uses_redis(ray_session, redis_server, work):
    """A partial run (one part file then cut short by a 'crash'), then the full run on 2 actors."""
    import redis

    url = f"{redis_server}/1"
    redis.Redis.from_url(url).flushdb()
    config = {"cache": url}
    out = work / "resumed"
    done = ROWS[:24]
    partial = embed_dataset(ray_session.data.from_items(done), out, embedder=config,
                            batch_size=8, rows_per_file=8)
    assert partial.stats.misses == 24
    parts = sorted(out.glob("*.parquet"))
    assert len(parts) >= 2
    cut = parts[-1]
    cut_rows = pq.read_table(cut).num_rows
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])  # a write cut off mid-file

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Two actors on a 2-CPU Ray: half a CPU each leaves one for Ray Data's own tasks.
        full = embed_dataset(ray_session.data.from_items(ROWS), out, embedder=config,
                             batch_size=8, actors=2, num_cpus=0.5)
    assert any("unreadable output part" in str(w.message) for w in caught)
    assert full.rows_skipped == 24 - cut_rows
    assert full.stats.hits == cut_rows          # embedded before the crash: from Redis
    assert full.stats.misses == len(ROWS) - 24  # never embedded: the only model work
    ids = read_vectors(out)["id"].to_pylist()
    assert sorted(ids, key=int) == [str(row["id"]) for row in ROWS]


def test_another_configuration_cannot_append_to_the_output(ray_session, first_run, work):
    dataset = ray_session.data.from_items(ROWS)
    with pytest.raises(FingerprintMismatchError,
                       match=r"document_prefix '' \(saved\) vs 'passage: '.*fingerprint"):
        embed_dataset(dataset, work / "out1",
                      embedder={"document_prefix": "passage: ", "cache": False})
    with pytest.raises(FingerprintMismatchError, match="document vectors"):
        embed_dataset(dataset, work / "out1", role="query", embedder={"cache": False})


def test_a_pool_holding_every_cpu_is_warned_about(ray_session, work):
    with pytest.warns(UserWarning, match="can stall"), pytest.raises(ValueError, match="body"):
        # The warning comes before any work; the bad column then stops the run at once.
        embed_dataset(ray_session.data.from_items(ROWS), work / "x", actors=2, num_cpus=1,
                      text_column="body")


def test_bad_inputs_are_named(ray_session, work):
    dataset = ray_session.data.from_items(ROWS)
    with pytest.raises(ValueError, match=r"\['body'\] not in the input"):
        embed_dataset(dataset, work / "x", text_column="body")
    with pytest.raises(ValueError, match="redis:// URL"):
        embed_dataset(dataset, work / "x", embedder={"cache": object()})
    with pytest.raises(ValueError, match="role"):
        embed_dataset(dataset, work / "x", role="passage")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        embed_dataset(work / "missing.jsonl", work / "x")


def test_an_empty_text_fails_naming_its_id(ray_session, work):
    rows = [{"id": "a1", "text": "fine"}, {"id": "b2", "text": "   "}]
    with pytest.raises(Exception, match="b2") as caught:
        embed_dataset(ray_session.data.from_items(rows), work / "bad",
                      embedder={"cache": False})
    assert "empty text" in str(caught.value)


def test_bulk_command_embeds_jsonl_queries_with_glossary_and_progress(ray_session, work,
                                                                     prompt_model_dir):
    from typer.testing import CliRunner

    from embedkit.cli.app import build_app

    source = work / "queries.jsonl"
    queries = [{"_id": f"q{i}", "text": f"how do I fix {topic}"} for i, topic in enumerate(TOPICS)]
    source.write_text("".join(json.dumps(q) + "\n" for q in queries))
    glossary = work / "glossary.json"
    glossary.write_text(json.dumps({"VPN": "virtual private network", "SLA": "service level"}))
    model = f"local:{prompt_model_dir}"
    args = ["bulk", str(source), str(work / "queries-out"), "--id-column", "_id", "--query",
            "--model", model, "--glossary", str(glossary), "--cache-dir", str(work / "cli-cache"),
            "--json"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["role"] == "query" and summary["rows_written"] == len(queries)
    assert summary["embedded_by_model"] == len(queries)
    assert "row" in result.stderr  # the progress bar

    reference = Embedder(model, glossary=glossary, cache=False)
    assert summary["fingerprint"] == reference.fingerprint
    assert summary["fingerprint"] != Embedder(model, cache=False).fingerprint
    written = _by_id(read_vectors(work / "queries-out"))
    texts = [q["text"] for q in queries]
    expected_queries = reference.embed_queries(texts)
    as_documents = reference.embed_documents(texts)
    for query, vector, document in zip(queries, expected_queries, as_documents):
        np.testing.assert_allclose(written[query["_id"]], vector, atol=1e-5)
        assert not np.allclose(written[query["_id"]], document, atol=1e-3)
