"""Article language: the declared one when there is one, else py3langid
(whose model ships inside the package; nothing is downloaded at run time)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from py3langid.langid import MODEL_FILE, LanguageIdentifier

# Enough text to decide; the classifier's cost grows with its input (measured here).
_SAMPLE_CHARS: Final = 400  # ~97 µs vs ~157 µs at 1,000 chars; 400 chars decide reliably
_MIN_CHARS: Final = 40
_MIN_CONFIDENCE: Final = 0.5
_TAG: Final = re.compile(r"^[a-zA-Z]{2,3}(?=$|[-_])")


def normalize_language(tag: str | None) -> str | None:
    """``en-US`` / ``EN`` / ``fr_FR`` -> ``en`` / ``en`` / ``fr`` (ISO 639 primary subtag)."""
    if not tag:
        return None
    match = _TAG.match(tag.strip())
    return match.group(0).lower() if match else None


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """The language of ``text``, or None when it is too short or unclear."""
    sample = text[:_SAMPLE_CHARS]
    if len(sample.strip()) < _MIN_CHARS:
        return None
    lang, confidence = _identifier().classify(sample)
    return str(lang) if confidence >= _MIN_CONFIDENCE else None


def choose_language(*declared: str | None, text: str = "") -> str | None:
    for tag in declared:
        lang = normalize_language(tag)
        if lang:
            return lang
    return detect_language(text)
