"""The deliverer: committed articles to webhooks, RabbitMQ and NATS (issue 16).

Two layers, so that one output's outage never holds up another:

1. the **router** is an ordinary stage (:mod:`shared.pipeline.stage`) on the
   committed stream, with the ``deliverer`` consumer group: it copies each
   event to the queue stream of every enabled output whose filters want it
   (``feedpipe:delivery:<output id>``), in the MULTI/EXEC that acknowledges the
   event, so an event is routed to every output or to none, never lost;
2. each output's **worker** (one per output in each deliverer process) reads
   that output's queue through the ``deliverer`` group, sends batches with
   retries (:mod:`.worker`), and acknowledges and deletes what its receiver
   acknowledged. An output that is down keeps its backlog in its queue
   (visible as ``feedpipe_delivery_lag{output}``, bounded by
   FEEDPIPE_DELIVERY_MAX_BACKLOG) while every other output goes on.

:mod:`.plan` is the router's pure part; :mod:`.deliveries` starts and stops the
workers as outputs are added, disabled or removed and exports their lag.
"""
