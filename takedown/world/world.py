"""`World`: the generated sites of one seed on one loopback server, their round, their
planted takedowns (ground truth) and the watchlist that watches them.

A world holds three to five sites under ``/s1/``, ``/s2/``…: always a forum, a microblog
or WeChat-style account site and a portal or news site (so every takedown kind can be
planted), plus others drawn from the seed.  It is a `Responder` for
`takedown.demo.server.SiteServer`: set ``world.round`` between crawl rounds.  Noise that is
not a takedown is always there (moves, template changes, faults, rotating boxes); in
planted mode takedowns of every kind are planted at random rounds, never in the last two.

Everything is drawn from ``random.Random(seed)`` and keys derived from it: the same seed
gives the same world.  Imports the stdlib, `takedown.demo.server` and `takedown.world`.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

from takedown.demo.server import Reply
from takedown.world.base import Site, Truth
from takedown.world.faults import FaultPlan
from takedown.world.forum import ForumSite
from takedown.world.notices import KINDS, NoticeBook
from takedown.world.portal import NewsSite, PortalSite
from takedown.world.social import MicroblogSite, WechatSite

ARCHETYPES: dict[str, type[Site]] = {"portal": PortalSite, "news": NewsSite,
                                     "forum": ForumSite, "microblog": MicroblogSite,
                                     "wechat": WechatSite}
START = dt.date(2021, 3, 15)
CRAWL = {"concurrency": 8, "delay": 0, "timeout": 3, "retries": 2}
ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def site_key(path_with_query: str, drop: str | None) -> str:
    """The path with its query sorted by name and the session parameter *drop* removed.

    >>> site_key("/s1/a?z=1&sid=x&b=2", "sid")
    '/s1/a?b=2&z=1'
    """
    parts = urlsplit(path_with_query)
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if k != drop)
    return parts.path + (f"?{urlencode(query, safe='/')}" if query else "")


class World:
    """The sites of one seed; call it like a responder, set `round` between rounds."""

    def __init__(self, seed: int, rounds: int, planted: bool = True, scale: str = "small",
                 start: dt.date = START, book: NoticeBook | None = None,
                 fault_rate: float = 0.04) -> None:
        if planted and rounds < 5:
            raise ValueError("planted mode needs at least 5 rounds")
        self.seed, self.rounds, self.planted, self.scale = seed, rounds, planted, scale
        self.round = 0
        self.book = book or NoticeBook()
        rng = random.Random(seed)
        self.sites = self._draw_sites(rng, start)
        self.faults = FaultPlan(seed, rounds, fault_rate, CRAWL["timeout"])
        self.noise_log = self._add_noise(rng)
        self.planted_truth: list[Truth] = self._plant(rng) if planted else []
        self.served: dict[str, set[int]] = {}
        self._lock = threading.Lock()

    # -- drawing -------------------------------------------------------------------------
    def _draw_sites(self, rng: random.Random, start: dt.date) -> list[Site]:
        kinds = ["forum", rng.choice(["microblog", "wechat"]), rng.choice(["portal", "news"])]
        rest = [k for k in ARCHETYPES if k not in kinds]
        if self.scale != "small":
            kinds += rng.sample(rest, rng.randint(0, 2))
        rng.shuffle(kinds)
        sites = []
        for i, kind in enumerate(kinds, start=1):
            lang = "zh" if rng.random() < (0.85 if kind == "wechat" else 0.6) else "en"
            sub = random.Random(rng.getrandbits(64))
            sites.append(ARCHETYPES[kind](f"/s{i}", self.seed, sub, lang, self.scale, start,
                                          self.book, self.rounds))
        return sites

    def _add_noise(self, rng: random.Random) -> list[str]:
        """A template change on one or two sites, and one article that moves (301)."""
        log = []
        for site in rng.sample(self.sites, rng.randint(1, 2)):
            site.change_at = rng.randint(1, self.rounds - 1)
            log.append(f"{site.prefix}: template change at round {site.change_at}")
        listed = [s for s in self.sites if isinstance(s, PortalSite)]
        if self.rounds > 2:
            site = rng.choice(listed)
            doc = site.move_one(rng.randint(1, self.rounds - 2), rng)
            if doc is not None:
                log.append(f"{doc.key} moves to {doc.fate.moved_to} at round "
                           f"{doc.fate.moved_at}")
        return log

    def _plant(self, rng: random.Random) -> list[Truth]:
        """Every kind at least once where some site can, then a few more at random."""
        lo, hi = (2 if self.rounds >= 6 else 1), self.rounds - 3
        truth: list[Truth] = []
        kinds = list(KINDS)
        rng.shuffle(kinds)
        extra = 2 if self.scale == "small" else 4 * len(self.sites)
        kinds += [rng.choice(KINDS) for _ in range(extra)]
        for kind in kinds:
            able = [s for s in self.sites if kind in s.kinds]
            tries = [(site, rng.randint(lo, hi)) for _ in range(3)
                     for site in rng.sample(able, len(able))]
            found = next((f for site, r in tries if (f := site.plant(kind, r, rng))), [])
            truth += found
        return truth

    # -- serving -------------------------------------------------------------------------
    def __call__(self, method: str, path_with_query: str, headers: Mapping[str, str]) -> Reply:
        if method not in {"GET", "HEAD"}:
            return Reply(405, {"Content-Type": "text/plain"}, b"method not allowed\n")
        r, path = self.round, urlsplit(path_with_query).path
        if path == "/robots.txt":
            return Reply(200, {"Content-Type": "text/plain"}, ROBOTS)
        site = next((s for s in self.sites if path.startswith(s.prefix + "/")), None)
        if site is None:
            return Reply(404, {"Content-Type": "text/plain"}, b"no such site\n")
        key = site_key(path_with_query, site.sid)
        faulty = self.faults.reply(r, key)
        if faulty is not None:
            return faulty
        reply = site.reply(r, key)
        if reply.status == 200:
            with self._lock:
                self.served.setdefault(key, set()).add(r)
        return reply

    # -- what it knows about itself ------------------------------------------------------
    def truth(self, observed: bool = False) -> list[Truth]:
        """The planted takedowns; *observed*: only those whose page was served whole in an
        earlier round of this run (a page never seen alive cannot be seen taken down)."""
        if not observed:
            return list(self.planted_truth)
        return [t for t in self.planted_truth
                if any(q < t.round for q in self.served.get(t.key, ()))]

    def truth_records(self, base_url: str, observed: bool = False) -> list[dict]:
        return [{"url": base_url.rstrip("/") + t.key, "item": t.item, "kind": t.kind,
                 "round": t.round, "note": t.note} for t in self.truth(observed)]

    def describe(self) -> dict:
        """Seed, sites (archetype, language, list container) and noise, for a report."""
        return {"seed": self.seed, "rounds": self.rounds, "planted": self.planted,
                "sites": [{"prefix": s.prefix, "archetype": type(s).__name__,
                           "lang": s.lang, "list": s.skin.list_tag,
                           "soft404": s.soft404, "template_change": s.change_at}
                          for s in self.sites],
                "noise": self.noise_log}

    def watchlist_toml(self, base_url: str) -> str:
        lines = [f"# generated world, seed {self.seed}", "", "[crawl]"]
        lines += [f"{k} = {v}" for k, v in CRAWL.items()]
        for site in self.sites:
            for t in site.targets():
                lines += ["", "[[target]]", f"name = {json.dumps(t.name)}",
                          f"url = {json.dumps(base_url.rstrip('/') + t.key)}",
                          f"depth = {t.depth}"]
                if t.allow:
                    lines.append(f"allow = {json.dumps(list(t.allow))}")
                if t.deny:
                    lines.append(f"deny = {json.dumps(list(t.deny))}")
        return "\n".join(lines) + "\n"
