"""Distributed rounds over the real Redis and PostgreSQL on loopback.

The frontier's delivery rules are checked directly on Redis (one fetch per URL whatever
number of targets claim it, lease, acknowledge once, requeue a dead worker's requests);
then the demo site is crawled day after day both by a single ``takedown crawl`` and by
``takedown crawl --redis`` with two ``takedown worker`` processes writing to PostgreSQL,
with one worker SIGKILLed in the middle of the last round: both stores must hold the same
captures and yield the same takedowns.

Each test has its own Redis key prefix, deleted afterwards.  Needs
``TAKEDOWN_TEST_REDIS_URL`` and ``TAKEDOWN_TEST_PG_URL`` (skips, saying so, without).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from crawler.fetches import Claim
from crawler.frontier import Entry, Frontier, FrontierError
from snapshots.models import Capture, Round, Url
from takedown.demo.server import Reply, SiteServer
from takedown.demo.site import DemoSite

REDIS_URL = os.environ.get("TAKEDOWN_TEST_REDIS_URL")
ROOT = Path(__file__).resolve().parents[1]
START = datetime(2021, 3, 15, tzinfo=UTC)
DAYS = 4          # the demo's first takedowns fall on days 2 and 3
LEASE = 2.0       # seconds: how soon a killed worker's requests go to the other one


@pytest.fixture
def frontier(prefix: str) -> Frontier:
    return Frontier.from_url(REDIS_URL, prefix)


# -- the frontier's delivery rules -------------------------------------------------------------


def test_one_fetch_per_url_whatever_number_of_targets_claim_it(frontier: Frontier) -> None:
    frontier.open_round(7, {"round_id": 7})
    url = "http://127.0.0.1:1/a"

    def claim(target: str, depth: int, via: str = "link") -> int:
        return frontier.claim(7, url, url, Claim(target, depth, via, via == "link"))

    assert claim("gov", 0, "seed") == 1              # the first claim queues the fetch
    assert claim("gov", 1) == 0                      # the same target, not less deep
    assert claim("news", 2) == 2                     # another target joins the fetch
    assert (frontier.pending(7), frontier.waiting()) == (1, 1)
    assert {t: c["queued"] for t, c in frontier.tally(7).items()} == {"gov": 1, "news": 1}
    assert frontier.take_claims(7, url) == [Claim("gov", 0, "seed"),
                                            Claim("news", 2, "link", True)]
    # claims while the fetch is being recorded go back to the worker that holds it
    assert claim("news", 1) == 2 and claim("wx", 1) == 2
    assert frontier.finish_claims(7, url) == [(Claim("news", 1, "link", True), True),
                                              (Claim("wx", 1, "link", True), False)]
    assert frontier.finish_claims(7, url) == []      # nothing left: the fetch is done
    # after that, a claim is a reuse of the fetch (or a deeper follow of its links)
    assert claim("late", 2) == 3 and claim("news", 0) == 3 and claim("late", 2) == 0
    entries = [Entry.decode(raw) for raw in frontier.lease("w", 10)]
    assert sorted((e.kind, e.target, e.depth) for e in entries) == [
        ("fetch", "gov", 0), ("follow", "news", 0), ("reuse", "late", 2)]
    assert frontier.pending(7) == 3


def test_ack_counts_once_and_a_dead_workers_lease_is_requeued(frontier: Frontier) -> None:
    frontier.open_round(1, {"round_id": 1})
    for i in range(3):
        url = f"http://127.0.0.1:1/{i}"
        frontier.claim(1, url, url, Claim("t", 0, "seed"))
    frontier.heartbeat("alive", lease=60)
    frontier.heartbeat("dead", lease=60)
    mine, theirs = frontier.lease("alive", 1), frontier.lease("dead", 2)
    assert (len(mine), len(theirs), frontier.waiting()) == (1, 2, 0)
    assert frontier.ack("alive", mine[0]) and not frontier.ack("alive", mine[0])
    assert frontier.pending(1) == 2
    assert frontier.reap() == 0                          # both leases still held
    frontier.server.delete(frontier.key("worker", "dead", "alive"))   # its lease expired
    assert frontier.reap() == 2
    assert frontier.workers() == ["alive"] and frontier.waiting() == 2
    # the presumed-dead worker finishing late must not count its requests twice
    assert not frontier.ack("dead", theirs[0])
    again = frontier.lease("alive", 5)
    assert sorted(again) == sorted(theirs)
    assert all(frontier.ack("alive", raw) for raw in again)
    assert frontier.pending(1) == 0


def test_one_coordinator_at_a_time(frontier: Frontier) -> None:
    token = frontier.lock()
    with pytest.raises(FrontierError, match="another round is running"):
        frontier.lock()
    frontier.unlock(token)
    frontier.unlock(frontier.lock())


def test_cli_names_an_unreachable_redis(tmp_path: Path) -> None:
    wl = tmp_path / "wl.toml"
    wl.write_text('[[target]]\nname = "a"\nurl = "http://127.0.0.1:9/"\n')
    run = _takedown("--data", str(tmp_path / "d"), "crawl", str(wl), "--redis",
                    "redis://127.0.0.1:1/0")
    assert run.returncode == 2
    assert run.stderr.startswith("error: cannot use Redis at redis://127.0.0.1:1/0")


# -- the demo site: local round vs distributed rounds ---------------------------------------------


class SlowSite:
    """The demo site, optionally answering every request after *delay* seconds (so a round
    lasts long enough to kill a worker in its middle)."""

    def __init__(self, site: DemoSite) -> None:
        self.site, self.delay = site, 0.0

    def __call__(self, method: str, path: str, headers: Mapping[str, str]) -> Reply:
        reply = self.site(method, path, headers)
        return replace(reply, delay=self.delay) if self.delay else reply


def test_two_workers_match_a_local_crawl_even_when_one_is_killed(
        tmp_path: Path, prefix: str, frontier: Frontier, pg_url: str) -> None:
    site = DemoSite(days=DAYS)
    slow = SlowSite(site)
    local = ["--data", str(tmp_path / "local")]
    shared = ["--data", str(tmp_path / "unused"), "--db", pg_url]
    env = {"TAKEDOWN_REDIS_PREFIX": prefix}
    with SiteServer(slow) as server:
        wl = tmp_path / "wl.toml"
        wl.write_text(site.watchlist_toml(server.base_url), encoding="utf-8")
        with _killed_after([_start(*shared, "worker", "--redis", REDIS_URL, "--lease",
                                   str(LEASE), env=env) for _ in range(2)]) as workers:
            for day in range(DAYS):
                site.day = day
                at = (START + timedelta(days=day)).isoformat()
                # the local round runs alongside (the demo site answers alike to both)
                alone = _start(*local, "crawl", str(wl), "--at", at, "--no-progress")
                if day == DAYS - 1:
                    slow.delay = 0.15
                    _round_with_a_kill(shared, wl, at, env, frontier, workers)
                    _finish(alone)
                    continue
                out = _finish(_start(*shared, "crawl", str(wl), "--redis", REDIS_URL,
                                     "--at", at, "--no-progress", env=env))
                assert f"round {day + 1} at {at} (done)" in out
                # the summary sums what both workers did: the local round's figures
                assert _totals(out) == _totals(_finish(alone))
            survivor = next(w for w in workers if w.poll() is None)
            survivor.send_signal(signal.SIGTERM)             # drains, then exits cleanly
            _, err = survivor.communicate(timeout=30)
            assert survivor.returncode == 0, err[-3000:]
            assert "not stored" not in err and "not parsed" not in err, err[-3000:]
    assert _captures(f"sqlite:///{tmp_path / 'local' / 'takedown.sqlite'}") == _captures(pg_url)
    ours, theirs = _exports(shared, local)
    assert ours == theirs and {r["kind"] for r in ours} >= {"removed", "censored"}
    assert not list(frontier.server.scan_iter(match=f"{prefix}:worker:*"))


def _round_with_a_kill(shared: list[str], wl: Path, at: str, env: dict,
                       frontier: Frontier, workers: list[subprocess.Popen]) -> None:
    """The round of *at*, with a worker SIGKILLed while it holds leased requests, once
    some captures are in; the round must still finish, its requests requeued."""
    coord = _start(*shared, "crawl", str(wl), "--redis", REDIS_URL, "--at", at,
                   "--no-progress", env=env)
    victim, wid = _busy_worker(frontier, workers, coord)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert frontier.leased(wid) > 0            # requests the dead worker can never ack
    assert "(done)" in _finish(coord)
    assert frontier.leased(wid) == 0 and wid not in frontier.workers()


def _busy_worker(frontier: Frontier, workers: list[subprocess.Popen],
                 coord: subprocess.Popen) -> tuple[subprocess.Popen, str]:
    by_pid = {w.pid: w for w in workers}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and coord.poll() is None:
        rid = frontier.round_id()
        done = sum(c["captures"] for c in frontier.tally(rid).values()) if rid else 0
        for wid in frontier.workers():
            pid = int(wid.rsplit("-", 2)[1])   # ids are host-pid-random
            if done >= 5 and frontier.leased(wid) >= 4 and pid in by_pid:
                return by_pid[pid], wid
        time.sleep(0.01)
    raise AssertionError("no worker held leased requests mid-round")


@contextmanager
def _killed_after(procs: list[subprocess.Popen]) -> Iterator[list[subprocess.Popen]]:
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def _start(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "takedown", *args], cwd=ROOT,
                            env=dict(os.environ, **(env or {})), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"{proc.args[3:]}: {out[-2000:]}{err[-3000:]}"
    return out


def _takedown(*args: str, env: dict | None = None,
              check: bool = False) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "takedown", *args], cwd=ROOT,
                         env=dict(os.environ, **(env or {})), capture_output=True, text=True,
                         timeout=120)
    if check:
        assert run.returncode == 0, f"{args}: {run.stdout[-2000:]}{run.stderr[-3000:]}"
    return run


def _totals(summary: str) -> list[int]:
    """The figures of the "all" row of a round's summary table."""
    row = next(line for line in summary.splitlines() if "│ all " in line)
    return [int(cell) for cell in row.split("│")[2:-1]]


