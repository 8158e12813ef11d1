"""Hostile pages for a browser target, in real headless Chromium: none may hang, crash or
escape a round, and each is stored and classified.

One ``takedown crawl`` round over a loopback site whose pages fight the browser: a script
that spins forever once loaded, a file served as a download, a page hundreds of thousands
of pixels tall (screenshot on), dialogs and pop-ups, requests to a foreign host (loopback
only: aborted), a script navigating to another page, a page that never finishes loading,
one whose image never arrives, one that polls all the time, a body that is not text.  The
round must end (well inside the subprocess timeout) with exit 0 and a capture with a state
for every page.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sitesim import RouteSite, crawl, page, serve, watchlist
from sqlalchemy import select

from diffing.detect import detect
from snapshots import open_store
from snapshots.models import Capture, Url, Verdict
from takedown.demo.server import Reply

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (make browser installs it)", allow_module_level=True)
pytest.importorskip("scrapy_playwright", reason="scrapy-playwright is not installed")

PNG = b"\x89PNG\r\n\x1a\n"
PROSE = "<p>" + "A paragraph of ordinary prose about the district's budget. " * 8 + "</p>"
PAGES = {
    # spins forever once loaded: evaluation in the page (its DOM) cannot return
    "/spin.html": page(PROSE + "<script>setTimeout(function () { for (;;) {} }, 50)</script>"),
    "/download.bin": Reply(200, {"Content-Type": "application/octet-stream",
                                 "Content-Disposition": "attachment; filename=x.bin"},
                           bytes(range(256)) * 64),
    "/tall.html": page(PROSE + '<div style="height:400000px;background:#eee">tall</div>'),
    "/dialogs.html": page(PROSE + "<script>alert('x'); confirm('y'); prompt('z');"
                          "window.open('/popup.html'); window.print();</script>"),
    "/popup.html": page("<p>a pop-up</p>"),
    "/foreign.html": page(PROSE + '<img src="http://203.0.113.9/pixel.png">'
                          "<script>fetch('http://203.0.113.9/beacon').catch(function(){});"
                          "</script>"),
    "/moves.html": page(PROSE + "<script>location.href = '/landing.html';</script>"),
    "/landing.html": page("<h1>Landing</h1>" + PROSE),
    "/slow.html": Reply(200, {"Content-Type": "text/html; charset=utf-8"},
                        b"<html><body><p>late</p></body></html>", delay=30.0),
    # an image that never arrives: the page is kept with its text, not failed
    "/stalled.html": page(PROSE + '<img src="/stalled.png">'),
    "/stalled.png": Reply(200, {"Content-Type": "image/png"}, b"", delay=60.0),
    # a page that polls all the time never goes quiet
    "/polls.html": page(PROSE + "<script>setInterval(function () { fetch('/poll.json'); }, "
                        "100)</script>"),
    "/poll.json": Reply(200, {"Content-Type": "application/json"}, b"{}"),
    "/binary.html": Reply(200, {"Content-Type": "text/html"}, b"\x00\xff\xfe" * 4000),
}
WATCHED = [p for p in PAGES if p not in ("/popup.html", "/landing.html", "/stalled.png",
                                         "/poll.json")]


def test_hostile_pages_end_the_round_and_are_each_stored(tmp_path: Path) -> None:
    site = RouteSite(PAGES)
    server = serve(site)
    base = server.base_url
    targets = "".join(f'[[target]]\nname = "t{n}"\nurl = "{base}{path}"\n'
                      'render = "browser"\nscreenshot = true\n\n'
                      for n, path in enumerate(WATCHED))
    wl = watchlist(tmp_path / "wl.toml", targets,
                   "[crawl]\ntimeout = 4\nretries = 0\ndelay = 0\nconcurrency = 4\n")
    data = tmp_path / "data"
    try:
        start = time.monotonic()
        run = crawl(wl, data, "2026-03-01T08:00:00+00:00", "--no-progress")
        took = time.monotonic() - start
    finally:
        server.stop()
    assert run.returncode == 0, run.stderr[-3000:]
    assert took < 100, f"the round took {took:.0f} s"
    assert "203.0.113.9" not in " ".join(p for p, _h in site.requests)
    store = open_store(data)
    try:
        detect(store)
        with store.session() as s:
            rows = s.execute(select(Url.url, Capture.state, Capture.error_kind,
                                    Capture.screenshot_sha256, Verdict.state)
                             .join(Capture, Capture.url_id == Url.id)
                             .outerjoin(Verdict, Verdict.capture_id == Capture.id)).all()
        by_path = {url.removeprefix(base): row for url, *row in rows}
        assert set(WATCHED) <= set(by_path), sorted(by_path)
        for path in WATCHED:
            state, _kind, _shot, verdict = by_path[path]
            assert state and verdict, (path, by_path[path])
        # what rendered is kept as rendered, with its screenshot (the tall one cut short)
        for path in ("/tall.html", "/dialogs.html", "/foreign.html", "/moves.html",
                     "/stalled.html", "/polls.html"):
            state, _kind, shot, _v = by_path[path]
            assert state == "ok" and shot, (path, by_path[path])
            assert store.blob(shot).startswith(PNG)
        # past the fetch's deadline the spinning page is closed: a timeout, never a hang
        assert by_path["/slow.html"][1] == by_path["/spin.html"][1] == "timeout"
        assert by_path["/download.bin"][0] == "ok"        # the download, kept as its bytes
    finally:
        store.close()
