from services.parser.html import html_to_text, inline_text, sanitize_html


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
