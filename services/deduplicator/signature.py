"""Text fingerprints for duplicate detection: pure functions, no I/O.

From an article's clean main text this computes

* ``content_hash``: 64 bits over the normalised word sequence, so case,
  punctuation, whitespace and Unicode form do not matter (exact duplicates);
* a MinHash signature over word shingles, by one-permutation hashing (OPH)
  with rotation densification (Shrivastava & Li, ICML 2014): ``BINS`` values
  whose agreement rate estimates the Jaccard similarity of the shingle sets;
* ``bands``: LSH band keys (``ROWS`` bins each) for candidate lookup in Redis;
* ``sketch``: 4 bits per bin (32 bytes), from which ``dedup.lua`` estimates
  the Jaccard similarity of a candidate without storing its whole signature.

Why hand-written rather than datasketch/rensa: those take shingles as Python
strings, and building string shingles in Python costs far more than the
signature itself (see MEASURED.md: 2,300 docs/s for shingling alone). Here the
text becomes an array of code points once and every later step (case folding,
word splitting, token hashing, shingling, binning) is a handful of numpy
operations, which is what makes 5,000+ docs/s per core possible.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise

import numpy as np
import numpy.typing as npt
import xxhash

U64 = npt.NDArray[np.uint64]

SHINGLE = 5  # words per shingle
BINS = 64  # OPH bins = MinHash values per signature
BIN_SHIFT = np.uint64(64 - 6)  # top 6 bits pick the bin
ROWS = 1  # bins per LSH band: one, for recall; the sketch then weeds out weak candidates
BANDS = 6  # bands looked up in Redis (uses the first BANDS*ROWS bins)
MAX_CODEPOINTS = 400_000  # longer texts are fingerprinted on their first part
_GROUP_CODEPOINTS = 131_072  # code points per numpy pass of fingerprint_many (see _groups)
_TABLE_SIZE = 0x30000  # planes 0-2 hold every script a news text uses

_MASK64 = 0xFFFFFFFFFFFFFFFF
_POLY = 0x100000001B3  # odd, so invertible modulo 2**64
_SHINGLE_MUL = np.uint64(0x9E3779B97F4A7C15)
_EMPTY = np.uint64(_MASK64)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    tokens: int  # words in the normalised text
    content_hash: bytes  # 8 bytes
    bands: tuple[bytes, ...]  # BANDS keys of 8 bytes (band index mixed in)
    sketch: bytes  # BINS * 4 bits = 32 bytes


@dataclass(frozen=True, slots=True)
class _Tables:
    fold: npt.NDArray[np.uint32]  # code point -> case-folded code point, 0 if not a word char
    pow_: U64
    inv_pow: U64


@cache
def _tables() -> _Tables:
    """Case-folding / word-character table over code points, built once (~0.1 s)."""
    fold = np.zeros(_TABLE_SIZE, dtype=np.uint32)
    for cp in range(1, _TABLE_SIZE):
        ch = chr(cp)
        if unicodedata.category(ch)[0] in "LNM":  # letters, digits, combining marks
            folded = ch.casefold()
            fold[cp] = ord(folded) if len(folded) == 1 else cp
    with np.errstate(over="ignore"):
        pow_ = np.cumprod(np.full(MAX_CODEPOINTS, np.uint64(_POLY)), dtype=np.uint64)
        inv_pow = np.cumprod(
            np.full(MAX_CODEPOINTS, np.uint64(pow(_POLY, -1, 1 << 64))), dtype=np.uint64
        )
    one = np.ones(1, dtype=np.uint64)
    return _Tables(
        fold=fold,
        pow_=np.concatenate([one, pow_[:-1]]),
        inv_pow=np.concatenate([one, inv_pow[:-1]]),
    )


def _mix(x: U64) -> U64:
    """splitmix64 finaliser, in place: spreads every input bit over the whole word."""
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def token_hashes(text: str) -> U64:
    """One 64-bit hash per word of ``text`` after NFKC and case folding.

    A word is a maximal run of letters, digits and combining marks, so quotes,
    dashes and punctuation of any script separate words and never change them.
    """
    t = _tables()
    if not text.isascii() and not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cps = cps[:MAX_CODEPOINTS]
    if cps.size and int(cps.max()) >= _TABLE_SIZE:  # rare planes: keep as word chars
        codes = np.where(cps < _TABLE_SIZE, t.fold[np.minimum(cps, _TABLE_SIZE - 1)], cps)
    else:
        codes = t.fold[cps]
    padded = np.zeros(codes.size + 2, dtype=np.bool_)
    padded[1:-1] = codes != 0
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    starts = edges[0::2]
    if starts.size == 0:
        return np.zeros(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        # Polynomial hash of every word at once: non-word characters weigh 0,
        # so summing from one word start to the next gives exactly the word;
        # the inverse power shifts it back to position 0 so equal words agree.
        terms = codes.astype(np.uint64)
        terms *= t.pow_[: codes.size]
        hashes = np.add.reduceat(terms, starts)
        hashes *= t.inv_pow[starts]
    return hashes


def shingle_hashes(tokens: U64, size: int = SHINGLE) -> U64:
    """Hashes of every run of ``size`` consecutive words (the whole text if shorter)."""
    n = tokens.size
    if n == 0:
        return tokens
    if n < size:
        size = n
    m = n - size + 1
    with np.errstate(over="ignore"):
        acc = tokens[:m].copy()
        for j in range(1, size):
            acc *= _SHINGLE_MUL
            acc += tokens[j : j + m]
    return _mix(acc)


def minhash(shingles: U64) -> U64:
    """OPH MinHash: the smallest shingle hash in each of ``BINS`` hash-range bins.

    Empty bins (short texts) borrow the next non-empty bin to the right,
    re-mixed with the distance, so two similar texts still agree bin by bin.
    """
    sig = np.full(BINS, _EMPTY, dtype=np.uint64)
    if shingles.size == 0:
        return sig
    bins = (shingles >> BIN_SHIFT).astype(np.intp)
    np.minimum.at(sig, bins, shingles)
    empty = sig == _EMPTY
    if empty.any():
        filled = np.flatnonzero(~empty)
        positions = np.arange(BINS)
        nxt = np.searchsorted(filled, positions) % filled.size
        source = filled[nxt]
        distance = ((source - positions) % BINS).astype(np.uint64)
        with np.errstate(over="ignore"):
            borrowed = _mix(sig[source] + distance * _SHINGLE_MUL)
        sig = np.where(empty, borrowed, sig)
    return sig


def _sketch(sig: U64) -> bytes:
    # The low bits of a bin's minimum are uniform (shingle hashes are mixed).
    low = (sig & np.uint64(15)).astype(np.uint8).reshape(-1, 2)
    return (low[:, 0] | (low[:, 1] << 4)).tobytes()


def _bands(sig: U64) -> tuple[bytes, ...]:
    raw = sig[: BANDS * ROWS].tobytes()
    step = 8 * ROWS
    return tuple(
        xxhash.xxh3_64_digest(raw[i * step : (i + 1) * step], seed=i) for i in range(BANDS)
    )


def fingerprint(text: str) -> Fingerprint:
    tokens = token_hashes(text)
    sig = minhash(shingle_hashes(tokens))
    return Fingerprint(
        tokens=int(tokens.size),
        content_hash=xxhash.xxh3_64_digest(tokens.tobytes()),
        bands=_bands(sig),
        sketch=_sketch(sig),
    )


def fingerprint_many(texts: Sequence[str]) -> list[Fingerprint]:
    """``[fingerprint(t) for t in texts]``, byte for byte, with numpy calls over many texts.

    A 300-word article is ~2,000 code points, so per text the ~30 numpy calls
    cost more in call overhead than in arithmetic; here each call covers a
    group of texts (~60 such articles) instead.
    """
    prints: list[Fingerprint] = []
    for group in _groups([_prepared(t) for t in texts]):
        prints.extend(_fingerprint_group(group))
    return prints


def _prepared(text: str) -> str:
    """The part of ``text`` that ``token_hashes`` reads: NFKC, then the first code points."""
    if not text.isascii() and not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return text[:MAX_CODEPOINTS]  # str indexes code points, as the UTF-32 cut does


def _groups(texts: list[str], limit: int = _GROUP_CODEPOINTS) -> list[list[str]]:
    """Split the batch into groups of at most ``limit`` code points (one separator
    between texts), a longer text alone in its group. Every group then fits the
    power tables (MAX_CODEPOINTS), and the arrays stay small: with ~400,000 code
    points per group the allocator handed the memory back to the system after
    every group, and the page faults cost more than the larger groups saved."""
    groups: list[list[str]] = []
    size = MAX_CODEPOINTS + 1  # forces a new group for the first text
    for text in texts:
        if size + 1 + len(text) > limit:
            groups.append([])
            size = -1
        groups[-1].append(text)
        size += 1 + len(text)
    return groups


def _fingerprint_group(texts: list[str]) -> list[Fingerprint]:
    tokens, token_bounds = _group_token_hashes(texts)
    sigs = _group_minhash(tokens, token_bounds)
    token_bytes = tokens.tobytes()
    band_bytes = sigs[:, : BANDS * ROWS].tobytes()
    sketches = _group_sketches(sigs)
    step, row = 8 * ROWS, 8 * BANDS * ROWS
    prints = []
    for i, (lo, hi) in enumerate(pairwise(token_bounds.tolist())):
        raw = band_bytes[i * row : (i + 1) * row]
        prints.append(
            Fingerprint(
                tokens=hi - lo,
                content_hash=xxhash.xxh3_64_digest(token_bytes[8 * lo : 8 * hi]),
                bands=tuple(
                    xxhash.xxh3_64_digest(raw[b * step : (b + 1) * step], seed=b)
                    for b in range(BANDS)
                ),
                sketch=sketches[i * BINS // 2 : (i + 1) * BINS // 2],
            )
        )
    return prints


def _group_token_hashes(texts: list[str]) -> tuple[U64, npt.NDArray[np.intp]]:
    """Word hashes of every text of the group, concatenated, and the bounds of each
    text's words in them (text i has words ``bounds[i]:bounds[i + 1]``).

    The texts are joined with NUL, a non-word character, so no word spans two
    texts. A word's hash uses positions in the group rather than in its text:
    the inverse power of its start cancels the offset, so the value is the same.
    """
    t = _tables()
    cps = np.frombuffer("\0".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    # mode="clip": a code point past the table reads its last entry (replaced
    # below) instead of raising, and this take is faster than fancy indexing.
    codes = np.take(t.fold, cps, mode="clip")
    if cps.size and int(cps.max()) >= _TABLE_SIZE:  # rare planes: keep as word chars
        codes = np.where(cps < _TABLE_SIZE, codes, cps)
    padded = np.zeros(codes.size + 2, dtype=np.bool_)
    padded[1:-1] = codes != 0
    starts = np.flatnonzero(padded[1:] != padded[:-1])[0::2]
    # Code point offset of each text (and the end): a text's words start in its range.
    offsets = np.cumsum([0] + [len(text) + 1 for text in texts])
    token_bounds = np.searchsorted(starts, offsets)
    if starts.size == 0:
        return np.zeros(0, dtype=np.uint64), token_bounds
    with np.errstate(over="ignore"):
        terms = codes.astype(np.uint64)
        terms *= t.pow_[: codes.size]
        hashes = np.add.reduceat(terms, starts)
        hashes *= t.inv_pow[starts]
    return hashes, token_bounds


def _group_minhash(tokens: U64, token_bounds: npt.NDArray[np.intp]) -> U64:
    """One ``minhash(shingle_hashes(...))`` row per text, as a (texts, BINS) array."""
    counts = np.diff(token_bounds)
    owner = np.repeat(np.arange(counts.size), counts)  # text of each token
    flat = np.full(counts.size * BINS, _EMPTY, dtype=np.uint64)
    shingles, shingle_owner = _group_shingles(tokens, owner, token_bounds[:-1], counts)
    if shingles.size:
        keys = shingle_owner * BINS + (shingles >> BIN_SHIFT).astype(np.intp)
        np.minimum.at(flat, keys, shingles)
    sig = flat.reshape(counts.size, BINS)
    # Texts without shingles keep the all-empty signature, as minhash() returns it.
    rows = np.flatnonzero((counts > 0) & (sig == _EMPTY).any(axis=1))
    if rows.size:
        sig[rows] = _densified(sig[rows])
    return sig


def _group_shingles(
    tokens: U64,
    owner: npt.NDArray[np.intp],
    first: npt.NDArray[np.intp],
    counts: npt.NDArray[np.intp],
) -> tuple[U64, npt.NDArray[np.intp]]:
    """``shingle_hashes`` of every text, concatenated, with the text of each shingle.

    Horner's rule runs over the whole token array once; a run of SHINGLE words
    is kept only if its first and last word belong to the same text. A text of
    fewer words is one shingle of all its words, read off the step whose run
    length equals its word count.
    """
    parts: list[U64] = []
    owners: list[npt.NDArray[np.intp]] = []
    acc = tokens.copy()
    with np.errstate(over="ignore"):
        for size in range(1, SHINGLE + 1):
            if size > 1:
                if acc.size <= 1:
                    break
                acc = acc[:-1] * _SHINGLE_MUL
                acc += tokens[size - 1 :]
            if size < SHINGLE:
                short = np.flatnonzero(counts == size)
                if short.size:
                    parts.append(acc[first[short]])
                    owners.append(short)
            else:
                whole = owner[: acc.size] == owner[SHINGLE - 1 :]
                parts.append(acc[whole])
                owners.append(owner[: acc.size][whole])
    if not parts:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.intp)
    return _mix(np.concatenate(parts)), np.concatenate(owners)


def _densified(sig: U64) -> U64:
    """``minhash``'s rotation densification for each row: an empty bin borrows the
    next non-empty bin to its right (cyclically), re-mixed with the distance."""
    empty = sig == _EMPTY
    positions = np.arange(2 * BINS)
    # Over the row written twice, the nearest filled column at or after each one.
    column = np.where(np.tile(~empty, 2), positions, 2 * BINS)
    nearest = np.minimum.accumulate(column[:, ::-1], axis=1)[:, ::-1][:, :BINS]
    source = nearest % BINS
    distance = (nearest - positions[:BINS]).astype(np.uint64)
    with np.errstate(over="ignore"):
        borrowed = _mix(np.take_along_axis(sig, source, axis=1) + distance * _SHINGLE_MUL)
    return np.where(empty, borrowed, sig)


def _group_sketches(sigs: U64) -> bytes:
    """``_sketch`` of every row, concatenated (BINS // 2 bytes per text)."""
    low = (sigs & np.uint64(15)).astype(np.uint8).reshape(-1, 2)
    return (low[:, 0] | (low[:, 1] << 4)).tobytes()
