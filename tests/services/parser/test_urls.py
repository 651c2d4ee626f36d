import pytest

from services.parser.urls import article_id_for, canonicalize_url, is_tracking_param


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM/a", "http://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com/a/b/../c", "https://example.com/a/c"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("//cdn.example.com/x", "https://cdn.example.com/x"),
    ],
)
def test_canonical_form(raw, expected):
    assert canonicalize_url(raw) == expected


@pytest.mark.parametrize(
    "param",
    ["utm_source=rss", "utm_medium=feed", "fbclid=abc", "gclid=1", "mc_cid=2", "mc_eid=3"],
)
def test_tracking_parameters_are_dropped(param):
    assert canonicalize_url(f"https://example.com/a?id=7&{param}") == "https://example.com/a?id=7"


def test_meaningful_query_parameters_are_kept():
    assert canonicalize_url("https://example.com/watch?v=abc") == "https://example.com/watch?v=abc"


def test_relative_link_resolves_against_base():
    assert (
        canonicalize_url("../posts/1?utm_campaign=x", base="https://Blog.example.com/feed/rss/")
        == "https://blog.example.com/feed/posts/1"
    )


def test_absolute_link_ignores_base():
    assert canonicalize_url("https://other.org/x", base="https://example.com/") == (
        "https://other.org/x"
    )


def test_idn_host_and_non_ascii_path_are_encoded():
    assert canonicalize_url("https://exämple.com/ü") == "https://xn--exmple-cua.com/%C3%BC"


@pytest.mark.parametrize(
    "raw", ["", None, "mailto:a@example.com", "javascript:alert(1)", "ftp://x.org/", "http://:80"]
)
def test_non_http_urls_have_no_canonical_form(raw):
    assert canonicalize_url(raw) is None


def test_tracking_prefix_detection_is_case_insensitive():
    assert is_tracking_param("UTM_Source")
    assert not is_tracking_param("page")


def test_article_id_is_stable_and_url_based():
    a = article_id_for(url="https://example.com/a", feed_id="f1", guid="g")
    b = article_id_for(url="https://example.com/a", feed_id="f2", guid="other")
    assert a == b
    assert len(a) == 32
    int(a, 16)


def test_article_id_without_url_depends_on_feed_and_guid():
    a = article_id_for(url=None, feed_id="f1", guid="g")
    assert a == article_id_for(url=None, feed_id="f1", guid="g")
    assert a != article_id_for(url=None, feed_id="f2", guid="g")


def test_article_id_needs_url_or_guid():
    with pytest.raises(ValueError, match="URL or a GUID"):
        article_id_for(url=None, feed_id="f", guid=None)


def test_only_tracking_parameters_leave_no_query():
    assert canonicalize_url("https://example.com/a?utm_source=rss&utm_medium=feed#x") == (
        "https://example.com/a"
    )


def test_fragment_only_is_dropped():
    assert canonicalize_url("https://example.com/a#section") == "https://example.com/a"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://127.0.0.1:8080/a/1?utm_source=feed", "http://127.0.0.1:8080/a/1"),
        ("https://example.com:443/a?utm_medium=rss", "https://example.com/a"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080", "http://example.com:8080/"),
    ],
)
def test_explicit_ports_on_plain_links(raw, expected):
    assert canonicalize_url(raw) == expected


def test_port_out_of_range_has_no_canonical_form():
    assert canonicalize_url("http://example.com:70000/a") is None


@pytest.mark.parametrize("host", ["example.com", "EXAMPLE.com"])
def test_empty_path_parameters_are_dropped_whatever_the_host_case(host):
    # ";" ends a path segment's parameters; w3lib drops an empty one, and a
    # lower-case host must not keep it where an upper-case one loses it.
    assert canonicalize_url(f"https://{host}/a;?utm_source=x") == "https://example.com/a"
