"""Feed documents -> :class:`ParsedFeed`: one adapter per format, one model.

* ``document``  the entry point: bytes -> text -> the format's adapter;
* ``model``     ParsedFeed / RawEntry / RawEnclosure / FeedParseError;
* ``encoding``  bytes -> text (BOM, XML prolog, HTTP charset, detection);
* ``safety``    refuse DTD entity declarations (XXE, entity bombs);
* ``hints``     format sniffing, declared language, TTL / syndication period;
* ``xmlfeed``   RSS and Atom (fastfeedparser, feedparser fallback);
* ``authors``   co-authors the fast XML parser drops;
* ``jsonfeed``  JSON Feed;
* ``values``    loose mapping values -> typed ones, shared by the adapters.

A new source format adds an adapter module producing the same ``ParsedFeed``
and a branch in ``document.parse_document``.
"""

from services.parser.formats.document import parse_document
from services.parser.formats.model import FeedParseError, ParsedFeed, RawEnclosure, RawEntry

__all__ = ["FeedParseError", "ParsedFeed", "RawEnclosure", "RawEntry", "parse_document"]
