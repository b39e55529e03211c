"""One progress bar over a whole job: the embedders report texts done to it, draw no bars."""

from __future__ import annotations

import io

from rich.console import Console

from embedkit import Embedder
from embedkit.cli.progress_bar import OverallBar
from embedkit.progress import report_progress

from tests.fakeapi.fixtures import fake_api  # noqa: F401  (fixture used by name)


def test_local_embedding_reports_each_batch_and_draws_no_bar(cache_dir, capsys):
    embedder = Embedder(cache_dir=cache_dir, batch_size=2, show_progress=True)
    done: list[int] = []
    with report_progress(done.append):
        embedder.embed_documents(["one", "two", "three", "four", "five"])
    assert done == [2, 2, 1]
    assert "embedding" not in capsys.readouterr().err  # tqdm's bar would say "embedding"
    embedder.embed_documents(["six", "seven", "eight"])  # listener gone: nothing reported
    assert done == [2, 2, 1]


def test_api_embedding_reports_each_batch(fake_api, cache_dir):  # noqa: F811
    embedder = Embedder("openai:text-embedding-3-small", api_key="sk-test", batch_size=2,
                        base_url=fake_api.openai_base_url, cache_dir=cache_dir)
    done: list[int] = []
    with report_progress(done.append):
        embedder.embed_documents(["a", "b", "c"])
    assert sorted(done) == [1, 2]


def test_overall_bar_counts_texts_and_skips_over_cached_ones():
    out = io.StringIO()
    messages = Console(file=out, force_terminal=True, width=100)
    with OverallBar(messages, total=10) as bar, report_progress(bar.advance):
        bar.advance(3)
        bar.reach(6, description="second model")  # texts 4-6 came from the cache
        assert bar.progress.tasks[0].completed == 6
        bar.reach(2)  # never moves back
        assert bar.progress.tasks[0].completed == 6
    assert bar.progress.tasks[0].completed == 10
    assert "10/10" in out.getvalue() and "ETA" in out.getvalue()
