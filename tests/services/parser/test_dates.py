from datetime import UTC, datetime

import pytest

from services.parser.dates import to_utc


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Tue, 03 Jun 2025 09:39:21 +0200", datetime(2025, 6, 3, 7, 39, 21, tzinfo=UTC)),
        ("2025-06-03T09:39:21Z", datetime(2025, 6, 3, 9, 39, 21, tzinfo=UTC)),
        ("2025-06-03", datetime(2025, 6, 3, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
        ("1066-10-14T00:00:00Z", None),
    ],
)
def test_to_utc(value, expected):
    assert to_utc(value) == expected
