"""``takedown schedule``: capture rounds on a timer (APScheduler 3), kept across restarts.

By default the schedule is adaptive (docs/recheck.md): one job (id ``recheck-5m``) runs
short rounds of every target, ``takedown crawl WATCHLIST --adaptive``, each fetching only
what is due; its interval is the shortest ``min_every``, or listing interval (``every``),
of the targets, else 5 minutes (``DEFAULT_TICK``).  With ``--fixed``, as before the adaptive
recheck: targets sharing an interval form one job (id ``every-6h``), each run fetching
every URL (``takedown crawl … --fixed``); the interval of a target is its ``every``, else
``--every``, else ``[crawl] every``, else 6h.  Each run of a job is one ``takedown crawl
WATCHLIST --target …`` subprocess (Twisted's reactor cannot restart, so a round never runs
in this process) followed by ``takedown detect``.  Switching between the two removes the
other's jobs.

Jobs live in a SQLAlchemy job store, table ``schedule_jobs`` of the store's own database, so
a restart resumes from the persisted next run times. Starting with a changed watchlist
updates jobs in place (a changed interval runs within one new interval) and removes jobs
whose targets are gone. A new job runs at once.

Rounds of one store never overlap: ``Store.begin_round`` closes every round still running
(it would mark a concurrent round ``interrupted`` and detection could read it half-done),
so the executor has one worker thread: crawl and detection run one job at a time (a job due
meanwhile waits its turn; ``max_instances=1`` and ``coalesce`` fold its repeats into one
run). A lock held for the scheduler's life (PostgreSQL: an advisory lock; SQLite: a flock
beside the database file) refuses a second scheduler on the same database. Detection
therefore never runs twice at once from the scheduler.

SIGTERM/SIGINT (and SIGHUP unless ignored, as under nohup): no new run starts, SIGINT goes
to the crawl in flight (Scrapy finishes the requests in flight, commits their captures,
closes the round), detection runs over it, and the process exits 0. A job due meanwhile is
left due, so it runs at the next start. A second signal is forwarded to every child
(Scrapy's unclean stop; detect rolls back its open job). Children run in their own session
so that a terminal's Ctrl-C reaches them only through us.

Imports ``crawler.watchlist`` and ``snapshots``; the rounds go through the CLI.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import inspect, text

from crawler.watchlist import interval_text, load_watchlist, parse_interval
from snapshots import open_store
from snapshots.db import default_url, make_engine
from snapshots.errors import TakedownError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Engine

    from crawler.watchlist import Watchlist
    from snapshots.repo import Store

log = logging.getLogger(__name__)

DEFAULT_EVERY = "6h"
DEFAULT_TICK = timedelta(minutes=5)   # adaptive rounds, when no target asks for shorter
RECHECK_JOB = "recheck-"   # the adaptive job's id prefix: its rounds run --adaptive
JOB_TABLE = "schedule_jobs"
# SIGHUP too (a closed terminal would kill us and orphan the crawl), unless nohup ignores it.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class ScheduleError(TakedownError):
    """The schedule cannot start: another scheduler holds the store."""


@dataclass(frozen=True)
class ScheduleOptions:
    """What ``takedown schedule`` was asked for; paths are made absolute by the CLI."""

    watchlist: str
    data: str
    db: str | None = None
    every: str | None = None        # interval of targets naming none (over [crawl] every)
    jitter: int = 0                 # seconds a run may start early or late at random
    misfire_grace: int | None = None  # a run later than this is skipped; None: always run
    phrases: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()    # Apprise URLs, besides the watchlist's [notify] table
    fixed: bool = False             # every URL every round, one job per interval

    @property
    def db_url(self) -> str:
        return self.db or default_url(self.data)


@dataclass(frozen=True)
class JobPlan:
    """One job: the targets that share an interval."""

    id: str
    seconds: int
    targets: tuple[str, ...]


def plan_jobs(watchlist: Watchlist, every: str | None = None) -> list[JobPlan]:
    """Group the targets by interval: target ``every``, else *every*, else ``[crawl] every``,
    else 6h. *every* must be a valid interval (the CLI checks it).

    >>> from crawler.watchlist import parse_watchlist
    >>> wl = parse_watchlist('[[target]]\\nname = "a"\\nurl = "http://h/"\\nevery = "90s"\\n'
    ...                      '[[target]]\\nname = "b"\\nurl = "http://h/b"\\n')
    >>> [(j.id, j.targets) for j in plan_jobs(wl)]
    [('every-90s', ('a',)), ('every-6h', ('b',))]
    """
    fallback = every or watchlist.crawl.every or DEFAULT_EVERY
    groups: dict[int, list[str]] = {}
    for t in watchlist.targets:
        seconds = int(parse_interval(t.every or fallback).total_seconds())
        groups.setdefault(seconds, []).append(t.name)
    return [JobPlan(f"every-{interval_text(s)}", s, tuple(names))
            for s, names in sorted(groups.items())]


def plan_recheck_job(watchlist: Watchlist) -> JobPlan:
    """The adaptive schedule's one job: every target, at the shortest of their
    ``min_every`` and listing intervals (``every``), else ``DEFAULT_TICK``.

    >>> from crawler.watchlist import parse_watchlist
    >>> wl = parse_watchlist('[[target]]\\nname = "a"\\nurl = "http://h/"\\nevery = "6h"\\n'
    ...                      '[[target]]\\nname = "b"\\nurl = "http://h/b"\\nmin_every = "2m"\\n')
    >>> plan_recheck_job(wl)
    JobPlan(id='recheck-2m', seconds=120, targets=('a', 'b'))
    """
    ticks = [DEFAULT_TICK]
    for t in watchlist.targets:
        ticks.extend(parse_interval(v) for v in (t.min_every, t.every) if v is not None)
    seconds = int(min(ticks).total_seconds())
    return JobPlan(f"{RECHECK_JOB}{interval_text(seconds)}", seconds,
                   tuple(t.name for t in watchlist.targets))


def job_args(plan: JobPlan, opts: ScheduleOptions) -> list[Any]:
    """Plain, picklable arguments of :func:`run_round_job`."""
    return [plan.id, opts.watchlist, list(plan.targets), opts.data, opts.db, list(opts.phrases)]


def make_jobstore(url: str) -> SQLAlchemyJobStore:
    """The job store in the metadata database; our engine brings SQLite's WAL and busy
    timeout, without which the crawl's writes would make the scheduler's fail."""
    return SQLAlchemyJobStore(engine=make_engine(url), tablename=JOB_TABLE)


# -- keeping the stored jobs in line with the watchlist -----------------------------------


def sync_jobs(scheduler: BackgroundScheduler, plans: list[JobPlan], opts: ScheduleOptions,
              now: datetime | None = None) -> dict[str, str]:
    """Make the stored jobs match *plans*; job id → added, kept, updated, rescheduled or
    removed. Kept and updated jobs keep their persisted next run time; added ones are due
    now, the longest interval first (a microsecond apart, so that the order is stable)."""
    now = now or datetime.now(UTC)
    actions: dict[str, str] = {}
    wanted = {p.id for p in plans}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            scheduler.remove_job(job.id)
            actions[job.id] = "removed"
    for rank, plan in enumerate(sorted(plans, key=lambda p: -p.seconds)):
        actions[plan.id] = _sync_one(scheduler, plan, opts, now, rank)
    return dict(sorted(actions.items()))


def _sync_one(scheduler: BackgroundScheduler, plan: JobPlan, opts: ScheduleOptions,
              now: datetime, rank: int) -> str:
    trigger = IntervalTrigger(seconds=plan.seconds, jitter=opts.jitter or None, timezone=UTC)
    settings = {"args": job_args(plan, opts), "misfire_grace_time": opts.misfire_grace,
                "max_instances": 1, "coalesce": True, "name": ", ".join(plan.targets)}
    job = scheduler.get_job(plan.id)
    if job is None:
        first = now + timedelta(microseconds=rank)
        scheduler.add_job(run_round_job, trigger, id=plan.id, next_run_time=first, **settings)
        return "added"
    if job.trigger.interval.total_seconds() != plan.seconds:
        soonest = now + timedelta(seconds=plan.seconds)
        nxt = min(job.next_run_time, soonest) if job.next_run_time else soonest
        scheduler.modify_job(plan.id, trigger=trigger, next_run_time=nxt, **settings)
        return "rescheduled"
    current = {k: getattr(job, k) for k in settings} | {"args": list(job.args)}
    if current == settings and (job.trigger.jitter or 0) == opts.jitter:
        return "kept"
    scheduler.modify_job(plan.id, trigger=trigger, **settings)
    return "updated"


def list_jobs(opts: ScheduleOptions) -> list[dict[str, Any]]:
    """The stored jobs (none if the schedule never ran), soonest first; read-only."""
    open_store(opts.data, opts.db).close()  # a store of an older schema is migrated first
    store = make_jobstore(opts.db_url)
    try:
        if not inspect(store.engine).has_table(JOB_TABLE):
            return []
        store.start(None, "default")
        return [{"job": j.id, "every": interval_text(int(j.trigger.interval.total_seconds())),
                 "targets": list(j.args[2]), "next_run": _iso(j.next_run_time),
                 "watchlist": j.args[1]}
                for j in store.get_all_jobs()]
    finally:
        store.shutdown()


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat(timespec="seconds")


# -- the scheduler process ------------------------------------------------------------------


@dataclass
class _Runtime:
    """State shared by the main thread, the signal handler and the job threads."""

    store: Store
    # --notify URLs: handed to each detect in its environment, never kept in the job store
    notify: tuple[str, ...] = ()
    stopping: threading.Event = field(default_factory=threading.Event)
    signals: int = 0                      # written by the signal handler only
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Rebuilt, never mutated, so that the signal handler may read it without a lock.
    children: tuple[tuple[subprocess.Popen, bool], ...] = ()
    deferred: set[str] = field(default_factory=set)
    active: int = 0                       # job threads inside run_round_job

    def spawn(self, cmd: list[str], graceful: bool, **kw: Any) -> subprocess.Popen | None:
        """Start a child; a *graceful* one (a crawl) gets the first SIGINT and does not
        start once stopping."""
        with self.lock:
            if graceful and self.stopping.is_set():
                return None
            proc = subprocess.Popen(cmd, start_new_session=True, **kw)
            self.children = (*self.children, (proc, graceful))
            return proc

    def forget(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.children = tuple(c for c in self.children if c[0] is not proc)

    def stop(self) -> None:
        """Refuse new crawls and send SIGINT to the crawls in flight."""
        with self.lock:
            self.stopping.set()
            for proc, graceful in self.children:
                if graceful:
                    log.info("sending SIGINT to pid %s", proc.pid)
                    proc.send_signal(signal.SIGINT)  # a no-op once the child has exited

    def on_signal(self, signum: int, _frame: object) -> None:
        self.signals += 1
        if self.signals > 1:  # asked twice: every child stops now (Scrapy: unclean stop)
            for proc, _graceful in self.children:
                proc.send_signal(signal.SIGINT)


_RUNTIME: _Runtime | None = None


@contextmanager
def scheduler_lock(url: str) -> Iterator[None]:
    """One scheduler per metadata database, for the scheduler's life: PostgreSQL gets an
    advisory lock (per schema), SQLite a flock on ``<database file>.schedule-lock``. A
    second scheduler gets a ScheduleError."""
    engine = make_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            with _advisory_lock(engine):
                yield
        else:
            with _file_lock(Path(f"{engine.url.database}.schedule-lock")):
                yield
    finally:
        engine.dispose()


@contextmanager
def _advisory_lock(engine: Engine) -> Iterator[None]:
    # A session-level lock: it lasts until the connection closes (engine.dispose() in
    # scheduler_lock, or the process dying), whatever happens to transactions meanwhile.
    with engine.connect() as conn:
        got = conn.execute(text("SELECT pg_try_advisory_lock(hashtext('takedown schedule ' "
                                "|| current_schema()))")).scalar()
        conn.commit()
        if not got:
            raise ScheduleError(f"another scheduler runs on this database ({engine.url!r})")
        yield


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            owner = fh.read().strip() or "?"
            raise ScheduleError(f"{path}: another scheduler (pid {owner}) runs on this "
                                "store") from None
        fh.truncate(0)
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fh.truncate(0)
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_scheduler(opts: ScheduleOptions) -> None:
    """Sync the jobs with the watchlist, run them until SIGTERM/SIGINT, stop cleanly."""
    global _RUNTIME
    wl = load_watchlist(opts.watchlist)
    plans = plan_jobs(wl, opts.every) if opts.fixed else [plan_recheck_job(wl)]
    _show_info()
    with scheduler_lock(opts.db_url):
        rt = _RUNTIME = _Runtime(open_store(opts.data, opts.db), opts.notify)
        jobstore = make_jobstore(opts.db_url)
        scheduler = BackgroundScheduler(
            jobstores={"default": jobstore}, timezone=UTC,
            # One worker: runs are serial, and jobs due together run in due-time order.
            executors={"default": ThreadPoolExecutor(1)})
        previous = {s: signal.signal(s, rt.on_signal) for s in STOP_SIGNALS
                    if signal.getsignal(s) is not signal.SIG_IGN}
        try:
            scheduler.start(paused=True)
            for job_id, action in sync_jobs(scheduler, plans, opts).items():
                job = scheduler.get_job(job_id)
                log.info("job %s (%s): %s, next run %s", job_id, job.name if job else "-",
                         action, _iso(job.next_run_time if job else None))
            scheduler.resume()
            while rt.signals == 0:
                time.sleep(0.2)  # the handler only counts: locks are unsafe in a handler
            _stop(scheduler, jobstore, rt)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            rt.store.close()
            _RUNTIME = None
    log.info("scheduler stopped")


def _show_info() -> None:
    """The CLI shows warnings only, unless -v; a scheduler's runs are its output."""
    log.setLevel(min(log.getEffectiveLevel(), logging.INFO))
    for handler in logging.getLogger().handlers:
        handler.setLevel(min(handler.level, logging.INFO))


