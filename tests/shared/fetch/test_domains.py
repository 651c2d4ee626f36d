import socket

import pytest

from shared.fetch import domains
from shared.fetch.domains import registrable_domain, same_site, site_of


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("example.com", "example.com"),
        ("www.example.com", "example.com"),
        ("a.b.c.example.com", "example.com"),
        ("WWW.Example.COM.", "example.com"),
        ("news.bbc.co.uk", "bbc.co.uk"),
        ("www.gov.uk", "www.gov.uk"),  # gov.uk is a public suffix
        ("shop.example.com.au", "example.com.au"),
        ("alice.github.io", "alice.github.io"),  # private suffix: one site per user
        ("www.alice.github.io", "alice.github.io"),
        ("foo.blogspot.com", "foo.blogspot.com"),
        ("github.io", "github.io"),  # a public suffix is its own site
        ("co.uk", "co.uk"),
        ("localhost", "localhost"),
        ("intranet", "intranet"),
        ("127.0.0.2", "127.0.0.2"),
        ("10.1.2.3", "10.1.2.3"),
        ("[::1]", "::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("www.example.test", "example.test"),  # unknown TLD: treated as a public suffix
    ],
)
def test_registrable_domain(host, expected):
    assert registrable_domain(host) == expected


def test_idn_in_unicode_and_punycode_is_one_site():
    assert registrable_domain("www.bücher.example") == "xn--bcher-kva.example"
    assert registrable_domain("xn--bcher-kva.example") == "xn--bcher-kva.example"
    assert same_site("https://bücher.example/a", "https://shop.xn--bcher-kva.example/b")


def test_idn_public_suffix_is_honoured():
    # 公司.cn ("company.cn") is a public suffix of its own.
    assert registrable_domain("www.例子.公司.cn") == registrable_domain("例子.公司.cn")
    assert registrable_domain("例子.公司.cn") != registrable_domain("别的.公司.cn")


def test_ports_and_paths_do_not_matter():
    assert site_of("https://www.example.com:8443/a?b=1") == "example.com"
    assert same_site("http://example.com:8080/x", "https://news.example.com/y")
    assert same_site("http://127.0.0.2:8001/a", "http://127.0.0.2:9000/b")


def test_different_owners_are_different_sites():
    assert not same_site("https://alice.github.io/post", "https://bob.github.io/post")
    assert not same_site("https://www.bbc.co.uk/news", "https://www.itv.co.uk/news")
    assert not same_site("http://127.0.0.2/a", "http://127.0.0.3/a")
    assert not same_site("http://localhost/a", "http://127.0.0.1/a")
    assert not same_site("https://example.com/a", "https://example.com.evil.net/a")


def test_a_url_without_host_has_no_site():
    assert site_of("/relative/path") is None
    assert site_of("http://[broken/") is None
    assert not same_site("/a", "/a")


def test_the_list_is_read_from_the_package_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the Public Suffix List must not be downloaded")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    domains._psl.cache_clear()
    domains.registrable_domain.cache_clear()
    try:
        assert registrable_domain("news.bbc.co.uk") == "bbc.co.uk"
    finally:
        domains._psl.cache_clear()
        domains.registrable_domain.cache_clear()
