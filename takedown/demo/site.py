"""`DemoSite`: the bundled demo website, whose content is a pure function of a simulated day.

The site has five sections, each in its own module: a Discuz!-style forum (`forum`), a city
government portal (`gov`), WeChat-style accounts (`wechat`), a microblog (`weibo`) and an
English news site (`news`), plus `/robots.txt` (which disallows `/private/`) and a linked
`/private/secret.html` that a polite crawler never fetches. Set `site.day` between crawl
rounds; takedowns happen on days 2..7, so a run of 8 or more days sees before and after.

`DemoSite` is a `Responder` for `takedown.demo.server.SiteServer`, and it describes itself:
`watchlist_toml` (the demo watchlist), `ground_truth` (the takedowns a correct pipeline
reports) and `noise_cases` (changes that must not become takedowns).

Only one thing is stateful: the gov article that answers 429 to the *first* request of its
day. Everything else is deterministic per (day, path). Imports stdlib and takedown.demo only.

>>> site = DemoSite()
>>> site("GET", "/robots.txt", {}).body
b'User-agent: *\\nDisallow: /private/\\n'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

from takedown.demo.forum import ForumSection
from takedown.demo.gov import GovSection
from takedown.demo.layout import html_reply, not_found, text_reply
from takedown.demo.news import NewsSection
from takedown.demo.server import Reply
from takedown.demo.truth import Expected, Noise, TargetSpec, absolute, watchlist_text
from takedown.demo.wechat import WechatSection
from takedown.demo.weibo import WeiboSection

__all__ = ["CRAWL_SETTINGS", "DemoSite", "Expected", "Noise"]

ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"
PRIVATE_PATH = "/private/secret.html"
LANDING = (
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>takedown demo site</title>"
    "</head><body><h1>takedown demo site</h1><ul>"
    '<li><a href="/forum/index.php">长城军事论坛 (Discuz!-style forum)</a></li>'
    '<li><a href="/gov/news/list.html">云海市人民政府 政务要闻 (government portal)</a></li>'
    '<li><a href="/wx/account/junwu-guancha">军武观察 (WeChat-style account)</a></li>'
    '<li><a href="/weibo/u/1001?page=1">军事观察员老王 (microblog)</a></li>'
    '<li><a href="/news/index.html">The Harbour Herald (news)</a></li>'
    "</ul></body></html>\n"
)
# the sites write their times in Beijing time, without an offset
CRAWL_SETTINGS = {"concurrency": 8, "delay": 0, "timeout": 3, "retries": 2,
                  "timezone": "Asia/Shanghai"}


class Section(Protocol):
    prefix: str

    def reply(self, day: int, path: str, query: Mapping[str, str]) -> Reply | None: ...

    def targets(self) -> list[TargetSpec]: ...

    def expected(self, base: str) -> list[Expected]: ...

    def noise(self, base: str, days: int) -> list[Noise]: ...


class DemoSite:
    """The demo website; call it like a responder, set `day` between rounds."""

    def __init__(self, days: int = 10) -> None:
        if days < 1:
            raise ValueError("days must be >= 1")
        self.days = days
        self.day = 0
        self.sections: tuple[Section, ...] = (
            ForumSection(), GovSection(), WechatSection(), WeiboSection(), NewsSection(),
        )

    def __call__(self, method: str, path_with_query: str, headers: Mapping[str, str]) -> Reply:
        if method not in {"GET", "HEAD"}:
            return text_reply("405 Method Not Allowed\n", 405)
        parts = urlsplit(path_with_query)
        path, query = parts.path or "/", dict(parse_qsl(parts.query))
        if path == "/robots.txt":
            return text_reply(ROBOTS_TXT)
        if path == "/":
            return html_reply(LANDING)
        if path == PRIVATE_PATH:
            return html_reply("<!DOCTYPE html>\n<html><head><title>Staff only</title></head>"
                              "<body><h1>Staff only</h1><p>Internal page.</p></body></html>\n")
        for section in self.sections:
            if path.startswith(section.prefix):
                reply = section.reply(self.day, path, query)
                return reply if reply is not None else not_found()
        return not_found()

    def targets(self) -> list[TargetSpec]:
        return [spec for section in self.sections for spec in section.targets()]

    def watchlist_toml(self, base_url: str) -> str:
        """The demo watchlist (the watchlist format of the README) for a server at *base_url*."""
        return watchlist_text(base_url, self.targets(), CRAWL_SETTINGS)

    def ground_truth(self, base_url: str) -> list[Expected]:
        """Takedowns visible within `days`, ordered by day, URL and item."""
        out = []
        for section in self.sections:
            for exp in section.expected(base_url):
                if exp.day >= self.days:
                    continue
                if exp.restored_day is not None and exp.restored_day >= self.days:
                    exp = replace(exp, restored_day=None)
                out.append(exp)
        return sorted(out, key=lambda e: (e.day, e.url, e.item or ""))

    def noise_cases(self, base_url: str) -> list[Noise]:
        """Changes within `days` that must not be reported as takedowns."""
        cases = [n for section in self.sections for n in section.noise(base_url, self.days)]
        cases.append(Noise(absolute(base_url, PRIVATE_PATH), "robots", tuple(range(self.days)),
                           "linked but disallowed by robots.txt: must never be fetched"))
        return [n for n in cases if n.days]
