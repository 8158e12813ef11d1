"""The English local news site of the demo site (`/news/...`).

Pages: front page `/news/index.html` (the ten newest stories) and stories `/news/<slug>.html`,
each with a "Most read" sidebar (a fixed set, reordered daily) and a footer with the date.

Timeline: day 2 port-authority-audit -> HTTP 410 (`removed`); day 4 minister-interview ->
HTTP 451 (`censored`); day 5 factory-fire-report -> HTTP 200 "This article has been removed"
(`removed`); day 7 city-budget-vote loses a paragraph (`edited`). Taken-down stories leave
the front page.
Noise: a CDN "Access Denied" 403 (day 2), a connection reset (day 3), a truncated body
(day 4), a slow story (0.5 s, every day), a story that outlasts a 3 s timeout (6 s, day 5),
the footer date, the reordering sidebar, and library-late-hours dropping off the end of the
front page on days when new stories arrive.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from takedown.demo import texts
from takedown.demo.layout import date_of, esc, html_reply, paragraphs, seeded
from takedown.demo.server import Reply
from takedown.demo.truth import Expected, Noise, TargetSpec, absolute

SITE = "The Harbour Herald"
TARGET = "news"
FRONT_PAGE_SIZE = 10
REMOVED_NOTICE = "This article has been removed"
LEGAL_NOTICE = "This content is not available in your jurisdiction."
TAKEDOWNS = {  # slug -> (day, kind, how)
    "port-authority-audit": (2, "removed", "410"),
    "minister-interview": (4, "censored", "451"),
    "factory-fire-report": (5, "removed", "notice"),
    "city-budget-vote": (7, "edited", "paragraph"),
}
HOW = {"410": "HTTP 410 Gone", "451": "HTTP 451 Unavailable For Legal Reasons",
       "notice": "HTTP 200 'This article has been removed'", "paragraph": "a paragraph removed"}
FAULTS = {  # slug -> (days or None for every day, what)
    "harbor-bridge-reopens": ((2,), "cdn-block"),
    "transit-fare-rise": ((3,), "reset"),
    "school-lunch-program": ((4,), "truncated"),
    "weather-outlook": (None, "slow"),
    "stadium-renovation": ((5,), "timeout"),
}
BYLINES = ("Ana Ruiz", "Tom Okafor", "Mei Lin", "Sam Berg")
SLOW_DELAY, TIMEOUT_DELAY = 0.5, 6.0
MOST_READ = tuple(FAULTS)
EDITED_PARAGRAPH = (
    "A memo seen by the Herald shows that two council members had business ties to the "
    "contractor that won the budget's largest tender."
)

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_STORY = re.compile(r"/news/([a-z0-9-]+)\.html")


@dataclass(frozen=True)
class Story:
    slug: str
    title: str
    posted: int
    lede: str


STORIES = {s.slug: s for s in (
    Story("harbor-bridge-reopens", "Harbor Bridge reopens after eight months of repairs", -1,
          "The Harbor Bridge reopened to traffic on Sunday, two weeks ahead of schedule."),
    Story("city-budget-vote", "Council approves city budget after late-night session", -2,
          "The city council approved next year's budget shortly after midnight."),
    Story("weather-outlook", "Weekend weather: showers clearing by Sunday", -3,
          "Forecasters expect a wet Saturday followed by a bright, mild Sunday."),
    Story("port-authority-audit", "Audit questions port authority spending", -4,
          "An internal audit has questioned how the port authority spent a dredging grant."),
    Story("minister-interview", "Interview: the minister on press freedom and new cyber rules",
          -5, "In a rare interview, the minister defended the new cyber rules."),
    Story("stadium-renovation", "Stadium renovation to start in autumn", -6,
          "Work on the municipal stadium will begin in October, the parks office said."),
    Story("factory-fire-report", "Report blames safety lapses for factory fire", -7,
          "A report into last winter's factory fire points to blocked exits and missing alarms."),
    Story("transit-fare-rise", "Transit fares to rise by ten cents in July", -8,
          "Bus and tram fares will rise by ten cents from the first of July."),
    Story("school-lunch-program", "Free school lunches expand to four more districts", -9,
          "The free school lunch program will reach four more districts in September."),
    Story("library-late-hours", "Central library to stay open late on weekdays", -10,
          "The central library will stay open until 10pm from Monday to Thursday."),
    Story("river-cleanup-volunteers", "Hundreds join river cleanup", 1,
          "More than three hundred volunteers pulled rubbish from the river on Saturday."),
    Story("night-market-returns", "Night market returns to the old quarter", 3,
          "The night market is back in the old quarter after a two-year absence."),
    Story("heatwave-advice", "Heatwave: where to stay cool this week", 6,
          "With temperatures above 35C expected, the city has opened cooling centres."),
    Story("marathon-road-closures", "Marathon road closures announced", 7,
          "Several central streets will close on Sunday morning for the city marathon."),
)}


def story_gone(slug: str, day: int) -> bool:
    """True once a story is taken off the site (410, 451 or the removal notice)."""
    event = TAKEDOWNS.get(slug)
    return event is not None and event[2] != "paragraph" and day >= event[0]


def front_page(day: int) -> list[Story]:
    live = [s for s in STORIES.values() if s.posted <= day and not story_gone(s.slug, day)]
    return sorted(live, key=lambda s: s.posted, reverse=True)[:FRONT_PAGE_SIZE]


def story_paragraphs(story: Story, day: int) -> list[str]:
    rng = seeded("news-body", story.slug)
    pool = list(texts.NEWS_SENTENCES)
    rng.shuffle(pool)
    paras = [story.lede, *(" ".join(pool[i:i + 2]) for i in range(0, 6, 2))]
    if story.slug == "city-budget-vote" and day < TAKEDOWNS["city-budget-vote"][0]:
        paras.insert(2, EDITED_PARAGRAPH)
    return paras


class NewsSection:
    """Responder and self-description of the English news section."""

    prefix = "/news/"

    def reply(self, day: int, path: str, query: Mapping[str, str]) -> Reply | None:
        if path in {"/news/", "/news/index.html"}:
            return _Pages(day).front()
        if m := _STORY.fullmatch(path):
            story = STORIES.get(m.group(1))
            return _Pages(day).story(story) if story and story.posted <= day else None
        return None

    def targets(self) -> list[TargetSpec]:
        return [TargetSpec(TARGET, "/news/index.html", depth=1, allow=(r"/news/",))]

    def expected(self, base: str) -> list[Expected]:
        return [
            Expected(absolute(base, f"/news/{slug}.html"), kind, day, TARGET, note=HOW[how])
            for slug, (day, kind, how) in TAKEDOWNS.items()
        ]

    def noise(self, base: str, days: int) -> list[Noise]:
        out = []
        for slug, (when, what) in FAULTS.items():
            hit = tuple(range(days)) if when is None else tuple(d for d in when if d < days)
            out.append(Noise(absolute(base, f"/news/{slug}.html"), what, hit))
        index = absolute(base, "/news/index.html")
        out += [Noise(index, "clock", tuple(range(days)), "footer date"),
                Noise(index, "reorder", tuple(range(days)), "most-read sidebar")]
        on_day0 = {s.slug for s in front_page(0)}
        for slug in sorted(on_day0):
            off = tuple(d for d in range(days) if slug not in {s.slug for s in front_page(d)}
                        and not story_gone(slug, d))
            if off:
                out.append(Noise(absolute(base, f"/news/{slug}.html"), "fell-off-end", off,
                                 "pushed off the end of the front page, still served"))
        return out


def _gone_410() -> Reply:
    page = ("<!DOCTYPE html>\n<html><head><title>410 Gone</title></head><body><h1>Gone</h1>"
            "<p>The requested resource is no longer available on this server and there is no "
            "forwarding address. Please remove all references to this resource.</p></body></html>")
    return html_reply(page, 410)


def _legal_451() -> Reply:
    page = ("<!DOCTYPE html>\n<html><head><title>451 Unavailable For Legal Reasons</title></head>"
            f"<body><h1>Unavailable For Legal Reasons</h1><p>{LEGAL_NOTICE}</p></body></html>")
    return html_reply(page, 451)


def _access_denied(path: str) -> Reply:
    shown = esc(f"http://www.harbourherald.example{path}")
    page = (
        "<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n \n"
        f'You don\'t have permission to access "{shown}" on this server.<P>\n'
        "Reference&#32;&#35;18&#46;5c2e1602&#46;1528711200&#46;2b1f9c0\n</BODY>\n</HTML>\n"
    )
    return html_reply(page, 403, headers={"Server": "AkamaiGHost"})


class _Pages:
    """Renders the news pages of one simulated day."""

    def __init__(self, day: int) -> None:
        self.day = day

    def front(self) -> Reply:
        items = "\n".join(
            f'<article class="teaser"><h2><a href="/news/{s.slug}.html">{esc(s.title)}</a></h2>'
            f'<p class="dek">{esc(s.lede)}</p><time>{date_of(s.posted).isoformat()}</time>'
            "</article>" for s in front_page(self.day)
        )
        main = f'<section class="latest">\n{items}\n</section>'
        return html_reply(self.layout("Latest news", main))

    def story(self, story: Story) -> Reply:
        event = TAKEDOWNS.get(story.slug)
        if event is not None and self.day >= event[0]:
            if event[2] == "410":
                return _gone_410()
            if event[2] == "451":
                return _legal_451()
            if event[2] == "notice":
                return html_reply(self.layout(REMOVED_NOTICE, _removed_notice()))
        return self._fault_or_page(story)

    def _fault_or_page(self, story: Story) -> Reply:
        days, what = FAULTS.get(story.slug, ((), ""))
        if what == "slow":
            return html_reply(self._story_page(story), delay=SLOW_DELAY)
        if self.day not in days:
            return html_reply(self._story_page(story))
        if what == "cdn-block":
            return _access_denied(f"/news/{story.slug}.html")
        if what == "reset":
            return Reply(fault="reset")
        if what == "truncated":
            return html_reply(self._story_page(story), fault="truncate")
        return html_reply(self._story_page(story), delay=TIMEOUT_DELAY)

    def _story_page(self, story: Story) -> str:
        byline = seeded("byline", story.slug).choice(BYLINES)
        main = (
            f'<article class="story"><h1>{esc(story.title)}</h1><p class="byline">By {byline} · '
            f"<time>{date_of(story.posted).isoformat()}</time></p>\n"
            f'<div class="story-body">\n{paragraphs(story_paragraphs(story, self.day))}\n'
            "</div></article>"
        )
        return self.layout(story.title, main)

    def layout(self, title: str, main: str) -> str:
        slugs = list(MOST_READ)
        seeded("most-read", self.day).shuffle(slugs)
        most = "".join(
            f'<li><a href="/news/{s}.html">{esc(STORIES[s].title)}</a></li>' for s in slugs
        )
        today = date_of(self.day)
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{esc(title)} | {SITE}</title>\n</head>\n<body>\n"
            f'<header class="masthead"><a href="/news/index.html">{SITE}</a><nav>'
            '<a href="/news/index.html">Home</a></nav></header>\n'
            f'<main>\n{main}\n</main>\n'
            f'<aside class="most-read"><h2>Most read</h2><ol>{most}</ol></aside>\n'
            f"<footer><p>{SITE} · {_WEEKDAYS[today.weekday()]}, {_MONTHS[today.month - 1]} "
            f"{today.day}, {today.year}</p>"
            '<p><a href="/private/secret.html">Staff login</a></p></footer>\n</body>\n</html>\n'
        )


def _removed_notice() -> str:
    return (f'<article class="notice"><h1>{REMOVED_NOTICE}</h1><p>{REMOVED_NOTICE}. '
            'Return to the <a href="/news/index.html">front page</a>.</p></article>')