def _stop(scheduler: BackgroundScheduler, jobstore: SQLAlchemyJobStore, rt: _Runtime) -> None:
    """No new runs; the crawl in flight gets SIGINT, finishes and is detected; then the
    scheduler shuts down with every run that came due meanwhile still due."""
    log.info("stopping: no new runs; waiting for the round in flight")
    scheduler.pause()
    due = {job.id: job.next_run_time for job in scheduler.get_jobs()}
    rt.stop()
    while rt.active:
        time.sleep(0.2)  # waiting here, paused, keeps APScheduler from submitting more
    # APScheduler makes one last pass over its job stores after shutdown: give it none, or
    # it would submit (and fail) a due job and move that job's next run time past it.
    scheduler.remove_jobstore("default", shutdown=False)
    scheduler.shutdown(wait=True)
    _restore(jobstore, due, rt.deferred)
    jobstore.shutdown()


def _restore(jobstore: SQLAlchemyJobStore, due: dict[str, datetime | None],
             deferred: set[str]) -> None:
    """A run that came due while stopping never ran, though APScheduler may have moved the
    job's next run time past it: put the job back to due, so the next start runs it."""
    now = datetime.now(UTC)
    for job_id, was in due.items():
        job = jobstore.lookup_job(job_id)
        if job is None or (job_id not in deferred and job.next_run_time == was):
            continue
        job.next_run_time = now if job_id in deferred or was is None else min(was, now)
        jobstore.update_job(job)
        log.info("job %s did not run before the stop; due at the next start", job_id)


