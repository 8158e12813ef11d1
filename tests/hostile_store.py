"""A store of hostile captures for the viewer's tests and its fuzzing: pages whose links no
URL parser accepts (``http://[::1``, ``http://x:99999/``), a publication date with an
impossible offset (``+99:00``), a capture fetched through a redirect to a malformed URL;
each served one day and gone (404) the next, with a ``removed`` takedown, written through
the store's own API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.testclient import TestClient

from reports.viewer import create_app
from snapshots import open_store
from snapshots.browse import capture_body
from snapshots.detection_store import DetectionStore
from snapshots.records import NewCapture

AT = datetime(2024, 3, 1, tzinfo=UTC)
SITE = "http://127.0.0.1:9"
HUGE = 2**64 + 12345                   # beyond SQLite's and PostgreSQL's integers
LOCAL = "http://127.0.0.1"             # a loopback Host, as the guard wants without a token
BAD_LINKS = ("http://[::1", "http://x:99999/", "http://x:port/")

PAGES = {
    # links that make urlsplit raise, or its .port
    "links": "<html><head><title>Links</title></head><body><h1>Links</h1><p>Soon gone.</p>"
             + "".join(f'<p><a href="{u}">link {i}</a></p>' for i, u in enumerate(BAD_LINKS))
             + "</body></html>",
    # a publication date whose offset no clock has
    "offset": '<html><head><meta name="date" content="2024-02-01T10:00:00+99:00">'
              "<title>Offset</title></head><body><h1>Offset</h1><p>Dated text.</p>"
              '<time datetime="2024-02-01T10:00:00-99:30">then</time></body></html>',
    # fetched through a redirect to a malformed URL: every relative link resolves against it
    "final": '<html><head><title>Final</title></head><body><h1>Final</h1><p>Moved text.</p>'
             '<p><a href="/relative">relative</a> <img src="pic.png" alt="pic"></p>'
             "</body></html>",
}
FINAL_URL = "http://[::1/moved"
HOP = "http://x:99999/hop"


@dataclass(frozen=True)
class Hostile:
    """The store's hostile rows: takedown id and URL id by page, their captures."""

    takedowns: dict[str, int]
    url_ids: dict[str, int]
    captures: dict[str, tuple[int, int]]    # (before, after)


def _capture(name: str, status: int, body: str, at: datetime) -> NewCapture:
    url = f"{SITE}/{name}"
    final = FINAL_URL if name == "final" and status == 200 else url
    hops = ((301, HOP),) if final != url else ()
    data = body.encode()
    return NewCapture(target="hostile", url=url, depth=0, via="seed", fetched_at=at,
                      status=status, final_url=final, redirects=hops, body=data, text=body,
                      content_type="text/html; charset=utf-8",
                      headers={"content-type": "text/html"})


def _round(store, target_id: int, at: datetime, status: int) -> dict[str, int]:
    rid = store.begin_round(at)
    ids = {}
    for name, html in PAGES.items():
        body = html if status == 200 else "<html><body><p>Not found</p></body></html>"
        ids[name] = store.record_capture(rid, target_id, at,
                                         _capture(name, status, body, at)).capture_id
    store.finish_round(rid, {})
    return ids


def build_hostile_store(db_url: str):
    """Two rounds over the hostile pages (served, then 404) and a ``removed`` takedown of
    each, written through the store's own API."""
    store = open_store(db_url=db_url)
    target_id = store.ensure_targets([("hostile", SITE + "/", {})])["hostile"]
    before = _round(store, target_id, AT, 200)
    after = _round(store, target_id, AT + timedelta(days=1), 404)
    url_ids = {name: capture_body(store, cid).url_id for name, cid in before.items()}
    takedowns = {}
    with DetectionStore(store).job() as js:
        for name, url_id in url_ids.items():
            row = js.add_takedown(target_id=target_id, url_id=url_id, item="", kind="removed",
                                  last_seen=AT, detected_at=AT + timedelta(days=1),
                                  last_ok_capture_id=before[name],
                                  first_capture_id=after[name],
                                  evidence={"rule": "http-404", "url": f"{SITE}/{name}"})
            takedowns[name] = row.id
    return store, Hostile(takedowns, url_ids, {n: (before[n], after[n]) for n in PAGES})


@contextmanager
def hostile_viewer(folder: Path) -> Iterator[tuple[TestClient, Hostile]]:
    """The viewer over a hostile store in *folder*, answering as it would answer a browser
    (a server fault is a 500, not an exception)."""
    store, rows = build_hostile_store(f"sqlite:///{folder / 'store.sqlite'}")
    try:
        with TestClient(create_app(store), base_url=LOCAL,
                        raise_server_exceptions=False) as client:
            yield client, rows
    finally:
        store.close()
