"""Fine-tune an embedding model on your own documents: generated pairs, mined negatives, training.

```python
from embedkit.finetune import generate_pairs, mine_hard_negatives, finetune, write_pairs
pairs = generate_pairs(documents, llm)                  # any LLM: function, LangChain, LlamaIndex
pairs = mine_hard_negatives(pairs, documents)           # similar but not the answer
write_pairs(pairs, "pairs.jsonl")
result = finetune(None, pairs, "my-model", loss="matryoshka", eval="beir/msmarco")
print(result.report())                                  # nDCG@10 before/after, per dimension
Embedder(result.model_string)                           # same prefixes as the base model
```
Needs the ``finetune`` extra: ``pip install "embedkit[finetune]"``.
"""

from .generate import (
    QUESTION_PROMPT,
    clean_question,
    generate_pairs,
    normalize_question,
    parse_questions,
    question_prompt,
)
from .llm import as_text_llm
from .mining import mine_hard_negatives
from .objectives import LOSSES, default_matryoshka_dims
from .pairs import TrainingPair, as_pairs, read_pairs, write_pairs
from .train import FinetuneResult, finetune, save_model

__all__ = [
    "LOSSES",
    "QUESTION_PROMPT",
    "FinetuneResult",
    "TrainingPair",
    "as_pairs",
    "as_text_llm",
    "clean_question",
    "default_matryoshka_dims",
    "finetune",
    "generate_pairs",
    "mine_hard_negatives",
    "normalize_question",
    "parse_questions",
    "question_prompt",
    "read_pairs",
    "save_model",
    "write_pairs",
]
