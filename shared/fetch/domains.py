"""Registrable domains ("sites"): which hosts belong to the same owner.

``www.bbc.co.uk`` and ``news.bbc.co.uk`` are one site (``bbc.co.uk``), while
``alice.github.io`` and ``bob.github.io`` are two: where a site's boundary lies
is not visible in the host name, it is listed in the Public Suffix List (PSL).
The parser uses it to decide whether a page may name another URL as its
canonical one; per-domain politeness can use it to group a site's hosts.

The list comes from the ``publicsuffixlist`` package, which ships a snapshot
of it in the wheel: nothing is downloaded at run time (the package's updater
is never called), so a release pins the list it was tested with. Both the ICANN
section and the private one (github.io, blogspot.com, …) are used, because a
private suffix separates owners exactly as a public one does. A TLD the
snapshot does not know counts as a public suffix (``example.test`` is a site).

Hosts that have no registrable domain are their own site: IP addresses,
single-label names (``localhost``, intranet names) and a public suffix itself
(``github.io``, ``co.uk``).
"""

from __future__ import annotations

import contextlib
import ipaddress
from functools import cache, lru_cache
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList


@cache
def _psl() -> PublicSuffixList:
    # Parsed once per process (~10 ms) from the file inside the package.
    return PublicSuffixList()


def normalize_host(host: str) -> str:
    """Lower case, no trailing dot, no IPv6 brackets, IDN labels as punycode
    (``Bücher.example.`` -> ``xn--bcher-kva.example``); an IP in its compressed form."""
    host = host.strip().strip("[]").rstrip(".").lower()
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    if not host.isascii():
        with contextlib.suppress(UnicodeError):  # not a valid IDN: compared as it is
            host = host.encode("idna").decode("ascii")
    return host


@lru_cache(maxsize=65536)
def registrable_domain(host: str) -> str:
    """The registrable domain of ``host`` (a host name or an IP, no port):
    ``www.bbc.co.uk`` -> ``bbc.co.uk``, ``a.b.github.io`` -> ``b.github.io``;
    the normalised host itself when it has none (see the module docstring)."""
    host = normalize_host(host)
    if not host or "." not in host or _is_ip(host):
        return host
    return _psl().privatesuffix(host) or host


def site_of(url: str) -> str | None:
    """The registrable domain of an absolute URL's host (its port and path do
    not matter); None when the URL has no host."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return registrable_domain(host) if host else None


def same_site(url: str, other: str) -> bool:
    """Whether two absolute URLs have hosts on the same registrable domain."""
    site = site_of(url)
    return site is not None and site == site_of(other)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
