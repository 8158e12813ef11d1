"""A loopback site for crawler tests: a route table swapped between rounds.

``RouteSite`` answers from ``routes`` (``{path_with_query: Reply}``); a route may also be a
list of replies, served one per request (the last one repeats), for retry cases.  Unknown
paths get a plain 404.  ``crawl()`` runs one real round as a subprocess, like a user would;
``crawl_days()`` serves a site that changes day by day and crawls it once a day.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from takedown.demo.server import Reply, SiteServer

HTML = {"Content-Type": "text/html; charset=utf-8"}


def page(body: str, status: int = 200, headers: Mapping[str, str] | None = None,
         title: str = "page", **kw: object) -> Reply:
    doc = f"<html><head><title>{title}</title></head><body>{body}</body></html>"
    return Reply(status=status, headers=dict(headers or HTML), body=doc.encode("utf-8"), **kw)


class RouteSite:
    def __init__(self, routes: Mapping[str, Reply | list[Reply]] | None = None) -> None:
        self.routes: dict[str, Reply | list[Reply]] = dict(routes or {})
        self.served: dict[str, int] = {}
        self.requests: list[tuple[str, dict]] = []

    def __call__(self, method: str, path: str, headers: Mapping[str, str]) -> Reply:
        self.requests.append((path, dict(headers)))
        route = self.routes.get(path)
        if route is None:
            return page("<h1>Not Found</h1>", status=404)
        if isinstance(route, list):
            n = self.served.get(path, 0)
            self.served[path] = n + 1
            return route[min(n, len(route) - 1)]
        return route

    def swap(self, routes: Mapping[str, Reply | list[Reply]]) -> None:
        self.routes, self.served = dict(routes), {}


def serve(site: RouteSite) -> SiteServer:
    return SiteServer(site).start()


def crawl(watchlist: Path, data: Path, at: str, *extra: str,
          db: str | None = None) -> subprocess.CompletedProcess:
    """One ``takedown crawl`` round as a subprocess; loopback only."""
    cmd = [sys.executable, "-m", "takedown", "--data", str(data)]
    if db:
        cmd += ["--db", db]
    env = dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1")
    return subprocess.run(cmd + ["crawl", str(watchlist), "--at", at, *extra],
                          capture_output=True, text=True, env=env, timeout=120)


def watchlist(path: Path, targets: str, crawl_table: str = "") -> Path:
    head = crawl_table or ("[crawl]\ntimeout = 2\nretries = 1\ndelay = 0\n"
                           "concurrency = 8\n")
    path.write_text(head + "\n" + targets, encoding="utf-8")
    return path


def crawl_days(tmp: Path, routes: Callable[[int], Mapping[str, Reply | list[Reply]]],
               days: int, targets: str, crawl_table: str, at: str,
               each: Callable[[Path, subprocess.CompletedProcess], object] | None = None,
               ) -> tuple[Path, str, list[subprocess.CompletedProcess]]:
    """Serve ``routes(day)`` for each of *days* days and crawl it once a day (at
    ``at.format(day + 1)``) into ``tmp/data`` with the watchlist of *targets* (``{base}``
    stands for the server's URL) and *crawl_table*; ``each(data, crawl_result)`` runs after
    every crawl.
    Returns the data folder, the server's base URL and every crawl's result."""
    site = RouteSite(routes(0))
    server = serve(site)
    base = server.base_url
    wl = watchlist(tmp / "wl.toml", targets.replace("{base}", base), crawl_table)
    data, runs = tmp / "data", []
    try:
        for day in range(days):
            site.swap(routes(day))
            runs.append(crawl(wl, data, at.format(day + 1)))
            if each is not None:
                each(data, runs[-1])
    finally:
        server.stop()
    return data, base, runs
