"""Distributed crawl benchmark: a round on 1 and on 2 ``takedown worker``s, and 1 worker
against a bare Scrapy spider (and against a local ``takedown crawl`` on PostgreSQL).

The 1,011-page loopback site of ``bench.crawl_ratio`` is crawled ``RUNS`` times each by
the bare spider, by a local ``takedown crawl --db POSTGRESQL`` and by ``takedown crawl
--redis`` with one worker and with two; every
distributed run writes to a fresh PostgreSQL schema (all pages new, as in the crawl
benchmark) and uses its own Redis key prefix.  A run's time is the coordinator's wall time,
from its start to its summary; the workers are started with the round (cold: their
Scrapy start-up is inside the time, as the bare spider's is).  Every run must fetch each
page exactly once and store one capture a page.  Needs Redis and PostgreSQL on loopback
(``TAKEDOWN_TEST_REDIS_URL``/``TAKEDOWN_TEST_PG_URL``, else the local defaults); says so
and skips without them.  Run alone: ``python -m bench workers``.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.crawl_ratio import AT, ROOT, WATCHLIST, _bare_run, _check, _timed
from bench.site import BenchSite, server_classes

RUNS = 3
REDIS_URL = os.environ.get("TAKEDOWN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_URL = os.environ.get("TAKEDOWN_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def run() -> dict:
    """Measure, check, print the report; returns the figures for ``bench.json``."""
    missing = _services_missing()
    if missing:
        print(f"workers: skipped ({missing})")
        return {"skipped": missing}
    server_cls, reply_cls = server_classes()
    site = BenchSite(reply_cls)
    times: dict[str, list[float]] = {"bare": [], "local": [], "1 worker": [],
                                     "2 workers": []}
    with server_cls(site) as server, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        base = server.base_url.rstrip("/")
        wl = Path(tmp) / "watchlist.toml"
        wl.write_text(WATCHLIST.format(base=base), encoding="utf-8")
        for i in range(RUNS):
            times["bare"].append(_bare_run(site, base))
            times["local"].append(_distributed_run(site, wl, Path(tmp) / f"l-{i}", 0))
            for n in (1, 2):
                times[f"{n} worker" + ("s" if n > 1 else "")].append(
                    _distributed_run(site, wl, Path(tmp) / f"w{n}-{i}", n))
    figures = _figures(len(site.pages), times)
    _print_report(figures)
    return figures


def _services_missing() -> str | None:
    from redis import Redis, RedisError
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with Redis.from_url(REDIS_URL) as r:
            r.ping()
    except RedisError as exc:
        return f"no Redis at {REDIS_URL}: {exc}"
    try:
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except SQLAlchemyError as exc:
        return f"no PostgreSQL at {PG_URL}: {type(exc).__name__}"
    return None


def _distributed_run(site: BenchSite, wl: Path, data: Path, workers: int) -> float:
    """One round on *workers* fresh workers (0: a local ``takedown crawl`` on the same
    PostgreSQL); its time, once its captures are checked."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1", TAKEDOWN_REDIS_PREFIX=prefix)
    with _schema() as db:
        common = [sys.executable, "-m", "takedown", "--data", str(data), "--db", db]
        # the schema before the clock starts, for every kind of run alike
        subprocess.run([*common, "rounds"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        procs = [subprocess.Popen([*common, "worker", "--redis", REDIS_URL], cwd=ROOT,
                                  env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
                 for _ in range(workers)]
        try:
            os.environ["TAKEDOWN_REDIS_PREFIX"] = prefix    # _timed passes os.environ on
            redis = ["--redis", REDIS_URL] if workers else []
            seconds, _ = _timed(site, [*common, "crawl", str(wl), *redis, "--at", AT,
                                       "--no-progress"])
        finally:
            os.environ.pop("TAKEDOWN_REDIS_PREFIX", None)
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                _, err = p.communicate(timeout=60)
                _check(p.returncode == 0, f"worker exited {p.returncode}: {err[-2000:]}")
        rounds = json.loads(subprocess.run([*common, "rounds", "--json"], cwd=ROOT, env=env,
                                           capture_output=True, text=True,
                                           check=True).stdout)
    last = rounds[-1]
    _check((last["status"], last["captures"]) == ("done", len(site.pages)),
           f"distributed round on {workers} workers: {last}")
    return seconds


@contextmanager
def _schema() -> Iterator[str]:
    """A PostgreSQL URL whose tables go to a fresh schema, dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def _figures(pages: int, times: dict[str, list[float]]) -> dict:
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"pages": pages, "runs": RUNS,
            "seconds": {k: [round(s, 3) for s in v] for k, v in times.items()},
            "median_s": {k: round(v, 3) for k, v in med.items()},
            "speedup_2_vs_1": round(med["1 worker"] / med["2 workers"], 3),
            "one_worker_rate_vs_bare": round(med["bare"] / med["1 worker"], 3),
            "one_worker_rate_vs_local": round(med["local"] / med["1 worker"], 3),
            "pages_per_s": {k: round(pages / v, 1) for k, v in med.items()}}


def _print_report(f: dict) -> None:
    runs = range(1, f["runs"] + 1)
    print(f"workers: {f['pages']} pages on loopback, {f['runs']} runs each, "
          f"Redis + PostgreSQL, {os.cpu_count()} CPUs")
    print(f"{'':<22}" + "".join(f"{'run ' + str(i):>9}" for i in runs) + f"{'median':>9}"
          + f"{'pages/s':>9}")
    for label, key in (("bare scrapy", "bare"), ("takedown crawl (local)", "local"),
                       ("round, 1 worker", "1 worker"), ("round, 2 workers", "2 workers")):
        cells = "".join(f"{s:>8.2f}s" for s in f["seconds"][key])
        print(f"{label:<22}{cells}{f['median_s'][key]:>8.2f}s{f['pages_per_s'][key]:>9.1f}")
    print(f"round time, 1 worker / 2 workers: {f['speedup_2_vs_1']:.2f}")
    print(f"capture rate, 1 worker / bare scrapy: {f['one_worker_rate_vs_bare']:.2f}"
          f"  (/ local crawl on the same PostgreSQL: {f['one_worker_rate_vs_local']:.2f})")