def _captures(db_url: str) -> dict[str, set[tuple]]:
    """Round stamp -> {(url, state, body hash)} of every capture of that round."""
    engine = create_engine(db_url)
    q = (select(Round.at, Url.url, Capture.state, Capture.body_sha256)
         .join(Capture, Capture.round_id == Round.id).join(Url, Capture.url_id == Url.id))
    out: dict[str, set[tuple]] = {}
    with engine.connect() as conn:
        for at, url, state, sha in conn.execute(q):
            out.setdefault(at.replace(tzinfo=UTC).isoformat()[:10], set()).add(
                (url, state, sha))
    engine.dispose()
    assert len(out) == DAYS and all(out.values())
    return out


def _exports(*stores: list[str]) -> list[list[dict]]:
    """Detect, then export, in each store (side by side); the records without row ids."""
    for proc in [_start(*common, "detect") for common in stores]:
        _finish(proc)
    outs = [_finish(p) for p in [_start(*common, "export") for common in stores]]
    return [[_without_ids(json.loads(line)) for line in out.splitlines()] for out in outs]


def _without_ids(value: object) -> object:
    """A record without the store's row ids (they differ between two stores)."""
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items()
                if k != "id" and not k.endswith("_id")}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def test_a_worker_serves_only_the_coordinators_database(tmp_path: Path) -> None:
    from crawler.distributed import serves
    from snapshots import open_store

    store = open_store(tmp_path)
    rid = store.begin_round(START)
    assert serves(store, rid, START)
    assert not serves(store, rid, START + timedelta(days=1))    # same id, another store
    assert not serves(store, rid + 1, START)
    store.close()


