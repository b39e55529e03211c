"""`SimilarityMonitor`: watch retrieval quality in production from the similarities it returns.

Every search tells the monitor its query vector and its top-k similarities. The monitor keeps a
**baseline** (the first ``baseline_size`` queries, or one you set) and a sliding **window** of
the most recent ``window_size`` queries, and raises an alert when

- **drift**: the distribution of top-1 similarities in the window differs from the baseline's
  (queries the knowledge base does not cover, a changed corpus, a changed model);
- **nan_vector** / **zero_norm**: a query vector holds NaN/inf or is all zeros (a broken model
  or provider response: such a vector ranks documents arbitrarily);
- **dimension_change**: a query vector's size differs from the first one seen (a model swap
  behind the index's back);
- **nan_score**: a similarity is NaN/inf.

Drift statistic: the two-sample Kolmogorov-Smirnov statistic ``D = max |F_base(x) - F_win(x)|``
between the empirical distributions of top-1 similarity. Why KS rather than a mean shift:
it is scale-free (all-MiniLM's cosines live around 0.3-0.7, OpenAI's around 0.7-0.9, so a
threshold in cosine units would not carry from one model to another, while ``D`` is a
difference of probabilities in [0, 1] for every model); it sees changes of shape as well as of
location (a fraction of out-of-domain queries makes the distribution bimodal long before it moves
the mean much); and it needs no normality assumption. Drift is flagged when ``D`` is at least
``threshold`` (the effect is large enough to matter) **and** larger than the KS critical value at
``significance`` for these sample sizes (it is not sampling noise of a small window). The mean
shift in baseline standard deviations is reported beside it, because its sign says which way
things moved (negative: queries match the corpus worse than they used to).

The drift alert fires when the window starts to drift and again only after it has recovered
(``D`` below ``threshold``), so a drifting stream does not raise one alert per query.

Use it from any retriever built on `embedkit.HybridIndex` by passing it in
(``HybridIndex(embedder, monitor=monitor)``), or call `observe` yourself.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from ..arguments import check_positive_int

logger = logging.getLogger("embedkit.retrieval.monitor")

AlertKind = Literal["drift", "nan_vector", "zero_norm", "dimension_change", "nan_score"]


@dataclass(frozen=True)
class MonitorAlert:
    """One problem the monitor saw; ``observation`` is the 1-based count of queries so far."""

    kind: AlertKind
    message: str
    observation: int
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DriftReport:
    """Baseline vs window of top-1 similarities."""

    baseline_size: int
    window_size: int
    ks_statistic: float
    """Two-sample Kolmogorov-Smirnov ``D`` in [0, 1]."""
    critical_value: float
    """``D`` that sampling noise exceeds with probability ``significance`` at these sizes."""
    p_value: float
    """Asymptotic KS p-value (how often noise alone gives a ``D`` this large)."""
    baseline_mean: float
    window_mean: float
    mean_shift_std: float
    """(window mean - baseline mean) / baseline standard deviation."""
    drifting: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SimilarityMonitor:
    """Record each query's top-k similarities; flag drift and broken vectors.

    Args:
        baseline_size: the first this many queries become the baseline (or `set_baseline`).
        window_size: recent queries compared with the baseline.
        threshold: smallest KS statistic ``D`` that counts as drift (0.2: the two cumulative
            distributions differ by 20 percentage points somewhere).
        significance: the KS test level; drift also needs ``D`` above its critical value.
        min_window: queries the window needs before drift is tested.
        k: how many top similarities to record per query.
        dimension: expected vector size; default the first one observed.
        on_alert: called with each `MonitorAlert` (they are also logged as warnings on the
            ``embedkit.retrieval.monitor`` logger and kept in `alerts`).
        max_alerts: how many recent alerts to keep.

    Example:
        >>> monitor = SimilarityMonitor(baseline_size=3, window_size=3, min_window=3)
        >>> for top1 in (0.61, 0.58, 0.64, 0.60, 0.59, 0.63):
        ...     _ = monitor.observe(None, [top1])
        >>> monitor.drift().drifting
        False
    """

    def __init__(self, *, baseline_size: int = 200, window_size: int = 100,
                 threshold: float = 0.2, significance: float = 0.01, min_window: int = 30,
                 k: int = 10, dimension: int | None = None,
                 on_alert: Callable[[MonitorAlert], Any] | None = None,
                 max_alerts: int = 1000) -> None:
        _check_settings(baseline_size, window_size, threshold, significance, min_window, k)
        self.baseline_size, self.window_size = baseline_size, window_size
        self.threshold, self.significance = float(threshold), float(significance)
        self.min_window, self.k = min(min_window, window_size), k
        self.dimension = dimension
        self.on_alert = on_alert
        self._lock = threading.Lock()
        self._baseline: list[float] = []
        self._baseline_frozen = False
        self._window: deque[float] = deque(maxlen=window_size)
        self._recent: deque[np.ndarray] = deque(maxlen=window_size)
        self._alerts: deque[MonitorAlert] = deque(maxlen=max_alerts)
        self._counts: dict[str, int] = {}
        self._observations = 0
        self._drift_raised = False

    # ------------------------------------------------------------------ recording
    def observe(self, query_vector: Any = None, hits: Any = None) -> list[MonitorAlert]:
        """Record one query: its vector (or None) and its results or their similarities.

        ``hits`` may be similarity scores, `embedkit.SearchHit` objects (their dense
        similarity), ``(document, score)`` pairs (LangChain's ``*_with_score``) or objects
        with a ``score`` (LlamaIndex's ``NodeWithScore``). Returns the alerts this query raised.
        """
        scores = similarities(hits)
        with self._lock:
            self._observations += 1
            alerts = self._check_vector(query_vector)
            if scores.size and not np.isfinite(scores).all():
                alerts.append(self._alert("nan_score", "a similarity score is NaN or infinite",
                                          scores=[float(s) for s in scores[:self.k]]))
            elif scores.size and not any(a.kind in ("nan_vector", "zero_norm") for a in alerts):
                alerts += self._record(np.sort(scores)[::-1][:self.k])
        for alert in alerts:
            self._emit(alert)
        return alerts

    def set_baseline(self, top1_similarities: Iterable[float]) -> None:
        """Use these top-1 similarities (e.g. from a validation run) as the baseline."""
        values = np.asarray(list(top1_similarities), dtype=np.float64)
        if values.size < 2 or not np.isfinite(values).all():
            raise ValueError(f"a baseline needs at least 2 finite similarities, got {values.size}"
                             + ("" if np.isfinite(values).all() else " (some are NaN/inf)"))
        with self._lock:
            self._baseline = values.tolist()
            self._baseline_frozen = True
            self._window.clear()
            self._drift_raised = False

    def reset_baseline(self) -> None:
        """Forget the baseline; the next ``baseline_size`` queries become the new one."""
        with self._lock:
            self._baseline, self._baseline_frozen = [], False
            self._window.clear()
            self._recent.clear()
            self._drift_raised = False

    # ------------------------------------------------------------------ reading
    @property
    def observations(self) -> int:
        return self._observations

    @property
    def alerts(self) -> list[MonitorAlert]:
        with self._lock:
            return list(self._alerts)

    @property
    def baseline(self) -> np.ndarray:
        """Top-1 similarities of the baseline (may still be filling up)."""
        with self._lock:
            return np.asarray(self._baseline, dtype=np.float64)

    @property
    def window(self) -> np.ndarray:
        """Top-1 similarities of the most recent queries after the baseline."""
        with self._lock:
            return np.asarray(self._window, dtype=np.float64)

    @property
    def recent(self) -> list[np.ndarray]:
        """Top-k similarities of the most recent queries, best first, oldest query first."""
        with self._lock:
            return [row.copy() for row in self._recent]

    @property
    def baseline_ready(self) -> bool:
        return self._baseline_frozen

    def drift(self) -> DriftReport | None:
        """Compare the window with the baseline; None until both have enough queries."""
        with self._lock:
            return self._drift_report()

    def summary(self) -> dict[str, Any]:
        """A JSON-ready status: counts, the latest drift report, alerts by kind."""
        report = self.drift()
        recent = self.recent
        return {
            "observations": self._observations,
            "baseline_ready": self.baseline_ready,
            "baseline_queries": int(self.baseline.size),
            "window_queries": int(self.window.size),
            "mean_top_k_similarity": float(np.mean([r.mean() for r in recent])) if recent
            else None,
            "drift": report.to_dict() if report else None,
            "alerts": dict(self._counts),
        }

    def __repr__(self) -> str:
        return (f"SimilarityMonitor({self._observations} queries, baseline "
                f"{len(self._baseline)}/{self.baseline_size}, window {len(self._window)}, "
                f"{sum(self._counts.values())} alerts)")

    # ------------------------------------------------------------------ internals
    def _check_vector(self, query_vector: Any) -> list[MonitorAlert]:
        if query_vector is None:
            return []
        vector = np.asarray(query_vector, dtype=np.float64).ravel()
        alerts = []
        if self.dimension is None:
            self.dimension = vector.size
        elif vector.size != self.dimension:
            alerts.append(self._alert(
                "dimension_change", f"query vector has {vector.size} dimensions, expected "
                f"{self.dimension}: was the model changed?", expected=self.dimension,
                got=int(vector.size)))
        if not np.isfinite(vector).all():
            bad = int((~np.isfinite(vector)).sum())
            alerts.append(self._alert("nan_vector", f"query vector holds {bad} NaN/inf values",
                                      bad_values=bad))
        elif not np.any(vector):
            alerts.append(self._alert("zero_norm", "query vector is all zeros (norm 0)"))
        return alerts

    def _record(self, top_k: np.ndarray) -> list[MonitorAlert]:
        self._recent.append(top_k)
        top1 = float(top_k[0])
        if not self._baseline_frozen:
            self._baseline.append(top1)
            self._baseline_frozen = len(self._baseline) >= self.baseline_size
            return []
        self._window.append(top1)
        return self._check_drift()

    def _check_drift(self) -> list[MonitorAlert]:
        report = self._drift_report()
        if report is None:
            return []
        if report.drifting and not self._drift_raised:
            self._drift_raised = True
            return [self._alert(
                "drift", f"top-1 similarity drifted: KS D={report.ks_statistic:.2f} "
                f"(threshold {self.threshold:.2f}, p={report.p_value:.2g}); mean "
                f"{report.baseline_mean:.3f} -> {report.window_mean:.3f} "
                f"({report.mean_shift_std:+.1f} baseline std)", **report.to_dict())]
        if self._drift_raised and report.ks_statistic < self.threshold:
            self._drift_raised = False  # recovered: the next drift alerts again
        return []

    def _drift_report(self) -> DriftReport | None:
        if not self._baseline_frozen or len(self._window) < self.min_window:
            return None
        base = np.asarray(self._baseline)
        win = np.asarray(self._window)
        d = ks_statistic(base, win)
        critical = ks_critical_value(base.size, win.size, self.significance)
        std = float(base.std(ddof=1)) if base.size > 1 else 0.0
        shift = (win.mean() - base.mean()) / std if std > 0 else 0.0
        return DriftReport(
            baseline_size=base.size, window_size=win.size, ks_statistic=d,
            critical_value=critical, p_value=ks_p_value(d, base.size, win.size),
            baseline_mean=float(base.mean()), window_mean=float(win.mean()),
            mean_shift_std=float(shift), drifting=d >= self.threshold and d > critical)

    def _alert(self, kind: AlertKind, message: str, **details: Any) -> MonitorAlert:
        alert = MonitorAlert(kind, message, self._observations, details)
        self._alerts.append(alert)
        self._counts[kind] = self._counts.get(kind, 0) + 1
        return alert

    def _emit(self, alert: MonitorAlert) -> None:
        logger.warning("embedding monitor: %s", alert.message)
        if self.on_alert is not None:
            self.on_alert(alert)


# ---------------------------------------------------------------------- statistics
def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample KS statistic: the largest gap between the two empirical CDFs."""
    a, b = np.sort(np.asarray(a, dtype=np.float64)), np.sort(np.asarray(b, dtype=np.float64))
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / a.size
    cdf_b = np.searchsorted(b, points, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


def ks_critical_value(n: int, m: int, significance: float) -> float:
    """``c(alpha) * sqrt((n + m) / (n m))`` with ``c(alpha) = sqrt(-ln(alpha / 2) / 2)``."""
    return math.sqrt(-math.log(significance / 2) / 2) * math.sqrt((n + m) / (n * m))


def ks_p_value(d: float, n: int, m: int) -> float:
    """Asymptotic two-sided p-value of ``D`` (Kolmogorov distribution, Stephens' correction)."""
    effective = math.sqrt(n * m / (n + m))
    lam = (effective + 0.12 + 0.11 / effective) * d
    if lam < 1e-3:
        return 1.0
    terms = [(-1) ** (j - 1) * math.exp(-2 * j * j * lam * lam) for j in range(1, 101)]
    return float(min(1.0, max(0.0, 2 * math.fsum(terms))))


# ---------------------------------------------------------------------- inputs
def similarities(hits: Any) -> np.ndarray:
    """Similarity scores from any of the result shapes `SimilarityMonitor.observe` accepts."""
    if hits is None:
        return np.empty(0)
    if isinstance(hits, np.ndarray):
        return hits.astype(np.float64).ravel()
    return np.array([_score_of(hit, i) for i, hit in enumerate(hits)], dtype=np.float64)


def _score_of(hit: Any, position: int) -> float:
    if isinstance(hit, int | float | np.number) and not isinstance(hit, bool):
        return float(hit)
    if isinstance(hit, tuple) and len(hit) == 2 and _is_number(hit[1]):
        return float(hit[1])  # (Document, score)
    for attribute in ("dense_score", "score"):  # SearchHit's cosine first, then any score
        value = getattr(hit, attribute, None)
        if _is_number(value):
            return float(value)
    raise TypeError(f"hit at index {position} ({type(hit).__name__}) has no similarity score; "
                    "pass floats, SearchHit, (document, score) pairs or objects with .score")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


def _check_settings(baseline_size: int, window_size: int, threshold: float,
                    significance: float, min_window: int, k: int) -> None:
    for name, value in (("baseline_size", baseline_size), ("window_size", window_size),
                        ("min_window", min_window), ("k", k)):
        check_positive_int(name, value)
    if baseline_size < 2 or min_window < 2:
        raise ValueError("baseline_size and min_window must be at least 2 for a drift test")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold is a KS statistic in (0, 1], got {threshold!r}")
    if not 0.0 < significance < 1.0:
        raise ValueError(f"significance must be in (0, 1), got {significance!r}")


__all__ = ["DriftReport", "MonitorAlert", "SimilarityMonitor", "ks_critical_value",
           "ks_p_value", "ks_statistic", "similarities"]
