"""The parser service: feed documents in, canonical articles out.

Modules, in the order a document goes through them (all pure but ``handler``
and ``main``):

* ``encoding``   bytes -> text (BOM, XML prolog, HTTP charset, detection);
* ``safety``     refuse DTD entity declarations (XXE, entity bombs);
* ``feeds``      text -> ParsedFeed/RawEntry (fastfeedparser, feedparser
                 fallback, JSON Feed adapter), dates to UTC, ttl hints;
* ``html``       nh3 allow-list sanitising and plain text;
* ``language``   declared language, else fastText language identification;
* ``extract``    article page -> main text + metadata (trafilatura);
* ``normalize``  RawEntry (+ page) -> shared.pipeline.events.Article;
* ``fingerprint`` per-entry "already published" keys, publish rate;
* ``handler``    the StreamStage batch handler (Redis, page fetches);
* ``main``       service wiring.
"""
