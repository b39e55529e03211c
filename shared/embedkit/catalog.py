"""The model catalog: one `ModelSpec` per model of the embedding guide's tables.

Figures (dimensions, max tokens, price per 1M input tokens, MTEB average or rank) are the
guide's, reproduced in docs/guide-reference.md section 2; prefixes are the ones each model's
authors document for asymmetric retrieval.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import UnknownModelError

BGE_QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "
E5_MISTRAL_QUERY_INSTRUCTION = (
    "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery: "
)


@dataclass(frozen=True)
class ModelSpec:
    """What embedkit knows about one embedding model."""

    name: str
    """Canonical id: the Hugging Face id for open models, the API model name otherwise."""
    provider: str
    """Backend that serves it: ``local``, ``openai``, ``cohere``, ``voyage``, ``google``, ``aws``."""
    dimensions: int | None
    """Native vector size (None when unknown, e.g. an uncatalogued local model)."""
    max_tokens: int | None
    """Longest input in tokens; longer texts are truncated."""
    price_per_million: float | None = 0.0
    """US dollars per 1M input tokens; 0 for local models, None when usage-based."""
    mteb_score: float | None = None
    """MTEB average score, where a number is published (open models)."""
    mteb_rank: str | None = None
    """Rank text for API models ("Top 10", "Legacy", ...), where no score is published."""
    query_prefix: str = ""
    """Text prepended to queries (BGE instruction, E5 ``query: ``, nomic ``search_query: ``)."""
    document_prefix: str = ""
    """Text prepended to documents (E5 ``passage: ``, nomic ``search_document: ``)."""
    matryoshka: bool = False
    """Trained so that a prefix of the vector is a good smaller embedding."""
    dimension_options: tuple[int, ...] = ()
    """Sizes the provider accepts or the model was trained for, largest first."""
    multilingual: bool = False
    code: bool = False
    best_for: str = ""
    """What the model suits best ("Budget-friendly API", "Code search", ...)."""
    aliases: tuple[str, ...] = field(default=())
    """Other names users type for it (short ids, common spellings)."""
    trust_remote_code: bool = False
    notes: str = ""

    @property
    def is_local(self) -> bool:
        return self.provider == "local"

    @property
    def long_context(self) -> bool:
        """More than the 512 tokens that most BERT-sized models stop at."""
        return (self.max_tokens or 0) > 512

    @property
    def model_string(self) -> str:
        """The string to pass to `Embedder` for this model."""
        return self.name if self.is_local else f"{self.provider}:{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _api(name: str, provider: str, dims: int, max_tokens: int, price: float | None,
         rank: str, **kw: Any) -> ModelSpec:
    return ModelSpec(name, provider, dims, max_tokens, price, mteb_rank=rank, **kw)


def _local(name: str, dims: int, max_tokens: int, mteb: float | None, **kw: Any) -> ModelSpec:
    short = name.split("/")[-1]
    aliases = tuple(dict.fromkeys((short, short.lower(), *kw.pop("aliases", ()))))
    return ModelSpec(name, "local", dims, max_tokens, 0.0, mteb_score=mteb, aliases=aliases, **kw)


_E5 = {"query_prefix": "query: ", "document_prefix": "passage: "}
_BGE = {"query_prefix": BGE_QUERY_INSTRUCTION}

CATALOG: tuple[ModelSpec, ...] = (
    # Proprietary API models
    _api("text-embedding-3-large", "openai", 3072, 8191, 0.13, "Top 10", matryoshka=True,
         dimension_options=(3072, 1024, 512, 256), best_for="Highest quality API"),
    _api("text-embedding-3-small", "openai", 1536, 8191, 0.02, "Top 30", matryoshka=True,
         dimension_options=(1536, 1024, 512, 256), best_for="Budget-friendly API"),
    _api("text-embedding-ada-002", "openai", 1536, 8191, 0.10, "Legacy", best_for="Legacy"),
    _api("embed-english-v3.0", "cohere", 1024, 512, 0.10, "Top 15",
         aliases=("cohere-embed-v3",), best_for="General English"),
    _api("embed-multilingual-v3.0", "cohere", 1024, 512, 0.10, "Top 5 (multilingual)",
         multilingual=True, best_for="Multilingual"),
    _api("voyage-large-2", "voyage", 1536, 16000, 0.12, "Top 5", best_for="Legal, long documents"),
    _api("voyage-code-2", "voyage", 1536, 16000, 0.12, "#1 (code)", code=True,
         best_for="Code search"),
    _api("text-embedding-004", "google", 768, 2048, None, "Top 20",
         notes="Usage-based pricing"),
    _api("amazon.titan-embed-text-v2:0", "aws", 1024, 8000, 0.02, "Top 25",
         aliases=("titan-embed-text-v2",), dimension_options=(1024, 512, 256)),
    # Open-source models and their smaller siblings
    _local("BAAI/bge-large-en-v1.5", 1024, 512, 64.23, best_for="General English", **_BGE),
    _local("BAAI/bge-base-en-v1.5", 768, 512, 63.55, best_for="General English", **_BGE),
    _local("BAAI/bge-small-en-v1.5", 384, 512, 62.17, best_for="General English", **_BGE),
    _local("BAAI/bge-m3", 1024, 8192, 62.0, multilingual=True,
           best_for="Multilingual, long context"),
    _local("intfloat/e5-large-v2", 1024, 512, 62.68, best_for="General purpose", **_E5),
    _local("intfloat/e5-base-v2", 768, 512, 61.5, best_for="General purpose", **_E5),
    _local("intfloat/e5-small-v2", 384, 512, 59.93, best_for="General purpose", **_E5),
    _local("intfloat/e5-mistral-7b-instruct", 4096, 32768, 66.63, best_for="Highest quality",
           query_prefix=E5_MISTRAL_QUERY_INSTRUCTION, aliases=("e5-mistral-7b",)),
    _local("thenlper/gte-large", 1024, 512, 63.13, best_for="General purpose"),
    _local("thenlper/gte-base", 768, 512, 62.39, best_for="General purpose"),
    _local("thenlper/gte-small", 384, 512, 61.36, best_for="General purpose"),
    _local("intfloat/multilingual-e5-large", 1024, 512, 61.5, multilingual=True,
           best_for="100+ languages", **_E5),
    _local("nomic-ai/nomic-embed-text-v1.5", 768, 8192, 62.28, best_for="Long context",
           query_prefix="search_query: ", document_prefix="search_document: ", matryoshka=True,
           dimension_options=(768, 512, 256, 128, 64), trust_remote_code=True,
           aliases=("nomic-embed-text", "nomic-embed")),
    _local("mixedbread-ai/mxbai-embed-large-v1", 1024, 512, 64.68, best_for="High quality",
           matryoshka=True, dimension_options=(1024, 512, 256), aliases=("mxbai-embed-large",),
           **_BGE),
    _local("sentence-transformers/all-MiniLM-L6-v2", 384, 256, 56.26,
           best_for="Fast, lightweight"),
    _local("jinaai/jina-embeddings-v2-base-en", 768, 8192, 60.39, best_for="Long context",
           trust_remote_code=True, aliases=("jina-embeddings-v2",)),
    # Specialized domain encoders, not trained as sentence embedders
    _local("microsoft/codebert-base", 768, 512, None, code=True, best_for="Code",
           aliases=("CodeBERT",), notes="Masked-LM encoder; fine-tune before retrieval use"),
    _local("nlpaueb/legal-bert-base-uncased", 768, 512, None, best_for="Legal terminology",
           aliases=("legal-bert-base",), notes="Masked-LM encoder; fine-tune before retrieval use"),
    _local("microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract-fulltext", 768, 512, None,
           best_for="Medical/scientific", aliases=("PubMedBERT",),
           notes="Masked-LM encoder; fine-tune before retrieval use"),
    _local("dmis-lab/biobert-base-cased-v1.2", 768, 512, None, best_for="Medical/scientific",
           aliases=("BioBERT",), notes="Masked-LM encoder; fine-tune before retrieval use"),
    _local("ProsusAI/finbert", 768, 512, None, best_for="Financial domain", aliases=("FinBERT",),
           notes="Financial-sentiment classifier; fine-tune before retrieval use"),
)

SERVED_ONLY: tuple[ModelSpec, ...] = (
    # Models the providers serve that the comparison tables above do not list: known for their
    # sizes and limits, priced as unknown, and left out of `CATALOG` (so out of `find_spec`,
    # the cost table and recommendations). Only embed-v4.0 and newer accept output_dimension.
    ModelSpec("embed-english-light-v3.0", "cohere", 384, 512, None),
    ModelSpec("embed-multilingual-light-v3.0", "cohere", 384, 512, None, multilingual=True),
    ModelSpec("embed-v4.0", "cohere", 1536, 128_000, None, matryoshka=True,
              dimension_options=(1536, 1024, 512, 256), multilingual=True),
)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def _index() -> dict[str, ModelSpec]:
    table: dict[str, ModelSpec] = {}
    for spec in CATALOG:
        for key in (spec.name, spec.model_string, *spec.aliases):
            table.setdefault(key.lower(), spec)
    return table


_BY_NAME = _index()


def find_spec(name: str) -> ModelSpec | None:
    """The catalog record for a model id, ``provider:model`` string or alias, else None."""
    key = name.strip().lower()
    return _BY_NAME.get(key) or _BY_NAME.get(key.split(":", 1)[-1])


def provider_spec(provider: str, model: str) -> ModelSpec | None:
    """What embedkit knows about ``model`` as ``provider`` serves it (`CATALOG` first, then
    `SERVED_ONLY`), or None for a model it does not know."""
    spec = find_spec(f"{provider}:{model}")
    if spec is not None and spec.provider == provider:
        return spec
    return next((s for s in SERVED_ONLY if s.provider == provider and s.name == model), None)


def get_spec(name: str) -> ModelSpec:
    """Like `find_spec` but raise `UnknownModelError` (a `KeyError`) naming close names."""
    spec = find_spec(name)
    if spec is None:
        import difflib

        close = difflib.get_close_matches(name.lower(), list(_BY_NAME), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(f"{name!r} is not in the embedkit catalog{hint}")
    return spec


def list_models(provider: str | None = None) -> list[ModelSpec]:
    """Every catalogued model, optionally only one provider's."""
    return [s for s in CATALOG if provider is None or s.provider == provider]
