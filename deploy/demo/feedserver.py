"""A tiny offline feed site for the ``demo`` compose profile and the deploy tests.

Serves one RSS 2.0, one Atom and one JSON Feed (English and French), the
article pages they link to (with navigation and footer boilerplate around the
story, like a real site), a feed that always answers 404, and a rolling
"harbour bulletin" that gains a new entry every ``--new-every`` seconds so the
dashboards keep moving. Feeds carry an ETag and honour ``If-None-Match`` so the
poller sees ``304 Not Modified`` between bulletins. One story is syndicated in
two feeds under the same URL, so the deduplicator has work to do.

All text here was written for this demo.

It stands alone on purpose. The compose file runs it in the feedpipe image,
which holds only ``shared/`` and ``services/`` (``deploy/`` is mounted), so it
cannot import the test support package; and what it serves is not what the
tests need: a few hand-written stories in two languages that read well on the
search page, where the tests' site (``tests/support/feedsite.py``) generates
articles in bulk with search tokens and serves per-test handlers. The two
share no code, only the feed formats they both emit.

Run: ``python deploy/demo/feedserver.py --port 8000 --base-url http://demo-feeds:8000``
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Story:
    slug: str
    title: str
    lang: str
    published: str  # ISO 8601, UTC
    paragraphs: tuple[str, ...]

    @property
    def summary(self) -> str:
        return self.paragraphs[0]


STORIES: dict[str, Story] = {
    s.slug: s
    for s in (
        Story(
            "winter-ferry-timetable",
            "Harbour ferry moves to its winter timetable",
            "en",
            "2026-11-02T07:30:00Z",
            (
                "From the first Monday of November the harbour ferry will run every forty"
                " minutes instead of every twenty, the port office said on Friday.",
                "The last crossing from the north quay now leaves at 21:10. Season tickets"
                " bought in the summer remain valid, and bicycles still travel free on"
                " weekday mornings.",
                "The operator says the change follows three years of passenger counts that"
                " show traffic halving after the autumn school break. Commuters who asked"
                " for an earlier first boat will get one: a 06:05 departure is added.",
                "Timetables are posted at both landings and in the library lobby.",
            ),
        ),
        Story(
            "seed-library",
            "Community garden opens a seed library",
            "en",
            "2026-11-05T10:00:00Z",
            (
                "Gardeners at the Elm Street allotments have turned an old card catalogue"
                " into a seed library where anyone may borrow a packet and return seeds at"
                " the end of the season.",
                "Volunteers sort donations on Saturday mornings. Beans, squash and tomatoes"
                " are the most requested so far, and a shelf is set aside for local"
                " varieties that growers have kept going for decades.",
                "The organisers ask borrowers to label what they bring back with the year"
                " and the plot it grew in, so that others know what to expect.",
            ),
        ),
        Story(
            "night-market-depot",
            "Night market returns to the old tram depot",
            "en",
            "2026-11-08T18:00:00Z",
            (
                "The Thursday night market is back in the restored tram depot, with forty"
                " stalls of street food, second-hand books and repaired electronics.",
                "Stallholders pay a flat fee that covers lighting and cleaning. A repair"
                " table run by retired engineers fixes lamps, radios and toasters while"
                " visitors wait.",
                "The market opens at six and closes at eleven; the depot doors on Canal"
                " Road are the only entrance while the courtyard is resurfaced.",
            ),
        ),
        Story(
            "kelp-survey",
            "Volunteer divers map the kelp forest off Gull Point",
            "en",
            "2026-11-10T09:15:00Z",
            (
                "A team of twelve volunteer divers spent the weekend measuring the kelp"
                " forest off Gull Point, repeating a survey first made in 2016.",
                "They laid weighted lines along the seabed and counted plants every two"
                " metres. Early figures suggest the forest has spread north by about"
                " eighty metres, while its southern edge has thinned.",
                "The data will be shared with the regional marine lab, which compares it"
                " with water temperature records from the harbour mouth.",
            ),
        ),
        Story(
            "tide-gauge",
            "Why the town's tide gauge matters to climate researchers",
            "en",
            "2026-11-12T12:00:00Z",
            (
                "The tide gauge on the east pier has recorded sea level every six minutes"
                " since 1962, which makes it one of the longest unbroken records on this"
                " stretch of coast.",
                "Researchers value long records because yearly swings from storms and"
                " pressure changes are large; only decades of readings reveal the slow"
                " underlying rise.",
                "The gauge was moved once, in 1988, and the survey marks that tie the old"
                " and new positions together are checked every spring.",
            ),
        ),
        Story(
            "rain-gauge-guide",
            "A beginner's guide to measuring rainfall at home",
            "en",
            "2026-11-14T08:00:00Z",
            (
                "A straight-sided container, a ruler and a spot away from walls and trees"
                " are enough to start keeping a rainfall diary.",
                "Read the gauge at the same hour every day, empty it, and write down zero"
                " on dry days: gaps are harder to interpret than zeros.",
                "After a year, compare your monthly totals with the official station at"
                " the airfield. Differences of ten percent are normal for sites a few"
                " kilometres apart.",
            ),
        ),
        Story(
            "boulangerie-tilleuls",
            "La boulangerie de la rue des Tilleuls fête ses cinquante ans",
            "fr",
            "2026-11-03T06:45:00Z",
            (
                "La boulangerie de la rue des Tilleuls a ouvert ses portes en 1976 et n'a"
                " jamais changé de four, un modèle à sole en pierre que l'on chauffe dès"
                " quatre heures du matin.",
                "Pour l'anniversaire, la famille qui la tient propose tout le mois une"
                " fougasse aux olives selon la recette de la première boulangère.",
                "Les habitants sont invités à apporter leurs vieilles photographies du"
                " quartier, qui seront exposées dans la vitrine jusqu'à la fin de"
                " l'année.",
            ),
        ),
        Story(
            "marche-couvert",
            "Le marché couvert rouvre après deux ans de travaux",
            "fr",
            "2026-11-07T07:00:00Z",
            (
                "Le marché couvert de la place Carnot rouvre samedi après deux ans de"
                " travaux qui ont remplacé la charpente et les verrières.",
                "Trente-deux commerçants retrouvent leurs étals, dont trois nouveaux"
                " venus : un fromager, un torréfacteur et une maraîchère de la vallée.",
                "La municipalité a ajouté un local à vélos et des toilettes publiques."
                " Le marché sera ouvert du mardi au dimanche, de sept heures à treize"
                " heures.",
            ),
        ),
        Story(
            "grainotheque",
            "Une grainothèque au jardin partagé",
            "fr",
            "2026-11-09T15:30:00Z",
            (
                "Le jardin partagé du quartier des Tanneurs inaugure une grainothèque :"
                " chacun peut emprunter des graines et en rapporter à l'automne.",
                "Les bénévoles trient les dons le mercredi après-midi et notent l'origine"
                " de chaque sachet pour suivre les variétés d'une année à l'autre.",
                "Les graines de tomates anciennes et de haricots grimpants sont déjà les"
                " plus demandées.",
            ),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class FeedSpec:
    title: str
    lang: str
    stories: tuple[str, ...]
    bulletins: bool = False


FEEDS: dict[str, FeedSpec] = {
    "harbour.rss": FeedSpec(
        "Harbour Town Gazette",
        "en",
        ("winter-ferry-timetable", "seed-library", "night-market-depot", "kelp-survey"),
        bulletins=True,
    ),
    "science.atom": FeedSpec(
        "Valley Science Notes", "en", ("kelp-survey", "tide-gauge", "rain-gauge-guide")
    ),
    "quartier.json": FeedSpec(
        "Le Carnet du Quartier", "fr", ("boulangerie-tilleuls", "marche-couvert", "grainotheque")
    ),
}

BULLETINS_KEPT = 5
WINDS = ("north", "north-west", "west", "south-west", "south", "east")


def bulletin(n: int, period: float) -> Story:
    """The n-th harbour bulletin: generated, so the demo never runs dry."""
    wind = WINDS[n % len(WINDS)]
    speed = 5 + (n * 7) % 30
    tide = 1.2 + (n % 9) * 0.3
    when = datetime.fromtimestamp(n * period, UTC)
    return Story(
        f"bulletin-{n}",
        f"Harbour bulletin for {when:%d %b %H:%M} UTC",
        "en",
        when.isoformat().replace("+00:00", "Z"),
        (
            f"From the harbour master at {when:%H:%M}: wind from the {wind} at {speed} knots,"
            f" high water at {tide:.1f} metres above chart datum.",
            f"Pilot boarding is {'suspended' if speed > 28 else 'normal'} at the outer buoy."
            f" Small craft should keep clear of the dredger working berth {n % 7 + 1}.",
            "Next bulletin at the usual interval. Report floating debris to the port office"
            " on channel 12.",
        ),
    )


def current_bulletins(now: float, period: float) -> list[Story]:
    latest = int(now // period)
    return [bulletin(n, period) for n in range(latest, max(latest - BULLETINS_KEPT, -1), -1)]


def find_story(slug: str, now: float, period: float) -> Story | None:
    if slug.startswith("bulletin-") and slug.removeprefix("bulletin-").isdigit():
        n = int(slug.removeprefix("bulletin-"))
        return bulletin(n, period) if n <= now // period else None
    return STORIES.get(slug)


def _rfc822(iso: str) -> str:
    return format_datetime(datetime.fromisoformat(iso.replace("Z", "+00:00")))


def feed_stories(name: str, now: float, period: float) -> list[Story]:
    spec = FEEDS[name]
    stories = [STORIES[slug] for slug in spec.stories]
    if spec.bulletins:
        stories = current_bulletins(now, period) + stories
    return stories


def render_rss(name: str, base: str, stories: list[Story]) -> bytes:
    spec = FEEDS[name]
    items = "".join(
        f"<item><title>{html.escape(s.title)}</title>"
        f"<link>{base}/articles/{s.slug}.html</link>"
        f'<guid isPermaLink="true">{base}/articles/{s.slug}.html</guid>'
        f"<pubDate>{_rfc822(s.published)}</pubDate>"
        f"<description>{html.escape(s.summary)}</description></item>"
        for s in stories
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{html.escape(spec.title)}</title><link>{base}/</link>"
        f"<description>Local news from the harbour</description>"
        f"<language>{spec.lang}</language>{items}</channel></rss>\n"
    ).encode()


def render_atom(name: str, base: str, stories: list[Story]) -> bytes:
    spec = FEEDS[name]
    updated = max(s.published for s in stories)
    entries = "".join(
        f"<entry><title>{html.escape(s.title)}</title>"
        f'<link rel="alternate" href="{base}/articles/{s.slug}.html"/>'
        f"<id>{base}/articles/{s.slug}.html</id>"
        f"<published>{s.published}</published><updated>{s.published}</updated>"
        f"<summary>{html.escape(s.summary)}</summary></entry>"
        for s in stories
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{spec.lang}">'
        f"<title>{html.escape(spec.title)}</title><id>{base}/feeds/{name}</id>"
        f'<link rel="alternate" href="{base}/"/><updated>{updated}</updated>'
        f"{entries}</feed>\n"
    ).encode()


def render_json(name: str, base: str, stories: list[Story]) -> bytes:
    spec = FEEDS[name]
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": spec.title,
        "home_page_url": f"{base}/",
        "feed_url": f"{base}/feeds/{name}",
        "language": spec.lang,
        "items": [
            {
                "id": f"{base}/articles/{s.slug}.html",
                "url": f"{base}/articles/{s.slug}.html",
                "title": s.title,
                "summary": s.summary,
                "date_published": s.published,
            }
            for s in stories
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode()


RENDERERS = {
    "rss": (render_rss, "application/rss+xml; charset=utf-8"),
    "atom": (render_atom, "application/atom+xml; charset=utf-8"),
    "json": (render_json, "application/feed+json; charset=utf-8"),
}


def render_page(story: Story, base: str) -> bytes:
    nav = "Accueil · Quartier · Culture" if story.lang == "fr" else "Home · Town · Sea · Science"
    body = "".join(f"<p>{html.escape(p)}</p>" for p in story.paragraphs)
    return (
        f'<!doctype html><html lang="{story.lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(story.title)}</title>"
        f'<link rel="canonical" href="{base}/articles/{story.slug}.html"></head><body>'
        f'<header><nav><a href="{base}/">{nav}</a></nav>'
        '<div class="cookie">This site stores one cookie to remember your font size.</div>'
        "</header><main><article>"
        f"<h1>{html.escape(story.title)}</h1>"
        f'<time datetime="{story.published}">{story.published[:10]}</time>{body}'
        "</article></main>"
        '<aside><h2>Most read</h2><ul><li><a href="/">Parking permits</a></li>'
        '<li><a href="/">Bin collection days</a></li></ul></aside>'
        "<footer>Demo content for feedpipe · Subscribe · Contact · Privacy</footer>"
        "</body></html>"
    ).encode()


def make_app(*, base_url: str, new_every: float) -> web.Application:
    base = base_url.rstrip("/")

    async def feed(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in FEEDS:
            raise web.HTTPNotFound(text="no such feed")
        renderer, content_type = RENDERERS[name.rsplit(".", 1)[1]]
        body = renderer(name, base, feed_stories(name, time.time(), new_every))
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, headers={"ETag": etag, "Content-Type": content_type})

    async def article(request: web.Request) -> web.Response:
        story = find_story(request.match_info["slug"], time.time(), new_every)
        if story is None:
            raise web.HTTPNotFound(text="no such article")
        return web.Response(
            body=render_page(story, base), content_type="text/html", charset="utf-8"
        )

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/feeds/{name}", feed)
    app.router.add_get("/articles/{slug}.html", article)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--base-url", default=None, help="URL the pipeline reaches this server at (in links)."
    )
    parser.add_argument(
        "--new-every", type=float, default=120.0, help="Seconds between harbour bulletins."
    )
    args = parser.parse_args()
    base = args.base_url or f"http://{args.host}:{args.port}"
    web.run_app(
        make_app(base_url=base, new_every=args.new_every),
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
