"""Real rounds against a hostile loopback site: memory stays bounded, no URL is lost.

A round with ``max_size = 1 MiB`` crawls gzip, deflate, brotli and zstd bombs (up to 1 GiB
decoded each), redirect loops reached as a seed and as links, and URLs longer than Scrapy's
length limit reached as a seed and as a link.  Every bomb is stored as its first ``max_size``
decoded bytes, flagged truncated, and the crawl's peak memory stays far below a gigabyte;
every URL the round set out to fetch ends as a capture (failed ones say why), so the
summary's queued count is its captures plus its not-found probes.  A round with
``max_size = 0`` keeps whole bodies.  Each round runs as ``python -m takedown crawl``.
"""

from __future__ import annotations

import gzip
import os
import random
import re
import subprocess
import sys
import zlib

import brotli
import pytest
import zstandard
from hostile_site import BOMBS, MIB, bomb_prefix, crawl_peak, long_path, routes
from sitesim import RouteSite, page, serve, watchlist
from sqlalchemy import select

from crawler.decoding import decoded_head
from snapshots import open_store
from snapshots.models import Capture, Url, Verdict
from takedown.demo.server import Reply

CAP = MIB
AT = "2021-03-15T06:00:00Z"
LOOP_SEED = "/loop/a.html"


def targets(base: str) -> str:
    bombs = "".join(f'\n[[target]]\nname = "bomb-{n}"\nurl = "{base}/bomb/{n}.html"\n'
                    for n in BOMBS)
    return bombs + f"""
[[target]]
name = "loop-seed"
url = "{base}{LOOP_SEED}"

[[target]]
name = "long-seed"
url = "{base}{long_path('/long/seed-', base)}"

[[target]]
name = "links"
url = "{base}/links.html"
depth = 1
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("hostile")
    site = RouteSite()
    server = serve(site)
    base = server.base_url
    site.swap(routes(base))
    wl = watchlist(tmp / "wl.toml", targets(base),
                   f"[crawl]\ntimeout = 10\nretries = 0\ndelay = 0\nconcurrency = 8\n"
                   f"max_size = {CAP}\n")
    run, peak = crawl_peak(wl, tmp / "data", AT)
    server.stop()
    store = open_store(tmp / "data")
    yield {"base": base, "run": run, "peak": peak, "store": store,
           "hits": dict(server.hits)}
    store.close()


def capture(store, url: str) -> Capture:
    with store.session() as s:
        rows = s.scalars(select(Capture).join(Url, Capture.url_id == Url.id)
                         .where(Url.url == url)).all()
    assert len(rows) == 1, f"{len(rows)} captures of {url[:100]}"
    return rows[0]


@pytest.mark.parametrize("name", list(BOMBS))
def test_bomb_is_stored_as_its_decoded_head_flagged_truncated(hostile, name: str) -> None:
    store = hostile["store"]
    row = capture(store, f"{hostile['base']}/bomb/{name}.html")
    assert (row.state, row.status, row.truncated) == ("ok", 200, True)
    body = store.blob(row.body_sha256)
    assert row.size == len(body) == CAP
    assert body == bomb_prefix(name, CAP)
    text = store.blob(row.text_sha256)
    assert 0 < len(text) <= CAP
    charset = BOMBS[name][1]
    assert body.decode(charset, "ignore").startswith(text.decode("utf-8"))


def test_bomb_round_peak_memory_stays_far_below_the_bomb(hostile) -> None:
    """A 1 GiB gzip bomb (and three more) decoded at most 1 MiB each: the crawl process's
    peak resident memory is that of an ordinary round, not a gigabyte or more."""
    assert hostile["peak"] < 600 * MIB, f"peak RSS {hostile['peak'] / MIB:.0f} MiB"


@pytest.mark.parametrize(("path", "kind"), [
    (LOOP_SEED, "redirect_loop"),
    ("/loop/c.html", "redirect_loop"),
    ("/loop/self.html", "redirect_loop"),
    ("long-seed", "url_too_long"),
    ("long-link", "url_too_long"),
], ids=["loop-seed", "loop-link", "self-redirect-link", "long-seed", "long-link"])
def test_unfetchable_url_is_a_failed_capture_saying_why(hostile, path: str, kind: str) -> None:
    base = hostile["base"]
    if path.startswith("long-"):
        path = long_path(f"/long/{path.removeprefix('long-')}-", base)
    row = capture(hostile["store"], base + path)
    assert (row.state, row.error_kind, row.status) == ("failed", kind, None)
    if kind == "url_too_long":   # failed before any request: never reached the site
        assert not [p for p in hostile["hits"] if p.startswith("/long/")]


def summary_figures(stdout: str) -> dict[str, int]:
    """The "all" row of the printed summary by column, and the probe captures of the line
    under it."""
    lines = stdout.splitlines()
    header = next(line for line in lines if "┃ queued " in line)
    row = next(line for line in lines if "│ all " in line)
    names = [c.strip() for c in header.split("┃")[2:-1]]
    figures = dict(zip(names, (int(c) for c in row.split("│")[2:-1]), strict=True))
    probes = re.search(r"not-found probes: requests \d+, captures (\d+)", stdout)
    assert probes, stdout
    return figures | {"probes": int(probes[1])}


def test_summary_queued_is_captures_plus_probes(hostile) -> None:
    """Every URL the round set out to fetch is a capture: the summary's queued count is
    its captures (ok or failed) plus its not-found probe captures."""
    run = hostile["run"]
    assert run.returncode == 0, run.stderr[-3000:]
    assert [r["status"] for r in hostile["store"].rounds()] == ["done"]
    figures = summary_figures(run.stdout)
    states = ("ok", "gone", "notice", "restricted", "failed")
    assert figures["captures"] == sum(figures[s] for s in states), run.stdout
    assert figures["queued"] == figures["captures"] + figures["probes"], run.stdout
    # the bombs, the loop and long seeds, the links page and its four links
    assert figures["captures"] == len(BOMBS) + 2 + 5 and figures["failed"] == 5, run.stdout


def test_max_size_zero_keeps_whole_bodies(tmp_path) -> None:
    text = "<html><body><p>" + "word " * (3 * MIB // 5) + "</p></body></html>"
    raw = text.encode("utf-8")
    site = RouteSite({
        "/plain.html": Reply(headers={"Content-Type": "text/html; charset=utf-8"}, body=raw),
        "/gz.html": Reply(headers={"Content-Type": "text/html; charset=utf-8",
                                   "Content-Encoding": "gzip"}, body=gzip.compress(raw)),
        "/small.html": page("<p>small</p>"),
    })
    server = serve(site)
    base = server.base_url
    wl = watchlist(tmp_path / "wl.toml", "".join(
        f'\n[[target]]\nname = "{p}"\nurl = "{base}/{p}.html"\n'
        for p in ("plain", "gz", "small")),
        "[crawl]\ntimeout = 10\nretries = 0\ndelay = 0\nmax_size = 0\n")
    run, _ = crawl_peak(wl, tmp_path / "data", AT)
    server.stop()
    assert run.returncode == 0, run.stderr[-3000:]
    store = open_store(tmp_path / "data")
    try:
        for p in ("plain", "gz"):
            row = capture(store, f"{base}/{p}.html")
            assert (row.state, row.truncated, row.size) == ("ok", False, len(raw))
            assert store.blob(row.body_sha256) == raw
        small = capture(store, f"{base}/small.html")
        assert b"<p>small</p>" in store.blob(small.body_sha256)
    finally:
        store.close()


# A page whose reading raises, inside the real crawl: the spider's link extraction is made
# to raise for one URL, in the crawl's own process, before the command line starts.
_UNREADABLE = ("import sys\n"
               "from crawler.spiders.watchlist import WatchlistSpider\n"
               "extract = WatchlistSpider._extract\n"
               "def boom(self, response):\n"
               "    if 'boom' in response.url:\n"
               "        raise RecursionError('maximum recursion depth exceeded')\n"
               "    return extract(self, response)\n"
               "WatchlistSpider._extract = boom\n"
               "sys.argv = ['takedown', *sys.argv[1:]]\n"
               "from takedown.cli import main\n"
               "main()\n")


def test_a_page_whose_reading_raises_is_kept_unread_and_never_lost(tmp_path) -> None:
    """Reading a body (decoding, link extraction) that raises loses nothing: the capture is
    stored with its raw body, no text and the exception as its error (``unreadable``), the
    round goes on, and detection counts it as a failed fetch, never as evidence."""
    site = RouteSite({"/index.html": page('<a href="/boom.html">boom</a> '
                                          '<a href="/fine.html">fine</a>'),
                      "/boom.html": page("<p>a page our reading chokes on</p>"),
                      "/fine.html": page("<p>fine</p>")})
    server = serve(site)
    base = server.base_url
    wl = watchlist(tmp_path / "wl.toml",
                   f'[[target]]\nname = "site"\nurl = "{base}/index.html"\ndepth = 1\n')
    env = dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1")
    try:
        runs = [subprocess.run([sys.executable, "-c", _UNREADABLE, *args], capture_output=True,
                               text=True, env=env, timeout=120)
                for args in (["crawl", str(wl), "--data", str(tmp_path / "data"), "--at", AT],
                             ["detect", "--data", str(tmp_path / "data")])]
    finally:
        server.stop()
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr[-3000:] + runs[1].stderr
    store = open_store(tmp_path / "data")
    try:
        boom, fine = capture(store, f"{base}/boom.html"), capture(store, f"{base}/fine.html")
        assert (boom.status, boom.error_kind, boom.text_sha256) == (200, "unreadable", None)
        assert boom.error.startswith("RecursionError: maximum recursion")
        assert b"a page our reading chokes on" in store.blob(boom.body_sha256)
        assert fine.error_kind is None and fine.text_sha256 is not None
        assert [r["status"] for r in store.rounds()] == ["done"]
        with store.session() as s:
            verdict = s.scalars(select(Verdict).where(Verdict.capture_id == boom.id)).one()
        assert (verdict.state, verdict.rule) == ("failed", "fetch:unreadable")
    finally:
        store.close()


# -- decoding with a cap, without a crawl ------------------------------------------------------


DATA = random.Random(1).randbytes(300_000) + b"z" * 500_000   # both kinds of block


def _raw_deflate(data: bytes) -> bytes:
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    return z.compress(data) + z.flush()


@pytest.mark.parametrize(("coding", "encode"), [
    (b"gzip", gzip.compress), (b"x-gzip", gzip.compress),
    (b"gzip", lambda d: gzip.compress(d[:100]) + gzip.compress(d[100:])),
    (b"deflate", zlib.compress), (b"deflate", _raw_deflate),
    (b"br", lambda d: brotli.compress(d, quality=4)),
    (b"zstd", lambda d: zstandard.ZstdCompressor().compress(d)),
], ids=["gzip", "x-gzip", "gzip-two-members", "deflate", "deflate-raw", "br", "zstd"])
def test_coding_decodes_whole_without_cap_and_its_head_with_one(coding: bytes, encode) -> None:
    body = encode(DATA)
    assert decoded_head(body, [coding], 0) == (DATA, False, [])
    assert decoded_head(body, [coding], 400_000) == (DATA[:400_000], True, [])


def test_chained_codings_decode_in_reverse_order() -> None:
    data = b"hello " * 1000
    body = brotli.compress(gzip.compress(data))      # Content-Encoding: gzip, br
    assert decoded_head(body, [b"gzip, br"], 0) == (data, False, [])
    assert decoded_head(body, [b"gzip", b"br"], 100) == (data[:100], True, [])


def test_unknown_coding_and_undecodable_body_are_kept_as_sent() -> None:
    body = gzip.compress(b"x" * 50)
    assert decoded_head(body, [b"gzip, snappy"], 0) == (body, False, [b"gzip", b"snappy"])
    assert decoded_head(b"not gzip", [b"gzip"], 0) == (b"not gzip", False, [b"gzip"])


def test_cut_off_compressed_body_decodes_what_arrived() -> None:
    data = random.Random(7).randbytes(200_000)     # incompressible: 2000 bytes decode ~2000
    body = gzip.compress(data)[:2000]
    head, capped, rest = decoded_head(body, [b"gzip"], 0)
    assert not capped and rest == [] and 0 < len(head) < len(data)
    assert data.startswith(head)
