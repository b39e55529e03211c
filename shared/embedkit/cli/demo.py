"""``embedkit demo``: the whole pipeline on the bundled knowledge base, offline.

1. Embed the 300-article Nimbus Gateway knowledge base with the bundled all-MiniLM-L6-v2
   (without and with the acronym glossary), cached on disk, with a progress bar.
2. Retrieve through the LangChain and the LlamaIndex adapters (hybrid + glossary).
3. Score dense, BM25 and hybrid search, each without and with the glossary, on 48 judged
   queries (MRR, recall, nDCG at 10).
4. Price the same corpus with every API model in the catalog.
A second run finds every vector in the cache.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .options import CacheDirOption
from .output import add_columns, fold, print_json
from .output import console as output_console
from .progress_bar import OverallBar

# An error code dense search alone ranks 9th, acronyms BM25 misses without the glossary, and
# a paraphrase that shares no keyword with its answer.
EXAMPLE_QUERIES = ("q17", "q40", "q15")
TABLE_MODES = ("dense", "bm25", "hybrid-auto")
TABLE_METRICS = ("mrr@10", "recall@10", "ndcg@10")
EXAMPLE_K = 3
WORDS_TO_TOKENS = 1.3  # English text averages ~1.3 BPE tokens per word


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    cache_dir: CacheDirOption = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the results (metrics, cache counts, costs) as JSON to stdout; "
                       "the report then goes to stderr.")] = False,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Also write the results as JSON to this file.")] = None,
) -> None:
    """Embed the bundled support knowledge base, search it through LangChain and LlamaIndex,
    and compare dense, BM25 and hybrid search (with and without a glossary)."""
    from .. import demo_data

    started = time.perf_counter()
    console = output_console(stderr=as_json)
    data, glossary_file = demo_data.load(), demo_data.folder() / "glossary.json"
    console.print(f"[bold]embedkit demo[/bold]: Nimbus Gateway support knowledge base, "
                  f"{len(data.corpus)} articles, {len(data.judged_queries)} judged queries; "
                  "bundled all-MiniLM-L6-v2, offline\n")
    embedding = embed_corpus(data.corpus, glossary_file, cache_dir, console)
    queries = {qid: data.queries[qid] for qid in EXAMPLE_QUERIES}
    answers = adapter_answers(data.corpus, queries, glossary_file, cache_dir, EXAMPLE_K)
    comparison = _compare(data, glossary_file, cache_dir)
    _print_examples(console, queries, answers, data.qrels, comparison, demo_data.titles())
    _print_quality(console, comparison)
    costs = corpus_costs(list(data.corpus.values()))
    _print_costs(console, costs)
    seconds = time.perf_counter() - started
    _print_cache(console, embedding, seconds)
    payload = _payload(embedding, answers, comparison, costs, seconds)
    if as_json:
        print_json(payload)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(payload, indent=2), encoding="utf-8")


# ------------------------------------------------------------------------- 1. embedding
@dataclass
class EmbeddingStep:
    """How one embedder got the corpus: from the cache (hits) or from the model (misses)."""

    label: str
    fingerprint: str
    hits: int
    misses: int
    seconds: float


def embed_corpus(corpus: Mapping[str, str], glossary_file: Path, cache_dir: Path | None,
                 console: Any) -> list[EmbeddingStep]:
    """Embed every document without and with the glossary, with a progress bar."""
    from ..embedder import Embedder
    from ..progress import report_progress

    steps = []
    console.print("[bold]1. Embedding the knowledge base[/bold]")
    settings = (("without glossary", None), ("with glossary", glossary_file))
    with OverallBar(console, total=len(corpus) * len(settings)) as bar, \
            report_progress(bar.advance):
        for position, (label, glossary) in enumerate(settings):
            bar.reach(len(corpus) * position, description=label)
            embedder = Embedder(glossary=glossary, cache_dir=cache_dir)
            began = time.perf_counter()
            embedder.embed_documents(list(corpus.values()))
            stats = embedder.stats
            steps.append(EmbeddingStep(label, embedder.fingerprint, stats.hits, stats.misses,
                                       time.perf_counter() - began))
            bar.print(f"   {label}: {stats.misses} embedded, {stats.hits} from the cache "
                      f"({steps[-1].seconds:.1f} s)")
    return steps


# ------------------------------------------------------------------------- 2. adapters
@dataclass
class AdapterAnswers:
    """One framework's top results per query, or why it could not run."""

    framework: str
    results: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    unavailable: str | None = None


