"""Odd real pages (web-monitoring-diff's encoding fixtures) and malformed markup: each is
stored byte for byte and classified; none crashes the round.  On SQLite and PostgreSQL
(NUL bytes, invalid UTF-8 and binary bodies through BLOB and bytea)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REALDATA
from sitesim import RouteSite, crawl, serve, watchlist

from snapshots import open_store
from takedown.demo.server import Reply

ENCODING = REALDATA / "web-monitoring-diff" / "encoding"
TYPES = {".txt": "text/plain", ".html": "text/html", ".pdf": "application/pdf"}
MALFORMED = {
    "/bad/unclosed.html": b"<html><body><div><p>unclosed <a href='/x.html'>x<table><tr><td>",
    "/bad/nul.html": b"<html><body>\x00\x00<p>nul\x00bytes</p>\xff\xfe</body></html>",
    "/bad/latin1-as-utf8.html": "<html><body><p>caf\xe9 d\xe9j\xe0 vu</p></body></html>"
    .encode("latin-1"),
    "/bad/not-html.html": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
}


@pytest.mark.skipif(not ENCODING.is_dir(), reason=f"realdata not found at {ENCODING}")
def test_odd_pages_are_stored_and_classified(tmp_path: Path, db_url: str) -> None:
    files = {f"/enc/{p.name}": p.read_bytes() for p in sorted(ENCODING.iterdir())}
    routes = {path: Reply(headers={"Content-Type": TYPES[Path(path).suffix]}, body=body)
              for path, body in files.items()}
    routes |= {path: Reply(headers={"Content-Type": "text/html; charset=utf-8"}, body=body)
               for path, body in MALFORMED.items()}
    server = serve(RouteSite(routes))
    base = server.base_url
    targets = "".join(f'[[target]]\nname = "t{i}"\nurl = "{base}{p}"\n\n'
                      for i, p in enumerate(routes))
    wl = watchlist(tmp_path / "wl.toml", targets)
    try:
        run = crawl(wl, tmp_path / "data", "2021-03-15T00:00:00Z", db=db_url)
    finally:
        server.stop()
    assert run.returncode == 0, run.stderr
    store = open_store(db_url=db_url)
    for path, body in (files | MALFORMED).items():
        (row,) = store.history(base + path)
        assert row.state == "ok", path
        assert row.size == len(body)
        if body:
            assert store.blob(row.body_sha256) == body, path
    assert store.rounds()[-1]["captures"] == len(routes)
    store.close()


def test_what_is_markup_follows_the_declared_type_then_the_body(tmp_path: Path) -> None:
    """A page whose server names no usual type (PHP's own application/x-httpd-php) is read
    by its body, and its links are followed; a JSON answer holding markup in a string is
    not markup, and what it seems to link is not crawled."""
    html = b"<html><body><p>board</p><a href='/from-php.html'>thread</a></body></html>"
    routes = {
        "/robots.txt": Reply(headers={"Content-Type": "text/plain"}, body=b""),
        "/board.php": Reply(headers={"Content-Type": "application/x-httpd-php"}, body=html),
        "/api.json": Reply(headers={"Content-Type": "application/json"},
                           body=b'{"html": "<a href=\'/from-json.html\'>x</a>"}'),
        "/from-php.html": Reply(headers={"Content-Type": "text/html"}, body=b"<p>a</p>"),
        "/from-json.html": Reply(headers={"Content-Type": "text/html"}, body=b"<p>b</p>"),
    }
    server = serve(RouteSite(routes))
    base = server.base_url
    wl = watchlist(tmp_path / "wl.toml",
                   f'[[target]]\nname = "php"\nurl = "{base}/board.php"\ndepth = 1\n\n'
                   f'[[target]]\nname = "api"\nurl = "{base}/api.json"\ndepth = 1\n')
    try:
        run = crawl(wl, tmp_path / "data", "2021-03-15T00:00:00Z")
    finally:
        server.stop()
    assert run.returncode == 0, run.stderr
    store = open_store(tmp_path / "data")
    try:
        assert [r.state for r in store.history(base + "/from-php.html")] == ["ok"]
        assert store.history(base + "/from-json.html") == []
    finally:
        store.close()
