"""The parser service: feed documents in, canonical articles out.

Modules, in the order a document goes through them (all pure but ``handler``
and ``main``):

* ``formats/``   bytes -> ParsedFeed/RawEntry: decoding, the hostile-XML check,
                 one adapter per format (RSS/Atom, JSON Feed), feed hints
                 (format, declared language, TTL); see its ``__init__``;
* ``dates``      feed and page dates -> aware UTC;
* ``seen``       per-entry "this version was already published" keys, publish rate;
* ``urls``       canonical URLs and article ids;
* ``normalize``  RawEntry (+ page) -> shared.pipeline.events.Article: identity,
                 the feed's own content, whether the page is needed, the article;
* ``extract``    article page -> main text + metadata (trafilatura);
* ``html``       nh3 allow-list sanitising and plain text;
* ``language``   declared language, else fastText language identification;
* ``handler``    the StreamStage batch handler (Redis, page fetches, extraction pool);
* ``main``       service wiring.
"""
