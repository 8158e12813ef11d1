"""Targets that overlap: one fetch per URL per round, recorded for every target reaching it.

Three targets of one loopback site reach many of the same pages (one's seed is linked from
another's listing, a listing is a third's page too) with different depths, allow and deny
rules.  The server counts requests per path: every path is asked for once a round, the
not-found probe once per site, and each target's captures are exactly those it gets when
crawled alone.  The same on two distributed workers over Redis and PostgreSQL.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sitesim import RouteSite, crawl, page, serve, watchlist
from sqlalchemy import select

from snapshots import open_store
from snapshots.models import Capture, Round, Target, Url
from takedown.demo.server import Reply

ROOT = Path(__file__).resolve().parents[1]
DAYS = ("2021-03-15T06:00:00Z", "2021-03-16T06:00:00Z")
TARGETS = """
[[target]]
name = "alpha"
url = "{base}/news/list.html"
depth = 1
allow = ["/news/item/"]

[[target]]
name = "beta"
url = "{base}/news/hub.html"
depth = 2
deny = ["/news/item/5"]

[[target]]
name = "gamma"
url = "{base}/news/item/3.html"
"""


def links(*paths: str, extra: str = "") -> Reply:
    return page("".join(f'<a href="{p}">{p}</a>' for p in paths) + extra)


def routes(day: int) -> dict:
    out = {
        "/robots.txt": Reply(headers={"Content-Type": "text/plain"},
                             body=b"User-agent: *\nDisallow: /news/private/\n"),
        # alpha's seed; beta reaches it at depth 1 and follows it one level more
        "/news/list.html": links(*(f"/news/item/{i}.html" for i in range(1, 6)),
                                 "/news/about.html", "/news/private/x.html"),
        "/news/hub.html": links("/news/list.html", "/news/item/3.html", "/news/deep/a.html"),
        # gamma's seed (depth 0); beta reaches it at depth 1 and follows to item 9
        "/news/item/3.html": links("/news/item/9.html", "/news/hub.html"),
        "/news/item/9.html": page("<p>nine</p>"),
        "/news/about.html": page("<p>about</p>"),
        "/news/deep/a.html": links("/news/deep/b.html"),
        "/news/deep/b.html": links("/news/deep/c.html"),   # c lies beyond beta's depth
        "/news/deep/c.html": page("<p>too deep</p>"),
    }
    for i in (1, 2, 4, 5):
        out[f"/news/item/{i}.html"] = page(f"<p>item {i} on day {day}</p>")
    if day == 1:
        out["/news/item/2.html"] = page("gone", status=404)
    return out


def run_rounds(tmp: Path, site: RouteSite, server, names: list[str] | None,
               days: int = 2, db: str | None = None) -> list:
    """Crawl the watchlist (or only *names*) day after day; each run's hits and stdout."""
    wl = watchlist(tmp / "wl.toml", TARGETS.format(base=server.base_url))
    only = [a for n in names or [] for a in ("--target", n)]
    runs = []
    for day in range(days):
        site.swap(routes(day))
        server.hits.clear()
        run = crawl(wl, tmp / "data", DAYS[day], "--no-progress", *only, db=db)
        assert run.returncode == 0, run.stderr[-3000:]
        run.hits = Counter(server.hits)
        runs.append(run)
    return runs


def page_hits(hits: Counter) -> Counter:
    return Counter({p: n for p, n in hits.items() if p != "/robots.txt"})


def captures(db_url: str) -> dict[tuple[str, str], set[tuple]]:
    """(day, target) -> {(path, role, status, body hash, via)} of the store."""
    store = open_store("", db_url)
    q = (select(Round.at, Target.name, Url.url, Url.role, Capture.status,
                Capture.body_sha256, Capture.via)
         .join(Capture, Capture.round_id == Round.id).join(Url, Capture.url_id == Url.id)
         .join(Target, Capture.target_id == Target.id))
    out: dict[tuple[str, str], set[tuple]] = {}
    with store.session() as s:
        for at, name, url, role, status, sha, via in s.execute(q):
            path = re.sub(r"^http://[^/]+", "", url)
            if role == "probe":
                path = "PROBE"
            out.setdefault((at.isoformat()[:10], name), set()).add(
                (path, role, status, sha, via))
    store.close()
    return out


