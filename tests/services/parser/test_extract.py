from datetime import UTC, datetime

import pytest

from services.parser.extract import extract_page, text_to_html
from tests.services.parser.pages import BOILERPLATE, PARAGRAPHS, article_page


@pytest.fixture(scope="module")
def page():
    content = extract_page(article_page().encode(), url="https://gazette.example/l?utm_source=x")
    assert content is not None
    return content


def test_main_text_is_kept(page):
    for paragraph in PARAGRAPHS:
        assert paragraph in page.text


@pytest.mark.parametrize("kind", sorted(BOILERPLATE))
def test_boilerplate_is_dropped(page, kind):
    assert BOILERPLATE[kind] not in page.text


def test_canonical_link_is_reported(page):
    assert page.canonical_url == "https://gazette.example/2025/lighthouse"


def test_site_name_and_date(page):
    assert page.site_name == "Harbour Gazette"
    assert page.published == datetime(2025, 4, 2, 8, 0, tzinfo=UTC)


def _dated_page(published: str) -> bytes:
    body = "<p>" + "The harbour council met again to discuss the ferry timetable. " * 12 + "</p>"
    return (
        f'<html><head><meta property="article:published_time" content="{published}">'
        f"<title>Ferry</title></head><body><article>{body}</article></body></html>"
    ).encode()


def test_page_time_of_day_and_zone_are_kept():
    content = extract_page(_dated_page("2025-04-02T12:34:56+02:00"), url="https://x.org/a")
    assert content is not None
    assert content.published == datetime(2025, 4, 2, 10, 34, 56, tzinfo=UTC)


def test_page_stating_only_a_day_gives_midnight_utc():
    content = extract_page(_dated_page("2025-04-02"), url="https://x.org/a")
    assert content is not None
    assert content.published == datetime(2025, 4, 2, tzinfo=UTC)


def test_html_is_one_paragraph_per_line():
    assert text_to_html("a < b\nsecond") == "<p>a &lt; b</p><p>second</p>"


def test_empty_page_gives_nothing():
    assert extract_page(b"<html><body></body></html>", url="https://x.org/") is None
