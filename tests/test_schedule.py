"""``takedown schedule``: intervals in the watchlist, the persisted job store, clean stops.

The scenario test runs the real scheduler (a subprocess) against a loopback site with
second-scale intervals, stops it with SIGTERM while a page is being fetched, restarts it and
checks the store: rounds whole, consecutive, never overlapping, each detected before the next
began, the in-flight capture committed, and the hourly target's next run taken from the job
store rather than run again. Both job stores: SQLite file and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sitesim import RouteSite, page, serve, watchlist
from sqlalchemy import func, select

from crawler.errors import WatchlistError
from crawler.watchlist import parse_watchlist, select_targets
from snapshots import open_store
from snapshots.detection_store import takedown_rows
from snapshots.models import Capture, DetectedRound, Round, Target, Url
from takedown import schedule
from takedown.schedule import (
    JobPlan,
    ScheduleError,
    ScheduleOptions,
    _restore,
    list_jobs,
    make_jobstore,
    plan_jobs,
    scheduler_lock,
    sync_jobs,
)

T1 = '[[target]]\nname = "a"\nurl = "http://x.test/"\n'


# -- the `every` key and the target filter ---------------------------------------------------


@pytest.mark.parametrize("value", ['"6 hours"', '"0s"', "6", '""', '"1w"', '"5m "', '"-1h"'],
                         ids=["words", "zero", "number", "empty", "weeks", "space", "negative"])
@pytest.mark.parametrize("table", ["target", "crawl"])
def test_bad_every_names_file_line_key(value: str, table: str) -> None:
    text = (T1 + f"every = {value}\n" if table == "target"
            else f"[crawl]\ntimeout = 5\nevery = {value}\n\n" + T1)
    with pytest.raises(WatchlistError) as err:
        parse_watchlist(text, "wl.toml")
    line = 4 if table == "target" else 3
    assert (err.value.path, err.value.line, err.value.key) == ("wl.toml", line, "every")
    assert "interval like '45s', '30m', '6h' or '1d'" in str(err.value)


def test_interval_precedence_and_grouping() -> None:
    wl = parse_watchlist('[crawl]\nevery = "2h"\n\n' + T1 + 'every = "60m"\n'
                         '[[target]]\nname = "b"\nurl = "http://x.test/b"\n'
                         '[[target]]\nname = "c"\nurl = "http://x.test/c"\nevery = "1h"\n')
    assert plan_jobs(wl) == [JobPlan("every-1h", 3600, ("a", "c")),
                             JobPlan("every-2h", 7200, ("b",))]
    # --every beats [crawl] every; a target's own every beats both.
    assert plan_jobs(wl, "90s")[0] == JobPlan("every-90s", 90, ("b",))
    plain = parse_watchlist(T1)
    assert plan_jobs(plain) == [JobPlan("every-6h", 21600, ("a",))]


def test_select_targets_keeps_order_and_refuses_unknown_names() -> None:
    wl = parse_watchlist(T1 + '[[target]]\nname = "b"\nurl = "http://x.test/b"\n', "w.toml")
    assert [t.name for t in select_targets(wl, ["b", "a", "b"]).targets] == ["a", "b"]
    assert [t.name for t in select_targets(wl, ["b"]).targets] == ["b"]
    with pytest.raises(WatchlistError, match=r"w.toml: unknown target 'z' \(targets: a, b\)"):
        select_targets(wl, ["a", "z"])


def test_cli_errors_exit_2_and_list_shows_the_stored_jobs(tmp_path: Path) -> None:
    wl = watchlist(tmp_path / "wl.toml", '[[target]]\nname = "a"\nurl = "http://127.0.0.1:9/"\n')
    base = [sys.executable, "-m", "takedown", "--data", str(tmp_path / "d")]
    crawl = subprocess.run([*base, "crawl", str(wl), "--target", "nope"],
                           capture_output=True, text=True, timeout=60)
    assert crawl.returncode == 2
    assert crawl.stderr.strip() == f"error: {wl}: unknown target 'nope' (targets: a)"
    sched = subprocess.run([*base, "schedule", str(wl), "--every", "6x"],
                           capture_output=True, text=True, timeout=60)
    assert sched.returncode == 2 and "not an interval like" in sched.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was written
    open_store(tmp_path / "d").close()    # as `schedule` makes it; --list only reads
    s = _scheduler(f"sqlite:///{tmp_path / 'd' / 'takedown.sqlite'}")
    sync_jobs(s, [JobPlan("every-1h", 3600, ("a",))],
              ScheduleOptions(str(wl), str(tmp_path / "d")), now=datetime(2030, 1, 1, tzinfo=UTC))
    _close(s)
    listed = subprocess.run([*base, "schedule", str(wl), "--list", "--json"],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [{"job": "every-1h", "every": "1h", "targets": ["a"],
                                          "next_run": "2030-01-01T00:00:00+00:00",
                                          "watchlist": str(wl)}]


# -- the job store ---------------------------------------------------------------------------


def _scheduler(url: str) -> BackgroundScheduler:
    s = BackgroundScheduler(jobstores={"default": make_jobstore(url)}, timezone=UTC)
    s.start(paused=True)  # paused: jobs are stored, never run
    return s


def _close(s: BackgroundScheduler) -> None:
    s.remove_jobstore("default")  # or APScheduler's last pass would move due jobs on
    s.shutdown()


def test_sync_keeps_persisted_times_and_follows_the_watchlist(db_url: str, tmp_path: Path) -> None:
    opts = ScheduleOptions("/w.toml", str(tmp_path), db_url)
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    plans = [JobPlan("every-1h", 3600, ("a",)), JobPlan("every-1d", 86400, ("b",))]
    s = _scheduler(db_url)
    assert sync_jobs(s, plans, opts, now=t0) == {"every-1h": "added", "every-1d": "added"}
    s.modify_job("every-1h", next_run_time=t0 + timedelta(minutes=17))
    s.modify_job("every-1d", next_run_time=t0 + timedelta(days=1))
    _close(s)
    s = _scheduler(db_url)  # a restart: a new scheduler over the same table
    assert sync_jobs(s, plans, opts, now=t0 + timedelta(minutes=5)) == {
        "every-1h": "kept", "every-1d": "kept"}
    assert s.get_job("every-1h").next_run_time == t0 + timedelta(minutes=17)
    changed = [JobPlan("every-1h", 3600, ("a", "c")), JobPlan("every-1d", 1800, ("b",))]
    actions = sync_jobs(s, changed, opts, now=t0 + timedelta(minutes=5))
    assert actions == {"every-1h": "updated", "every-1d": "rescheduled"}
    assert s.get_job("every-1h").next_run_time == t0 + timedelta(minutes=17)
    assert s.get_job("every-1h").args[2] == ["a", "c"]
    # A shorter interval: due one new interval from now, not a day later.
    assert s.get_job("every-1d").next_run_time == t0 + timedelta(minutes=35)
    assert sync_jobs(s, changed[:1], opts, now=t0) == {"every-1d": "removed", "every-1h": "kept"}
    _close(s)
    listed = list_jobs(opts)
    assert [(j["job"], j["targets"], j["every"]) for j in listed] == [("every-1h", ["a", "c"],
                                                                       "1h")]
    assert listed[0]["next_run"] == "2030-01-01T00:17:00+00:00"


def test_runs_due_while_stopping_stay_due(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    opts = ScheduleOptions("/w.toml", str(tmp_path), url)
    now = datetime.now(UTC).replace(microsecond=0)
    s = _scheduler(url)
    plans = [JobPlan("every-1h", 3600, ("a",)), JobPlan("every-1d", 86400, ("b",)),
             JobPlan("every-2d", 172800, ("c",))]
    sync_jobs(s, plans, opts, now=now)
    due = {j.id: j.next_run_time for j in s.get_jobs()}
    # While stopping, APScheduler moved every-1h past a run it never made; every-1d ran
    # (it moved too, but through run_round_job, which found the stop and deferred it).
    s.modify_job("every-1h", next_run_time=now + timedelta(hours=1))
    s.modify_job("every-1d", next_run_time=now + timedelta(days=1))
    _close(s)
    jobstore = make_jobstore(url)
    jobstore.start(None, "default")
    _restore(jobstore, due, {"every-1d"})
    after = {j.id: j.next_run_time for j in jobstore.get_all_jobs()}
    assert after["every-1h"] == due["every-1h"] <= now + timedelta(microseconds=2)
    assert now <= after["every-1d"] <= datetime.now(UTC)
    assert after["every-2d"] == due["every-2d"]  # untouched


def test_a_run_due_after_the_stop_starts_no_crawl(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    rt = schedule._Runtime(store)
    rt.stop()
    schedule._RUNTIME = rt
    try:
        schedule.run_round_job("every-1h", "/w.toml", ["a"], str(tmp_path), None, [])
    finally:
        schedule._RUNTIME = None
        store.close()
    assert rt.deferred == {"every-1h"} and rt.children == () and rt.active == 0


def test_one_scheduler_per_database(db_url: str) -> None:
    with scheduler_lock(db_url):
        with pytest.raises(ScheduleError, match="another scheduler"):
            with scheduler_lock(db_url):
                pass
    with scheduler_lock(db_url):  # released on exit
        pass


# -- the scheduler, stopped and restarted ----------------------------------------------------


class Scheduler:
    """``takedown schedule`` as a subprocess with its log in a file."""

    def __init__(self, wl: Path, data: Path, db: str, log: Path, *extra: str) -> None:
        self.cmd = [sys.executable, "-m", "takedown", "--data", str(data), "--db", db]
        self.wl, self.log, self.extra = wl, log, extra

    def start(self) -> None:
        self.fh = open(self.log, "w", encoding="utf-8")  # closed in stop()
        env = dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1")
        self.proc = subprocess.Popen([*self.cmd, "schedule", str(self.wl), *self.extra],
                                     env=env,
                                     stdout=self.fh, stderr=subprocess.STDOUT)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self.fh.close()
        text = self.log.read_text(encoding="utf-8")
        assert code == 0, text
        return text


def wait_for(check, what: str, timeout: float = 40) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_sigterm_and_restart_resume_the_schedule(db_url: str, tmp_path: Path) -> None:
    site = RouteSite({
        "/robots.txt": page("", headers={"Content-Type": "text/plain"}),
        "/list.html": page('<a href="/slow.html">slow</a>'),
        "/slow.html": page("<p>slow page</p>", delay=1.0),
        "/hourly.html": page("<p>hourly</p>"),
    })
    server = serve(site)
    wl = watchlist(tmp_path / "wl.toml",
                   f'[[target]]\nname = "fast"\nurl = "{server.base_url}/list.html"\n'
                   'depth = 1\nevery = "2s"\n'
                   f'[[target]]\nname = "hourly"\nurl = "{server.base_url}/hourly.html"\n'
                   'every = "1h"\n')
    hits = lambda path: sum(p == path for p, _ in site.requests)  # noqa: E731
    # --fixed: one job per interval (the adaptive schedule is tests/test_recheck.py's)
    sched = Scheduler(wl, tmp_path / "data", db_url, tmp_path / "log1.txt", "--fixed")
    opts = ScheduleOptions(str(wl), str(tmp_path / "data"), db_url, fixed=True)
    try:
        sched.start()
        # Both jobs are due at once: the hourly round first (longest interval first), then
        # the fast one, stopped while slow.html is being fetched.
        wait_for(lambda: hits("/slow.html") > 0, "a fast round")
        log1 = sched.stop()
        persisted = {j["job"]: j["next_run"] for j in list_jobs(opts)}
        sched.log = tmp_path / "log2.txt"
        sched.start()
        wait_for(lambda: hits("/slow.html") > 1, "a fast round after the restart")
        log2 = sched.stop()
    finally:
        if sched.proc.poll() is None:
            sched.proc.kill()
        server.stop()
    assert log1.index("round of hourly started") < log1.index("round of fast started")
    assert "job every-1h (hourly): added" in log1 and "job every-2s (fast): added" in log1
    # The restart took both next run times from the job store: the fast job's was past, so
    # it ran at once; the hourly one's is an hour after its first run, so it did not run.
    assert f"job every-2s (fast): kept, next run {persisted['every-2s']}" in log2
    assert f"job every-1h (hourly): kept, next run {persisted['every-1h']}" in log2
    assert "round of hourly" not in log2 and hits("/hourly.html") == 1
    after = {j["job"]: j["next_run"] for j in list_jobs(opts)}
    assert after["every-1h"] == persisted["every-1h"] > datetime.now(UTC).isoformat()
    assert "Traceback" not in log1 + log2 and "did not run before the stop" not in log1 + log2
    check_store(db_url, tmp_path / "data")


def check_store(db_url: str, data: Path) -> None:
    store = open_store(data, db_url)
    try:
        with store.session() as s:
            rounds = list(s.scalars(select(Round).order_by(Round.id)))
            per_target = {}
            for rid, name in s.execute(select(Capture.round_id, Target.name)
                                       .join(Target).distinct()):
                per_target.setdefault(name, set()).add(rid)
            slow = {rid for rid, in s.execute(select(Capture.round_id).join(Url).where(
                Url.url.like("%/slow.html"), Capture.status == 200))}
            detected = {(r, t): at for r, t, at in s.execute(
                select(DetectedRound.round_id, Target.name, DetectedRound.detected_at)
                .join(Target))}
    finally:
        store.close()
    # none left open or killed: closed, the SIGTERM'd ones as interrupted (below)
    assert all(r.status == r.stats.get("status") for r in rounds)
    assert {r.status for r in rounds} == {"done", "interrupted"}
    assert len(per_target["hourly"]) == 1, "the hourly target ran again after the restart"
    assert len(per_target["fast"]) == 2 and len(rounds) == 3
    # The two SIGTERM'd rounds stopped early, yet kept the capture that was in flight.
    stopped = [r.id for r in rounds if r.stats.get("status") == "interrupted"]
    assert len(stopped) == 2 and set(stopped) <= slow
    assert per_target["fast"] == slow  # every fast round captured the slow page
    for before, after in zip(rounds, rounds[1:], strict=False):
        assert after.started_at >= before.finished_at, "two rounds overlapped"
    for r in rounds:
        name = "hourly" if r.id in per_target["hourly"] else "fast"
        at = detected[(r.id, name)]  # detection ran after each round ...
        nxt = [o.started_at for o in rounds if o.id > r.id]
        assert at >= r.finished_at and (not nxt or at <= nxt[0])  # ... before the next


# -- the same on the demo site -----------------------------------------------------------------


def _rounds(db: str) -> list[tuple[int, str, int]]:
    """(round id, status, captures) of every round, oldest first."""
    store = open_store(db_url=db)
    try:
        with store.session() as s:
            counts = dict(s.execute(select(Capture.round_id, func.count(Capture.id))
                                    .group_by(Capture.round_id)).all())
            return [(r.id, r.status, counts.get(r.id, 0))
                    for r in s.scalars(select(Round).order_by(Round.id))]
    finally:
        store.close()


def test_demo_site_schedule_resumes_after_sigterm_nothing_lost_or_doubled(
        tmp_path: Path) -> None:
    """Every 3 s against the demo site (its nine targets, every kind of page), SIGTERM in
    the middle of the second round, restart: the next round captures every URL the first
    one did, no round holds a URL twice, and the cut round yields no takedown."""
    from snapshots.db import default_url
    from takedown.demo.server import SiteServer
    from takedown.demo.site import DemoSite

    data = tmp_path / "data"
    db = default_url(data)
    site = DemoSite(days=2)
    with SiteServer(site) as server:
        wl = tmp_path / "demo.toml"
        wl.write_text(site.watchlist_toml(server.base_url).replace(
            "[crawl]\n", '[crawl]\nevery = "3s"\n', 1), encoding="utf-8")
        # --fixed: every round fetches every URL (what the checks below count on)
        sched = Scheduler(wl, data, db, tmp_path / "log1.txt", "--fixed")
        try:
            sched.start()
            # SIGTERM once the second round has some captures but is still running
            wait_for(lambda: (r := _rounds(db)) and len(r) >= 2 and r[0][1] == "done"
                     and r[1][1] == "running" and r[1][2] >= 10, "a second round under way")
            log1 = sched.stop()
            sched.log = tmp_path / "log2.txt"
            sched.start()
            wait_for(lambda: any(i > 2 and st == "done" for i, st, _n in _rounds(db)),
                     "a whole round after the restart")
            log2 = sched.stop()
        finally:
            if sched.proc.poll() is None:
                sched.proc.kill()
    rounds = _rounds(db)
    assert "Traceback" not in log1 + log2
    assert all(st in ("done", "interrupted") for _i, st, _n in rounds), rounds
    assert rounds[1][1] == "interrupted", rounds
    store = open_store(db_url=db)
    try:
        with store.session() as s:
            urls = {rid: set() for rid, _st, _n in rounds}
            pairs = s.execute(select(Capture.round_id, Capture.url_id)).all()
            for rid, url_id in pairs:
                urls[rid].add(url_id)
            detected = {rid for rid, in s.execute(select(DetectedRound.round_id).distinct())}
        records = list(takedown_rows(store))
    finally:
        store.close()
    assert len(pairs) == sum(len(v) for v in urls.values()), "a URL captured twice in a round"
    first = urls[rounds[0][0]]
    resumed = next(i for i, st, _n in rounds if i > 2 and st == "done")
    assert urls[resumed] == first and len(first) > 100   # nothing lost
    assert urls[rounds[1][0]] < first                     # the cut round: a part of it
    assert {i for i, _st, _n in rounds} <= detected       # every round was detected
    assert records == []                                  # the site did not change
