"""``takedown demo``: serve the demo site on loopback and crawl it over simulated days.

Each day is one real ``takedown crawl`` subprocess (Twisted's reactor runs once per
process) stamped with that day's ``--at``, followed by ``takedown detect``; a table of
every round and one of the takedowns found close the run, then ``takedown report`` writes
the report against ``events.toml`` to ``DATA/report/``.  The site's base URL and day
count are written to ``DATA/demo-site.json`` so tests can score the result against the
site's ground truth.
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
from sqlalchemy.engine import make_url

from takedown.demo.server import SiteServer
from takedown.demo.site import DemoSite
from takedown.summary import wide_console

EVENTS = Path(__file__).with_name("events.toml")  # documented-style events on the demo's days


def _base(data: Path, db: str | None) -> list[str]:
    cmd = [sys.executable, "-m", "takedown", "--data", str(data)]
    return cmd + ["--db", db] if db else cmd


def _run(cmd: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[3:])} failed (exit {proc.returncode}):\n"
                         f"{proc.stdout}{proc.stderr}")
    return proc


def run_demo(data: Path, db: str | None, days: int, start: datetime) -> list[dict]:
    """Crawl and detect *days* simulated days of the demo site; returns the takedowns."""
    console = wide_console()
    data.mkdir(parents=True, exist_ok=True)
    site = DemoSite(days=days)
    env = dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1")
    with SiteServer(site) as server:
        watchlist = data / "demo-watchlist.toml"
        watchlist.write_text(site.watchlist_toml(server.base_url), encoding="utf-8")
        (data / "demo-site.json").write_text(json.dumps(
            {"base_url": server.base_url, "days": days, "start": start.isoformat()}))
        console.print(f"demo site on {server.base_url}; watchlist {watchlist}")
        for day in range(days):
            site.day = day
            at = start + timedelta(days=day)
            t0 = time.monotonic()
            crawl = _run(_base(data, db) + ["crawl", str(watchlist), "--at", at.isoformat(),
                                            "--no-progress"], env)
            found = _run(_base(data, db) + ["detect"])
            console.print(f"day {day}: {at.date()} crawled and detected in "
                          f"{time.monotonic() - t0:.1f} s")
            console.print(crawl.stdout.rstrip(), highlight=False, markup=False)
            console.print(found.stdout.rstrip(), highlight=False, markup=False)
    _print_rounds(console, json.loads(_run(_base(data, db) + ["rounds", "--json"]).stdout))
    takedowns = [json.loads(line) for line in
                 _run(_base(data, db) + ["export", "--format", "jsonl"]).stdout.splitlines()]
    _print_takedowns(console, takedowns, server_base=json.loads(
        (data / "demo-site.json").read_text())["base_url"])
    _write_report(console, data, db)
    return takedowns


def _write_report(console: Console, data: Path, db: str | None) -> None:
    """The demo ends with the report laid against its events, and how to browse it."""
    out = data / "report"
    _run(_base(data, db) + ["report", "--events", str(EVENTS), "--out", str(out),
                            "--no-progress"])
    shown_db = make_url(db).render_as_string(hide_password=True) if db else None
    serve = f"takedown --data {data}" + (f" --db {shown_db}" if db else "") + " serve"
    console.print(f"report written to {out / 'report.html'} (also report.md, "
                  f"takedowns.csv, events.csv, report.json)", highlight=False)
    console.print(f"browse the captures side by side: {serve}", highlight=False)


def _print_rounds(console: Console, rows: list[dict]) -> None:
    table = Table(title="demo rounds")
    for col in ("round", "simulated day", "status", "captures", "new blobs", "failures"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["id"]), r["at"][:10], r["status"], str(r["captures"]),
                      str(r["new_blobs"]), str(r["failed"]))
    console.print(table)


def _print_takedowns(console: Console, rows: list[dict], server_base: str) -> None:
    table = Table(title=f"takedowns found on the demo site ({len(rows)})")
    for col in ("detected", "kind", "target", "url", "item", "last seen", "restored", "why"):
        table.add_column(col, overflow="fold")
    for r in rows:
        ev = r.get("evidence", {})
        why = ev.get("phrase") or ev.get("rule", "")
        table.add_row(r["detected_at"][:10], r["kind"], r["target"],
                      r["url"].removeprefix(server_base), r.get("item", ""),
                      r["last_seen"][:10], (r.get("restored_at") or "")[:10], why)
    console.print(table)
