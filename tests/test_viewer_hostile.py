"""The viewer against hostile requests and hostile captures, on a real SQLite store through
the real app (Starlette's TestClient; ``takedown serve`` as a subprocess for start-up).

Inputs never answer 500: ids beyond any database integer, dates at the ends of the
calendar, captured pages whose links no URL parser accepts (``http://[::1``,
``http://x:99999/``), a publication date with an impossible offset (``+99:00``), a capture
whose final URL is malformed, and random paths and queries (hypothesis).  A genuine fault
(the store lost a table) answers a generic 500 and is logged.  Tokens: shorter than 16
characters, blank or with whitespace, refused at start-up; the login redirect never leaves
the viewer's origin.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from starlette.testclient import TestClient

from reports.viewer import CSP, create_app
from snapshots import open_store
from snapshots.browse import capture_body
from snapshots.evidence import DetectionStore
from snapshots.records import NewCapture

AT = datetime(2024, 3, 1, tzinfo=UTC)
SITE = "http://127.0.0.1:9"
HUGE = 2**64 + 12345                   # beyond SQLite's and PostgreSQL's integers
LOCAL = "http://127.0.0.1"             # a loopback Host, as the guard wants without a token
TOKEN = "a-long-enough-viewer-token"
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


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Hostile]]:
    path = tmp_path_factory.mktemp("hostile") / "store.sqlite"
    store, rows = build_hostile_store(f"sqlite:///{path}")
    with TestClient(create_app(store), base_url=LOCAL, raise_server_exceptions=False) as client:
        yield client, rows
    store.close()


def _doc(body: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(body)


def test_ids_beyond_any_database_integer_are_not_found(hostile) -> None:
    client, rows = hostile
    url_id = rows.url_ids["links"]
    for path in (f"/takedowns/{HUGE}", f"/urls/{HUGE}", f"/captures/{HUGE}/raw",
                 f"/compare/{HUGE}", f"/compare/{HUGE}?a=1&b=2", f"/takedowns/{2**63}",
                 f"/compare/{url_id}?a={HUGE}&b={HUGE}", f"/compare/{url_id}?b={HUGE}",
                 "/takedowns/-1", "/urls/-5", "/captures/x/raw", f"/urls/{'9' * 5000}",
                 f"/compare/{url_id}?a={'7' * 5000}", "/takedowns?page=" + "8" * 5000,
                 "/targets/%00", "/takedowns?kind=%00", "/takedowns?target=a%00b"):
        r = client.get(path)
        assert r.status_code in (400, 404), (path, r.status_code)
        assert r.headers["content-security-policy"] == CSP, path
        assert len(r.text) < 20_000, path          # the message does not echo 5000 digits
    assert client.get(f"/takedowns?page={HUGE}").status_code == 200     # past the last page


def test_dates_at_the_ends_of_the_calendar_are_bounds_or_refused(hostile) -> None:
    client, rows = hostile
    everything = len(rows.takedowns)
    for query, listed in (("until=9999-12-31", everything), ("since=0001-01-01", everything),
                          ("since=0001-01-01&until=9999-12-31", everything),
                          ("since=9999-12-31", 0), ("until=0001-01-01", 0)):
        r = client.get("/takedowns?" + query)
        assert r.status_code == 200, (query, r.status_code)
        links = _doc(r.text).xpath("//table[@id='takedowns']//a[starts-with(@href,'/takedowns/')]")
        assert len(links) == listed, query
    for query in ("until=9999-12-32", "since=2024-13-01", "since=yesterday", "until=0000-01-01",
                  "until=10000-01-01", "since=%00"):
        r = client.get("/takedowns?" + query)
        assert r.status_code == 400, (query, r.status_code)
        name = query.split("=")[0]
        assert f"{name} must be a date (YYYY-MM-DD)" in r.text, query


def _links_shown(doc: lxml.html.HtmlElement, list_id: str) -> tuple[list[str], list[str]]:
    """Texts of the URLs listed in *list_id*: those shown as links, those shown as text."""
    items = doc.xpath(f"//ol[@id='{list_id}']/li")
    return ([a.text_content() for li in items for a in li.xpath(".//a[@href]")],
            [s.text_content() for li in items for s in li.xpath(".//span[@class='url']")])


def test_malformed_links_of_a_capture_are_shown_as_text(hostile) -> None:
    client, rows = hostile
    before, after = rows.captures["links"]
    for path in (f"/takedowns/{rows.takedowns['links']}",
                 f"/compare/{rows.url_ids['links']}?a={before}&b={after}"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        doc = _doc(r.text)
        linked, as_text = _links_shown(doc, "links-removed")
        assert set(BAD_LINKS) <= set(as_text), path
        assert not set(BAD_LINKS) & set(linked), path
        frame = _doc(doc.xpath("//iframe[@title='before']")[0].get("srcdoc"))
        assert "link 0" in frame.text_content() and not frame.xpath("//@href")


def test_a_date_with_an_impossible_offset_does_not_break_the_page(hostile) -> None:
    client, rows = hostile
    before, after = rows.captures["offset"]
    for path in (f"/takedowns/{rows.takedowns['offset']}",
                 f"/compare/{rows.url_ids['offset']}?a={before}&b={after}",
                 f"/urls/{rows.url_ids['offset']}"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
    doc = _doc(client.get(f"/takedowns/{rows.takedowns['offset']}").text)
    frame = _doc(doc.xpath("//iframe[@title='before']")[0].get("srcdoc"))
    assert "Dated text." in frame.text_content()


def test_a_malformed_final_url_is_shown_as_text(hostile) -> None:
    client, rows = hostile
    before, after = rows.captures["final"]
    for path in (f"/urls/{rows.url_ids['final']}", f"/takedowns/{rows.takedowns['final']}",
                 f"/compare/{rows.url_ids['final']}?a={before}&b={after}",
                 f"/compare/{rows.url_ids['final']}"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        doc = _doc(r.text)
        assert FINAL_URL in doc.text_content(), path
        hrefs = doc.xpath("//a/@href")
        assert FINAL_URL not in hrefs and HOP not in hrefs, path
    doc = _doc(client.get(f"/takedowns/{rows.takedowns['final']}").text)
    frame = _doc(doc.xpath("//iframe[@title='before']")[0].get("srcdoc"))
    assert "Moved text." in frame.text_content() and not frame.xpath("//@href | //img/@src")


def test_a_genuine_fault_answers_a_generic_500_and_is_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store, _rows = build_hostile_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    with store.engine.begin() as conn:                 # the store lost a table
        conn.execute(text("DROP TABLE takedowns"))
    with TestClient(create_app(store), base_url=LOCAL, raise_server_exceptions=False) as client, \
            caplog.at_level(logging.ERROR, logger="reports.viewer"):
        r = client.get("/takedowns?q=secret-query")
    store.close()
    assert r.status_code == 500
    assert r.headers["content-security-policy"] == CSP
    for leak in ("Traceback", "takedowns", "sqlite", "secret-query", "OperationalError"):
        assert leak not in r.text
    logged = [rec for rec in caplog.records if rec.name == "reports.viewer"]
    assert logged and logged[0].levelno == logging.ERROR and logged[0].exc_info
    assert "/takedowns" in logged[0].getMessage()


@pytest.mark.parametrize("name", ["reports.viewer", "reports.viewer_pages"])
def test_doctests(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


# -- random requests ---------------------------------------------------------------------

_NUMBERS = st.one_of(st.integers(-10, 10), st.integers(-2**70, 2**70),
                     st.sampled_from([2**63 - 1, 2**63, 2**64, HUGE]))
_DATES = st.one_of(st.dates().map(lambda d: d.isoformat()),
                   st.sampled_from(["0001-01-01", "9999-12-31", "2024-02-30", "1-1-1"]))
_VALUES = st.one_of(st.text(max_size=30), _NUMBERS.map(str), _DATES)
_QUERY = st.lists(st.tuples(st.sampled_from(["kind", "target", "since", "until", "q", "event",
                                             "page", "a", "b", "token"]), _VALUES), max_size=4)
_SEGMENT = st.one_of(_NUMBERS.map(str), st.text(max_size=20))
_ROUTES = ("/", "/targets/{}", "/urls/{}", "/takedowns", "/takedowns/{}", "/compare/{}",
           "/captures/{}/raw", "/{}")


@settings(max_examples=200, deadline=None)
@given(route=st.sampled_from(_ROUTES), segment=_SEGMENT, query=_QUERY)
def test_random_requests_never_answer_500(hostile, route: str, segment: str,
                                          query: list[tuple[str, str]]) -> None:
    client, _rows = hostile
    path = route.format(quote(segment, safe=""))
    r = client.get(path, params=query)
    assert r.status_code < 500, (path, query, r.status_code)


# -- tokens --------------------------------------------------------------------------------

def _serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "takedown", "--data", str(tmp_path), "serve",
                           "--port", "0", *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **(env or {})})


@pytest.mark.parametrize(("args", "env"), [
    (("--token", "short-token"), None),
    (("--host", "0.0.0.0", "--token", " "), None),
    (("--host", "0.0.0.0", "--token", " " * 20), None),
    (("--token", "sixteen chars or more"), None),
    (("--token", "a-long-enough-token\t"), None),
    (("--token", "a-long-enough-tokén"), None),
    ((), {"TAKEDOWN_SERVE_TOKEN": "short"}),
], ids=["short", "blank-public", "spaces-public", "inner-space", "tab", "non-ascii", "env"])
def test_serve_refuses_a_weak_token_at_start_up(tmp_path: Path, args, env) -> None:
    try:
        run = _serve(tmp_path, *args, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve {args} {env} started serving")
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("error: ") and "token" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_app_refuses_a_weak_token(tmp_path: Path) -> None:
    store = open_store(db_url=f"sqlite:///{tmp_path / 'store.sqlite'}")
    for weak in ("s3cret", "", " " * 16, "sixteen chars or more", "x" * 15):
        with pytest.raises(ValueError, match="token"):
            create_app(store, token=weak)
    create_app(store, token=TOKEN)
    store.close()


def test_the_token_login_redirect_stays_on_the_viewer(tmp_path: Path) -> None:
    store = open_store(db_url=f"sqlite:///{tmp_path / 'store.sqlite'}")
    app = create_app(store, token=TOKEN)
    with TestClient(app, base_url="http://viewer.lan:8080") as client:
        for path, expected in (("//evil.example/", "/evil.example/?x=1"),
                               ("///evil.example", "/evil.example?x=1"),
                               ("/\\evil.example/", "/evil.example/?x=1"),
                               ("/takedowns", "/takedowns?x=1")):
            client.cookies.clear()              # each login starts without the cookie
            r = client.get(f"http://viewer.lan:8080{path}?token={TOKEN}&x=1",
                           follow_redirects=False)
            assert r.status_code == 303, path
            location = r.headers["location"]
            assert location == expected, path
            assert urlsplit(urljoin("http://viewer.lan:8080/a", location)).netloc == \
                "viewer.lan:8080", path
    store.close()
