"""What an HTTP answer means for a delivery."""

from __future__ import annotations

import pytest

from shared.outputs.attempt import Verdict, classify_http


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_acknowledges(status: int) -> None:
    assert classify_http(status).verdict is Verdict.OK


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 400, 401, 404, 301])
def test_other_statuses_are_errors_to_retry(status: int) -> None:
    attempt = classify_http(status)
    assert attempt.verdict is Verdict.ERROR
    assert attempt.retryable
    assert attempt.detail == f"HTTP {status}"


def test_429_is_throttled_with_its_retry_after() -> None:
    attempt = classify_http(429, retry_after=7.0)
    assert attempt.verdict is Verdict.THROTTLED
    assert attempt.retry_after == 7.0
    assert attempt.retryable


def test_410_is_gone_and_not_retried() -> None:
    attempt = classify_http(410)
    assert attempt.verdict is Verdict.GONE
    assert not attempt.retryable


def test_the_answer_is_kept_short() -> None:
    assert len(classify_http(500, answer="x" * 10_000).answer) == 500
