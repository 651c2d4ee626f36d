"""Language-aware text analysis shared by the backends (pure functions).

A term is a word lower-cased, stripped of diacritics, then stemmed with the
Snowball stemmer of a language (PyStemmer: the same Snowball algorithms
PostgreSQL's ``*_stem`` dictionaries use), so ``télécommunication`` and
``télécommunications`` meet at ``telecommun``. The SQLite backend uses it at
query time to expand a word into the indexed words of the same stem.

Stripping accents *before* stemming mirrors the PostgreSQL configurations of
:mod:`shared.index.postgres` (``unaccent`` then ``*_stem``) and makes a query
typed without accents behave like one typed with them.
"""

from __future__ import annotations

import re
import unicodedata

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
ALL_CONFIGS: tuple[str, ...] = (*LANGUAGES.values(), SIMPLE)

WORD_RE = re.compile(r"\w+")
# Combining diacritical marks (U+0300-U+036F): what is left of accents on Latin
# letters after NFKD; other scripts' marks are kept, as PostgreSQL's unaccent does.
_MARKS_RE = re.compile("[\u0300-\u036f]+")
_STEM_CACHE = 500_000  # distinct words remembered per language (~60 MB at most)


def normalise_language(language: str | None) -> str | None:
    """``fr-FR`` / ``FR`` -> ``fr``; ``None`` or blank -> ``None``."""
    if not language:
        return None
    code = language.strip().replace("_", "-").split("-", 1)[0].lower()
    return code or None


def config_for(language: str | None) -> str:
    code = normalise_language(language)
    return LANGUAGES.get(code, SIMPLE) if code else SIMPLE


def unaccent(text: str) -> str:
    return _MARKS_RE.sub("", unicodedata.normalize("NFKD", text))


class Analyzer:
    """Stems words for one configuration. Used at query time only: the SQLite
    backend expands a query word into the indexed words of the same stem
    (PostgreSQL stems in the database, with its own dictionaries).

    Stems come from a plain dict in front of PyStemmer (news reuse a small
    vocabulary, and a dict lookup is several times cheaper than PyStemmer's
    own cached ``stemWord``), cleared when it reaches ``_STEM_CACHE`` words.
    """

    def __init__(self, config: str) -> None:
        self.config = config
        self._stemmer = None if config == SIMPLE else Stemmer.Stemmer(config)
        self._cache: dict[str, str] = {}

    def stem(self, folded_word: str) -> str:
        """The term of one word already lower-cased and unaccented."""
        if self._stemmer is None:
            return folded_word
        term = self._cache.get(folded_word)
        if term is None:
            if len(self._cache) >= _STEM_CACHE:
                self._cache.clear()
            term = self._cache[folded_word] = self._stemmer.stemWord(folded_word)
        return term


_ANALYZERS: dict[str, Analyzer] = {}


def analyzer(config: str) -> Analyzer:
    found = _ANALYZERS.get(config)
    if found is None:
        found = _ANALYZERS[config] = Analyzer(config)
    return found
