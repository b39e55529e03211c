"""`embed_dataset` on a real local Ray (2 CPUs) with real disk and Redis caches.

Ray start-up and each actor's model load take seconds, so the runs are module fixtures that
several tests read, and the data is small.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embedkit import Embedder, FingerprintMismatchError
from embedkit.distributed import MANIFEST, embed_dataset, read_vectors

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
    dataset = ray_session.data.from_items(ROWS)
    return embed_dataset(dataset, work / "out2", embedder={"cache_dir": str(work / "cache")},
                         batch_size=8)


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
    partial = embed_dataset(ray_session.data.from_items(done, override_num_blocks=3), out,
                            embedder=config, batch_size=8)
    assert partial.stats.misses == 24
    parts = sorted(out.glob("*.parquet"))
    cut = parts[-1]
    cut_rows = pq.read_table(cut).num_rows
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])  # a write cut off mid-file

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        full = embed_dataset(ray_session.data.from_items(ROWS), out, embedder=config,
                             batch_size=8, actors=2)
    assert any("unreadable output part" in str(w.message) for w in caught)
    assert full.rows_skipped == 24 - cut_rows
    assert full.stats.hits == cut_rows          # embedded before the crash: from Redis
    assert full.stats.misses == len(ROWS) - 24  # never embedded: the only model work
    ids = read_vectors(out)["id"].to_pylist()
    assert sorted(ids, key=int) == [str(row["id"]) for row in ROWS]


def test_another_configuration_cannot_append_to_the_output(ray_session, first_run, work):
    dataset = ray_session.data.from_items(ROWS)
    with pytest.raises(FingerprintMismatchError, match="fingerprint"):
        embed_dataset(dataset, work / "out1", embedder={"dimensions": 128, "cache": False})
    with pytest.raises(FingerprintMismatchError, match="document vectors"):
        embed_dataset(dataset, work / "out1", role="query", embedder={"cache": False})


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
