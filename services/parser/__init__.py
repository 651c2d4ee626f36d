"""The parser service: feed documents in, canonical articles out.

Modules, in the order a document goes through them (all pure but ``pages``,
``pagequeue``, ``handler``, ``completer`` and ``main``):

* ``formats/``   bytes -> ParsedFeed/RawEntry: decoding, the hostile-XML check,
                 one adapter per format (RSS/Atom, JSON Feed), feed hints
                 (format, declared language, TTL); see its ``__init__``;
* ``dates``      feed and page dates -> aware UTC;
* ``seen``       per-entry "this version was already published" keys, publish rate;
* ``urls``       canonical URLs and article ids;
* ``normalize``  RawEntry (+ page) -> shared.pipeline.events.Article: identity,
                 the feed's own content, whether the page is needed, the article;
* ``extract``    article page -> main text + metadata (trafilatura);
* ``retry``      which page failures pass, the backoff, the retry job;
* ``html``       nh3 allow-list sanitising and plain text;
* ``language``   declared language, else fastText language identification;
* ``pages``      article pages fetched (conditionally when fetched before) and kept;
* ``pagequeue``  the retry queue of deferred pages in Redis (+ its Lua scripts);
* ``handler``    the StreamStage batch handler (Redis, page fetches, extraction pool);
* ``completer``  the loop that fetches deferred pages and updates their articles;
* ``main``       service wiring.
"""
