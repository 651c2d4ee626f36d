"""Deduplicator state in Redis: one Lua script decides and records each article.

The decision is atomic per article (see ``dedup.lua``) and idempotent per
event: the record remembers which event created it, so a retried event (its
worker died before its output was committed) gets the same decision again
instead of "already seen".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import xxhash
from redis.asyncio import Redis

from services.deduplicator.policy import DEFAULT_STRICTNESS, Decision, Strictness
from services.deduplicator.signature import BANDS, Fingerprint
from shared.pipeline import streams
from shared.pipeline.events import ArticleParsed

LUA = (Path(__file__).with_name("dedup.lua")).read_text()
GENERATIONS = 2  # one-window generations read by lookups: always covers the window
MAX_BUCKET_BITS = 16  # the script reads two bytes of a digest as the bucket
_HEX_ID = re.compile(r"[0-9a-f]{32}")
_NO_GUID = bytes(6)


@dataclass(frozen=True, slots=True)
class Claim:
    decision: Decision
    cluster_id: str
    similarity: float


def article_ref(article_id: str) -> bytes:
    return xxhash.xxh3_64_digest(article_id.encode())[:6]


def guid_ref(article_feed: str, guid: str) -> bytes:
    return xxhash.xxh3_64_digest(f"{article_feed}\x00{guid.strip()}".encode())[:6]


def short_token(value: str) -> bytes:
    return xxhash.xxh32_digest(value.encode())


def pack_cluster(article_id: str) -> bytes:
    """Article ids are 32 hex digits (xxh3-128); stored as 16 bytes, else as text."""
    if _HEX_ID.fullmatch(article_id):
        return b"\x00" + bytes.fromhex(article_id)
    return b"\x01" + article_id.encode()


def unpack_cluster(blob: bytes) -> str:
    if blob[:1] == b"\x00":
        return blob[1:].hex()
    return blob[1:].decode()


class DedupStore:
    def __init__(
        self,
        redis: Redis,
        *,
        window_days: float,
        bucket_bits: int = 12,
        strictness: Strictness = DEFAULT_STRICTNESS,
        now: float | None = None,
    ) -> None:
        """``bucket_bits``: 2**bits record hashes per generation (bands get 8x);
        size it so each hash stays under Redis' hash-max-listpack-entries (128).
        ``now`` pins the clock (tests); by default the script reads Redis TIME."""
        self.redis = redis
        self.window_s = int(window_days * 86400)
        self.record_buckets = 1 << min(bucket_bits, MAX_BUCKET_BITS)
        self.band_buckets = 1 << min(bucket_bits + 3, MAX_BUCKET_BITS)
        self.strictness = strictness
        self.now = now
        self._script = redis.register_script(LUA)

    def _config(self) -> str:
        s = self.strictness
        return " ".join(
            str(v)
            for v in (
                streams.DEDUP_PREFIX,
                0 if self.now is None else int(self.now),  # 0: the script reads TIME
                self.window_s,
                GENERATIONS,
                self.record_buckets,
                self.band_buckets,
                s.min_tokens,
                s.exact_below,
                s.strict_below,
                s.strict_similarity,
                s.similarity,
                s.containment_ratio,
                BANDS,
            )
        )

    @staticmethod
    def _blob(event: ArticleParsed, fp: Fingerprint) -> bytes:
        """The article as one fixed-width binary argument (layout in dedup.lua):
        one argument instead of twenty keeps the client's packing cheap."""
        a = event.article
        guid = _NO_GUID
        if a.url and a.guid and a.guid.strip() and a.guid.strip() != a.url:
            guid = guid_ref(a.feed_id, a.guid)
        return b"".join(
            (
                article_ref(a.article_id),
                fp.content_hash[:6],
                short_token(event.event_id),
                short_token(a.feed_id)[:2],
                fp.sketch,
                min(fp.tokens, 65535).to_bytes(2, "big"),
                guid,
                *(band[:6] for band in fp.bands),
                pack_cluster(a.article_id),
            )
        )

    async def claim_many(
        self, items: Sequence[tuple[ArticleParsed, Fingerprint]]
    ) -> list[Claim | Exception]:
        """Run the script for every item in one round trip (not a transaction:
        each script call is atomic on its own, and a failed one fails alone)."""
        if not items:
            return []
        pipe = self.redis.pipeline(transaction=False)
        config = self._config()
        for event, fp in items:
            await self._script(keys=[], args=[config, self._blob(event, fp)], client=pipe)
        replies = await pipe.execute(raise_on_error=False)
        out: list[Claim | Exception] = []
        for reply in replies:
            if isinstance(reply, Exception):
                out.append(reply)
                continue
            code, cluster, score = reply
            out.append(
                Claim(
                    decision=Decision(code.decode()),
                    cluster_id=unpack_cluster(cluster),
                    similarity=float(score),
                )
            )
        return out

    async def state_keys(self) -> int:
        """Keys of dedup state, from the per-generation counters the script keeps
        (a few GETs, never a SCAN)."""
        now = self.now if self.now is not None else (await self.redis.time())[0]
        gen = int(now // self.window_s)
        names = [f"{streams.DEDUP_PREFIX}n{g}" for g in range(gen - GENERATIONS, gen + 1)]
        values = await self.redis.mget(names)
        return sum(int(v) for v in values if v is not None)
