"""FEEDPIPE_REDIS_URL forms: one server, Sentinel, Cluster (shared.pipeline.redisconn)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from shared.pipeline import redisconn, streams
from shared.pipeline.redisconn import parse_redis_url
from shared.settings import Settings


def test_a_plain_url_is_one_server_passed_through() -> None:
    target = parse_redis_url("redis://:pw@example.org:6380/2")
    assert target.topology == "single"
    assert target.url == "redis://:pw@example.org:6380/2"
    assert not target.tls


def test_rediss_is_one_server_over_tls() -> None:
    assert parse_redis_url("rediss://example.org:6380/0").tls


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_db() -> None:
    target = parse_redis_url("redis+sentinel://user:p%40ss@s1:26379,s2:26380/feedpipe/3")
    assert target.topology == "sentinel"
    assert target.nodes == (("s1", 26379), ("s2", 26380))
    assert target.service == "feedpipe"
    assert target.db == 3
    assert (target.username, target.password) == ("user", "p@ss")


def test_a_sentinel_url_defaults_to_db_zero() -> None:
    assert parse_redis_url("redis+sentinel://s1:26379/mymaster").db == 0


def test_a_sentinel_url_without_a_service_name_is_refused() -> None:
    with pytest.raises(ValueError, match="service_name"):
        parse_redis_url("redis+sentinel://s1:26379")


def test_a_cluster_url_lists_its_seed_nodes() -> None:
    target = parse_redis_url("rediss+cluster://:secret@10.0.0.1:7000,[::1]:7001")
    assert target.topology == "cluster"
    assert target.nodes == (("10.0.0.1", 7000), ("::1", 7001))
    assert target.password == "secret"
    assert target.tls


def test_a_cluster_url_with_a_database_is_refused() -> None:
    with pytest.raises(ValueError, match="db 0"):
        parse_redis_url("redis+cluster://h:7000/3")


def test_a_host_without_a_port_is_refused() -> None:
    with pytest.raises(ValueError, match="host:port"):
        parse_redis_url("redis+cluster://h1:7000,h2")


def test_an_unknown_topology_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        parse_redis_url("redis+shard://h:7000")


def test_the_key_prefix_carries_a_hash_tag_only_on_a_cluster() -> None:
    assert streams.key_prefix("redis+cluster://h:7000") == "{feedpipe}"
    assert streams.key_prefix("redis+sentinel://h:26379/m") == "feedpipe"
    assert streams.key_prefix(None) == "feedpipe"


def test_a_cluster_url_set_only_in_code_is_refused_without_the_hash_tag() -> None:
    assert streams.PREFIX == "feedpipe"  # the tests run without a cluster URL in the env
    with pytest.raises(ValueError, match="FEEDPIPE_REDIS_URL"):
        redisconn.make_redis(Settings(redis_url="redis+cluster://127.0.0.1:7000"))


def test_a_sentinel_url_gives_a_client_of_the_master_found_through_sentinel() -> None:
    client = redisconn.make_redis(Settings(redis_url="redis+sentinel://127.0.0.1:1/feedpipe/1"))
    assert isinstance(client, Redis)
    pool = client.connection_pool
    assert pool.service_name == "feedpipe"  # type: ignore[attr-defined]
    assert pool.connection_kwargs["db"] == 1


def test_a_script_declaring_no_keys_is_routed_to_the_feedpipe_slot() -> None:
    assert redisconn._route(0, ("arg",)) == (1, streams.PREFIX, "arg")
    assert redisconn._route(2, ("k1", "k2", "arg")) == (2, "k1", "k2", "arg")