def test_a_worker_refusing_a_round_of_another_database_serves_the_next_of_the_same_id(
        tmp_path: Path, prefix: str, frontier: Frontier, pg_url: str) -> None:
    """Redis still publishes round 1 of some other database (its coordinator died) when
    the worker starts; this database's first round, also numbered 1, must be served."""
    from dataclasses import asdict

    from crawler.watchlist import CrawlSpec

    frontier.open_round(1, {"round_id": 1, "at": "2000-01-01T00:00:00+00:00",
                            "crawl": asdict(CrawlSpec()), "targets": [], "drop": {}})
    site = DemoSite(days=1)
    shared = ["--data", str(tmp_path / "unused"), "--db", pg_url]
    env = {"TAKEDOWN_REDIS_PREFIX": prefix}
    with SiteServer(site) as server:
        wl = tmp_path / "wl.toml"
        wl.write_text(site.watchlist_toml(server.base_url), encoding="utf-8")
        with _killed_after([_start(*shared, "worker", "--redis", REDIS_URL,
                                   env=env)]) as (worker,):
            deadline = time.monotonic() + 30
            while not frontier.workers() and time.monotonic() < deadline:
                time.sleep(0.05)             # the worker has read the stale round
            assert frontier.workers(), "the worker never started"
            coord = _start(*shared, "crawl", str(wl), "--redis", REDIS_URL, "--at",
                           START.isoformat(), "--no-progress", env=env)
            try:
                out, err = coord.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                coord.kill()
                _, err = coord.communicate()
                worker.kill()
                raise AssertionError("round 1 was never served: "
                                     + worker.communicate()[1][-2000:]) from None
            assert coord.returncode == 0, err[-2000:]
            assert f"round 1 at {START.isoformat()} (done)" in out
            assert _totals(out)[0] > 0
