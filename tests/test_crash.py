"""A crawl killed with SIGKILL at random moments leaves a consistent store.

Each kill lands somewhere in start-up, planning, fetching or writing; after every kill the
store must pass the integrity check (SQLite's own, foreign keys, orphans, every blob's hash),
every capture must be whole (a listing capture holds all its links), and a final round must
complete.  On the SQLite file and on the real PostgreSQL server (``TAKEDOWN_TEST_PG_URL``).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sitesim import RouteSite, crawl, page, serve, watchlist
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from snapshots import open_store
from snapshots.db import sqlite_file
from snapshots.models import Capture, LinkSet, Url

PAGES = 240
LINKS_PER_LISTING = 40


def routes() -> dict:
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"})}
    for n in range(PAGES // LINKS_PER_LISTING):
        links = "".join(f'<a href="/a/{n}-{i}.html">a {n}-{i}</a>'
                        for i in range(LINKS_PER_LISTING))
        r[f"/list/{n}.html"] = page(links)
        for i in range(LINKS_PER_LISTING):
            r[f"/a/{n}-{i}.html"] = page(f"<p>{'文章 ' * 200}{n}-{i}</p>", delay=0.01)
    index = "".join(f'<a href="/list/{n}.html">list {n}</a>'
                    for n in range(PAGES // LINKS_PER_LISTING))
    r["/index.html"] = page(index)
    return r


def check_consistent(db_url: str) -> None:
    store = open_store(db_url=db_url)
    try:
        assert store.integrity_problems() == []
        with store.session() as s:
            for cap_id, n_links in (
                s.query(Capture.id, LinkSet.count)
                .join(Url, Capture.url_id == Url.id).outerjoin(LinkSet)
                .filter(Url.url.like("%/list/%"), Capture.state == "ok")
            ):
                assert n_links == LINKS_PER_LISTING, f"capture {cap_id} has {n_links} links"
    finally:
        store.close()


def test_sigkill_mid_round_leaves_consistent_store(tmp_path: Path, db_url: str) -> None:
    site = RouteSite(routes())
    server = serve(site)
    wl = watchlist(tmp_path / "wl.toml",
                   f'[[target]]\nname = "site"\nurl = "{server.base_url}/index.html"\n'
                   "depth = 2\n",
                   "[crawl]\ntimeout = 5\nretries = 0\nconcurrency = 4\n")
    data = tmp_path / "data"
    rng = random.Random(int(os.environ.get("TAKEDOWN_CRASH_SEED", "20210322")))
    env = dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1")
    killed_with_data = 0
    for n in range(4):
        cmd = [sys.executable, "-m", "takedown", "--data", str(data), "--db", db_url,
               "crawl", str(wl), "--at", f"2021-03-{15 + n}T00:00:00Z"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        # the kill lands at a random moment of the round, counted from its start (a loaded
        # machine may take seconds just to start Python)
        deadline = time.monotonic() + 120
        while _began(db_url) <= n and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 2.5))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if _rounds(db_url):
            killed_with_data += 1
            check_consistent(db_url)
    assert killed_with_data >= 2, "the kills all landed before the first round began"
    done = crawl(wl, data, "2021-03-30T00:00:00Z", db=db_url)
    server.stop()
    assert done.returncode == 0, done.stderr
    check_consistent(db_url)
    store = open_store(db_url=db_url)
    rounds = store.rounds()
    assert rounds[-1]["status"] == "done" and rounds[-1]["captures"] == PAGES + 7
    assert all(r["status"] in ("interrupted", "done") for r in rounds)
    store.close()


def _began(db_url: str) -> int:
    """Rounds begun so far, read without opening (so without migrating) the store."""
    path = sqlite_file(db_url)
    if path is not None and not path.exists():
        return 0
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM rounds")).scalar_one()
    except SQLAlchemyError:  # no store yet, or its tables not yet made
        return 0
    finally:
        engine.dispose()


def _rounds(db_url: str) -> int:
    """Rounds in the store (0 when a kill landed before the first one began)."""
    store = open_store(db_url=db_url)
    try:
        return len(store.rounds())
    finally:
        store.close()
