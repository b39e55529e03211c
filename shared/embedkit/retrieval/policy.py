"""The default search (``fusion="auto"``): per query, how far to trust BM25, and feedback.

Decided from label-free signals (`embedkit.retrieval.signals`), never from constants fitted to
one data set:

- **Dense weight** ``alpha`` starts at ``dense_alpha``: BM25 is far weaker than dense search on
  natural-language queries, and dense-leaning fusion keeps dense quality while adding BM25's
  exact matches. It slides toward ``agreement_alpha`` as the heads of the two lists agree
  (:func:`~embedkit.retrieval.signals.overlap` of their top ``agreement_depth``): when BM25
  finds the documents dense search finds, its ranking of them is informative; when the lists
  disagree, BM25 is most often matching words out of context, and weighting it costs quality
  (measured: up to 0.10 nDCG@10 on an entity-search set at equal weights). Then it slides
  toward ``lexical_alpha`` by the rarity of the query's rarest code-like token (part numbers,
  error codes), which dense models cannot represent and BM25 matches exactly.
- **Dense feedback** (Rocchio, `embedkit.retrieval.feedback`) from the top ``feedback.depth``
  documents of the *fused* ranking, then fused again with the same weight. Feedback from the
  fused list (which both methods vouch for) helped on every development set, where feedback
  from the dense list alone lost up to 0.017 on cisi. It is skipped for known-item queries (a
  code-like token rarer than ``feedback_max_code``): there the first hit is the answer and
  averaging in the next documents only pulls the query away from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .feedback import Feedback
from .signals import QuerySignals


@dataclass(frozen=True)
class SearchPolicy:
    """The default search's decisions; every field in [0, 1] unless said otherwise.

    Attributes:
        dense_alpha: dense weight when the lists disagree and the query has no code.
        agreement_alpha: dense weight when the heads of both lists are the same documents.
        lexical_alpha: dense weight for a code-like token found in one document only.
        agreement_depth: list heads compared for agreement (an int >= 1).
        feedback: dense feedback settings (documents taken, Rocchio weight).
        feedback_max_code: feedback only for queries whose rarest code-like token has a rarity
            below this (1.01: always).
    """

    dense_alpha: float = 0.8
    agreement_alpha: float = 0.5
    lexical_alpha: float = 0.2
    agreement_depth: int = 10
    feedback: Feedback = field(default_factory=lambda: Feedback(depth=3, beta=1.0))
    feedback_max_code: float = 0.5

    def __post_init__(self) -> None:
        for name in ("dense_alpha", "agreement_alpha", "lexical_alpha"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ValueError(f"SearchPolicy.{name} must be a number in [0, 1], "
                                 f"got {value!r}")
        if not isinstance(self.agreement_depth, int) or self.agreement_depth < 1:
            raise ValueError(f"SearchPolicy.agreement_depth must be an int >= 1, "
                             f"got {self.agreement_depth!r}")
        if isinstance(self.feedback, dict):  # from a saved manifest
            object.__setattr__(self, "feedback", Feedback(**self.feedback))
        if not isinstance(self.feedback, Feedback):
            raise TypeError(f"SearchPolicy.feedback must be a Feedback, "
                            f"got {type(self.feedback).__name__}")
        if not (isinstance(self.feedback_max_code, (int, float))
                and 0.0 <= self.feedback_max_code <= 1.01):
            raise ValueError(f"SearchPolicy.feedback_max_code must be in [0, 1.01], "
                             f"got {self.feedback_max_code!r}")

    def alpha(self, signals: QuerySignals, agreement: float) -> float:
        """The dense weight for one query, from its signals and the lists' agreement."""
        agreement = min(max(float(agreement), 0.0), 1.0)
        alpha = self.dense_alpha - (self.dense_alpha - self.agreement_alpha) * agreement
        return alpha - (alpha - self.lexical_alpha) * signals.code_rarity

    def wants_feedback(self, signals: QuerySignals) -> bool:
        """Whether dense feedback should run for this query (not a known-item lookup)."""
        return signals.code_rarity < self.feedback_max_code

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (`SearchPolicy(**d)` restores them)."""
        return asdict(self)
