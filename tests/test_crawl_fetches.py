"""Units of the one-fetch-per-URL crawl: claims, the fetch cache, probe sites, and the
spider serving one response to every target that reaches its URL (hand-built responses,
no network)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request

from crawler.fetches import (
    JOINED,
    LOWERED,
    NEW,
    REFOLLOW,
    REUSE,
    Claim,
    FetchBook,
    FetchCache,
    dropped,
    fetch_key,
    fetch_profile,
)
from crawler.pipelines import store_capture
from crawler.plan import ROUND, RoundPlan, TargetPlan
from crawler.probes import probe_sites, site_keys
from crawler.spiders.watchlist import WatchlistSpider
from crawler.watchlist import CrawlSpec, TargetSpec
from snapshots import open_store
from snapshots.records import NewCapture

H = "http://127.0.0.1:9"
AT = datetime(2021, 3, 15, tzinfo=UTC)


# -- claims -----------------------------------------------------------------------------------


def test_claims_in_order_of_a_fetchs_life() -> None:
    book = FetchBook()
    assert book.claim("k", Claim("a", 2, "link", True)) == NEW
    assert book.claim("k", Claim("b", 1, "link", True)) == JOINED
    assert book.claim("k", Claim("a", 1, "link", True)) == LOWERED
    assert book.claim("k", Claim("a", 1, "link", True)) is None
    assert book.take("k") == [Claim("a", 1, "link", True), Claim("b", 1, "link", True)]
    assert book.claim("k", Claim("c", 0, "seed")) == REUSE
    assert book.claim("k", Claim("b", 0, "link", True)) == REFOLLOW
    assert book.claim("other", Claim("a", 0, "seed")) == NEW and len(book) == 2


def test_first_claim_keeps_its_via() -> None:
    book = FetchBook()
    book.claim("k", Claim("a", 2, "revisit"))
    book.claim("k", Claim("a", 1, "link", True))
    assert book.take("k") == [Claim("a", 1, "revisit")]


@pytest.mark.parametrize(("spec", "shares"), [
    (TargetSpec("b", H + "/"), True),
    (TargetSpec("b", H + "/", headers=(("Accept-Language", "zh-CN"),)), False),
    (TargetSpec("b", H + "/", robots=False), False),
    (TargetSpec("b", H + "/", proxy="http://127.0.0.1:3128"), False),
], ids=["plain", "headers", "robots-opt-out", "proxy"])
def test_targets_asking_differently_fetch_apart(spec: TargetSpec, shares: bool) -> None:
    a = fetch_key(fetch_profile(TargetSpec("a", H + "/")), H + "/x")
    assert (fetch_key(fetch_profile(spec), H + "/x") == a) is shares


def test_a_link_robots_forbids_is_dropped_a_seed_is_not() -> None:
    refused = NewCapture("", H + "/x", 0, "", AT, error="no", error_kind="robots")
    assert dropped(refused, Claim("a", 1, "link", True))
    assert not dropped(refused, Claim("a", 0, "seed"))


def test_cache_keeps_the_latest_within_its_bytes() -> None:
    cache = FetchCache(max_bytes=3000)
    for i in range(4):
        cache.put(str(i), NewCapture("", f"{H}/{i}", 0, "", AT, body=b"x" * 1000))
    assert cache.get("0") is None and cache.get("3") is not None
    assert cache.size <= 3000
    cache.put("huge", NewCapture("", H, 0, "", AT, body=b"x" * 5000))
    assert cache.get("huge") is None and cache.get("3") is not None


# -- probe sites --------------------------------------------------------------------------------


def test_one_probe_per_site_prefix_on_a_shared_host() -> None:
    sites = probe_sites({"forum": f"{H}/forum/index.php", "wx-a": f"{H}/wx/account/a",
                         "wx-b": f"{H}/wx/account/b", "other": "http://127.0.0.2/n/1.html"})
    assert [s.targets for s in sites] == [("forum",), ("wx-a", "wx-b"), ("other",)]
    assert sites[0].url.startswith(f"{H}/forum/takedown-probe-")
    assert sites[0].url.endswith(".php")
    assert sites[1].url.startswith(f"{H}/wx/account/takedown-probe-")
    assert sites[2].url.startswith("http://127.0.0.2/n/takedown-probe-")


def test_a_root_seed_makes_the_host_one_site() -> None:
    keys = site_keys({"home": f"{H}/index.html", "gov": f"{H}/gov/list.html"})
    assert set(keys.values()) == {f"{H}/"}
    (site,) = probe_sites({"home": f"{H}/index.html", "gov": f"{H}/gov/list.html"})
    assert site.url.startswith(f"{H}/takedown-probe-") and site.url.endswith(".html")


# -- the spider ----------------------------------------------------------------------------------


TARGETS = (TargetSpec("a", f"{H}/n/list.html", depth=1, allow=("/n/item/",)),
           TargetSpec("b", f"{H}/n/hub.html", depth=2, deny=("/n/item/2",)),
           TargetSpec("c", f"{H}/n/item/1.html"))
PAGES = {
    "/n/list.html": ["/n/item/1.html", "/n/item/2.html", "/n/about.html"],
    "/n/hub.html": ["/n/list.html"],
    "/n/item/1.html": ["/n/item/3.html"],
}


@pytest.fixture
def spider(tmp_path: Path) -> WatchlistSpider:
    store = open_store(tmp_path)
    ids = store.ensure_targets((t.name, t.url, asdict(t)) for t in TARGETS)
    plan = RoundPlan(round_id=store.begin_round(AT), at=AT, crawl=CrawlSpec(),
                     targets=[TargetPlan(t, ids[t.name]) for t in TARGETS], store=store)
    yield WatchlistSpider(plan=plan)
    store.close()


def respond(req: Request) -> HtmlResponse:
    path = req.url.removeprefix(H)
    body = "".join(f'<a href="{p}">{p}</a>' for p in PAGES.get(path, []))
    return HtmlResponse(req.url, body=f"<html><body>{body}</body></html>".encode(),
                        encoding="utf-8", request=req,
                        headers={"Content-Type": "text/html; charset=utf-8"})


def crawl(spider: WatchlistSpider) -> tuple[list[str], list[NewCapture]]:
    """Answer every request as it comes (breadth first); the URLs asked, the captures."""
    queue = list(spider.planned())
    asked, captures = [], []
    while queue:
        out = queue.pop(0)
        if isinstance(out, NewCapture):
            captures.append(out)
            continue
        asked.append(out.url)
        queue.extend(spider.parse(respond(out)))
    return asked, captures


def test_every_url_asked_once_and_recorded_per_target(spider: WatchlistSpider) -> None:
    asked, captures = crawl(spider)
    assert len(asked) == len(set(asked))
    got = {(c.target, c.url.removeprefix(H), c.depth) for c in captures if c.via != "probe"}
    assert got == {
        ("a", "/n/list.html", 0), ("a", "/n/item/1.html", 1), ("a", "/n/item/2.html", 1),
        ("b", "/n/hub.html", 0), ("b", "/n/list.html", 1), ("b", "/n/item/1.html", 2),
        ("b", "/n/about.html", 2), ("c", "/n/item/1.html", 0)}
    assert sum(1 for u in asked if "takedown-probe" in u) == 1
    assert sorted(c.target for c in captures if c.via == "probe") == ["a", "b", "c"]
    tally = spider.plan.tally
    assert tally.round["requests"] == len(asked) and tally.round["probe_requests"] == 1
    assert {n: c["queued"] for n, c in tally.targets().items()} == {"a": 4, "b": 5, "c": 2}


def test_a_late_claim_reuses_the_fetch_and_follows_to_its_own_depth(
        spider: WatchlistSpider) -> None:
    asked, _ = crawl(spider)
    a, b = spider.by_name["a"], spider.by_name["b"]
    # b reaches item 1 (fetched as c's seed, not to follow) less deep: it follows it now
    out = list(spider._request(b, f"{H}/n/item/1.html", 1, "link", discovered=True))
    assert [o.url for o in out] == [f"{H}/n/item/3.html"]        # within b's depth 2
    assert list(spider._request(a, f"{H}/n/item/2.html", 1, "link", discovered=True)) == []
    # a late target reaches about.html (fetched for b): its capture, from the cache
    late = TargetPlan(TargetSpec("a", f"{H}/n/list.html", depth=1), a.target_id)
    spider.by_name["a"] = late
    (cap,) = spider._request(late, f"{H}/n/about.html", 1, "link", discovered=True)
    assert (cap.target, cap.depth, cap.via, cap.status) == ("a", 1, "link", 200)
    assert spider.plan.tally.round["requests"] == len(asked)   # nothing fetched again


def test_a_late_claim_reads_the_store_once_the_cache_let_go(spider: WatchlistSpider) -> None:
    asked, captures = crawl(spider)
    for c in captures:
        store_capture(spider.plan, c)
    spider.cache.clear()
    late = TargetPlan(TargetSpec("a", f"{H}/n/list.html", depth=1), 1)
    spider.by_name["a"] = late
    (cap,) = spider._request(late, f"{H}/n/about.html", 1, "link", discovered=True)
    first = next(c for c in captures if c.url == f"{H}/n/about.html")
    assert (cap.target, cap.depth, cap.body, cap.links) == ("a", 1, first.body, first.links)
    assert spider.plan.tally.round["requests"] == len(asked)


def test_store_counts_and_reads_back_a_rounds_fetch(spider: WatchlistSpider) -> None:
    _asked, captures = crawl(spider)
    for c in captures:
        store_capture(spider.plan, c)
    store, rid = spider.plan.store, spider.plan.round_id
    counts = store.round_counts(rid)
    assert {n: (c["captures"], c["probes"]) for n, c in counts.items()} == {
        "a": (3, 1), "b": (4, 1), "c": (1, 1)}
    back = store.round_fetch(rid, f"{H}/n/list.html")
    first = next(c for c in captures if c.url == f"{H}/n/list.html")
    assert (back.body, back.text, back.links, back.status) == (
        first.body, first.text, first.links, first.status)
    assert store.round_fetch(rid, f"{H}/n/nowhere.html") is None
    assert ROUND not in counts
