from __future__ import annotations

import math

from benchmarks.lib.stats import (
    crossing_time,
    histogram_buckets,
    histogram_quantile,
    quantile,
    window_rate,
)

METRICS = """\
# HELP feedpipe_ingest_latency_seconds From feed fetch to committed in the index.
# TYPE feedpipe_ingest_latency_seconds histogram
feedpipe_ingest_latency_seconds_bucket{le="0.5"} 10.0
feedpipe_ingest_latency_seconds_bucket{le="1.0"} 90.0
feedpipe_ingest_latency_seconds_bucket{le="+Inf"} 100.0
feedpipe_ingest_latency_seconds_count 100.0
feedpipe_ingest_latency_seconds_sum 70.0
"""


def test_quantile_interpolates_between_samples() -> None:
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5


def test_quantile_of_nothing_is_none() -> None:
    assert quantile([], 0.95) is None


def test_histogram_buckets_are_read_from_prometheus_text() -> None:
    assert histogram_buckets(METRICS, "feedpipe_ingest_latency_seconds") == [
        (0.5, 10.0),
        (1.0, 90.0),
        (math.inf, 100.0),
    ]


def test_histogram_quantile_interpolates_inside_the_bucket() -> None:
    buckets = histogram_buckets(METRICS, "feedpipe_ingest_latency_seconds")
    assert histogram_quantile(0.5, buckets) == 0.75


def test_histogram_quantile_beyond_the_last_bound_reports_that_bound() -> None:
    buckets = histogram_buckets(METRICS, "feedpipe_ingest_latency_seconds")
    assert histogram_quantile(0.99, buckets) == 1.0


def test_window_rate_measures_between_the_crossings() -> None:
    series = [(0.0, 0.0), (10.0, 100.0), (20.0, 300.0)]
    assert crossing_time(series, 200.0) == 15.0
    assert window_rate(series, 50.0, 200.0) == (150.0 / 10.0, 5.0, 15.0)