def adapter_answers(corpus: Mapping[str, str], queries: Mapping[str, str], glossary_file: Path,
                    cache_dir: Path | None, k: int) -> list[AdapterAnswers]:
    """Hybrid + glossary retrieval through each framework adapter that is installed."""
    answers = []
    for framework, retrieve in (("LangChain", _langchain_results),
                                ("LlamaIndex", _llamaindex_results)):
        try:
            results = retrieve(corpus, queries, glossary_file, cache_dir, k)
        except ImportError as exc:
            answers.append(AdapterAnswers(framework, unavailable=str(exc)))
        else:
            answers.append(AdapterAnswers(framework, results))
    return answers


def _langchain_results(corpus: Mapping[str, str], queries: Mapping[str, str],
                       glossary_file: Path, cache_dir: Path | None,
                       k: int) -> dict[str, list[tuple[str, float]]]:
    from langchain_core.documents import Document

    from langchain_embedkit import EmbedKitEmbeddings, EmbedKitHybridRetriever

    embeddings = EmbedKitEmbeddings(glossary=str(glossary_file), cache_dir=cache_dir)
    documents = [Document(page_content=text, id=doc_id) for doc_id, text in corpus.items()]
    retriever = EmbedKitHybridRetriever.from_documents(documents, embeddings=embeddings, k=k)
    return {qid: [(doc.id, doc.metadata["score"]) for doc in retriever.invoke(query)]
            for qid, query in queries.items()}


def _llamaindex_results(corpus: Mapping[str, str], queries: Mapping[str, str],
                        glossary_file: Path, cache_dir: Path | None,
                        k: int) -> dict[str, list[tuple[str, float]]]:
    from llama_index.core.schema import TextNode

    from llamaindex_embedkit import EmbedKitEmbedding, EmbedKitHybridRetriever

    embed_model = EmbedKitEmbedding(glossary=str(glossary_file),
                                    cache_dir=None if cache_dir is None else str(cache_dir))
    nodes = [TextNode(id_=doc_id, text=text) for doc_id, text in corpus.items()]
    retriever = EmbedKitHybridRetriever.from_defaults(nodes=nodes, embed_model=embed_model,
                                                      similarity_top_k=k)
    return {qid: [(hit.node.node_id, float(hit.score or 0.0)) for hit in retriever.retrieve(query)]
            for qid, query in queries.items()}


def _print_examples(console: Any, queries: Mapping[str, str], answers: list[AdapterAnswers],
                    qrels: Mapping[str, Mapping[str, int]], comparison: Any,
                    titles: Mapping[str, str]) -> None:
    console.print("\n[bold]2. Example answers[/bold] (hybrid search + glossary, top "
                  f"{EXAMPLE_K}; ✓ = judged the answer)")
    for qid, query in queries.items():
        console.print(f"\n   [bold]Q: {query}[/bold]")
        for answer in answers:
            if answer.unavailable:
                continue
            for rank, (doc_id, score) in enumerate(answer.results[qid], start=1):
                mark = "✓" if qrels[qid].get(doc_id, 0) == 3 else " "
                framework = answer.framework if rank == 1 else ""
                console.print(f"   {framework:<11}{rank}. {mark} {score:.3f}  "
                              f"{_clip(titles.get(doc_id, doc_id), 52)}")
        console.print(f"   rank of the first relevant article: "
                      f"{_first_relevant_ranks(comparison, qid)}")
    for answer in answers:
        if answer.unavailable:
            console.print(f"   ({answer.framework} adapter not available: {answer.unavailable})")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _first_relevant_ranks(comparison: Any, qid: str) -> str:
    """``dense #9, BM25 #1, hybrid + glossary #1`` from each run's reciprocal rank."""
    parts = []
    for mode, glossary, label in (("dense", False, "dense"), ("bm25", False, "BM25"),
                                  ("hybrid-auto", True, "hybrid + glossary")):
        rr = comparison.get(mode, glossary=glossary).result.per_query[qid]["mrr@10"]
        parts.append(f"{label} #{round(1 / rr)}" if rr > 0 else f"{label} not in top 10")
    return ", ".join(parts)


# ------------------------------------------------------------------------- 3. quality
def _compare(data: Any, glossary_file: Path, cache_dir: Path | None) -> Any:
    from ..evaluate import compare

    return compare(data, modes=TABLE_MODES, glossary=glossary_file, metrics=TABLE_METRICS,
                   cache_dir=cache_dir)


