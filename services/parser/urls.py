"""Canonical article URLs and the article ids derived from them.

The same story reaches us as ``HTTP://Example.com:80/a?utm_source=rss#top`` from
one feed and ``http://example.com/a`` from another; the parser passes every
article URL through :func:`canonicalize_url`, so both become one key, and every
later stage compares the canonical URL and the article id derived from it.

w3lib does the heavy, standards-sensitive part (percent-encoding per RFC 3986,
IDNA hosts, sorted query, no fragment); what it leaves to us is the policy:
which query parameters are tracking noise and that default ports go away.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import xxhash
from w3lib.url import canonicalize_url as _w3lib_canonicalize

# Parameters that identify a campaign or a click, never the resource itself.
TRACKING_PARAMS: Final = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "rb_clickid",
        "s_cid",
        "twclid",
        "ttclid",
        "ncid",
        "cmpid",
        "at_medium",
        "at_campaign",
        "__twitter_impression",
        "wt_mc",
        "wt_zmc",
        "ito",
        "xtor",
    }
)
TRACKING_PREFIXES: Final = ("utm_", "vero_", "pk_", "mtm_", "hsa_")
DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _strip_tracking(query: str) -> str:
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not is_tracking_param(k)]
    if len(kept) == len(pairs):
        return query
    return urlencode(kept)


# Already canonical: lower-case http(s) host, an optional port, a plain path of
# unreserved characters, no dot segments, no query, no fragment. Most article
# links look like this; they skip the full (w3lib) pass.
_PLAIN_URL = re.compile(
    r"(https?)://([a-z0-9-]+(?:\.[a-z0-9-]+)+)(?::([1-9][0-9]{0,4}))?"
    r"(/[A-Za-z0-9._~!$'()*+,=:@/-]*)?"
)
_DOT_SEGMENT = re.compile(r"/\.\.?(?:/|$)")


def canonicalize_url(url: str | None, *, base: str | None = None) -> str | None:
    """The canonical form of ``url`` (resolved against ``base``), or None when it
    is not an absolute http(s) URL.

    Lower-cased scheme and host, no default port, no fragment, no tracking
    parameters, query sorted and percent-encoding normalised (w3lib).
    """
    if not url:
        return None
    head, _, query = url.partition("?")
    plain = _PLAIN_URL.fullmatch(head)
    if plain and _DOT_SEGMENT.search(head) is None:
        # Plain URL, or plain URL + only tracking parameters (feed links
        # tagged with utm_*): nothing is left for w3lib to normalise.
        names = (p.partition("=")[0] for p in query.partition("#")[0].split("&") if p)
        if not query or all(is_tracking_param(n) for n in names):
            scheme, host, port, path = plain.groups()
            if port is not None:
                if int(port) > 65_535:
                    return None  # what urlsplit's port check makes of it below
                if int(port) == DEFAULT_PORTS[scheme]:
                    return f"{scheme}://{host}{path or '/'}"
            return head if path else head + "/"
    return _canonicalize(url, base)


@lru_cache(maxsize=16384)
def _canonicalize(url: str, base: str | None) -> str | None:
    url = url.strip()
    if not url:
        return None
    if base and not _SCHEME_RE.match(url):
        try:
            url = urljoin(base.strip(), url)
        except ValueError:
            return None
    elif url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            return None
        host = parts.hostname.rstrip(".")
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        port = parts.port
    except ValueError:  # bad port or malformed netloc
        return None
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username or parts.password:
        userinfo = parts.username or ""
        if parts.password:
            userinfo += f":{parts.password}"
        netloc = f"{userinfo}@{netloc}"
    path = parts.path or "/"
    if "/." in path:  # urljoin resolved dot segments only for relative input
        path = urljoin("http://x/", path).removeprefix("http://x") or "/"
    rebuilt = urlunsplit((scheme, netloc, path, _strip_tracking(parts.query), ""))
    try:
        # The host is already lower-case (urlsplit's hostname); w3lib keeps it so.
        return _w3lib_canonicalize(rebuilt, keep_fragments=False)
    except (ValueError, UnicodeError):
        return None


def article_id_for(*, url: str | None, feed_id: str, guid: str | None) -> str:
    """Stable article id: xxh3-128 of the canonical URL, else of feed id + GUID.

    A GUID is only unique within its feed, hence the feed id in the second key.
    """
    if url:
        key = url
    elif guid:
        key = f"guid\x00{feed_id}\x00{guid.strip()}"
    else:
        raise ValueError("an article needs a URL or a GUID to have an id")
    return xxhash.xxh3_128_hexdigest(key.encode("utf-8", "surrogatepass"))
