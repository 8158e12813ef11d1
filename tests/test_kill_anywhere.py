"""SIGKILL at any moment of `crawl`, `detect` or `report` never damages the store.

Twenty kills, each of a real ``python -m takedown`` subprocess against a loopback site, at
offsets drawn (seeded, ``TAKEDOWN_KILL_SEED``) across each command's measured run time, so
they land in start-up, planning, fetching, writing, detection jobs and report writing.
After every kill:

- ``takedown check`` exits 0 (with ``--stale-after 0`` too, unless a round is open);
- a round the killed crawl left ``running`` is reported precisely: by default only in the
  summary line (it may be a live crawl), with ``--stale-after 0`` as the one problem; the
  next crawl marks it ``interrupted`` and ``check --stale-after 0`` is then clean;
- every capture committed before the kill is still there (a killed detect or report adds
  or removes none);
- a killed report left its folder whole or absent (never a partial report);
- the next run of the same command succeeds.

SQLite only: the crash tests of ``tests/test_crash.py`` cover PostgreSQL.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sitesim import RouteSite, page, serve, watchlist
from sqlalchemy import create_engine, func, select

from snapshots import open_store
from snapshots.db import default_url
from snapshots.models import Capture, Round
from takedown.cli import cli

pytestmark = pytest.mark.slow

KILLS = {"crawl": 7, "detect": 7, "report": 6}
ARTICLES = 30
SLOW = 0.1  # seconds per article in a crawl to be killed: about 1 s of fetching


def routes(day: int, delay: float = 0.0) -> dict:
    """Day *day* of the site: the first *day* articles are gone (404), the rest answer,
    each after *delay* seconds."""
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"})}
    links = "".join(f'<a href="/a/{i}.html">article {i}</a>' for i in range(ARTICLES))
    r["/index.html"] = page(f"<ul>{links}</ul>")
    for i in range(day, ARTICLES):
        r[f"/a/{i}.html"] = page(f"<article><h1>Article {i}</h1><p>{'文字 ' * 300}</p>"
                                 f"</article>", title=f"Article {i}", delay=delay)
    return r


@dataclass
class Bench:
    """The site, the store and the commands under test."""

    site: RouteSite
    wl: Path
    data: Path
    out: Path
    day: int = 0
    slow: bool = True   # killed crawls (and the one measured) fetch slowly: a wider window

    def argv(self, command: str) -> list[str]:
        head = [sys.executable, "-m", "takedown", "--data", str(self.data), command]
        if command == "crawl":
            self.day += 1
            self.site.swap(routes(self.day, SLOW if self.slow else 0.0))
            return head + [str(self.wl), "--no-progress", "--at",
                           f"2021-03-{self.day:02d}T00:00:00Z"]
        if command == "report":
            return head + ["--out", str(self.out), "--no-progress"]
        return head

    def run(self, command: str) -> float:
        """Run *command* to its end (a crawl of the quick site); returns its wall time."""
        self.slow = False
        start = time.monotonic()
        done = subprocess.run(self.argv(command), capture_output=True, text=True,
                              env=_env(), timeout=120)
        assert done.returncode == 0, f"{command} after a kill:\n{done.stderr[-3000:]}"
        return time.monotonic() - start

    def kill_at(self, command: str, offset: float) -> None:
        """Start *command* and SIGKILL it (its whole process group) *offset* s later."""
        self.slow = True
        proc = subprocess.Popen(self.argv(command), env=_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=offset)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def timed_slow_crawl(self) -> float:
        """The first round, as slow as the crawls to be killed; returns its wall time.  The
        store is made first: building the schema is no part of the crawls to be killed,
        and timing it would push their kills past their rounds."""
        open_store(self.data).close()
        self.slow = True
        start = time.monotonic()
        subprocess.run(self.argv("crawl"), capture_output=True, env=_env(), check=True)
        return time.monotonic() - start


def _env() -> dict[str, str]:
    return dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1")


@dataclass(frozen=True)
class Seen:
    """What the store holds: capture ids, rounds running or interrupted, the newest round."""

    captures: frozenset[int]
    running: tuple[int, ...]
    interrupted: tuple[int, ...]
    last_round: int | None


def seen(data: Path) -> Seen:
    engine = create_engine(default_url(data))

    def rounds(status: str) -> tuple[int, ...]:
        return tuple(conn.scalars(select(Round.id).where(Round.status == status)))

    try:
        with engine.connect() as conn:
            return Seen(frozenset(conn.scalars(select(Capture.id))), rounds("running"),
                        rounds("interrupted"), conn.scalar(select(func.max(Round.id))))
    finally:
        engine.dispose()


def check(data: Path, *extra: str) -> tuple[int, list[str], str]:
    """`takedown check`: exit code, problem lines (stdout), summary line."""
    result = CliRunner().invoke(cli, ["--data", str(data), "check", *extra],
                                catch_exceptions=False)
    problems = result.stdout.splitlines()
    summary = result.stderr.strip() if result.exit_code else problems.pop()
    return result.exit_code, problems, summary


def moments(rng: random.Random, took: dict[str, float]) -> list[tuple[str, float]]:
    """(command, offset) for every kill: each command's offsets stratified over 0–110 % of
    its measured run time, then all shuffled."""
    out = []
    for command, n in KILLS.items():
        out += [(command, took[command] * 1.1 * (j + rng.random()) / n) for j in range(n)]
    rng.shuffle(out)
    return out


def where_landed(command: str, before: Seen, after: Seen) -> str:
    """The kill's moment as the store shows it; asserts nothing committed was lost."""
    lost = before.captures - after.captures
    assert not lost, f"{command} killed: captures {sorted(lost)} lost"
    if command != "crawl":
        assert after == before, f"{command} killed: captures or rounds changed"
        return command
    if after.last_round == before.last_round:
        return "crawl before its round"
    if after.running:
        # a crawl closes any round left open before it opens its own
        assert after.running == (after.last_round,), after
        new = len(after.captures - before.captures)
        return "crawl mid-round" + (" with captures" if new else "")
    return "crawl after its round"


