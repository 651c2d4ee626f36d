"""The outputs in a real Redis."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from shared.outputs import Filters, OutputConfigError, OutputKind, OutputRegistry, OutputSpec
from shared.pipeline import streams

pytestmark = pytest.mark.integration


async def add_webhook(registry: OutputRegistry, **kw: object) -> str:
    url = str(kw.pop("url", "https://hooks.example/in"))
    output = await registry.add(OutputSpec(kind=OutputKind.WEBHOOK, url=url, **kw))  # type: ignore[arg-type]
    return output.output_id


async def test_an_added_output_reads_back_with_its_settings_and_secret(redis: Redis) -> None:
    registry = OutputRegistry(redis)
    output_id = await add_webhook(
        registry, name="crm", secret="s3", filters=Filters.parse(["lang=fr"])
    )
    output = await registry.get(output_id)
    assert output is not None
    assert output.name == "crm"
    assert output.secret is not None
    assert output.secret.get_secret_value() == "s3"
    assert output.filters.lang == ("fr",)
    assert output.enabled


async def test_an_output_comes_with_its_queue_and_the_deliverers_group(redis: Redis) -> None:
    output_id = await add_webhook(OutputRegistry(redis))
    groups = await redis.xinfo_groups(streams.delivery_queue(output_id))
    assert [g["name"] for g in groups] == [b"deliverer"]


async def test_outputs_resolve_by_id_or_name(redis: Redis) -> None:
    registry = OutputRegistry(redis)
    output_id = await add_webhook(registry, name="crm")
    assert (await registry.resolve("crm")).output_id == output_id  # type: ignore[union-attr]
    assert (await registry.resolve(output_id)).output_id == output_id  # type: ignore[union-attr]
    assert await registry.resolve("nope") is None


async def test_a_name_is_taken_once(redis: Redis) -> None:
    registry = OutputRegistry(redis)
    await add_webhook(registry, name="crm")
    with pytest.raises(OutputConfigError, match="already named"):
        await add_webhook(registry, name="crm")


async def test_removing_an_output_deletes_its_queue_and_attempts(redis: Redis) -> None:
    registry = OutputRegistry(redis)
    output_id = await add_webhook(registry)
    await redis.xadd(streams.delivery_queue(output_id), {"x": "1"})
    await redis.hset(streams.delivery_attempts_key(output_id), "1-0", "1 err")
    assert await registry.remove(output_id) is not None
    assert await registry.all() == []
    assert (
        await redis.exists(
            streams.output_key(output_id),
            streams.delivery_queue(output_id),
            streams.delivery_attempts_key(output_id),
        )
        == 0
    )


async def test_every_change_moves_the_version(redis: Redis) -> None:
    registry = OutputRegistry(redis)
    start = await registry.version()
    output_id = await add_webhook(registry)
    await registry.set_enabled(output_id, False, reason="test")
    await registry.remove(output_id)
    assert await registry.version() == start + 3


async def test_disabling_records_the_reason_and_enabling_clears_it(redis: Redis) -> None:
    registry = OutputRegistry(redis)
    output_id = await add_webhook(registry)
    await registry.set_enabled(output_id, False, reason="HTTP 410 (Gone)")
    off = await registry.get(output_id)
    assert off is not None
    assert not off.enabled
    assert off.disabled_reason == "HTTP 410 (Gone)"
    assert off.disabled_at is not None
    await registry.set_enabled(output_id, True)
    on = await registry.get(output_id)
    assert on is not None
    assert on.enabled
    assert on.disabled_reason is None


async def test_delivery_state_counts_and_resets_failures_on_success(redis: Redis) -> None:
    registry = OutputRegistry(redis)
    output_id = await add_webhook(registry)
    now = datetime.now(UTC)
    await registry.record_failure(output_id, "HTTP 503", at=now)
    await registry.record_failure(output_id, "HTTP 502", at=now)
    failing = await registry.get(output_id)
    assert failing is not None
    assert (failing.failures, failing.last_error) == (2, "HTTP 502")
    await registry.record_delivered(output_id, 5, at=now)
    await registry.record_dead_lettered(output_id, 2)
    await registry.record_skipped(output_id, 3, first_cursor="c1")
    await registry.record_skipped(output_id, 1, first_cursor="c9")
    state = await registry.get(output_id)
    assert state is not None
    assert (state.delivered, state.failures, state.dead_lettered) == (5, 0, 2)
    assert (state.skipped, state.first_skipped_cursor) == (4, "c1")


async def test_state_written_after_removal_does_not_bring_an_output_back(redis: Redis) -> None:
    registry = OutputRegistry(redis)
    output_id = await add_webhook(registry)
    await registry.remove(output_id)
    await registry.record_delivered(output_id, 1, at=datetime.now(UTC))
    assert await redis.exists(streams.output_key(output_id)) == 0
