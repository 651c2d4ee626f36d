"""Parser conformance over public feed-parser test suites.

1. Every file under ``--corpus`` (feeds/) and ``--feedparser-tests`` goes through
   the parser's pure path (parse + normalise every entry): crashes (anything
   but a clean ``FeedParseError``) are counted and listed.
2. Where an expected parse ships beside an input, entries are compared field by
   field (title, link, date, content):
   * feed-rs ``*.serde.json``, rss-parser ``test/output/*.json`` and gofeed
     ``testdata/translator/**.json``; entries are matched by position;
   * feedparser's ``Expect:`` expressions, evaluated by a small restricted AST
     evaluator (no ``eval``) against a feedparser-shaped view of our output.
     Expressions about fields we do not model (``bozo``, ``encoding``,
     ``*_detail``, iTunes, geo, ...) are counted as "not evaluated".

Comparison rules (ours vs expected): titles and content compare as whitespace-
normalised plain text (markup stripped on both sides); links as canonical URLs
(``services.parser.urls``) on both sides; dates as UTC instants.

    uv run python benchmarks/parse_conformance.py --corpus ../shared/corpora/feeds \\
        --feedparser-tests ../shared/corpora/feedparser-tests
"""

from __future__ import annotations

import argparse
import ast
import collections
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.parser.dates import to_utc
from services.parser.formats import FeedParseError, ParsedFeed, parse_document
from services.parser.html import html_to_text
from services.parser.normalize import build_article
from services.parser.urls import canonicalize_url
from shared.pipeline.events import Article

FETCHED = datetime(2026, 1, 1, tzinfo=UTC)
BASE = "http://example.org/feed.xml"
FIELDS = ("title", "link", "date", "content")


def _text(value: Any) -> str:
    return " ".join(html_to_text(str(value or "")).split())


@dataclass
class Tally:
    compared: collections.Counter[str] = field(default_factory=collections.Counter)
    matched: collections.Counter[str] = field(default_factory=collections.Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: collections.defaultdict(list))

    def add(self, name: str, ok: bool, note: str) -> None:
        self.compared[name] += 1
        if ok:
            self.matched[name] += 1
        elif len(self.examples[name]) < 5:
            self.examples[name].append(note)


def parse_all(
    body: bytes, content_type: str | None = None
) -> tuple[ParsedFeed | None, list[Article], str | None]:
    """(feed, articles, crash) for one document through the pure path."""
    try:
        feed = parse_document(body, content_type=content_type)
    except FeedParseError:
        return None, [], None
    except Exception as exc:
        return None, [], f"{type(exc).__name__}: {exc}"
    articles: list[Article] = []
    for entry in feed.entries:
        try:
            articles.append(
                build_article(
                    entry,
                    feed=feed,
                    feed_id="conf",
                    feed_url=BASE,
                    base_url=BASE,
                    fetched_at=FETCHED,
                )
            )
        except ValueError:  # no identity at all
            articles.append(_anonymous())
        except Exception as exc:
            return feed, articles, f"entry: {type(exc).__name__}: {exc}"
    return feed, articles, None


def _anonymous() -> Article:
    return Article(article_id="-", feed_id="conf", feed_url=BASE, url=None, fetched_at=FETCHED)


# --- expected parses shipped beside inputs ------------------------------------


@dataclass
class Expected:
    title: str | None
    link: str | None
    date: datetime | None
    content: str | None


def _feed_rs(path: Path) -> list[Expected]:
    data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    out = []
    for e in data.get("entries", []):
        links = e.get("links") or []
        body = (e.get("content") or {}).get("body") or (e.get("summary") or {}).get("content")
        out.append(
            Expected(
                title=(e.get("title") or {}).get("content"),
                link=links[0]["href"] if links else None,
                date=to_utc(e.get("published") or e.get("updated")),
                content=body,
            )
        )
    return out


