"""HybridIndex end to end with the bundled model: search modes, filters, deletes, persistence."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from embedkit import Embedder, FingerprintMismatchError, HybridIndex

DOCS = {
    "err-4031": "Error NMB-4031 means the gateway lost its WAN uplink; check the cable.",
    "err-4032": "Error NMB-4032 is raised when the chassis fan spins too slowly.",
    "password": "To reset your password, open Settings > Security and send a reset link.",
    "psu": "Order replacement power supply units (part PSU-750R) through a return merchandise "
           "authorization.",
    "billing": "Invoices are issued on the first business day of every month.",
    "sla": "Our service level agreement promises 99.95% monthly uptime for the console.",
}
META = {"err-4031": {"kind": "error"}, "err-4032": {"kind": "error"},
        "password": {"kind": "account"}, "psu": {"kind": "hardware"},
        "billing": {"kind": "billing"}, "sla": {"kind": "contract"}}
GLOSSARY = {"SLA": "service level agreement", "RMA": "return merchandise authorization",
            "PSU": "power supply unit"}


@pytest.fixture
def index(cache_dir) -> HybridIndex:
    idx = HybridIndex(Embedder(cache_dir=cache_dir, glossary=GLOSSARY))
    idx.add(list(DOCS.values()), ids=list(DOCS), metadatas=[META[i] for i in DOCS])
    return idx


def ids(hits) -> list[str]:
    return [h.id for h in hits]


def test_exact_code_and_paraphrase_both_land_first(index):
    assert ids(index.search("NMB-4031", k=2))[0] == "err-4031"
    assert ids(index.search("I forgot my login credentials", k=1)) == ["password"]


def test_hits_carry_both_scores_and_ranks(index):
    hit = index.search("NMB-4031", k=1, fusion="weighted")[0]
    assert hit.dense_rank == 1 and hit.bm25_rank == 1
    assert hit.bm25_score > 0 and -1.0 <= hit.dense_score <= 1.0
    assert hit.metadata == {"kind": "error"} and hit.text == DOCS["err-4031"]


def test_glossary_aware_bm25_acronym_finds_spelled_out_text_and_reverse(index):
    acronym = index.search("SLA uptime", k=1, fusion="bm25")
    assert ids(acronym) == ["sla"] and acronym[0].bm25_score > 0
    spelled = index.search("return merchandise authorization for a PSU", k=1, fusion="bm25")
    assert ids(spelled) == ["psu"]


def test_bm25_never_returns_zero_score_documents(index):
    hits = index.search("zebra xylophone", k=5, fusion="bm25")
    assert hits == []
    hits = index.search("NMB-4031", k=6, fusion="bm25")
    assert all(h.bm25_score > 0 for h in hits) and len(hits) == 2


@pytest.mark.parametrize("fusion", ["auto", "rrf", "weighted", "dense"])
def test_k_larger_than_corpus_returns_the_corpus_once(index, fusion):
    hits = index.search("gateway", k=50, fusion=fusion)
    assert sorted(ids(hits)) == sorted(DOCS)


def test_k_zero_returns_nothing_and_bad_k_is_named(index):
    assert index.search("gateway", k=0) == []
    with pytest.raises(ValueError, match="k must be an integer >= 0"):
        index.search("gateway", k=-1)


def test_filter_applies_before_top_k(index):
    hits = index.search("NMB-4031", k=2, filter={"kind": "hardware"})
    assert ids(hits) == ["psu"]
    assert index.search("NMB-4031", k=3, filter={"kind": "nope"}) == []


def test_filter_can_be_a_predicate_over_metadata(index):
    def error_or_hardware(meta):
        return meta.get("kind") in {"error", "hardware"}

    hits = index.search("NMB-4031", k=6, filter=error_or_hardware)

    assert hits and {h.metadata["kind"] for h in hits} <= {"error", "hardware"}
    assert ids(hits)[0] == "err-4031"
    assert index.search("NMB-4031", k=3, filter=lambda meta: False) == []


def test_delete_removes_from_both_sides_and_unknown_ids_change_nothing(index):
    index.delete(["err-4031"])
    assert "err-4031" not in ids(index.search("NMB-4031", k=10))
    assert len(index) == 5
    with pytest.raises(KeyError, match="missing"):
        index.delete(["psu", "missing"])
    assert len(index) == 5 and "psu" in index.ids


def test_adding_an_existing_id_replaces_it(index):
    index.add(["Error NMB-4031 now means a firmware mismatch."], ids=["err-4031"])
    assert len(index) == len(DOCS)
    assert "firmware" in index.get("err-4031")[0]
    assert ids(index.search("firmware mismatch", k=1)) == ["err-4031"]


def test_bad_add_input_is_named_and_changes_nothing(index):
    with pytest.raises(ValueError, match="appears twice"):
        index.add(["a", "b"], ids=["x", "x"])
    with pytest.raises(ValueError, match="indices 1"):
        index.add(["a", " "], ids=["x", "y"])
    with pytest.raises(TypeError, match="not JSON-serializable"):
        index.add(["a"], ids=["x"], metadatas=[{"when": object()}])
    assert len(index) == len(DOCS)


def test_external_dense_candidates_replace_the_matrix(cache_dir):
    emb = Embedder(cache_dir=cache_dir)
    bm25_only = HybridIndex(emb, store_vectors=False, fusion="rrf")
    bm25_only.add(list(DOCS.values()), ids=list(DOCS))
    external = [("password", 0.9), ("billing", 0.2), ("not-here", 0.99)]
    hits = bm25_only.search("reset password", k=3, dense_candidates=external)
    assert ids(hits)[0] == "password"
    assert "not-here" not in ids(hits)
    with pytest.raises(ValueError, match="stores no vectors"):
        bm25_only.search("reset password", k=3)


def test_save_load_round_trip_returns_identical_results(index, tmp_path, cache_dir):
    index.save(tmp_path / "idx")
    loaded = HybridIndex.load(tmp_path / "idx", Embedder(cache_dir=cache_dir, glossary=GLOSSARY))
    for query in ("NMB-4031", "forgot password", "SLA", "RMA for a PSU"):
        for fusion in ("auto", "rrf", "weighted", "dense", "bm25"):
            assert loaded.search(query, k=4, fusion=fusion) == index.search(query, k=4,
                                                                             fusion=fusion)
    assert loaded.tokenizer == index.tokenizer


def test_saving_again_keeps_only_the_current_and_the_previous_version(index, tmp_path,
                                                                       cache_dir):
    # The previous version stays for readers that opened it just before the flip.
    index.save(tmp_path / "idx")
    first = {p.name for p in (tmp_path / "idx").iterdir() if p.name.startswith("v-")}
    index.save(tmp_path / "idx")
    index.delete(["billing"])
    index.save(tmp_path / "idx")
    versions = {p.name for p in (tmp_path / "idx").iterdir() if p.name.startswith("v-")}
    assert len(versions) == 2 and not versions & first
    loaded = HybridIndex.load(tmp_path / "idx", Embedder(cache_dir=cache_dir, glossary=GLOSSARY))
    assert len(loaded) == len(DOCS) - 1


def test_loading_with_another_embedder_names_both_models(index, tmp_path, prompt_model_dir):
    index.save(tmp_path / "idx")
    other = Embedder(f"local:{prompt_model_dir}", cache=False)
    with pytest.raises(FingerprintMismatchError, match="all-MiniLM-L6-v2.*prompted-minilm"):
        HybridIndex.load(tmp_path / "idx", other)
    no_glossary = Embedder(cache=False)
    with pytest.raises(FingerprintMismatchError):
        HybridIndex.load(tmp_path / "idx", no_glossary)


def test_save_refuses_a_folder_with_foreign_files(index, tmp_path):
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="notes.txt"):
        index.save(tmp_path / "idx")


def test_a_save_killed_halfway_leaves_the_old_save_loadable(tmp_path, cache_dir):
    target = tmp_path / "idx"
    script = textwrap.dedent(f"""
        import sys, time
        import numpy as np
        from embedkit import Embedder, HybridIndex
        index = HybridIndex(Embedder(cache_dir={str(cache_dir)!r}))
        index.add(["first document", "second document"], ids=["a", "b"])
        index.save({str(target)!r})
        index.add(["third document"], ids=["c"])
        real_save = np.save
        def slow_save(*args, **kwargs):
            real_save(*args, **kwargs)
            print("SAVING", flush=True)
            time.sleep(60)
        np.save = slow_save
        index.save({str(target)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "SAVING"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert len([p for p in target.iterdir() if p.name.startswith("v-")]) == 2  # one half-written
    loaded = HybridIndex.load(target, Embedder(cache_dir=cache_dir))
    assert sorted(loaded.ids) == ["a", "b"]
    assert ids(loaded.search("second document", k=1)) == ["b"]


async def test_asearch_matches_search(index):
    assert await index.asearch("NMB-4031", k=3) == index.search("NMB-4031", k=3)


def test_dense_scores_are_true_cosines(index):
    hit = index.search("reset password", k=1, fusion="dense")[0]
    query = index.embedder.embed_query("reset password")
    doc = index.embedder.embed_documents([hit.text])[0]
    assert hit.score == pytest.approx(float(doc @ query), abs=1e-5)
    assert hit.dense_score == pytest.approx(hit.score)
    assert np.isclose(np.linalg.norm(query), 1.0)
