"""Adaptive recheck: the pure policy, then real rounds against a loopback site.

The crawl scenario runs short rounds (``takedown crawl … --at T`` subprocesses) over a
listing with an old post and a young one: the young one is fetched round after round, the
old one is left alone, the listing keeps its interval, a removal of the old post while it is
not due gives no takedown, the young post's removal is found in the next short round, and
``--fixed`` fetches everything again.  A second store shows the budget capping requests, a
third an entry dropped from its listing while its page is not due.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sitesim import RouteSite, crawl, page, serve, watchlist
from sqlalchemy import select

from diffing.detect import detect
from snapshots import open_store
from snapshots.detection_store import takedown_rows
from snapshots.models import Url
from snapshots.recheck import (
    Bounds,
    Candidate,
    allowance,
    choose,
    is_due,
    next_check,
    recheck_interval,
)
from takedown.schedule import plan_recheck_job

S = timedelta(seconds=1)
M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


# -- the policy ------------------------------------------------------------------------------


@pytest.mark.parametrize(("age", "listing", "changed", "bounds", "want"), [
    (0 * M, False, False, Bounds(), 5 * M),                       # newborn: min_every
    (2 * H, False, False, Bounds(), 30 * M),                      # a quarter of its age
    (2 * H, False, True, Bounds(), 15 * M),                       # changed: halved
    (30 * D, False, False, Bounds(), D),                          # old: max_every
    (30 * D, False, False, Bounds(max_every=6 * H), 6 * H),
    (10 * M, False, False, Bounds(min_every=M), 2.5 * M),
    (30 * D, True, False, Bounds(listing_every=H), H),            # listings: their interval
    (-H, False, False, Bounds(), 5 * M),                          # a date in the future
], ids=["newborn", "quarter", "changed", "old", "max", "min", "listing", "future"])
def test_interval(age, listing, changed, bounds, want) -> None:
    assert recheck_interval(age, listing, changed, bounds) == want


def test_interval_grows_geometrically_with_age() -> None:
    at, checks = T0, []
    while at < T0 + 6 * D:
        at = next_check(at, T0, None, False, Bounds())
        checks.append(at)
    steps = [b - a for a, b in zip([T0, *checks], checks, strict=False)]
    assert steps[0] == 5 * M and steps[-1] == D
    assert all(b >= a for a, b in zip(steps, steps[1:], strict=False))
    first_hour = sum(c <= T0 + H for c in checks)
    last_day = sum(T0 + 4 * D < c <= T0 + 5 * D for c in checks)
    assert first_hour >= 5 and last_day <= 2, (first_hour, last_day)


@pytest.mark.parametrize(("budget", "used", "gap", "want"), [
    (None, 999, 5 * M, None), (1000, 0, None, 1000), (1000, 990, None, 10),
    (288, 0, 5 * M, 2), (10, 20, H, 0)], ids=["none", "first", "left", "paced", "spent"])
def test_allowance(budget, used, gap, want) -> None:
    assert allowance(budget, used, gap) == want


def test_choose_puts_listings_then_youngest_first_and_defers_the_rest() -> None:
    cands = [Candidate("old", 1, T0 - H, T0 - 9 * D), Candidate("young", 1, T0, T0 - 20 * M),
             Candidate("seed", 0, T0, T0 - 90 * D, listing=True),
             Candidate("later", 1, T0 + H, T0 - 2 * H), Candidate("new", 1, None, T0)]
    fetched, waiting, deferred = choose(cands, T0, Bounds(), 3)
    assert [c.url for c in fetched] == ["seed", "new", "young"]
    assert [c.url for c in waiting] == ["later"] and [c.url for c in deferred] == ["old"]
    assert is_due(T0 + 20 * 1000 * timedelta(microseconds=1000), T0, Bounds())
    assert not is_due(T0 + M, T0, Bounds())


def test_the_adaptive_schedule_ticks_at_the_shortest_interval(tmp_path) -> None:
    from crawler.watchlist import load_watchlist

    wl = watchlist(tmp_path / "wl.toml", '[[target]]\nname = "a"\nurl = "http://h/"\n'
                   'min_every = "10m"\n[[target]]\nname = "b"\nurl = "http://h/b"\n')
    assert plan_recheck_job(load_watchlist(str(wl))).id == "recheck-5m"


# -- real rounds -----------------------------------------------------------------------------


def post(text: str, published: datetime) -> object:
    meta = f'<meta property="article:published_time" content="{published.isoformat()}">'
    return page(f"{meta}<p>{text}</p>".replace("<p>", "<p>", 1))


def listing(*paths: str) -> object:
    return page("<ul>" + "".join(f'<li><a href="{p}">{p}</a></li>' for p in paths) + "</ul>",
                title="list")


GONE = page("<h1>页面不存在</h1>", status=404)


class Rounds:
    """One store, a site whose routes change, rounds at T0 + minutes."""

    def __init__(self, tmp_path, targets: str) -> None:
        self.site = RouteSite()
        self.server = serve(self.site)
        self.wl = watchlist(tmp_path / "wl.toml", targets.replace("{base}", self.server.base_url))
        self.data = tmp_path / "data"

    def round(self, minutes: float, *extra: str) -> set[str]:
        """A round at T0 + *minutes*, then detection; the paths it requested."""
        before = len(self.site.requests)
        at = (T0 + minutes * M).isoformat()
        run = crawl(self.wl, self.data, at, "--no-progress", *extra)
        assert run.returncode == 0, run.stderr
        self.out = run.stdout
        store = open_store(self.data)
        try:
            detect(store)
        finally:
            store.close()
        return {p for p, _ in self.site.requests[before:]
                if p not in ("/robots.txt",) and "takedown-probe" not in p}

    def takedowns(self) -> dict[str, tuple[str, str]]:
        store = open_store(self.data)
        try:
            return {r["url"].rsplit("/", 1)[1]: (r["kind"], r["detected_at"])
                    for r in takedown_rows(store)}
        finally:
            store.close()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    r = Rounds(tmp_path_factory.mktemp("recheck"),
               '[[target]]\nname = "feed"\nurl = "{base}/list.html"\ndepth = 1\n'
               'min_every = "5m"\n')
    old, young = T0 - 30 * D, T0 - 10 * M
    live = {"/list.html": listing("/p/old.html", "/p/young.html"),
            "/p/old.html": post("an old post", old), "/p/young.html": post("a young one", young)}
    fetched = {}
    try:
        r.site.swap(live)
        fetched[0] = r.round(0)
        fetched[5] = r.round(5)      # the old post is due once more: its date was unknown
        fetched[10] = r.round(10)
        fetched[11] = r.round(11)    # nothing due yet
        # both posts removed; the old one is not due, the young one is
        r.site.swap({**live, "/p/old.html": GONE, "/p/young.html": GONE})
        fetched[17] = r.round(17)
        after_short = r.takedowns()
        fetched[20] = r.round(20, "--fixed")
        after_fixed = r.takedowns()
        summary = r.out
    finally:
        r.server.stop()
    store = open_store(r.data)
    with store.session() as s:
        urls = {u.url.rsplit("/", 1)[1]: u for u in s.scalars(select(Url))}
    store.close()
    return fetched, after_short, after_fixed, urls, summary


def test_a_young_post_is_refetched_in_short_rounds_an_old_one_is_not(scenario) -> None:
    fetched = scenario[0]
    everything = {"/list.html", "/p/old.html", "/p/young.html"}
    assert fetched[0] == fetched[5] == everything
    assert fetched[10] == {"/list.html", "/p/young.html"}     # old: next check a day on
    assert fetched[11] == set()                               # the listing keeps 5 min
    assert fetched[17] == {"/list.html", "/p/young.html"}


def test_publication_time_and_next_check_are_stored(scenario) -> None:
    urls = scenario[3]
    assert urls["old.html"].published_at == T0 - 30 * D
    assert urls["old.html"].listing is False   # the seed is a listing whatever detect says
    assert urls["list.html"].next_check == T0 + 25 * M     # fixed round at 20, + 5 min


def test_a_not_due_removal_is_no_takedown_a_due_one_is_found_next_round(scenario) -> None:
    _fetched, after_short, after_fixed, _urls, _summary = scenario
    at17, at20 = (T0 + 17 * M).isoformat(), (T0 + 20 * M).isoformat()
    assert after_short == {"young.html": ("removed", at17)}
    assert after_fixed == {"young.html": ("removed", at17), "old.html": ("removed", at20)}


def test_fixed_fetches_everything_and_the_summary_says_so(scenario) -> None:
    assert scenario[0][20] == {"/list.html", "/p/old.html", "/p/young.html"}
    assert "recheck:" not in scenario[4]


def test_the_budget_caps_requests_youngest_first(tmp_path) -> None:
    r = Rounds(tmp_path, '[[target]]\nname = "b"\nurl = "{base}/list.html"\ndepth = 1\n'
                         'budget = 4\n')
    posts = {f"/p/{i}.html": post(f"post {i}", T0 - i * H) for i in range(1, 7)}
    r.site.swap({"/list.html": listing(*posts), **posts})
    try:
        first = r.round(0)
        assert len(first) == 4 and "/list.html" in first    # the seed and 3 new links
        assert "recheck: 0 not due, 3 deferred by budget" in r.out
        second = r.round(5)                                # 4 a day: nothing left today
        assert second == set()
        later = r.round(24 * 60 + 1)                       # a day on: 4 more
        assert len(later) == 4
    finally:
        r.server.stop()


def test_an_entry_dropped_while_its_page_is_not_due_waits_for_it(tmp_path) -> None:
    """An entry leaves the middle of the listing while its page is not due: the short
    rounds that leave the page alone conclude nothing; the round that reads the page again,
    still serving, finds it delisted."""
    r = Rounds(tmp_path, '[[target]]\nname = "d"\nurl = "{base}/list.html"\ndepth = 1\n'
                         'min_every = "5m"\n')
    paths = [f"/p/{i}.html" for i in range(1, 7)]
    posts = {p: post(f"旧帖子 {p}", T0 - 30 * D) for p in paths}
    r.site.swap({"/list.html": listing(*paths), **posts})
    try:
        assert r.round(0) == r.round(5) == {"/list.html", *paths}
        assert r.round(10) == {"/list.html"}                 # the posts are old: a day on
        r.site.swap({"/list.html": listing(*(p for p in paths if p != "/p/3.html")), **posts})
        for minutes in (15, 20, 25, 30, 35):                 # more than the pending waits
            assert r.round(minutes) == {"/list.html"}
            assert r.takedowns() == {}
        assert "/p/3.html" in r.round(40, "--fixed")
        # dated by the round its entry left the listing, as a pending delisting always is
        assert r.takedowns() == {"3.html": ("delisted", (T0 + 15 * M).isoformat())}
    finally:
        r.server.stop()


def test_adaptive_is_refused_on_a_distributed_round(tmp_path) -> None:
    """Workers follow every link: an adaptive plan would not hold there, so it is refused
    before Redis or the store is touched."""
    wl = watchlist(tmp_path / "wl.toml", '[[target]]\nname = "a"\nurl = "http://127.0.0.1:9/"\n')
    run = crawl(wl, tmp_path / "data", T0.isoformat(), "--adaptive",
                "--redis", "redis://127.0.0.1:9/0")
    assert run.returncode == 2
    assert "--adaptive cannot be used with --redis" in run.stderr
    assert not (tmp_path / "data").exists()


def test_the_schedule_runs_short_rounds_that_fetch_only_what_is_due(tmp_path) -> None:
    """``takedown schedule`` (adaptive by default), on the wall clock: one job at the
    shortest ``min_every``; the listing and the young post are fetched round after round,
    the month-old post once its date is known no more."""
    from test_schedule import Scheduler, wait_for

    now = datetime.now(UTC)
    site = RouteSite({"/list.html": listing("/p/old.html", "/p/young.html"),
                      "/p/old.html": post("an old post", now - 30 * D),
                      "/p/young.html": post("a young one", now - 5 * S)})
    server = serve(site)
    wl = watchlist(tmp_path / "wl.toml",
                   f'[[target]]\nname = "feed"\nurl = "{server.base_url}/list.html"\n'
                   'depth = 1\nmin_every = "2s"\nmax_every = "1h"\n')
    hits = lambda path: sum(p == path for p, _ in site.requests)  # noqa: E731
    sched = Scheduler(wl, tmp_path / "data", f"sqlite:///{tmp_path / 'store.sqlite'}",
                      tmp_path / "log.txt")
    try:
        sched.start()
        wait_for(lambda: hits("/list.html") >= 6, "six short rounds", timeout=120)
        log = sched.stop()
    finally:
        if sched.proc.poll() is None:
            sched.proc.kill()
        server.stop()
    assert "job recheck-2s (feed): added" in log, log[-2000:]
    assert hits("/p/young.html") >= 3          # young: due again within seconds
    assert hits("/p/old.html") <= 2            # first sight, then once its date was read
    assert "Traceback" not in log