def assert_check_after_kill(data: Path, running: tuple[int, ...]) -> None:
    code, problems, summary = check(data)
    assert (code, problems) == (0, []), problems
    assert summary.startswith("store OK: ")
    strict = check(data, "--stale-after", "0")
    if not running:
        assert strict[:2] == (0, []) and "running" not in summary, (strict, summary)
        return
    (rid,) = running
    assert f"1 running (round {rid} last active " in summary, summary
    assert strict[0] == 1 and len(strict[1]) == 1, strict
    assert strict[1][0].startswith(f"round {rid} (at ") and "is still running" in strict[1][0]


def assert_report_whole(out: Path) -> None:
    """A report folder holds a whole report, or is absent (killed between two renames)."""
    if out.exists():
        assert sorted(p.name for p in out.iterdir()) == sorted(
            ["events.csv", "report.html", "report.json", "report.md", "takedowns.csv"])
        json.loads((out / "report.json").read_text(encoding="utf-8"))


def kill_and_recover(bench: Bench, command: str, offset: float) -> str:
    """One kill, the checks after it and the next run of *command*; where it landed."""
    before = seen(bench.data)
    bench.kill_at(command, offset)
    after = seen(bench.data)
    landed = where_landed(command, before, after)
    assert_check_after_kill(bench.data, after.running)
    if command == "report":
        assert_report_whole(bench.out)
    bench.run(command)
    rerun = seen(bench.data)
    assert rerun.running == () and after.captures <= rerun.captures
    assert set(after.running) <= set(rerun.interrupted)  # closed by the next crawl
    assert check(bench.data, "--stale-after", "0")[:2] == (0, [])
    return landed


def test_sigkill_anywhere_in_crawl_detect_report(tmp_path: Path) -> None:
    site = RouteSite(routes(0))
    server = serve(site)
    wl = watchlist(tmp_path / "wl.toml",
                   f'[[target]]\nname = "site"\nurl = "{server.base_url}/index.html"\n'
                   "depth = 1\n",
                   "[crawl]\ntimeout = 5\nretries = 0\nconcurrency = 4\n")
    bench = Bench(site, wl, tmp_path / "data", tmp_path / "report")
    rng = random.Random(int(os.environ.get("TAKEDOWN_KILL_SEED", "20210415")))
    try:
        took = {"crawl": bench.timed_slow_crawl(), "detect": bench.run("detect"),
                "report": bench.run("report")}
        landed = Counter(kill_and_recover(bench, command, offset)
                         for command, offset in moments(rng, took))
    finally:
        server.stop()
    assert sum(landed.values()) == sum(KILLS.values())
    # the kills reached the moments that matter (else the checks above proved little)
    assert landed["crawl before its round"] and landed["crawl mid-round with captures"], landed
