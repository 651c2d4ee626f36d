from datetime import UTC, datetime, timedelta

from services.parser.formats import RawEntry
from services.parser.seen import entry_version, publish_rate_per_day, seen_key
from shared.pipeline import streams


def test_same_entry_same_version():
    a = RawEntry(guid="1", title="t", summary_html="s")
    b = RawEntry(guid="1", title="t", summary_html="s")
    assert entry_version("f", a, url=None) == entry_version("f", b, url=None)


def test_changed_content_changes_version():
    a = RawEntry(guid="1", title="t", summary_html="s")
    b = RawEntry(guid="1", title="t", summary_html="s (updated)")
    assert entry_version("f", a, url=None) != entry_version("f", b, url=None)


def test_version_is_per_feed():
    entry = RawEntry(guid="1", title="t")
    assert entry_version("f1", entry, url=None) != entry_version("f2", entry, url=None)


def test_seen_key_uses_shared_prefix():
    assert seen_key("abc") == f"{streams.ENTRY_SEEN_PREFIX}abc"


def test_publish_rate_from_dates():
    start = datetime(2025, 1, 1, tzinfo=UTC)
    dates = [start + timedelta(hours=12 * i) for i in range(5)]  # 4 gaps over 2 days
    assert publish_rate_per_day([*dates, None]) == 2.0


def test_publish_rate_needs_two_dates():
    assert publish_rate_per_day([datetime(2025, 1, 1, tzinfo=UTC), None]) is None
