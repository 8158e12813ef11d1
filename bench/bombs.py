"""Bomb benchmark: peak memory of a ``takedown crawl`` round that meets 4 GiB decompression
bombs, over that of the same round on ordinary pages.

The site serves one page linking to four bombs, each decoding to ``BOMB`` bytes (4 GiB):
gzip, deflate, brotli and zstd, compressed chunk by chunk so that building them never holds
the gigabytes.  The baseline round crawls the same site with the bombs replaced by small
pages.  Both rounds run as subprocesses with the default ``max_size`` (10 MiB), and the
peak resident memory of each is read from ``RUSAGE_CHILDREN``.  Goal: the bomb round's peak
under ``GOAL_BYTES`` (1 GiB), every bomb stored as its first ``max_size`` bytes, flagged
truncated.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import brotli
import zstandard
from sqlalchemy import select

from snapshots import open_store
from snapshots.models import Capture, Url
from takedown.demo.server import Reply, SiteServer

MIB, GIB = 1 << 20, 1 << 30
BOMB = 4 * GIB
MAX_SIZE = 10 * MIB
GOAL_BYTES = GIB
CODINGS = ("gzip", "deflate", "br", "zstd")
HTML = {"Content-Type": "text/html; charset=utf-8"}
HEAD = b"<html><head><title>bomb</title></head><body><p>"
WATCHLIST = """\
[crawl]
timeout = 120
retries = 0
delay = 0
max_size = {max_size}

[[target]]
name = "bombs"
url = "{base}/index.html"
depth = 1
"""
# the crawl's peak: the helper's only child is the crawl
_PEAK = ("import resource, subprocess, sys\n"
         "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
         "sys.exit(rc)\n")


def compressor(coding: str) -> tuple[Callable[[bytes], bytes], Callable[[], bytes]]:
    """(feed, finish) of a streaming compressor for an HTTP content coding (gzip, deflate,
    br, zstd); the hostile test site builds its bombs with it too."""
    if coding in ("gzip", "deflate"):
        z = zlib.compressobj(9, zlib.DEFLATED, 31 if coding == "gzip" else 15)
        return z.compress, z.flush
    if coding == "br":
        b = brotli.Compressor(quality=5)
        return b.process, b.finish
    zs = zstandard.ZstdCompressor(level=3).compressobj()
    return zs.compress, zs.flush


def _decoded(size: int) -> Iterator[bytes]:
    yield HEAD
    block, left = b"a" * (4 * MIB), size - len(HEAD)
    while left > 0:
        yield block[:left]
        left -= len(block)


def build_bomb(coding: str, size: int = BOMB) -> bytes:
    feed, finish = compressor(coding)
    return b"".join([*(feed(chunk) for chunk in _decoded(size)), finish()])


def _site(bombs: dict[str, bytes] | None) -> Callable[[str, str, object], Reply]:
    links = "".join(f'<p><a href="/{c}.html">{c}</a></p>' for c in CODINGS)
    index = f"<html><head><title>index</title></head><body>{links}</body></html>".encode()
    small = b"<html><head><title>small</title></head><body><p>small</p></body></html>"

    def respond(method: str, path: str, headers: object) -> Reply:
        if path == "/index.html":
            return Reply(status=200, headers=HTML, body=index)
        coding = path.strip("/").removesuffix(".html")
        if coding not in CODINGS:
            return Reply(status=404, headers=HTML, body=b"<p>not found</p>")
        if bombs is None:
            return Reply(status=200, headers=HTML, body=small)
        return Reply(status=200, headers={**HTML, "Content-Encoding": coding},
                     body=bombs[coding])
    return respond


def _round(bombs: dict[str, bytes] | None, folder: Path) -> dict:
    server = SiteServer(_site(bombs)).start()
    try:
        wl = folder / "watchlist.toml"
        wl.write_text(WATCHLIST.format(base=server.base_url, max_size=MAX_SIZE),
                      encoding="utf-8")
        cmd = [sys.executable, "-m", "takedown", "crawl", str(wl), "--data",
               str(folder / "data"), "--at", "2024-03-01T00:00:00Z"]
        env = dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1")
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-c", _PEAK, *cmd], capture_output=True,
                             text=True, env=env, timeout=1800)
        seconds = time.perf_counter() - start
    finally:
        server.stop()
    if run.returncode:
        raise RuntimeError(f"crawl failed ({run.returncode}): {run.stderr[-2000:]}")
    store = open_store(folder / "data")
    try:
        with store.session() as s:
            rows = s.execute(select(Url.url, Capture.size, Capture.truncated)
                             .join(Url, Url.id == Capture.url_id)).all()
    finally:
        store.close()
    kept = {u.rsplit("/", 1)[-1].removesuffix(".html"): (size, truncated)
            for u, size, truncated in rows}
    return {"peak_rss_bytes": int(run.stdout.split()[-1]) * 1024, "seconds": round(seconds, 1),
            "stored": {c: kept.get(c) for c in CODINGS}}


def run() -> dict:
    built = time.perf_counter()
    bombs = {c: build_bomb(c) for c in CODINGS}
    print(f"bombs: {BOMB / GIB:.0f} GiB decoded each; on the wire "
          + ", ".join(f"{c} {len(b) / MIB:.1f} MiB" for c, b in bombs.items())
          + f" (built in {time.perf_counter() - built:.0f} s)")
    with tempfile.TemporaryDirectory(prefix="bench-bombs-") as tmp:
        (Path(tmp) / "base").mkdir()
        (Path(tmp) / "bombs").mkdir()
        base = _round(None, Path(tmp) / "base")
        hit = _round(bombs, Path(tmp) / "bombs")
    ok = all(v == (MAX_SIZE, True) for v in hit["stored"].values())
    ratio = hit["peak_rss_bytes"] / base["peak_rss_bytes"]
    print(f"peak RSS: ordinary round {base['peak_rss_bytes'] / MIB:.0f} MiB, "
          f"round of four {BOMB / GIB:.0f} GiB bombs {hit['peak_rss_bytes'] / MIB:.0f} MiB "
          f"(ratio {ratio:.2f}; goal under {GOAL_BYTES / MIB:.0f} MiB); "
          f"each bomb stored as its first {MAX_SIZE / MIB:.0f} MiB, truncated: "
          f"{'yes' if ok else hit['stored']}")
    return {"bomb_decoded_bytes": BOMB, "max_size": MAX_SIZE,
            "wire_bytes": {c: len(b) for c, b in bombs.items()}, "baseline": base,
            "bombs": hit, "peak_ratio": round(ratio, 2),
            "goal_met": ok and hit["peak_rss_bytes"] < GOAL_BYTES}