@pytest.fixture(scope="module")
def overlap(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The three targets crawled together, then each alone, over two days."""
    site = RouteSite(routes(0))
    server = serve(site)
    out: dict = {}
    try:
        tmp = tmp_path_factory.mktemp("together")
        out["together"] = run_rounds(tmp, site, server, None)
        out["db"] = f"sqlite:///{tmp / 'data' / 'takedown.sqlite'}"
        out["alone"] = {}
        for name in ("alpha", "beta", "gamma"):
            t = tmp_path_factory.mktemp(name)
            out["alone"][name] = (run_rounds(t, site, server, [name]),
                                  f"sqlite:///{t / 'data' / 'takedown.sqlite'}")
    finally:
        server.stop()
    return out


def test_every_path_is_requested_once_a_round(overlap: dict) -> None:
    for run in overlap["together"]:
        hits = page_hits(run.hits)
        assert hits and set(hits.values()) == {1}, hits
        assert "/news/private/x.html" not in hits          # robots.txt still obeyed
        assert "/news/deep/c.html" not in hits             # beyond every target's depth


def test_the_probe_is_fetched_once_and_recorded_for_every_target(overlap: dict) -> None:
    for run in overlap["together"]:
        probes = [p for p in run.hits if "/takedown-probe-" in p]
        assert len(probes) == 1 and run.hits[probes[0]] == 1
        assert probes[0].startswith("/news/takedown-probe-")
    caps = captures(overlap["db"])
    for (day, name), rows in caps.items():
        assert [r[1] for r in rows].count("probe") == 1, (day, name)


def test_each_target_records_what_it_records_alone(overlap: dict) -> None:
    together = captures(overlap["db"])
    for name, (_runs, db) in overlap["alone"].items():
        alone = captures(db)
        for key, rows in alone.items():
            assert key[1] == name
            pages = {r for r in rows if r[1] == "page"}
            assert pages == {r for r in together[key] if r[1] == "page"}, key


def test_depth_allow_deny_are_each_targets_own(overlap: dict) -> None:
    caps = captures(overlap["db"])
    paths = {name: {r[0] for r in caps[("2021-03-15", name)] if r[1] == "page"}
             for name in ("alpha", "beta", "gamma")}
    assert paths["gamma"] == {"/news/item/3.html"}
    assert paths["alpha"] == {"/news/list.html", *(f"/news/item/{i}.html" for i in range(1, 6))}
    # beta: its hub, the list and item 3 at depth 1, their links at depth 2 (item 3's
    # link to item 9 although gamma fetched item 3 as a page not to follow); item 5 denied
    assert paths["beta"] == {
        "/news/hub.html", "/news/list.html", "/news/item/3.html", "/news/deep/a.html",
        "/news/deep/b.html", "/news/item/9.html", "/news/about.html",
        *(f"/news/item/{i}.html" for i in (1, 2, 4))}


def test_alone_the_overlap_was_fetched_again_and_again(overlap: dict) -> None:
    """The baseline the sharing saves: the same pages, once per target that reaches them."""
    alone = sum(sum(page_hits(r.hits).values()) for runs, _ in overlap["alone"].values()
                for r in runs[:1])
    together = sum(page_hits(overlap["together"][0].hits).values())
    assert alone > together + 5


def summary_figures(stdout: str) -> tuple[list[int], tuple[int, ...]]:
    row = next(line for line in stdout.splitlines() if "│ all " in line)
    total = [int(cell) for cell in row.split("│")[2:-1]]
    m = re.search(r"requests (\d+), captures (\d+) over (\d+) targets; "
                  r"not-found probes: requests (\d+), captures (\d+)", stdout)
    assert m, stdout
    return total, tuple(int(g) for g in m.groups())


def test_summary_counts_requests_and_the_stores_captures(overlap: dict) -> None:
    caps = captures(overlap["db"])
    for day, run in zip(("2021-03-15", "2021-03-16"), overlap["together"], strict=True):
        total, (requests, shown, targets, probe_requests, probes) = summary_figures(run.stdout)
        stored = sum(1 for (d, _), rows in caps.items() if d == day
                     for r in rows if r[1] == "page")
        hits = page_hits(run.hits)
        assert (requests + probe_requests, probe_requests) == (sum(hits.values()), 1)
        assert shown == stored == total[1] and targets == 3
        assert probes == 3
        assert stored > requests        # shared fetches, recorded for each target


# -- the summary after URLs merged by a learned session parameter -------------------------


def session_routes(day: int) -> dict:
    """A list whose links carry a token changing every day (learned, then merged)."""
    items = "".join(f'<a href="/s/{i}.html?zz=d{day}">{i}</a>' for i in range(1, 5))
    return {"/s/list.html": page(items), **{f"/s/{i}.html?zz=d{d}": page(f"<p>{i}</p>")
                                            for i in range(1, 5) for d in range(2)}}


def test_summary_counts_what_the_store_holds_after_merging(tmp_path: Path) -> None:
    site = RouteSite(session_routes(0))
    server = serve(site)
    wl = watchlist(tmp_path / "wl.toml", f'[[target]]\nname = "s"\n'
                   f'url = "{server.base_url}/s/list.html"\ndepth = 1\n')
    try:
        outs = []
        for day in range(2):
            site.swap(session_routes(day))
            run = crawl(wl, tmp_path / "data", DAYS[day], "--no-progress")
            assert run.returncode == 0, run.stderr[-3000:]
            outs.append(run.stdout)
    finally:
        server.stop()
    assert "learned session parameters on 127.0.0.1: zz" in outs[1]
    store = open_store(tmp_path / "data")
    rounds = store.rounds()
    store.close()
    for out, r in zip(outs, rounds, strict=True):
        total, (_req, shown, *_rest) = summary_figures(out)
        # list + 4 items, once each (day 2 fetched each item twice: the day-1 spelling
        # revisited, the day-2 one linked; once merged the store keeps one of each)
        assert total[1] == shown == r["captures"] == 5, out


# -- distributed workers --------------------------------------------------------------------


REDIS_URL = os.environ.get("TAKEDOWN_TEST_REDIS_URL")


def test_two_workers_fetch_each_url_once_and_record_it_per_target(
        tmp_path: Path, pg_url: str, overlap: dict) -> None:
    if not REDIS_URL:
        pytest.skip("TAKEDOWN_TEST_REDIS_URL is not set (CI sets it; see .ci/run)")
    from crawler.frontier import Frontier

    prefix = f"td-overlap-{os.getpid()}"
    env = dict(os.environ, TAKEDOWN_REDIS_PREFIX=prefix, TAKEDOWN_LOOPBACK_ONLY="1")
    site = RouteSite(routes(0))
    server = serve(site)
    workers = [subprocess.Popen(
        [sys.executable, "-m", "takedown", "--data", str(tmp_path / "u"), "--db", pg_url,
         "worker", "--redis", REDIS_URL, "--lease", "5"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        runs = _distributed_rounds(tmp_path, site, server, pg_url, env)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.communicate(timeout=30)
        server.stop()
        frontier = Frontier.from_url(REDIS_URL, prefix)
        keys = list(frontier.server.scan_iter(match=f"{prefix}:*"))
        if keys:
            frontier.server.delete(*keys)
    for run in runs:
        hits = page_hits(run.hits)
        assert hits and set(hits.values()) == {1}, hits
    assert captures(pg_url) == captures(overlap["db"])
    for local, distributed in zip(overlap["together"], runs, strict=True):
        assert summary_figures(local.stdout) == summary_figures(distributed.stdout)


def _distributed_rounds(tmp: Path, site: RouteSite, server, db: str, env: dict) -> list:
    wl = watchlist(tmp / "wl.toml", TARGETS.format(base=server.base_url))
    runs = []
    for day in range(2):
        site.swap(routes(day))
        server.hits.clear()
        run = subprocess.run(
            [sys.executable, "-m", "takedown", "--data", str(tmp / "u"), "--db", db, "crawl",
             str(wl), "--at", DAYS[day], "--no-progress", "--redis", REDIS_URL],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-3000:]
        run.hits = Counter(server.hits)
        runs.append(run)
    return runs
