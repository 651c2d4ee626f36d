"""Pure helpers: quantiles, histogram quantiles from Prometheus text, rates."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from prometheus_client.parser import text_string_to_metric_families


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def histogram_buckets(metrics_text: str, name: str) -> list[tuple[float, float]]:
    """Cumulative ``(le, count)`` pairs of histogram ``name`` summed over labels."""
    sums: dict[float, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
                le = float(sample.labels["le"])
                sums[le] = sums.get(le, 0.0) + sample.value
    return sorted(sums.items())


def merge_buckets(*bucket_sets: list[tuple[float, float]]) -> list[tuple[float, float]]:
    sums: dict[float, float] = {}
    for buckets in bucket_sets:
        for le, count in buckets:
            sums[le] = sums.get(le, 0.0) + count
    return sorted(sums.items())


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' ``histogram_quantile``: linear within the bucket holding the rank."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return prev_le  # beyond the last finite bound: report that bound
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le


def crossing_time(series: Sequence[tuple[float, float]], level: float) -> float | None:
    """First time a monotone ``(t, count)`` series reaches ``level`` (interpolated)."""
    prev: tuple[float, float] | None = None
    for t, v in series:
        if v >= level:
            if prev is None or v == prev[1]:
                return t
            t0, v0 = prev
            return t0 + (t - t0) * (level - v0) / (v - v0)
        prev = (t, v)
    return None


def window_rate(
    series: Sequence[tuple[float, float]], lo: float, hi: float
) -> tuple[float, float, float] | None:
    """(rate, t_lo, t_hi) between the times the series crosses ``lo`` and ``hi``."""
    t1, t2 = crossing_time(series, lo), crossing_time(series, hi)
    if t1 is None or t2 is None or t2 <= t1:
        return None
    return (hi - lo) / (t2 - t1), t1, t2
