"""A store that fills up mid-round fails the round loudly and stays consistent.

SQLite itself answers "database or disk is full" (SQLITE_FULL): the crawl process caps
the database file at a few pages more than it holds (``TAKEDOWN_SQLITE_MAX_PAGES``, the
test hook of ``snapshots.db``), so a real crawl of a loopback site runs out of room midway;
where this process may mount a tmpfs, the store also lives on a real disk that fills up.
The crawl must exit 2 naming the capture it could not store, leave the round
``interrupted`` (never ``done`` with holes) with the captures committed before intact and
counted, and a later crawl with room must complete.  A distributed round
(``crawl --redis``, needs ``TAKEDOWN_TEST_REDIS_URL``) whose worker meets a full store
ends the same way.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sitesim import RouteSite, page, serve, watchlist
from sqlalchemy import text

from snapshots import open_store
from snapshots.models import Capture

ARTICLES = 12
CAPTURES = ARTICLES + 1    # the index and its articles (the not-found probe aside)
BODY_BYTES = 12_000        # incompressible: each capture needs a few pages of its own
ROOM_PAGES = 24            # pages beyond the schema: room for some captures, not all
REDIS_URL = os.environ.get("TAKEDOWN_TEST_REDIS_URL")
FULL = "database or disk is full"


def routes() -> dict:
    rng = random.Random(20210322)
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"})}
    for i in range(ARTICLES):
        noise = base64.b64encode(rng.randbytes(BODY_BYTES)).decode("ascii")
        r[f"/a/{i}.html"] = page(f"<p>article {i}</p><p>{noise}</p>")
    r["/index.html"] = page("".join(f'<a href="/a/{i}.html">a {i}</a>'
                                    for i in range(ARTICLES)))
    return r


def environment(max_pages: int | None = None, **extra: str) -> dict[str, str]:
    """This process's environment, loopback only, the database capped at *max_pages*."""
    env = dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1", **extra)
    env.pop("TAKEDOWN_SQLITE_MAX_PAGES", None)
    if max_pages is not None:
        env["TAKEDOWN_SQLITE_MAX_PAGES"] = str(max_pages)
    return env


def takedown(data: Path, *args: str, max_pages: int | None = None,
             **extra: str) -> subprocess.CompletedProcess:
    """``python -m takedown --data DATA ARGS`` with the database capped at *max_pages*."""
    return subprocess.run([sys.executable, "-m", "takedown", "--data", str(data), *args],
                          capture_output=True, text=True, timeout=120,
                          env=environment(max_pages, **extra))


def crawl(data: Path, wl: Path, day: int, *extra: str, max_pages: int | None = None,
          **env: str) -> subprocess.CompletedProcess:
    return takedown(data, "crawl", str(wl), "--at", f"2021-03-{15 + day}T00:00:00Z",
                    "--no-progress", *extra, max_pages=max_pages, **env)


def page_count(data: Path) -> int:
    """Pages of the store in *data* (created, schema and all, if missing)."""
    store = open_store(data)
    try:
        with store.engine.connect() as conn:
            return conn.execute(text("PRAGMA page_count")).scalar_one()
    finally:
        store.close()


def rounds(data: Path) -> list[dict]:
    run = takedown(data, "rounds", "--json")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def assert_failed_loudly(run: subprocess.CompletedProcess) -> None:
    """Exit 2, ending with an ``error:`` line naming the capture and the store's reason."""
    assert run.returncode == 2, run.stderr[-3000:]
    last = run.stderr.splitlines()[-1]
    assert last.startswith("error: could not store capture of http://127.0.0.1:"), last
    assert f": {FULL}; round " in last and "Traceback" not in run.stderr


def assert_kept_whole(data: Path) -> None:
    """The interrupted first round: whole captures, counted alike by its stats and by
    ``takedown rounds``, no capture without its blob, every blob matching its hash."""
    first = rounds(data)[0]
    assert first["status"] == "interrupted"
    assert 0 < first["captures"] < CAPTURES, "the store did not fill midway"
    store = open_store(data)
    try:
        assert store.integrity_problems() == []
        counted = store.round_counts(first["id"])["site"]
        with store.session() as s:
            rows = s.query(Capture).filter(Capture.round_id == first["id"]).count()
            stats = json.loads(s.execute(text("SELECT stats FROM rounds WHERE id = :i"),
                                         {"i": first["id"]}).scalar_one())
    finally:
        store.close()
    assert counted["captures"] + counted["probes"] == rows
    assert stats["captures"] == counted["captures"] == first["captures"]
    assert stats["status"] == "interrupted" and FULL in stats["error"]


