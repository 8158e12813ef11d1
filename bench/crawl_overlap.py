"""Overlap benchmark: a watchlist of targets reaching the same pages, fetched once each.

Five targets of the 1,011-page site of ``bench.pages``: one takes the whole site from its
index (depth 2), four take one section each from its listing (depth 1, allowed into that
section's articles only), so 404 pages are reached by two targets: 1,011 URLs, 1,415
captures a round.  Figures, measured in the same run:

- requests per URL per round, counted at the server (robots.txt and the not-found probe
  aside), on a first round and on the next one (every page revisited): goal <= ``GOAL_RPU``;
  before URLs were shared, each capture was a request (captures per URL: 1.40);
- the wall time of ``takedown crawl`` on that watchlist against bare Scrapy fetching the
  same 1,011 unique URLs at the same concurrency (``bench.bare_spider``), medians of
  ``RUNS`` alternate runs, every takedown run in a fresh data folder: goal <= ``GOAL``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.crawl_ratio import AT, AT_NEXT, ROOT, _bare_run, _check, _takedown
from bench.site import BenchSite, server_classes

RUNS = 3
GOAL = 1.3
GOAL_RPU = 1.05
SECTIONS = 4
WATCHLIST = """\
[crawl]
concurrency = 16
delay = 0
timeout = 10
retries = 1

[[target]]
name = "site"
url = "{base}/index.html"
depth = 2
"""
SECTION = """
[[target]]
name = "section-{i}"
url = "{base}/list/{i}.html"
depth = 1
allow = ["/article/{i}/"]
"""


def run() -> dict:
    """Measure, check, print the report; returns the figures for ``bench.json``."""
    server_cls, reply_cls = server_classes()
    site = BenchSite(reply_cls)
    with server_cls(site) as server, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        base = server.base_url.rstrip("/")
        wl = Path(tmp) / "watchlist.toml"
        wl.write_text(WATCHLIST.format(base=base) + "".join(
            SECTION.format(base=base, i=i) for i in range(SECTIONS)), encoding="utf-8")
        bare, ours, rounds = [], [], []
        for i in range(RUNS):
            bare.append(_bare_run(site, base))
            seconds, first = _round(site, Path(tmp) / f"data-{i}", wl, AT)
            ours.append(seconds)
            rounds.append(first)
        _, second = _round(site, Path(tmp) / f"data-{RUNS - 1}", wl, AT_NEXT)
    figures = _figures(len(site.pages), bare, ours, rounds[-1], second)
    _print_report(figures)
    return figures


def _round(site: BenchSite, data: Path, wl: Path, at: str) -> tuple[float, dict]:
    """One ``takedown crawl`` round: its wall time and what it asked and stored."""
    site.take_hits()
    env = _env()
    t0 = time.perf_counter()
    proc = subprocess.run(_takedown(data, "crawl", str(wl), "--at", at, "--no-progress"),
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    _check(proc.returncode == 0, f"takedown crawl exited {proc.returncode}:\n"
                                 f"{proc.stderr[-3000:]}")
    probes = sum(n for p, n in site.hits.items() if "/takedown-probe-" in p)
    hits = site.take_hits()
    _check(set(hits) == set(site.pages), f"{len(hits)} paths asked, not the "
                                         f"{len(site.pages)} pages")
    last = json.loads(subprocess.run(_takedown(data, "rounds", "--json"), cwd=ROOT, env=env,
                                     capture_output=True, text=True, check=True).stdout)[-1]
    want = len(site.pages) + SECTIONS * (1 + 100)
    _check((last["status"], last["captures"]) == ("done", want), f"round: {last}")
    return seconds, {"requests": sum(hits.values()), "urls": len(hits),
                     "max_per_path": max(hits.values()), "probe_requests": probes,
                     "captures": last["captures"]}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}  # loopback only
    env["TAKEDOWN_LOOPBACK_ONLY"] = "1"
    return env


def _figures(pages: int, bare: list[float], ours: list[float], first: dict,
             second: dict) -> dict:
    bare_med, ours_med = statistics.median(bare), statistics.median(ours)
    return {"pages": pages, "targets": SECTIONS + 1, "runs": len(bare),
            "first_round": first, "next_round": second,
            "requests_per_url": round(first["requests"] / first["urls"], 3),
            "requests_per_url_next": round(second["requests"] / second["urls"], 3),
            "captures_per_url": round(first["captures"] / first["urls"], 3),
            "goal_requests_per_url": GOAL_RPU,
            "bare_s": [round(s, 3) for s in bare], "takedown_s": [round(s, 3) for s in ours],
            "bare_median_s": round(bare_med, 3), "takedown_median_s": round(ours_med, 3),
            "ratio": round(ours_med / bare_med, 3), "goal": GOAL}


def _print_report(f: dict) -> None:
    runs = range(1, f["runs"] + 1)
    print(f"overlap: {f['targets']} targets over {f['pages']} pages, "
          f"{f['first_round']['captures']} captures a round, {f['runs']} runs each")
    print(f"{'':<22}" + "".join(f"{'run ' + str(i):>9}" for i in runs) + f"{'median':>9}")
    for label, key in (("bare scrapy (unique)", "bare"), ("takedown crawl", "takedown")):
        cells = "".join(f"{s:>8.2f}s" for s in f[f"{key}_s"])
        print(f"{label:<22}{cells}{f[f'{key}_median_s']:>8.2f}s")
    print(f"requests per URL per round: {f['requests_per_url']:.3f} (next round "
          f"{f['requests_per_url_next']:.3f}; probe requests "
          f"{f['first_round']['probe_requests']}; captures per URL "
          f"{f['captures_per_url']:.2f})  (goal <= {f['goal_requests_per_url']})")
    print(f"overlap crawl ratio (takedown / bare scrapy on the unique URLs): "
          f"{f['ratio']:.2f}  (goal <= {f['goal']})")
