"""The embedded redis-server of `feedpipe up` is a real, persistent Redis."""

from __future__ import annotations

from pathlib import Path

import redis as redis_sync

from services.cli.embedded import EmbeddedRedis


def test_embedded_redis_supports_streams_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    server.start()
    try:
        client = redis_sync.Redis.from_url(server.url)
        client.xgroup_create("s", "g", id="0", mkstream=True)
        client.xadd("s", {"k": "v"})
        assert client.xreadgroup("g", "c", {"s": ">"})
        assert client.xautoclaim("s", "g", "c2", min_idle_time=0)[1]
        client.close()
    finally:
        server.stop()

    again = EmbeddedRedis(tmp_path, port=server.port)
    again.start()
    try:
        client = redis_sync.Redis.from_url(again.url)
        assert client.xlen("s") == 1
        client.close()
    finally:
        again.stop()