def the_site(tmp: Path) -> tuple[Path, object]:
    """The loopback site (started) and a watchlist of it: the index, depth 1."""
    server = serve(RouteSite(routes()))
    wl = watchlist(tmp / "wl.toml", f'[[target]]\nname = "site"\n'
                                    f'url = "{server.base_url}/index.html"\ndepth = 1\n')
    return wl, server


# -- a capped database ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory):
    """One round into a store with room for part of it, then one with room for all."""
    tmp = tmp_path_factory.mktemp("capped")
    wl, server = the_site(tmp)
    data = tmp / "data"
    runs = {"full": crawl(data, wl, 0, max_pages=page_count(data) + ROOM_PAGES)}
    runs["full_rounds"] = rounds(data)
    runs["roomy"] = crawl(data, wl, 1)
    server.stop()
    return {"runs": runs, "data": data}


def test_a_full_store_fails_the_crawl_saying_what_was_kept(capped) -> None:
    run = capped["runs"]["full"]
    assert_failed_loudly(run)
    kept = capped["runs"]["full_rounds"][0]["captures"]
    assert run.stderr.splitlines()[-1].endswith(
        f"; round 1 interrupted (captures stored: {kept})")


def test_the_round_that_filled_the_store_is_interrupted_and_the_next_is_done(capped) -> None:
    first, second = capped["runs"]["full_rounds"][0], rounds(capped["data"])[1]
    assert first["status"] == "interrupted" and FULL in first["error"]   # rounds --json says why
    assert 0 < first["captures"] < CAPTURES, "the store did not fill midway"
    assert capped["runs"]["roomy"].returncode == 0, capped["runs"]["roomy"].stderr[-3000:]
    assert (second["status"], second["captures"], second["error"]) == ("done", CAPTURES, None)


def test_captures_committed_before_the_failure_are_intact_and_counted(capped) -> None:
    assert_kept_whole(capped["data"])


# -- a real full disk --------------------------------------------------------------------------


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of *size* mounted at *where* (skips where this process may not mount)."""
    where.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                                  str(where)], capture_output=True, text=True)
    except FileNotFoundError:
        pytest.skip("no mount command")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_a_disk_that_fills_up_fails_the_round_and_one_freed_completes(tmp_path: Path) -> None:
    wl, server = the_site(tmp_path)
    with tmpfs(tmp_path / "disk", "480k") as disk:   # the empty store: ~210k
        data = disk / "data"
        try:
            assert_failed_loudly(crawl(data, wl, 0))
            assert_kept_whole(data)
            still_full = crawl(data, wl, 1)   # fails whether at the round's start or later
            assert still_full.returncode == 2 and "Traceback" not in still_full.stderr
            assert still_full.stderr.splitlines()[-1].startswith("error: ")
            assert FULL in still_full.stderr, still_full.stderr[-3000:]
            subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True)
            freed = crawl(data, wl, 2)
            assert freed.returncode == 0, freed.stderr[-3000:]
            assert (rounds(data)[-1]["status"], rounds(data)[-1]["captures"]) == (
                "done", CAPTURES)
        finally:
            server.stop()


# -- a distributed round ---------------------------------------------------------------------


def test_a_worker_meeting_a_full_store_fails_the_distributed_round(
        tmp_path: Path, prefix: str) -> None:
    wl, server = the_site(tmp_path)
    data = tmp_path / "data"
    worker = subprocess.Popen(
        [sys.executable, "-m", "takedown", "--data", str(data), "worker", "--redis",
         REDIS_URL, "--lease", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, env=environment(page_count(data) + ROOM_PAGES,
                                   TAKEDOWN_REDIS_PREFIX=prefix))
    try:
        run = crawl(data, wl, 0, "--redis", REDIS_URL, TAKEDOWN_REDIS_PREFIX=prefix)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
        server.stop()
    assert_failed_loudly(run)
    assert worker.returncode == 0 and "given up" in err, err[-3000:]
    assert_kept_whole(data)


def test_a_refused_capture_is_named_by_the_drivers_words_without_sql() -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    from crawler.pipelines import not_stored, store_reason

    engine = create_engine("sqlite://")
    with pytest.raises(OperationalError) as refused, engine.connect() as conn:
        conn.execute(text("INSERT INTO blobs VALUES ('secret body')"))
    engine.dispose()
    message = not_stored("http://127.0.0.1/a", store_reason(refused.value))
    assert message == "could not store capture of http://127.0.0.1/a: no such table: blobs"
