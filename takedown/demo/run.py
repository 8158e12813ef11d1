"""``takedown demo``: serve the demo site on loopback and crawl it over simulated days.

Each day is one real ``takedown crawl`` subprocess (Twisted's reactor runs once per
process) stamped with that day's ``--at``; a table of every round closes the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from takedown.demo.server import SiteServer
from takedown.demo.site import DemoSite


def crawl_command(watchlist: Path, data: Path, db: str | None, at: datetime) -> list[str]:
    cmd = [sys.executable, "-m", "takedown", "--data", str(data)]
    if db:
        cmd += ["--db", db]
    return cmd + ["crawl", str(watchlist), "--at", at.isoformat(), "--no-progress"]


def run_demo(data: Path, db: str | None, days: int, start: datetime) -> list[dict]:
    """Crawl *days* simulated days of the demo site into *data*; returns the round rows."""
    console = Console(soft_wrap=True)
    data.mkdir(parents=True, exist_ok=True)
    site = DemoSite(days=days)
    env = dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1")
    with SiteServer(site) as server:
        watchlist = data / "demo-watchlist.toml"
        watchlist.write_text(site.watchlist_toml(server.base_url), encoding="utf-8")
        console.print(f"demo site on {server.base_url}; watchlist {watchlist}")
        for day in range(days):
            site.day = day
            at = start + timedelta(days=day)
            t0 = time.monotonic()
            proc = subprocess.run(crawl_command(watchlist, data, db, at), env=env,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                console.print(proc.stdout, proc.stderr)
                raise SystemExit(f"crawl of day {day} failed (exit {proc.returncode})")
            console.print(f"day {day}: {at.date()} crawled in {time.monotonic() - t0:.1f} s")
            console.print(proc.stdout.rstrip(), highlight=False, markup=False)
    rows = _rounds(data, db)
    _print_rounds(console, rows[-days:])
    return rows


def _rounds(data: Path, db: str | None) -> list[dict]:
    cmd = [sys.executable, "-m", "takedown", "--data", str(data)]
    if db:
        cmd += ["--db", db]
    out = subprocess.run(cmd + ["rounds", "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _print_rounds(console: Console, rows: list[dict]) -> None:
    table = Table(title="demo rounds")
    for col in ("round", "simulated day", "status", "captures", "new blobs", "failures"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["id"]), r["at"][:10], r["status"], str(r["captures"]),
                      str(r["new_blobs"]), str(r["failed"]))
    console.print(table)
