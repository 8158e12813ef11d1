"""Detect benchmark: time of ``takedown detect`` per round, early in a site's history and late.

No crawl: a synthetic store (SQLite in a temporary folder) is filled round by round through
``Store.record_capture``, as the crawler would, one simulated day apart.  ``SECTIONS``
targets, each a listing of ``LISTED`` entry links (depth 1, as ``TargetSpec`` gives it),
so about 200 captures a round: the listing, its articles, the articles that left it in the
last ``REVISIT`` rounds (revisits) and the target's not-found probe.  Every page shows
counters and dates that change every round; one new article a round arrives at the top of
each listing (the oldest falls off the end); from round ``FIRST_EVENT + 1`` on, one article
a round is taken down, in turn: 404, a censorship notice, delisted from the middle of the
listing while it still serves, or a paragraph scrubbed from it.

After each round ``detect`` runs, timed (wall clock; its CPU time is kept as a cross-check
that other load on the machine moves less).  The medians of rounds 4-6 and 49-51 give the
ratio (goal <= ``GOAL``: the work of a round does not grow with the history).  Every planted
takedown must be found in its own round (a delisting in the next: it is confirmed when the
next round still misses the entry), and nothing else, so the timing is of real work.
Imports ``crawler`` (the target spec, the probe URL), ``snapshots`` and ``diffing``.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from html import escape
from pathlib import Path

from crawler.spiders.watchlist import PROBE_DEPTH, probe_url
from crawler.watchlist import TargetSpec
from diffing.detect import detect
from snapshots import open_store
from snapshots.db import DB_FILENAME
from snapshots.records import NewCapture
from snapshots.repo import Store

ROUNDS = 51
SECTIONS = 6
LISTED = 30          # entry links on a listing
REVISIT = 3          # rounds an article that left its listing is still captured
FIRST_EVENT = 3      # round index (0-based) of the first planted takedown
VICTIM_DEPTH = 10    # the victim is this far below the newest article: mid-listing
EARLY, LATE = (3, 4, 5), (48, 49, 50)   # rounds 4-6 and 49-51, 0-based
GOAL = 1.2
BASE = "http://127.0.0.1:8000"
START = datetime(2021, 3, 1, 6, 0, tzinfo=UTC)
KINDS = ("gone", "notice", "delisted", "edited")
FOUND_AS = {"gone": "removed", "notice": "censored", "delisted": "delisted",
            "edited": "edited"}
HTML_HEADERS = {"Content-Type": "text/html; charset=utf-8"}

_ZH = (("市政府", "区教育局", "省卫健委", "交通运输部门", "气象台", "街道办事处", "市场监管局",
        "环保志愿者"),
       ("发布了", "公布了", "召开会议讨论", "回应了", "调整了", "通报了", "启动了", "研究部署"),
       ("新的停车收费标准", "春季学期招生安排", "老旧小区改造计划", "地铁三号线延伸工程",
        "空气质量月度报告", "农贸市场整治方案", "夜间经济扶持政策", "防汛应急预案"),
       ("，相关负责人表示将持续跟进。", "，市民可通过官方网站查询详情。",
        "，部分居民对此提出了不同意见。", "，具体实施细则将另行公布。"))
_EN = (("The city council", "Local residents", "The transport bureau", "A spokesperson",
        "Several experts", "The district office", "Reporters", "Community volunteers"),
       ("announced", "questioned", "reviewed", "criticised", "welcomed", "postponed",
        "published", "discussed"),
       ("the new parking fees", "the school enrolment plan", "the metro extension",
        "the air quality report", "the market renovation", "the flood response plan",
        "the housing subsidy", "the night market policy"),
       (" on Tuesday.", " after weeks of debate.", " in a statement to the press.",
        " despite earlier objections."))


def run() -> dict:
    """Build the store round by round, time detect, check, print; returns the figures."""
    site = SyntheticSite(ROUNDS)
    with tempfile.TemporaryDirectory(prefix="bench-detect-") as tmp:
        store = open_store(tmp)
        try:
            rounds = [_one_round(store, site, r) for r in range(ROUNDS)]
        finally:
            store.close()
        db_bytes = sum(p.stat().st_size for p in _db_files(tmp))
    figures = _figures(site, rounds, db_bytes)
    _print_report(figures)
    return figures


def _db_files(tmp: str) -> list[Path]:
    return [p for p in Path(tmp).glob(DB_FILENAME + "*") if p.is_file()]


def _one_round(store: Store, site: SyntheticSite, r: int) -> dict:
    """Record round *r*, run detect on it, check what it found; its figures."""
    captures = _record(store, site, r)
    t0, cpu0 = time.perf_counter(), time.process_time()
    summary = detect(store)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    expected = Counter(FOUND_AS[e.kind] for e in site.events.values() if _found_in(e) == r)
    _check(summary.jobs == SECTIONS and summary.captures == captures,
           f"round {r + 1}: {summary.jobs} jobs, {summary.captures} captures; "
           f"expected {SECTIONS}, {captures}")
    _check(Counter(summary.opened) == expected and summary.restored == 0,
           f"round {r + 1}: found {summary.opened} (restored {summary.restored}), "
           f"planted {dict(expected)}")
    return {"captures": captures, "detect_s": seconds, "cpu_s": cpu,
            "opened": dict(summary.opened)}


def _found_in(event: Event) -> int:
    """The round a planted takedown is found in: its own, or the next for a delisting."""
    return event.round + 1 if event.kind == "delisted" else event.round


def _record(store: Store, site: SyntheticSite, r: int) -> int:
    """Record round *r* as ``crawler.run.run_round`` would; the captures written."""
    at = START + timedelta(days=r)
    ids = store.ensure_targets(site.specs())
    round_id = store.begin_round(at, "bench:detect")
    store.preload(ids.values())
    n = 0
    for s in range(SECTIONS):
        for c in site.captures(s, r, at):
            _check(store.record_capture(round_id, ids[c.target], at, c) is not None,
                   f"capture of {c.url} not recorded")
            n += 1
    store.finish_round(round_id, {"status": "done", "captures": n, "per_target": {}})
    return n


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise SystemExit(f"detect benchmark: {message}")


@dataclass(frozen=True)
class Event:
    """One planted takedown: article *article* of section *section*, from round *round*
    (0-based) on."""

    kind: str
    section: int
    article: int
    round: int


def newest(r: int) -> int:
    """The id of the newest article of every section in round *r* (one new a round)."""
    return LISTED - 1 + r


class SyntheticSite:
    """The sections' pages in every round, and the takedowns planted in them."""

    def __init__(self, rounds: int) -> None:
        self.events: dict[tuple[int, int], Event] = {}
        for r in range(FIRST_EVENT, rounds):
            s, kind = r % SECTIONS, KINDS[(r // SECTIONS) % len(KINDS)]
            k = newest(r) - VICTIM_DEPTH
            self.events[(s, k)] = Event(kind, s, k, r)

    def specs(self) -> list[tuple[str, str, dict]]:
        out = []
        for s in range(SECTIONS):
            spec = TargetSpec(f"section-{s}", f"{BASE}/s{s}/list.html", depth=1,
                              allow=(f"/s{s}/",))
            out.append((spec.name, spec.url, asdict(spec)))
        return out

    def struck(self, s: int, k: int, r: int, *kinds: str) -> bool:
        e = self.events.get((s, k))
        return e is not None and e.kind in kinds and e.round <= r

    @cache  # noqa: B019 - one site per run, kept for the run
    def listed(self, s: int, r: int) -> tuple[int, ...]:
        """The articles on the listing, newest first: gone and delisted ones left out."""
        out: list[int] = []
        k = newest(r)
        while len(out) < LISTED and k >= 0:
            if not self.struck(s, k, r, "gone", "delisted"):
                out.append(k)
            k -= 1
        return tuple(out)

    def revisits(self, s: int, r: int) -> list[int]:
        """Articles listed in one of the last ``REVISIT`` rounds and not now."""
        now = set(self.listed(s, r))
        seen = {k for before in range(max(0, r - REVISIT), r) for k in self.listed(s, before)}
        return sorted(seen - now, reverse=True)

    def captures(self, s: int, r: int, at: datetime) -> list[NewCapture]:
        name, seed = f"section-{s}", f"{BASE}/s{s}/list.html"
        html = listing_html(s, r, self.listed(s, r))
        out = [_capture(name, seed, 0, "seed", at, 200, html)]
        for via, ks in (("link", self.listed(s, r)), ("revisit", self.revisits(s, r))):
            for k in ks:
                status, html = self.article(s, k, r)
                out.append(_capture(name, article_url(s, k), 1, via, at, status, html))
        out.append(_capture(name, probe_url(seed, name), PROBE_DEPTH, "probe", at, 404,
                            notfound_html(s, r)))
        return out

    def article(self, s: int, k: int, r: int) -> tuple[int, str]:
        if self.struck(s, k, r, "gone"):
            return 404, notfound_html(s, r)
        if self.struck(s, k, r, "notice"):
            return 200, notice_html(s, r)
        return 200, article_html(s, k, r, scrubbed=self.struck(s, k, r, "edited"))


def _capture(target: str, url: str, depth: int, via: str, at: datetime, status: int,
             html: str) -> NewCapture:
    body = html.encode("utf-8")
    return NewCapture(target=target, url=url, depth=depth, via=via,
                      fetched_at=at + timedelta(seconds=1), status=status, final_url=url,
                      headers=HTML_HEADERS, body=body, text=html, encoding="utf-8",
                      content_type=HTML_HEADERS["Content-Type"], elapsed_ms=12,
                      links=_links(html))


def _links(html: str) -> tuple[tuple[str, str], ...]:
    """(absolute URL, anchor text) of the page's links, as the spider records them."""
    out = []
    for part in html.split('<a href="')[1:]:
        href, _, rest = part.partition('"')
        text = rest.partition(">")[2].partition("</a>")[0]
        out.append((BASE + href, text))
    return tuple(out)


# -- pages -----------------------------------------------------------------------------------
def article_url(s: int, k: int) -> str:
    return f"{BASE}/s{s}/art/{k}.html"


def _day(r: int) -> datetime:
    return START + timedelta(days=r)


def _views(s: int, k: int, r: int) -> int:
    return 120 + 37 * (r - k + LISTED) * (s + 2) + k % 17


def _sentence(rng: random.Random) -> str:
    pool = _ZH if rng.random() < 0.5 else _EN
    parts = [rng.choice(p) for p in pool]
    return "".join(parts) if pool is _ZH else " ".join(parts[:3]) + parts[3]


def _paragraphs(s: int, k: int) -> list[str]:
    rng = random.Random(f"article {s}/{k}")
    return [" ".join(_sentence(rng) for _ in range(rng.randint(2, 4)))
            for _ in range(rng.randint(4, 7))]


def headline(s: int, k: int) -> str:
    rng = random.Random(f"headline {s}/{k}")
    return f"{rng.choice(_ZH[0])}{rng.choice(_ZH[2])} · {rng.choice(_EN[2]).capitalize()}"


def _page(s: int, r: int, title: str, main: str, sidebar: str = "") -> str:
    nav = "".join(f'<li><a href="/s{i}/list.html">栏目 {i} Section {i}</a></li>'
                  for i in range(SECTIONS))
    now = _day(r) + timedelta(minutes=7 * s)
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">\n'
            f"<title>{escape(title)} - 新闻网 News</title>\n"
            f'<link rel="stylesheet" href="/static/site.css?v={r}">\n'
            f"<script>var pv = {_views(s, 0, r)}, now = '{now:%Y-%m-%d %H:%M}';</script>\n"
            f'</head><body>\n<header class="site-header"><a class="logo" href="/index.html">'
            f'新闻网 News</a>\n<nav class="main-nav"><ul>{nav}</ul></nav></header>\n'
            f'<div class="container">\n<main>{main}</main>\n{sidebar}</div>\n'
            f'<footer class="site-footer"><p>© 2021 新闻网 · 页面生成于 {now:%Y-%m-%d %H:%M} · '
            f'<a href="/about.html">关于我们 About</a></p></footer>\n</body></html>\n')


def listing_html(s: int, r: int, ks: tuple[int, ...]) -> str:
    entries = "".join(
        f'<li class="news-item"><a href="/s{s}/art/{k}.html">{escape(headline(s, k))}</a>'
        f' <span class="date">{_day(k - LISTED + 1):%Y-%m-%d}</span>'
        f' <span class="views">阅读 {_views(s, k, r)}</span></li>\n' for k in ks)
    main = (f'<h1>栏目 {s} · Section {s}</h1>\n<p class="updated">更新时间：'
            f"{_day(r):%Y-%m-%d %H:%M} · 共 {newest(r) + 1} 篇</p>\n"
            f'<ul class="news-list">\n{entries}</ul>\n')
    return _page(s, r, f"栏目 {s} · Section {s}", main)


def article_html(s: int, k: int, r: int, scrubbed: bool = False) -> str:
    paras = _paragraphs(s, k)
    if scrubbed:
        del paras[1]   # the scrubbed paragraph: the second one
    body = "".join(f"<p>{escape(p)}</p>\n" for p in paras)
    related = "".join(f'<li><a href="/s{s}/art/{j}.html">{escape(headline(s, j))}</a></li>'
                      for j in (k - 3, k - 5) if j >= 0)
    title = headline(s, k)
    main = (f'<article class="post">\n<h1 class="post-title">{escape(title)}</h1>\n'
            f'<div class="post-meta"><span class="date">发布时间：'
            f"{_day(k - LISTED + 1):%Y-%m-%d} 08:00</span> <span class=\"views\">阅读 "
            f"{_views(s, k, r)}</span> <span class=\"source\">来源：本报讯 Staff</span></div>\n"
            f'<div class="post-content">\n{body}</div>\n<div class="post-tags">标签：'
            f'<a href="/s{s}/tag/{k % 5}.html">话题 {k % 5}</a></div>\n</article>\n')
    sidebar = (f'<aside class="sidebar"><h2>相关阅读 Related</h2><ul>{related}</ul>'
               f'<h2>热门 Popular</h2><p class="hot">今日热度 {_views(s, k, r) * 3}</p></aside>\n')
    return _page(s, r, title, main, sidebar)


def notice_html(s: int, r: int) -> str:
    return _page(s, r, "提示 Notice", '<div class="msg">此内容因违规无法查看</div>\n')


def notfound_html(s: int, r: int) -> str:
    return _page(s, r, "404", "<h1>404</h1>\n<p>您访问的页面找不到了 Not Found</p>\n")


# -- report ----------------------------------------------------------------------------------
def _median(rounds: list[dict], which: tuple[int, ...], key: str = "detect_s") -> float:
    return statistics.median(rounds[r][key] for r in which)


def _figures(site: SyntheticSite, rounds: list[dict], db_bytes: int) -> dict:
    early, late = _median(rounds, EARLY), _median(rounds, LATE)
    found = Counter()
    for rnd in rounds:
        found.update(rnd["opened"])
    return {"rounds": len(rounds), "targets": SECTIONS,
            "captures_early": [rounds[r]["captures"] for r in EARLY],
            "captures_late": [rounds[r]["captures"] for r in LATE],
            "captures_stored": sum(r["captures"] for r in rounds),
            "db_bytes": db_bytes, "takedowns": dict(sorted(found.items())),
            "planted": len(site.events),
            "detect_s": [round(r["detect_s"], 4) for r in rounds],
            "early_median_s": round(early, 4), "late_median_s": round(late, 4),
            "ratio": round(late / early, 3), "goal": GOAL,
            # CPU time of this process: a cross-check less moved by other load on the machine
            "cpu_early_median_s": round(_median(rounds, EARLY, "cpu_s"), 4),
            "cpu_late_median_s": round(_median(rounds, LATE, "cpu_s"), 4),
            "cpu_ratio": round(_median(rounds, LATE, "cpu_s") / _median(rounds, EARLY, "cpu_s"),
                               3)}


def _span(rounds: tuple[int, ...]) -> str:
    return f"{rounds[0] + 1}-{rounds[-1] + 1}"


def _print_report(f: dict) -> None:
    found = ", ".join(f"{k} {n}" for k, n in f["takedowns"].items())
    print(f"detect: {f['targets']} targets, {f['rounds']} rounds one simulated day apart, "
          f"{f['captures_stored']:,} captures stored ({f['db_bytes'] / 1e6:.1f} MB of SQLite)")
    print(f"takedowns found, each in the round planted (delistings one round later): {found} "
          f"({f['planted']} planted, nothing else)")
    print(f"detect per round (median): rounds {_span(EARLY)} {f['early_median_s']:.3f} s "
          f"({'/'.join(map(str, f['captures_early']))} captures), rounds {_span(LATE)} "
          f"{f['late_median_s']:.3f} s ({'/'.join(map(str, f['captures_late']))} captures)")
    print(f"detect CPU time, same rounds: {f['cpu_early_median_s']:.3f} s, "
          f"{f['cpu_late_median_s']:.3f} s (ratio {f['cpu_ratio']:.2f})")
    print(f"detect growth (round 50 / round 5): {f['ratio']:.2f}  (goal <= {f['goal']})")
