"""The test and benchmark support package: what tests and benchmarks start and
serve. Benchmarks import it; it imports nothing from benchmarks/ nor, for its
own needs, from the services' code.

========================  ==========================================================
module                    what
========================  ==========================================================
``fixtures``              the pytest fixtures of the suite (loaded by tests/conftest.py)
``redis_servers``         ``RedisServer``, ``RedisCluster``, ``RedisSentinel`` and the
                          one rule for which redis-server binary runs
``postgres``              ``ScratchDatabase``: a fresh PostgreSQL database, dropped after
``pipeline``              ``Pipeline``: ``feedpipe up`` as separate processes, its CLI,
                          its replicas; ``wait_until``, ``indexed_once``
``feedsite``              ``FeedSite``: per-path handlers, generated RSS/Atom/JSON feeds
                          and article pages, conditional GET; ``start_sites`` for
                          several sites on 127.0.0.2, 127.0.0.3, ...
``feeddocs``              the feed documents and the page template a site serves
``articles``              ``Article``, ``Text`` and the text-source protocol
``textgen``               synthetic texts from a seeded vocabulary (``SyntheticText``)
``realtext``              texts of real sentences from the extraction-eval corpus
                          (``RealCorpus``, ``RealText``)
``loadsite``              the benchmark load (feeds in generations, 304s, ``/_stats``)
                          and ``LoadSiteProcess`` running it in its own process
``webhooks``              ``WebhookReceiver``: a webhook endpoint that verifies Standard
                          Webhooks signatures, records items, answers as scripted
``brokers``               the local RabbitMQ and NATS JetStream servers: fixtures
                          ``rabbitmq`` and ``nats_js``, unique names, readers
``ports``, ``processes``  ``free_port``; ``wait_for``, ``stop_process``
``paths``                 the repository and the shared corpora beside it
========================  ==========================================================

The package's own tests are the ``test_*.py`` modules beside it.
"""
