"""Language-aware text analysis shared by the backends (pure functions).

SQLite's FTS5 has no stemmer, and Python's ``sqlite3`` cannot register an FTS5
tokenizer, so the SQLite backend indexes *analysed* text: every word lower-cased,
stripped of diacritics, then stemmed with the Snowball stemmer of the article's
language (PyStemmer, the same Snowball algorithms PostgreSQL's ``*_stem``
dictionaries use). Queries go through the same function, so
``télécommunication`` and ``télécommunications`` meet at ``telecommun``.

Stripping accents *before* stemming mirrors the PostgreSQL configurations of
:mod:`shared.index.postgres` (``unaccent`` then ``*_stem``) and makes a query
typed without accents behave like one typed with them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

# ISO 639-1 code -> Snowball / PostgreSQL configuration name. Other languages
# (and articles without one) are indexed unstemmed ("simple").
LANGUAGES: dict[str, str] = {
    "en": "english",
    "fr": "french",
    "de": "german",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
}
SIMPLE = "simple"

WORD_RE = re.compile(r"\w+")

# Words longer than this are not words (base64, hashes): keep them out of the index.
MAX_WORD_CHARS = 64
_CACHE_LIMIT = 300_000


def normalise_language(language: str | None) -> str | None:
    """``fr-FR`` / ``FR`` -> ``fr``; ``None`` or blank -> ``None``."""
    if not language:
        return None
    code = language.strip().replace("_", "-").split("-", 1)[0].lower()
    return code or None


def config_for(language: str | None) -> str:
    code = normalise_language(language)
    return LANGUAGES.get(code, SIMPLE) if code else SIMPLE


def unaccent(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=len(LANGUAGES) + 1)
def _stemmer(config: str) -> Stemmer.Stemmer | None:
    return None if config == SIMPLE else Stemmer.Stemmer(config)


class Analyzer:
    """Maps words to index terms for one configuration, caching per word.

    News text reuses a small vocabulary, so a dict lookup per word replaces
    unaccenting and stemming it again; the cache is dropped when it grows past
    ``_CACHE_LIMIT`` entries to bound memory.
    """

    def __init__(self, config: str) -> None:
        self.config = config
        self._stem = _stemmer(config)
        self._cache: dict[str, str] = {}

    def _term(self, word: str) -> str:
        base = unaccent(word)
        return self._stem.stemWord(base) if self._stem is not None else base

    def terms(self, text: str) -> list[str]:
        cache = self._cache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        out: list[str] = []
        for word in WORD_RE.findall(text.lower()):
            term = cache.get(word)
            if term is None:
                if len(word) > MAX_WORD_CHARS:
                    continue
                term = cache[word] = self._term(word)
            out.append(term)
        return out

    def analyse(self, text: str) -> str:
        return " ".join(self.terms(text))


_ANALYZERS: dict[str, Analyzer] = {}


def analyzer(config: str) -> Analyzer:
    found = _ANALYZERS.get(config)
    if found is None:
        found = _ANALYZERS[config] = Analyzer(config)
    return found


def analyzer_for(language: str | None) -> Analyzer:
    return analyzer(config_for(language))


ALL_CONFIGS: tuple[str, ...] = (*LANGUAGES.values(), SIMPLE)
