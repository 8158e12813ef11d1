"""A hostile loopback site: decompression bombs, redirect loops, URLs too long to fetch.

Bombs are built once per test session and kept in memory (they are small): each one is
compressed chunk by chunk from a generator, so building a 1 GiB bomb never holds the
gigabyte.  A bomb decodes to ``BOMB_HEAD`` followed by its fill byte string repeated up to
its size; ``bomb_prefix`` gives the first bytes of that decoded stream, which is what a
capped crawl must store.  ``routes`` is a ``RouteSite`` table (see ``sitesim``), and
``crawl_peak`` runs one ``takedown crawl`` round and reports the crawl process's peak
resident memory.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from sitesim import page

from bench.bombs import compressor
from takedown.demo.server import Reply

KIB, MIB, GIB = 1024, 1024 * 1024, 1024 * 1024 * 1024
URLLENGTH_LIMIT = 2083    # Scrapy's default

BOMB_HEAD = {
    "utf-8": b"<html><head><title>bomb</title></head><body><p>",
    "gb18030": b'<html><head><meta charset="gb18030"><title>bomb</title></head><body><p>',
}
FILL = {"utf-8": b"a", "gb18030": "中文".encode("gb18030")}   # 2 bytes a character
# encoding name → (bytes decoded, text charset): only the gzip bomb needs the full gigabyte
# (the memory test); the others just need to dwarf any cap
BOMBS = {
    "gzip": (GIB, "utf-8"),
    "deflate": (256 * MIB, "utf-8"),
    "br": (GIB, "utf-8"),
    "zstd": (GIB, "utf-8"),
    "gzip-gbk": (64 * MIB, "gb18030"),
}


def _decoded_stream(size: int, charset: str) -> Iterator[bytes]:
    head, fill = BOMB_HEAD[charset], FILL[charset]
    yield head
    left = size - len(head)
    block = fill * (MIB // len(fill))
    while left > 0:
        yield block[:left]
        left -= len(block)


@functools.cache
def bomb(name: str) -> bytes:
    """The compressed body of bomb *name* (a key of ``BOMBS``), built once a session."""
    size, charset = BOMBS[name]
    feed, finish = compressor(name.split("-")[0])
    out = [feed(chunk) for chunk in _decoded_stream(size, charset)]
    out.append(finish())
    return b"".join(out)


def bomb_prefix(name: str, n: int) -> bytes:
    """The first *n* bytes bomb *name* decodes to."""
    _, charset = BOMBS[name]
    head, fill = BOMB_HEAD[charset], FILL[charset]
    return (head + fill * (n // len(fill) + 1))[:n]


def bomb_reply(name: str) -> Reply:
    _, charset = BOMBS[name]
    return Reply(headers={"Content-Type": f"text/html; charset={charset}",
                          "Content-Encoding": name.split("-")[0]}, body=bomb(name))


def redirect(to: str) -> Reply:
    return Reply(status=302, headers={"Location": to, "Content-Type": "text/html"})


def long_path(prefix: str, base: str) -> str:
    """A path that makes ``base + path`` longer than Scrapy's URL length limit."""
    return prefix + "x" * (URLLENGTH_LIMIT + 100 - len(base) - len(prefix))


def routes(base: str) -> dict[str, Reply]:
    """Bombs, a loop seed (``/loop/a.html``), and ``/links.html`` linking to another loop,
    a page redirecting to itself, a too-long URL and one plain page."""
    out: dict[str, Reply] = {f"/bomb/{name}.html": bomb_reply(name) for name in BOMBS}
    long_link = long_path("/long/link-", base)
    out.update({
        "/loop/a.html": redirect("/loop/b.html"),
        "/loop/b.html": redirect("/loop/a.html"),
        "/loop/c.html": redirect("/loop/d.html"),
        "/loop/d.html": redirect("/loop/c.html"),
        "/loop/self.html": redirect("/loop/self.html"),
        "/links.html": page('<a href="/loop/c.html">loop</a><a href="/loop/self.html">self</a>'
                            f'<a href="{long_link}">long</a><a href="/plain.html">plain</a>'),
        "/plain.html": page("<p>plain</p>"),
        long_link: page("<p>never asked for</p>"),
    })
    return out


# Runs the command given as its arguments; its own children are that command only, so
# RUSAGE_CHILDREN's ru_maxrss is the crawl's peak (kilobytes on Linux), whatever else the
# test process ran before.
_PEAK = ("import resource, subprocess, sys\n"
         "rc = subprocess.run(sys.argv[1:]).returncode\n"
         "print('peak-rss-kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
         " file=sys.stderr)\n"
         "sys.exit(rc)\n")


def crawl_peak(watchlist: Path, data: Path, at: str) -> tuple[subprocess.CompletedProcess,
                                                               int]:
    """One ``python -m takedown crawl`` round (loopback only) and its peak RSS in bytes."""
    cmd = [sys.executable, "-m", "takedown", "crawl", str(watchlist), "--data", str(data),
           "--at", at]
    env = dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1")
    run = subprocess.run([sys.executable, "-c", _PEAK, *cmd], capture_output=True,
                         text=True, env=env, timeout=300)
    line = next(x for x in reversed(run.stderr.splitlines()) if x.startswith("peak-rss-kib"))
    return run, int(line.split()[1]) * 1024