# -- one run: a crawl of the due targets, then detection ----------------------------------


def run_round_job(job_id: str, watchlist: str, targets: list[str], data: str,
                  db: str | None, phrases: list[str]) -> None:
    """The scheduled job: ``takedown crawl WATCHLIST --target …`` then ``takedown detect
    --watchlist WATCHLIST`` (which sends as its ``[notify]`` table and ``--notify`` say);
    the executor's single worker runs one at a time."""
    rt = _RUNTIME
    if rt is None:
        raise RuntimeError("run_round_job runs inside `takedown schedule` only")
    base = [sys.executable, "-m", "takedown", "--data", data, *(["--db", db] if db else [])]
    with rt.lock:
        rt.active += 1
    try:
        mode = "--adaptive" if job_id.startswith(RECHECK_JOB) else "--fixed"
        if not _crawl(rt, job_id, [*base, "crawl", watchlist, "--no-progress", mode], targets):
            rt.deferred.add(job_id)
            return
        _detect(rt, job_id, [*base, "detect", "--watchlist", watchlist,
                             *(a for p in phrases for a in ("--phrases", p))])
    finally:
        with rt.lock:
            rt.active -= 1


def _crawl(rt: _Runtime, job_id: str, cmd: list[str], targets: list[str]) -> bool:
    """One round of *targets*; False when stopping kept it from starting."""
    start = time.monotonic()
    before = rt.store.last_round_id()
    proc = rt.spawn([*cmd, *(a for t in targets for a in ("--target", t))], graceful=True)
    if proc is None:
        return False
    log.info("job %s: round of %s started (pid %s)", job_id, ", ".join(targets), proc.pid)
    try:
        code = proc.wait()
    finally:
        rt.forget(proc)
    _log_rounds(rt.store, before, job_id, code, time.monotonic() - start)
    return True


