"""Dedup decisions on a real redis-server: each rule, races, replays, expiry."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from redis.asyncio import Redis

from services.deduplicator.policy import Decision
from services.deduplicator.signature import fingerprint
from services.deduplicator.store import Claim, DedupStore, pack_cluster, unpack_cluster
from shared.pipeline import streams
from shared.pipeline.events import ArticleParsed
from tests.services.deduplicator.samples import parsed, story, syndicated, text

pytestmark = pytest.mark.integration

NOW = float(int(time.time()))  # EXPIREAT is against the real clock
WINDOW_DAYS = 14.0
DAY = 86400
WINDOW_S = WINDOW_DAYS * DAY


def make_store(redis: Redis, *, now: float = NOW) -> DedupStore:
    return DedupStore(redis, window_days=WINDOW_DAYS, bucket_bits=4, now=now)


async def claim_one(store: DedupStore, event: ArticleParsed) -> Claim:
    (result,) = await store.claim_many([(event, fingerprint(event.article.text))])
    if isinstance(result, Exception):
        raise result
    return result


async def claim(store: DedupStore, event: ArticleParsed) -> tuple[Decision, str]:
    result = await claim_one(store, event)
    return result.decision, result.cluster_id


def again(event: ArticleParsed, **changes: object) -> ArticleParsed:
    """A later event about the same article (new event id), optionally changed."""
    article = event.article.model_copy(update=changes)
    return ArticleParsed(article=article)


async def test_first_sighting_is_new_and_its_own_cluster(redis: Redis) -> None:
    event = parsed(text(story(1)))
    assert await claim(make_store(redis), event) == (Decision.NEW, event.article.article_id)


async def test_same_article_unchanged_from_same_feed_is_only_seen(redis: Redis) -> None:
    store = make_store(redis)
    first = parsed(text(story(1)))
    await claim(store, first)
    assert (await claim(store, again(first)))[0] is Decision.UNCHANGED


async def test_same_url_with_changed_text_is_an_update_of_its_cluster(redis: Redis) -> None:
    store = make_store(redis)
    first = parsed(text(story(1)))
    await claim(store, first)
    changed = again(first, text=text([*story(1)[:-1], "A correction was added."]))
    assert await claim(store, changed) == (Decision.UPDATE, first.article.article_id)
    assert (await claim(store, again(changed)))[0] is Decision.UNCHANGED


async def test_same_url_from_another_feed_is_a_url_duplicate(redis: Redis) -> None:
    store = make_store(redis)
    first = parsed(text(story(1)), feed_id="feed-1")
    await claim(store, first)
    other = parsed(text(story(1)), feed_id="feed-2")
    assert other.article.article_id == first.article.article_id
    assert (await claim(store, other))[0] is Decision.DUP_URL


async def test_same_guid_in_same_feed_under_a_new_url_is_a_guid_duplicate(redis: Redis) -> None:
    store = make_store(redis)
    first = parsed(text(story(1)), url="https://a.example.org/old", guid="tag:a,2026:1")
    await claim(store, first)
    moved = parsed(text(story(2)), url="https://a.example.org/new", guid="tag:a,2026:1")
    assert await claim(store, moved) == (Decision.DUP_GUID, first.article.article_id)


async def test_same_guid_in_another_feed_is_not_a_duplicate(redis: Redis) -> None:
    store = make_store(redis)
    await claim(store, parsed(text(story(1)), url="https://a.example.org/1", guid="1"))
    other = parsed(text(story(2)), url="https://b.example.org/1", guid="1", feed_id="feed-2")
    assert (await claim(store, other))[0] is Decision.NEW


async def test_same_text_under_another_url_is_a_content_duplicate(redis: Redis) -> None:
    store = make_store(redis)
    first = parsed(text(story(1)), url="https://a.example.org/1")
    await claim(store, first)
    copy = parsed(
        text(story(1)).upper().replace(".", " !"), url="https://b.example.org/x", feed_id="f2"
    )
    assert await claim(store, copy) == (Decision.DUP_CONTENT, first.article.article_id)


async def test_syndicated_copy_is_a_near_duplicate_of_the_first(redis: Redis) -> None:
    store = make_store(redis)
    first = parsed(text(story(1)), url="https://a.example.org/1")
    await claim(store, first)
    copy = parsed(syndicated(story(1)), url="https://b.example.org/2", feed_id="f2")
    assert await claim(store, copy) == (Decision.DUP_NEAR, first.article.article_id)


async def test_syndicated_copy_scores_a_high_sketch_similarity(redis: Redis) -> None:
    store = make_store(redis)
    await claim(store, parsed(text(story(2)), url="https://a.example.org/2"))
    copy = await claim_one(
        store, parsed(syndicated(story(2)), url="https://b.example.org/2", feed_id="f2")
    )
    assert copy.decision is Decision.DUP_NEAR
    assert 0.6 < copy.similarity < 1.0


async def test_similarity_is_zero_for_a_new_article_and_one_for_an_exact_copy(redis: Redis) -> None:
    store = make_store(redis)
    first = await claim_one(store, parsed(text(story(3)), url="https://a.example.org/3"))
    exact = await claim_one(
        store, parsed(text(story(3)), url="https://b.example.org/3", feed_id="f2")
    )
    assert (first.decision, first.similarity) == (Decision.NEW, 0.0)
    assert (exact.decision, exact.similarity) == (Decision.DUP_CONTENT, 1.0)


async def test_copy_of_a_copy_joins_the_first_articles_cluster(redis: Redis) -> None:
    store = make_store(redis)
    paragraphs = story(1)
    first = parsed(text(paragraphs), url="https://a.example.org/1")
    await claim(store, first)
    await claim(store, parsed(syndicated(paragraphs, drop=2), url="https://b.example.org/1"))
    third = parsed(syndicated(paragraphs, drop=5), url="https://c.example.org/1")
    assert await claim(store, third) == (Decision.DUP_NEAR, first.article.article_id)


async def test_different_stories_stay_apart(redis: Redis) -> None:
    store = make_store(redis)
    for n in range(20):
        event = parsed(text(story(100 + n)), url=f"https://a.example.org/{n}")
        assert (await claim(store, event))[0] is Decision.NEW


async def test_short_articles_sharing_a_site_template_stay_apart(redis: Redis) -> None:
    # Same navigation, sidebar and footer in the page; the extractor leaks one
    # template line into the text; only two short paragraphs differ.
    template = (
        "<nav>Home World Politics Business Sport Culture Weather</nav>"
        "<aside>Most read: river bridge reopens; market prices fall</aside>"
        "<footer>Subscribe to our newsletter. All rights reserved.</footer>"
    )
    leaked = "Subscribe to our newsletter for the latest news from the city every morning."
    store = make_store(redis)
    decisions = []
    for n in range(2):
        rng_story = story(200 + n, paragraphs=2, words=20)
        event = parsed(
            text([*rng_story, leaked]),
            url=f"https://site.example.org/{n}",
            html=f"{template}<article>{''.join(rng_story)}</article>{template}",
        )
        decisions.append((await claim(store, event))[0])
    assert decisions == [Decision.NEW, Decision.NEW]


async def test_short_text_needs_an_exact_match(redis: Redis) -> None:
    store = make_store(redis)
    words = story(5, paragraphs=1, words=30)[0]
    await claim(store, parsed(words, url="https://a.example.org/1"))
    exact = parsed(words, url="https://b.example.org/1", feed_id="f2")
    assert (await claim(store, exact))[0] is Decision.DUP_CONTENT
    one_word_changed = parsed(words.replace(" ", " new ", 1), url="https://c.example.org/1")
    assert (await claim(store, one_word_changed))[0] is Decision.NEW


async def test_tiny_texts_are_never_merged_by_content(redis: Redis) -> None:
    store = make_store(redis)
    for n in range(2):
        event = parsed("Read more", url=f"https://a.example.org/{n}")
        assert (await claim(store, event))[0] is Decision.NEW


async def test_replayed_event_gets_its_decision_again(redis: Redis) -> None:
    # A worker decided, then died before its output was committed: the retry
    # of that very event must not be taken for "already seen".
    store = make_store(redis)
    first = parsed(text(story(1)), url="https://a.example.org/1")
    assert (await claim(store, first))[0] is Decision.NEW
    assert await claim(store, first) == (Decision.NEW, first.article.article_id)
    copy = parsed(syndicated(story(1)), url="https://b.example.org/1")
    assert (await claim(store, copy))[0] is Decision.DUP_NEAR
    assert await claim(store, copy) == (Decision.DUP_NEAR, first.article.article_id)


async def test_replayed_update_is_an_update_again(redis: Redis) -> None:
    store = make_store(redis)
    first = parsed(text(story(1)))
    await claim(store, first)
    changed = again(first, text=text(story(1)[1:]))
    assert (await claim(store, changed))[0] is Decision.UPDATE
    assert (await claim(store, changed))[0] is Decision.UPDATE


async def test_concurrent_workers_let_exactly_one_copy_through(redis_url: str) -> None:
    # Eight workers (own connections) get the same article at the same moment,
    # each as its own stream entry: one is new, the others saw it.
    clients = [Redis.from_url(redis_url) for _ in range(8)]
    try:
        body = text(story(7))
        events = [parsed(body) for _ in clients]
        results = await asyncio.gather(
            *(claim(make_store(c), e) for c, e in zip(clients, events, strict=True))
        )
    finally:
        for c in clients:
            await c.aclose()
    counts = Counter(decision for decision, _ in results)
    assert counts == {Decision.NEW: 1, Decision.UNCHANGED: 7}


async def test_concurrent_copies_under_different_urls_make_one_story(redis_url: str) -> None:
    clients = [Redis.from_url(redis_url) for _ in range(6)]
    try:
        body = text(story(8))
        events = [parsed(body, url=f"https://s{n}.example.org/x") for n in range(len(clients))]
        results = await asyncio.gather(
            *(claim(make_store(c), e) for c, e in zip(clients, events, strict=True))
        )
    finally:
        for c in clients:
            await c.aclose()
    counts = Counter(decision for decision, _ in results)
    assert counts == {Decision.NEW: 1, Decision.DUP_CONTENT: 5}
    assert len({cluster for _, cluster in results}) == 1


async def test_state_expires_after_the_window(redis: Redis) -> None:
    first = parsed(text(story(1)))
    await claim(make_store(redis, now=NOW), first)
    ttls = [await redis.ttl(k) async for k in redis.scan_iter(f"{streams.DEDUP_PREFIX}*")]
    assert ttls
    assert all(0 < ttl <= 2 * WINDOW_S for ttl in ttls)
    later = make_store(redis, now=NOW + 2 * WINDOW_S)
    assert (await claim(later, again(first)))[0] is Decision.NEW


async def test_article_still_in_its_feed_is_remembered_past_the_window(redis: Redis) -> None:
    # Generations last one window; start one day into a generation.
    start = (NOW // WINDOW_S) * WINDOW_S + DAY
    kept, dropped = parsed(text(story(1))), parsed(text(story(2)), url="https://b.example/2")
    for event in (kept, dropped):
        await claim(make_store(redis, now=start), event)
    # Seen again in the next generation: copied forward, so it is remembered
    # for a window after its last sighting, not after its first.
    later = make_store(redis, now=start + 20 * DAY)
    assert (await claim(later, again(kept)))[0] is Decision.UNCHANGED
    much_later = make_store(redis, now=start + 35 * DAY)
    assert (await claim(much_later, again(kept)))[0] is Decision.UNCHANGED
    assert (await claim(much_later, again(dropped)))[0] is Decision.NEW


async def test_state_key_count_follows_the_keys_written(redis: Redis) -> None:
    store = make_store(redis)
    for n in range(5):
        await claim(store, parsed(text(story(300 + n)), url=f"https://a.example.org/{n}"))
    actual = len([k async for k in redis.scan_iter(f"{streams.DEDUP_PREFIX}*")])
    counters = len([k async for k in redis.scan_iter(f"{streams.DEDUP_PREFIX}n*")])
    assert await store.state_keys() == actual - counters


@pytest.mark.parametrize("article_id", ["0123456789abcdef0123456789abcdef", "guid:not-hex-42"])
def test_cluster_ids_round_trip_through_their_stored_form(article_id: str) -> None:
    assert unpack_cluster(pack_cluster(article_id)) == article_id


async def test_duplicate_links_to_an_article_whose_id_is_not_hex(redis: Redis) -> None:
    store = make_store(redis)
    first = parsed(text(story(1)), url="https://a.example.org/1")
    first = ArticleParsed(article=first.article.model_copy(update={"article_id": "custom-id"}))
    await claim(store, first)
    copy = parsed(text(story(1)), url="https://b.example.org/1")
    assert await claim(store, copy) == (Decision.DUP_CONTENT, "custom-id")


async def test_decisions_survive_a_flushed_script_cache(redis: Redis) -> None:
    # A restarted Redis has no scripts loaded; the store must load it again.
    store = make_store(redis)
    first = parsed(text(story(1)))
    await claim(store, first)
    await redis.script_flush()
    assert (await claim(store, again(first)))[0] is Decision.UNCHANGED
