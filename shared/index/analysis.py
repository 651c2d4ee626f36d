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
    """Maps text to index terms for one configuration.

    Lower-casing, NFKD and tokenising run over the whole text in C; stems come
    from a plain dict (news reuse a small vocabulary), which is twice as fast
    as PyStemmer's own cache. This runs on every indexed article and sets the
    SQLite indexing speed.
    """

    def __init__(self, config: str) -> None:
        self.config = config
        self._stemmer = None if config == SIMPLE else Stemmer.Stemmer(config)
        self._cache: dict[str, str] = {}

    def terms(self, text: str) -> list[str]:
        words: list[str] = WORD_RE.findall(unaccent(text.lower()))
        stemmer = self._stemmer
        if stemmer is None:
            return words
        cache = self._cache
        if len(cache) > _STEM_CACHE:
            cache.clear()
        get = cache.get
        terms = [get(w) for w in words]
        if None in terms:
            for i, term in enumerate(terms):
                if term is None:
                    word = words[i]
                    terms[i] = cache[word] = stemmer.stemWord(word)
        return terms  # type: ignore[return-value]  # every None was replaced

    def analyse(self, text: str) -> str:
        return " ".join(self.terms(text))

    def stem(self, folded_word: str) -> str:
        """The term of one word already lower-cased and unaccented."""
        if self._stemmer is None:
            return folded_word
        term = self._cache.get(folded_word)
        if term is None:
            term = self._cache[folded_word] = self._stemmer.stemWord(folded_word)
        return term


_ANALYZERS: dict[str, Analyzer] = {}


def analyzer(config: str) -> Analyzer:
    found = _ANALYZERS.get(config)
    if found is None:
        found = _ANALYZERS[config] = Analyzer(config)
    return found


def analyzer_for(language: str | None) -> Analyzer:
    return analyzer(config_for(language))
