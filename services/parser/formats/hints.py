"""What a feed document says about itself, read from its head with bounded
regexes (pure): its format, its declared language, the poll interval it asks for.

The parsing libraries either do not report these (fastfeedparser drops RSS
``<language>``; neither library exposes both ``<ttl>`` and the syndication
module) or report them only after a full parse; all sit near the top of the
document, so a scan of its first kilobytes is enough.
"""

from __future__ import annotations

import re
from typing import Final

_ROOT: Final = re.compile(r"<(?!\?|!)([A-Za-z_][\w.:-]*)([^>]*)>")
_RSS_VERSION: Final = re.compile(r"""version\s*=\s*["']\s*([\d.]+)""")
_JSON_VERSION: Final = re.compile(r"jsonfeed\.org/version/(1(?:\.1)?)")


def sniff_format(text: str) -> str:
    """A low-cardinality format label from the root element (metric label)."""
    head = text[:4096].lstrip()
    if head.startswith("{"):
        m = _JSON_VERSION.search(text[:2048])
        return f"json{m.group(1) if m and '.' in m.group(1) else '1.0'}" if m else "json1.0"
    root = _ROOT.search(head)
    if root is None:
        return "unknown"
    name = root.group(1).lower().split(":")[-1]
    attrs = root.group(2)
    if name == "rss":
        v = _RSS_VERSION.search(attrs)
        version = v.group(1) if v else "2.0"
        return "rss2.0" if version.startswith("2") else "rss0.9x"
    if name == "rdf":
        return "rss0.9x" if "my.netscape.com/rdf/simple/0.9" in attrs else "rss1.0"
    if name == "feed":
        return "atom0.3" if "purl.org/atom/ns#" in attrs else "atom1.0"
    return "unknown"


_HINT_SCAN: Final = 64 * 1024

_LANGUAGE: Final = re.compile(
    r"<(?:dc:)?language>\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)\s*</(?:dc:)?language>"
    r"|<[A-Za-z][^>]*?\sxml:lang\s*=\s*[\"']([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)[\"']",
    re.IGNORECASE,
)


def declared_language(text: str) -> str | None:
    """The channel's ``<language>`` / ``dc:language`` or the first ``xml:lang``."""
    match = _LANGUAGE.search(text[:_HINT_SCAN])
    return (match.group(1) or match.group(2)) if match else None


_TTL: Final = re.compile(r"<ttl>\s*(\d{1,7})\s*</ttl>", re.IGNORECASE)
_SY_PERIOD: Final = re.compile(
    r"<sy:updatePeriod>\s*(hourly|daily|weekly|monthly|yearly)\s*</sy:updatePeriod>", re.I
)
_SY_FREQ: Final = re.compile(r"<sy:updateFrequency>\s*(\d{1,5})\s*</sy:updateFrequency>", re.I)
# Present whenever _TTL or _SY_PERIOD can match.
_HINT_TAG: Final = re.compile(r"<(?:ttl|sy:updatePeriod)>", re.IGNORECASE)
_PERIOD_S: Final = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}


def feed_ttl_seconds(text: str) -> float | None:
    """The poll interval the feed asks for: RSS ``<ttl>`` (minutes) or the
    syndication module's period / frequency."""
    head = text[:_HINT_SCAN]
    if _HINT_TAG.search(head) is None:  # one scan instead of two for most feeds
        return None
    ttl = _TTL.search(head)
    if ttl and int(ttl.group(1)) > 0:
        return int(ttl.group(1)) * 60.0
    period = _SY_PERIOD.search(head)
    if period:
        freq = _SY_FREQ.search(head)
        n = max(int(freq.group(1)), 1) if freq else 1
        return _PERIOD_S[period.group(1).lower()] / n
    return None
