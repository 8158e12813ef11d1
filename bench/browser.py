"""Browser benchmark: capture rate of a ``render = "browser"`` target against a plain one.

The same loopback pages (an index linking ``PAGES`` articles, each writing part of its text
with a script) are crawled by one ``takedown crawl`` round of a plain target and one of a
browser target (Chromium through scrapy-playwright; one browser launch a round), as
subprocesses in fresh data folders, ``RUNS`` times each, alternately.  Each round must store
one capture a page (and the browser's must hold the scripted text).  Printed: pages per
second of each (medians, wall time of the whole round, process start and browser launch
included) and their ratio.  Needs Debian's Chromium at ``/usr/bin/chromium``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from takedown.demo.server import Reply, SiteServer

ROOT = Path(__file__).resolve().parent.parent
PAGES = 30
RUNS = 3
CHROMIUM = "/usr/bin/chromium"
AT = "2021-03-15T00:00:00Z"
HTML = {"Content-Type": "text/html; charset=utf-8"}
WATCHLIST = """\
[crawl]
concurrency = 4
delay = 0
timeout = 10
retries = 1

[[target]]
name = "bench"
url = "{base}/index.html"
depth = 1
allow = ["/a/"]
{render}
"""


def _article(n: int) -> bytes:
    script = (f"<script>document.getElementById('s').textContent = 'scripted paragraph {n} "
              "of the benchmark article';</script>")
    prose = " ".join(f"Sentence {i} of article {n} says something plain." for i in range(40))
    return (f"<html><head><title>Article {n}</title></head><body><h1>Article {n}</h1>"
            f"<p>{prose}</p><p id='s'></p>{script}</body></html>").encode()


def site(method: str, path: str, headers: object) -> Reply:
    if path == "/index.html":
        links = "".join(f"<li><a href='/a/{n}.html'>article {n}</a></li>" for n in range(PAGES))
        return Reply(200, HTML, f"<html><body><ul>{links}</ul></body></html>".encode())
    if path.startswith("/a/") and path.endswith(".html"):
        n = path[3:-5]
        if n.isdigit() and int(n) < PAGES:
            return Reply(200, HTML, _article(int(n)))
    return Reply(404, HTML, b"<html><body><h1>Not Found</h1></body></html>")


def _round(base: str, tmp: Path, name: str, render: str) -> float:
    """One round in a fresh data folder; its wall time, once its captures are checked."""
    wl = tmp / f"{name}.toml"
    wl.write_text(WATCHLIST.format(base=base, render=render), encoding="utf-8")
    data = tmp / name
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}  # loopback only
    env["TAKEDOWN_LOOPBACK_ONLY"] = "1"
    cmd = [sys.executable, "-m", "takedown", "--data", str(data), "crawl", str(wl),
           "--at", AT, "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"browser benchmark: {name} exited {proc.returncode}:\n"
                         f"{proc.stderr[-3000:]}")
    rounds = json.loads(subprocess.run(
        [sys.executable, "-m", "takedown", "--data", str(data), "rounds", "--json"], cwd=ROOT,
        capture_output=True, text=True, check=True).stdout)
    if rounds[-1]["captures"] != PAGES + 1 or rounds[-1]["status"] != "done":
        raise SystemExit(f"browser benchmark: {name} round: {rounds[-1]}")
    return seconds


def run() -> dict:
    """Measure, print the report; returns the figures for ``bench.json``."""
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"browser benchmark: no Chromium at {CHROMIUM}")
    plain, browser = [], []
    with SiteServer(site) as server, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        base = server.base_url.rstrip("/")
        for i in range(RUNS):
            plain.append(_round(base, Path(tmp), f"plain-{i}", ""))
            browser.append(_round(base, Path(tmp), f"browser-{i}", 'render = "browser"'))
    pages = PAGES + 1
    p_med, b_med = statistics.median(plain), statistics.median(browser)
    figures = {"pages": pages, "runs": RUNS, "plain_s": [round(s, 3) for s in plain],
               "browser_s": [round(s, 3) for s in browser],
               "plain_pages_per_s": round(pages / p_med, 2),
               "browser_pages_per_s": round(pages / b_med, 2),
               "ratio": round((pages / b_med) / (pages / p_med), 3)}
    _print_report(figures)
    return figures


def _print_report(f: dict) -> None:
    print(f"browser: {f['pages']} pages a round, {f['runs']} rounds each (medians; wall time "
          "of `takedown crawl`, start-up included)")
    for label, key in (("plain (Scrapy)", "plain"), ("browser (Chromium)", "browser")):
        cells = " ".join(f"{s:.2f}s" for s in f[f"{key}_s"])
        print(f"{label:<20} {f[f'{key}_pages_per_s']:>7.2f} pages/s   ({cells})")
    print(f"browser / plain capture rate: {f['ratio']:.3f}")


def main() -> None:
    run()


if __name__ == "__main__":
    main()
