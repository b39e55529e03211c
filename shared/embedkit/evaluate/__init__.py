"""Evaluate retrieval: IR metrics (trec_eval semantics) and test-set loaders.

```python
from embedkit.evaluate import evaluate_run, load_beir
data = load_beir("beir/msmarco")
# run: {qid: [doc_id, ...]} best first, or {qid: {doc_id: score}}
result = evaluate_run(run, data.qrels)
result.mean["ndcg@10"]; result.per_query; result.skipped

table = compare(data, models=[None], modes="dense,bm25,hybrid")  # runs x metrics
```
"""

from .compare import (
    DEFAULT_MODES,
    MODES,
    Comparison,
    Mode,
    RunResult,
    compare,
    parse_modes,
)
from .datasets import (
    RetrievalDataset,
    from_simple_list,
    load_beir,
    load_qrels,
    load_simple_json,
    text_id,
)
from .metrics import (
    DEFAULT_METRICS,
    EvalResult,
    MetricSpec,
    evaluate_run,
    parse_metric,
    rank_documents,
)

__all__ = [
    "DEFAULT_METRICS",
    "DEFAULT_MODES",
    "MODES",
    "Comparison",
    "Mode",
    "RunResult",
    "compare",
    "parse_modes",
    "EvalResult",
    "MetricSpec",
    "RetrievalDataset",
    "evaluate_run",
    "from_simple_list",
    "load_beir",
    "load_qrels",
    "load_simple_json",
    "parse_metric",
    "rank_documents",
    "text_id",
]