def _print_quality(console: Any, comparison: Any) -> None:
    from ..evaluate.report import comparison_table

    console.print(f"\n[bold]3. Retrieval quality[/bold] on {comparison.runs[0].result.n_queries}"
                  " judged queries (graded relevance)")
    console.print(fold(comparison_table(comparison, timing=False)))
    hybrid = comparison.get("hybrid-auto", glossary=True).result["ndcg@10"]
    dense = comparison.get("dense").result["ndcg@10"]
    bm25 = comparison.get("bm25").result["ndcg@10"]
    verdict = "beats" if hybrid > max(dense, bm25) else "does NOT beat"
    console.print(f"   hybrid + glossary nDCG@10 {hybrid:.3f} {verdict} dense alone "
                  f"({dense:.3f}) and BM25 alone ({bm25:.3f})")


# ------------------------------------------------------------------------- 4. cost
@dataclass(frozen=True)
class ModelCorpusCost:
    model: str
    price_per_million: float | None
    dollars: float | None


@dataclass(frozen=True)
class CorpusCost:
    tokens: int
    counter: str
    """How tokens were counted: ``tiktoken cl100k_base`` or ``estimate: words x 1.3``."""
    documents: int
    rows: list[ModelCorpusCost]


def corpus_costs(texts: list[str]) -> CorpusCost:
    """What embedding ``texts`` once costs with each API model of the catalog."""
    from ..catalog import list_models
    from ..cost.pricing import dollars_for

    tokens, counter = count_tokens(texts)
    rows = []
    for spec in list_models():
        if not spec.is_local:
            dollars = dollars_for(tokens, spec.price_per_million)
            rows.append(ModelCorpusCost(spec.model_string, spec.price_per_million,
                                None if dollars is None else float(dollars)))
    return CorpusCost(tokens, counter, len(texts), rows)


def count_tokens(texts: list[str]) -> tuple[int, str]:
    """Total tokens with tiktoken's cl100k_base if it loads offline, else words x 1.3.

    The demo prices a corpus, so its fallback is a fair estimate; the engine's own fallback
    (UTF-8 bytes / 3) errs high on purpose, to keep requests within API limits.
    """
    from ..providers.tokens import offline_token_counter

    counter = offline_token_counter()
    if counter is not None:
        return sum(counter.count_many(texts)), "tiktoken cl100k_base"
    words = sum(len(text.split()) for text in texts)
    return round(words * WORDS_TO_TOKENS), f"estimate: words x {WORDS_TO_TOKENS}"


def _print_costs(console: Any, costs: CorpusCost) -> None:
    from rich.table import Table

    console.print(f"\n[bold]4. The same corpus with an API model[/bold]: {costs.tokens:,} tokens "
                  f"for {costs.documents} documents ({costs.counter}; other providers' "
                  "tokenizers differ a little)")
    table = Table()
    amounts = ("$/1M tokens", "this corpus", "1M such docs")
    add_columns(table, ("model", *amounts), right=amounts)
    scale = 1_000_000 / max(costs.documents, 1)
    for row in costs.rows:
        if row.dollars is None:
            table.add_row(row.model, "usage-based", "-", "-")
        else:
            table.add_row(row.model, f"{row.price_per_million:.2f}", f"${row.dollars:.5f}",
                          f"${row.dollars * scale:,.2f}")
    table.add_row("all-MiniLM-L6-v2 (bundled)", "0", "$0", "$0")
    console.print(table)


# ------------------------------------------------------------------------- summary
def _print_cache(console: Any, embedding: list[EmbeddingStep], seconds: float) -> None:
    hits = sum(step.hits for step in embedding)
    misses = sum(step.misses for step in embedding)
    console.print(f"\n[bold]Cache[/bold]: {hits} documents from the cache, {misses} embedded "
                  f"({seconds:.1f} s in all).")
    if misses:
        console.print("Run `embedkit demo` again: every vector will come from the cache.")
    else:
        console.print("Everything was served from the cache: nothing was embedded this time.")


def _payload(embedding: list[EmbeddingStep], answers: list[AdapterAnswers], comparison: Any,
             costs: CorpusCost, seconds: float) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "seconds": seconds,
        "embedding": [asdict(step) for step in embedding],
        "answers": [asdict(answer) for answer in answers],
        "comparison": comparison.to_dict(),
        "costs": asdict(costs),
    }