def _rss_parser(path: Path) -> list[Expected]:
    data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    return [
        Expected(
            title=i.get("title"),
            link=i.get("link"),
            date=to_utc(i.get("isoDate")),
            content=i.get("content:encoded") or i.get("content"),
        )
        for i in data.get("feed", {}).get("items", [])
    ]


def _gofeed(path: Path) -> list[Expected]:
    data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    return [
        Expected(
            title=i.get("title"),
            link=i.get("link"),
            date=to_utc(i.get("publishedParsed") or i.get("updatedParsed")),
            content=i.get("content") or i.get("description"),
        )
        for i in data.get("items") or []
    ]


Loader = Callable[[Path], list[Expected]]


def expectation_pairs(root: Path) -> Iterator[tuple[str, Path, Path, Loader]]:
    for exp in sorted(root.rglob("*.serde.json")):
        stem = exp.name.removesuffix(".serde.json")
        inputs = [p for p in exp.parent.glob(stem + ".*") if p != exp]
        if inputs:
            yield "feed-rs", inputs[0], exp, _feed_rs
    for exp in sorted(root.glob("rss-parser/test/output/*.json")):
        inputs = list((exp.parents[1] / "input").glob(exp.stem + ".*"))
        if inputs:
            yield "rss-parser", inputs[0], exp, _rss_parser
    for exp in sorted(root.glob("gofeed/testdata/translator/*/*.json")):
        inputs = [p for p in exp.parent.glob(exp.stem + ".*") if p != exp]
        if inputs:
            yield "gofeed", inputs[0], exp, _gofeed


def compare_entry(tally: Tally, suite: str, name: str, got: Article, want: Expected) -> None:
    if any("\ufffd" in (v or "") for v in (want.title, want.content)):
        # The reference parser itself mis-decoded this entry (U+FFFD in its
        # expectation, e.g. rss-parser's encoding.rss): not a fair yardstick.
        tally.add(f"{suite}:skipped (expectation mis-decoded)", True, "")
        return
    if want.title is not None:
        tally.add(
            f"{suite}:title",
            _text(got.title) == _text(want.title),
            f"{name}: {got.title!r} != {want.title!r}",
        )
    if want.link:
        expected = canonicalize_url(want.link, base=BASE)
        if expected:
            tally.add(f"{suite}:link", got.url == expected, f"{name}: {got.url} != {expected}")
    if want.date is not None:
        ours = got.published_at
        ok = ours == want.date or got.updated_at == want.date
        tally.add(f"{suite}:date", ok, f"{name}: {ours} != {want.date}")
    if want.content:
        tally.add(
            f"{suite}:content",
            _text(got.content_html) == _text(want.content)
            or _text(got.text) == _text(want.content),
            f"{name}: {_text(got.content_html)[:60]!r} != {_text(want.content)[:60]!r}",
        )


# --- feedparser's Expect: expressions ------------------------------------------

