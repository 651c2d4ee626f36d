import pytest

from services.parser.html import (
    _CLEANER,
    html_to_text,
    inline_text,
    sanitize_html,
    text_of_clean_html,
)


def nh3_clean(text: str) -> str:
    """What sanitize_html returned before plain text skipped nh3."""
    return _CLEANER.clean(text).strip()


def test_sanitize_removes_scripts_and_handlers():
    out = sanitize_html('<p onclick="x()">Hi<script>alert(1)</script></p>')
    assert out == "<p>Hi</p>"


def test_sanitize_drops_javascript_urls():
    assert "javascript" not in sanitize_html('<a href="javascript:alert(1)">x</a>')


def test_sanitize_drops_unknown_tags_but_keeps_text():
    assert sanitize_html("<blink><font color=red>text</font></blink>") == "text"


def test_sanitize_removes_iframes_with_content():
    assert sanitize_html('<p>a</p><iframe src="https://x.org">fallback</iframe>') == "<p>a</p>"


def test_sanitize_resolves_relative_links_against_base():
    out = sanitize_html('<a href="/post/2">n</a><img src="i.png">', base_url="https://ex.org/b/")
    assert 'href="https://ex.org/post/2"' in out
    assert 'src="https://ex.org/b/i.png"' in out


def test_sanitized_links_get_safe_rel():
    assert 'rel="noopener noreferrer nofollow"' in sanitize_html('<a href="https://x.org">x</a>')


def test_text_keeps_paragraph_breaks():
    assert html_to_text("<p>One</p><p>Two<br>Three</p>") == "One\nTwo\nThree"


def test_text_decodes_entities_and_drops_styles():
    assert html_to_text("<style>p{}</style><b>Tom &amp; Jerry</b>&nbsp;!") == "Tom & Jerry !"


def test_text_of_plain_text_is_tidied():
    assert html_to_text("  plain   text  ") == "plain text"


def test_inline_text_is_one_line():
    assert inline_text("<b>Big</b>\n<i>news</i>") == "Big news"


@pytest.mark.parametrize(
    "text",
    [
        "  Plain words, quotes \"like\" 'these', = and `ticks`.\n\tNext line  ",
        "Accents été, emoji \U0001f600, line sep \u2028, ctrl \x0b\x1b",
        "CR\r\nline",
        "NBSP\xa0here",
        "\ufeffBOM first",
        "NUL\x00inside",
        "a > b",
    ],
)
def test_sanitize_plain_text_matches_nh3(text: str) -> None:
    assert sanitize_html(text) == nh3_clean(text)


def test_sanitize_plain_text_keeps_the_text() -> None:
    text = '  Rain expected, "heavy" at times.  '
    assert sanitize_html(text) == 'Rain expected, "heavy" at times.'


def test_sanitize_ignores_base_url_for_plain_text() -> None:
    assert sanitize_html("see /about", base_url="https://example.org/a") == "see /about"


def test_text_of_clean_html_collapses_double_spaces_per_line() -> None:
    assert text_of_clean_html("<p>one  two </p><p> three</p>") == "one two\nthree"


def test_sanitize_keeps_absolute_links_and_resolves_root_relative_ones() -> None:
    out = sanitize_html(
        '<a href="https://other.example/x">a</a><img src="/i/p.png"><a href="../up">b</a>',
        base_url="https://example.org:8443/news/story",
    )
    assert 'href="https://other.example/x"' in out
    assert 'src="https://example.org:8443/i/p.png"' in out
    assert 'href="https://example.org:8443/up"' in out
