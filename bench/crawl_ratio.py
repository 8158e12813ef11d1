"""Crawl benchmark: wall time of ``takedown crawl`` over that of a bare Scrapy spider.

Both crawl the same 1,011 local pages (``bench.pages``) as subprocesses, alternately,
``RUNS`` times each, every takedown run in a fresh data folder; the medians give the
ratio (goal <= ``GOAL``).  Every run must fetch each page exactly once (the server counts
hits per path, robots.txt aside) and every takedown round must store one capture a page.
A second takedown round on the last data folder (unchanged site: the revisit path, no new
blobs) is reported as extra information.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.site import BenchSite, server_classes

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3
GOAL = 1.5
AT, AT_NEXT = "2021-03-15T00:00:00Z", "2021-03-16T00:00:00Z"
WATCHLIST = """\
[crawl]
concurrency = 16
delay = 0
timeout = 10
retries = 1

[[target]]
name = "bench"
url = "{base}/index.html"
depth = 2
"""


def run() -> dict:
    """Measure, check, print the report; returns the figures for ``bench.json``."""
    server_cls, reply_cls = server_classes()
    site = BenchSite(reply_cls)
    with server_cls(site) as server, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        base = server.base_url.rstrip("/")
        wl = Path(tmp) / "watchlist.toml"
        wl.write_text(WATCHLIST.format(base=base), encoding="utf-8")
        bare, ours = [], []
        for i in range(RUNS):
            bare.append(_bare_run(site, base))
            data = Path(tmp) / f"data-{i}"
            # one blob a page, plus the site's not-found page (the round's probe)
            ours.append(_takedown_run(site, data, wl, AT, new_blobs=len(site.pages) + 1))
        revisit = _takedown_run(site, data, wl, AT_NEXT, new_blobs=0)
    figures = _figures(len(site.pages), bare, ours, revisit, server_cls.__name__)
    _print_report(figures)
    return figures


def _bare_run(site: BenchSite, base: str) -> float:
    seconds, out = _timed(site, [sys.executable, "-m", "bench.bare_spider", base])
    _check(json.loads(out)["responses"] == len(site.pages), f"bare spider: {out.strip()}")
    return seconds


def _takedown_run(site: BenchSite, data: Path, wl: Path, at: str, new_blobs: int) -> float:
    seconds, _ = _timed(site, _takedown(data, "crawl", str(wl), "--at", at, "--no-progress"))
    rounds = json.loads(subprocess.run(_takedown(data, "rounds", "--json"), cwd=ROOT,
                                       capture_output=True, text=True, check=True).stdout)
    last = rounds[-1]
    ok = (last["status"], last["captures"], last["new_blobs"]) == ("done", len(site.pages),
                                                                   new_blobs)
    _check(ok, f"takedown round: {last}")
    return seconds


def _takedown(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "takedown", "--data", str(data), *args]


def _timed(site: BenchSite, cmd: list[str]) -> tuple[float, str]:
    """Run *cmd*; its wall time and stdout, once its exit code and hits are checked."""
    site.take_hits()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}  # loopback only
    env["TAKEDOWN_LOOPBACK_ONLY"] = "1"
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    _check(proc.returncode == 0, f"{' '.join(cmd[2:4])} exited {proc.returncode}:\n"
                                 f"{proc.stderr[-3000:]}")
    hits = site.take_hits()
    expected = Counter(dict.fromkeys(site.pages, 1))
    _check(hits == expected, f"{' '.join(cmd[2:4])}: {sum(hits.values())} hits on "
                             f"{len(hits)} paths, expected each of {len(expected)} once")
    return seconds, proc.stdout


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise SystemExit(f"crawl benchmark: {message}")


def _figures(pages: int, bare: list[float], ours: list[float], revisit: float,
             server: str) -> dict:
    bare_med, ours_med = statistics.median(bare), statistics.median(ours)
    return {"pages": pages, "runs": len(bare), "server": server,
            "bare_s": [round(s, 3) for s in bare], "takedown_s": [round(s, 3) for s in ours],
            "bare_median_s": round(bare_med, 3), "takedown_median_s": round(ours_med, 3),
            "ratio": round(ours_med / bare_med, 3), "goal": GOAL,
            "revisit_s": round(revisit, 3), "revisit_ratio": round(revisit / bare_med, 3)}


def _print_report(f: dict) -> None:
    runs = range(1, f["runs"] + 1)
    print(f"crawl: {f['pages']} pages served by {f['server']}, {f['runs']} runs each")
    print(f"{'':<22}" + "".join(f"{'run ' + str(i):>9}" for i in runs) + f"{'median':>9}")
    for label, key in (("bare scrapy", "bare"), ("takedown crawl", "takedown")):
        cells = "".join(f"{s:>8.2f}s" for s in f[f"{key}_s"])
        print(f"{label:<22}{cells}{f[f'{key}_median_s']:>8.2f}s")
    print(f"{'takedown 2nd round':<22}{f['revisit_s']:>8.2f}s  (revisit, 0 new blobs; "
          f"{f['revisit_ratio']:.2f} x bare)")
    print(f"crawl ratio (takedown / bare scrapy, {f['pages']} pages): {f['ratio']:.2f}"
          f"  (goal <= {f['goal']})")