_EXPECT = re.compile(r"^\s*Expect:\s*(.+?)\s*$", re.MULTILINE)
_HEADER = re.compile(r"^\s*Header:\s*Content-type:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)


class TextValue(str):
    """Our string; equality with an expected value is equality of plain text."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and _text(self) == _text(other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__


class Unsupported(Exception):
    pass


ENTRY_KEYS = {
    "title": "title",
    "link": "link",
    "id": "id",
    "summary": "content",
    "description": "content",
    "content": "content",
    "published_parsed": "date",
    "updated_parsed": "date",
    "issued_parsed": "date",
    "modified_parsed": "date",
    "created_parsed": "date",
    "value": "",
}
FEED_KEYS = {"title": "title", "link": "link"}


def _timetuple(dt: datetime | None) -> tuple[int, ...] | None:
    return tuple(dt.utctimetuple()) if dt else None


def feedparser_view(feed: ParsedFeed | None, articles: list[Article]) -> dict[str, Any]:
    def entry(a: Article) -> dict[str, Any]:
        published = _timetuple(a.published_at if a.date_source == "published" else None)
        updated = _timetuple(a.updated_at) or _timetuple(a.published_at)
        view: dict[str, Any] = {
            "title": TextValue(a.title),
            "link": a.url,
            "id": a.guid,
            "summary": TextValue(a.content_html or a.summary),
            "description": TextValue(a.content_html or a.summary),
            "content": [{"value": TextValue(a.content_html)}] if a.content_html else [],
        }
        for key, value in (
            ("published_parsed", published),
            ("issued_parsed", published),
            ("created_parsed", published),
            ("updated_parsed", updated),
            ("modified_parsed", updated),
        ):
            if value is not None:
                view[key] = value
        return view

    return {
        "feed": {"title": TextValue(feed.title), "link": feed.site_url} if feed else {},
        "entries": [entry(a) for a in articles],
    }


def _strip_bozo(node: ast.expr) -> ast.expr | None:
    """Drop ``bozo`` / ``not bozo`` conjuncts (we do not model feedparser's bozo)."""

    def is_bozo(n: ast.expr) -> bool:
        if isinstance(n, ast.Name) and n.id == "bozo":
            return True
        return isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not) and is_bozo(n.operand)

    if is_bozo(node):
        return None
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        values = [v for v in node.values if not is_bozo(v)]
        if not values:
            return None
        return values[0] if len(values) == 1 else ast.BoolOp(op=ast.And(), values=values)
    return node


def _key(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    raise Unsupported("non-constant subscript")


def evaluate(node: ast.AST, env: dict[str, Any], keys: list[str]) -> Any:
    """A tiny evaluator for feedparser's test expressions: names, subscripts,
    attributes-as-keys, comparisons, and/or/not, len() and .get()."""
    ev = evaluate
    if isinstance(node, ast.Expression):
        return ev(node.body, env, keys)
    if isinstance(node, ast.BoolOp):
        results = [ev(v, env, keys) for v in node.values]
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not ev(node.operand, env, keys)
    if isinstance(node, ast.Compare):
        left = ev(node.left, env, keys)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = ev(comp, env, keys)
            if isinstance(op, ast.Eq):
                ok = left == right
            elif isinstance(op, ast.NotEq):
                ok = left != right
            elif isinstance(op, ast.In):
                ok = left in right
            elif isinstance(op, ast.NotIn):
                ok = left not in right
            else:
                raise Unsupported(type(op).__name__)
            if not ok:
                return False
            left = right
        return True
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise Unsupported(f"name {node.id}")
        return env[node.id]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [ev(e, env, keys) for e in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.Dict) and not node.keys:
        return {}
    if isinstance(node, (ast.Subscript, ast.Attribute)):
        base = ev(node.value, env, keys)
        key = _key(node.slice) if isinstance(node, ast.Subscript) else node.attr
        if isinstance(key, str):
            allowed = ENTRY_KEYS if keys and keys[0] == "entries" else FEED_KEYS
            if key not in allowed:
                raise Unsupported(f"key {key}")
            keys.append(key)
        return base[key]
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id == "len" and len(node.args) == 1:
            return len(ev(node.args[0], env, keys))
        if isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            base = ev(node.func.value, env, keys)
            key = _key(node.args[0])
            allowed = ENTRY_KEYS if keys and keys[0] == "entries" else FEED_KEYS
            if key not in allowed:
                raise Unsupported(f"key {key}")
            keys.append(key)
            default = ev(node.args[1], env, keys) if len(node.args) > 1 else None
            return base.get(key, default)
        raise Unsupported("call")
    raise Unsupported(type(node).__name__)


def _category(keys: list[str]) -> str:
    scope = "entry" if keys[:1] == ["entries"] else "feed"
    table = ENTRY_KEYS if scope == "entry" else FEED_KEYS
    for key in keys:
        if table.get(key) in FIELDS:
            return f"{scope} {table[key]}"
    return f"{scope} other"


def run_feedparser_tests(root: Path, tally: Tally, crashes: list[str]) -> dict[str, int]:
    counts: collections.Counter[str] = collections.Counter()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in {".xml", ".rdf"}):
        raw = path.read_bytes()
        head = raw[:2000].decode("latin-1")
        header = _HEADER.search(head)
        feed, articles, crash = parse_all(raw, header.group(1) if header else None)
        counts["files"] += 1
        if crash:
            crashes.append(f"{path.relative_to(root)}: {crash}")
        match = _EXPECT.search(head)
        if match is None:
            counts["no expectation"] += 1
            continue
        expr = match.group(1).rstrip("->").strip()
        try:
            tree = ast.parse(expr, mode="eval")
            body = _strip_bozo(tree.body)
            if body is None:
                raise Unsupported("bozo only")
            keys: list[str] = []
            env = feedparser_view(feed, articles) | {"True": True, "False": False}
            if "entries" in expr:
                keys.append("entries")
            ok = bool(evaluate(body, env, keys))
        except Unsupported:
            counts["not evaluated"] += 1
            continue
        except (KeyError, IndexError, TypeError, AttributeError):
            ok = False
            keys = keys if "keys" in locals() else []
        except SyntaxError:
            counts["not evaluated"] += 1
            continue
        counts["evaluated"] += 1
        tally.add(f"feedparser:{_category(keys)}", ok, f"{path.relative_to(root)}: {expr[:90]}")
    return dict(counts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, required=True, help="feeds corpus directory")
    ap.add_argument("--feedparser-tests", type=Path, default=None)
    ap.add_argument("--examples", action="store_true", help="print mismatch examples")
    args = ap.parse_args()

    started = time.perf_counter()
    crashes: list[str] = []
    outcome: collections.Counter[str] = collections.Counter()
    for path in sorted(p for p in args.corpus.rglob("*") if p.is_file()):
        if path.suffix not in {".xml", ".rss", ".atom", ".json", ".rdf"}:
            continue
        feed, _, crash = parse_all(path.read_bytes())
        outcome["crash" if crash else "parsed" if feed else "rejected"] += 1
        if crash:
            crashes.append(f"{path.relative_to(args.corpus)}: {crash}")

    tally = Tally()
    pairs = 0
    for suite, inp, expectation, load in expectation_pairs(args.corpus):
        _, articles, _ = parse_all(inp.read_bytes())
        want = load(expectation)
        pairs += 1
        for i, expected in enumerate(want):
            got = articles[i] if i < len(articles) else _anonymous()
            compare_entry(tally, suite, inp.name, got, expected)

    fp_counts: dict[str, int] = {}
    if args.feedparser_tests is not None:
        fp_counts = run_feedparser_tests(args.feedparser_tests, tally, crashes)

    print(f"feeds corpus: {dict(outcome)} (rejected = clean FeedParseError, e.g. expected")
    print("  outputs or non-feed fixtures)")
    if fp_counts:
        print(f"feedparser-tests: {fp_counts}")
    print(f"crashes: {len(crashes)}")
    for line in crashes[:20]:
        print(f"  {line}")
    print(f"expectation files compared: {pairs}\n")
    print("| suite:field | compared | matched | share |")
    print("|---|---:|---:|---:|")
    for name in sorted(tally.compared):
        c, m = tally.compared[name], tally.matched[name]
        print(f"| {name} | {c} | {m} | {m / c:.1%} |")
    scored = [name for name in tally.compared if "skipped" not in name]
    total_c = sum(tally.compared[name] for name in scored)
    total_m = sum(tally.matched[name] for name in scored)
    print(f"| **all** | {total_c} | {total_m} | {total_m / max(total_c, 1):.1%} |")
    print(f"\n({time.perf_counter() - started:.1f} s)")
    if args.examples:
        for name, notes in sorted(tally.examples.items()):
            print(f"\n{name}:")
            for note in notes:
                print(f"  {note}")


if __name__ == "__main__":
    main()
