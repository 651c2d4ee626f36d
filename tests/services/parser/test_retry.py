import pytest

from services.parser.retry import job_member, next_attempt_at, retry_after
from shared.fetch.fetcher import FetchOutcome, FetchResult


def result(outcome: FetchOutcome, status: int | None = None, wait: float | None = None):
    return FetchResult(
        url="https://x.org/a", final_url="https://x.org/a", result=outcome, status=status,
        retry_after=wait,
    )  # fmt: skip


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_busy_or_failing_gateways_pass(status):
    assert retry_after(result(FetchOutcome.HTTP_ERROR, status)) == 0.0


def test_the_hosts_retry_after_is_kept():
    assert retry_after(result(FetchOutcome.HTTP_ERROR, 503, 120.0)) == 120.0


def test_politeness_deferral_and_network_failures_pass():
    assert retry_after(result(FetchOutcome.DEFERRED, wait=30.0)) == 30.0
    assert retry_after(result(FetchOutcome.NETWORK_ERROR)) == 0.0


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (FetchOutcome.HTTP_ERROR, 404),
        (FetchOutcome.HTTP_ERROR, 410),
        (FetchOutcome.HTTP_ERROR, 500),
        (FetchOutcome.REFUSED, None),
        (FetchOutcome.TOO_LARGE, 200),
        (FetchOutcome.OK, 200),
        (FetchOutcome.NOT_MODIFIED, 304),
    ],
)
def test_final_failures_and_successes_are_not_retried(outcome, status):
    assert retry_after(result(outcome, status)) is None


def test_backoff_doubles_per_attempt():
    due = [
        next_attempt_at(now=1000.0, attempts=n, host_wait=0, base_delay=60, max_delay=86400)
        for n in range(4)
    ]
    assert due == [1060.0, 1120.0, 1240.0, 1480.0]


def test_never_before_the_hosts_retry_after():
    assert (
        next_attempt_at(now=0.0, attempts=0, host_wait=600, base_delay=60, max_delay=86400) == 600.0
    )


def test_waits_are_capped():
    assert (
        next_attempt_at(now=0.0, attempts=30, host_wait=10**9, base_delay=60, max_delay=3600)
        == 3600.0
    )


def test_one_job_per_feed_and_page():
    assert job_member("f1", "https://x.org/a") == job_member("f1", "https://x.org/a")
    assert job_member("f1", "https://x.org/a") != job_member("f2", "https://x.org/a")
    assert job_member("f1", "https://x.org/a") != job_member("f1", "https://x.org/b")