def _detect(rt: _Runtime, job_id: str, cmd: list[str]) -> None:
    # Started even when stopping, and spared the first signal: the round just captured
    # must be detected.
    start = time.monotonic()
    env = dict(os.environ, TAKEDOWN_NOTIFY=" ".join(rt.notify))
    proc = rt.spawn(cmd, graceful=False, stdout=subprocess.PIPE, text=True, env=env)
    assert proc is not None  # only crawls are refused when stopping
    try:
        out, _ = proc.communicate()
    finally:
        rt.forget(proc)
    level = logging.INFO if proc.returncode == 0 else logging.ERROR
    log.log(level, "job %s: %s (exit %s, %.1f s)", job_id, out.strip() or "detect",
            proc.returncode, time.monotonic() - start)


def _log_rounds(store: Store, before: int, job_id: str, code: int, seconds: float) -> None:
    rounds = store.rounds_since(before)
    if code != 0 or not rounds:
        log.error("job %s: crawl exited %s after %.1f s (rounds: %s)", job_id, code, seconds,
                  [rid for rid, _, _ in rounds] or "none")
    for rid, status, stats in rounds:
        log.info("job %s: round %s %s: %s captures, %s failed, %.1f s", job_id, rid,
                 stats.get("status", status), stats.get("captures", 0),
                 stats.get("failed", 0), seconds)
