"""The viewer against hostile requests and hostile captures, on a real SQLite store through
the real app (Starlette's TestClient; ``takedown serve`` as a subprocess for start-up).

Inputs never answer 500: ids beyond any database integer, dates at the ends of the
calendar, captured pages whose links no URL parser accepts (``http://[::1``,
``http://x:99999/``), a publication date with an impossible offset (``+99:00``), a capture
whose final URL is malformed (the store: tests/hostile_store.py; random paths and queries
over it are fuzzed in tests/test_fuzz.py).  A genuine fault
(the store lost a table) answers a generic 500 and is logged.  Tokens: shorter than 16
characters, blank or with whitespace, refused at start-up; the login redirect never leaves
the viewer's origin.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import lxml.html
import pytest
from hostile_store import (
    BAD_LINKS,
    FINAL_URL,
    HOP,
    HUGE,
    LOCAL,
    Hostile,
    build_hostile_store,
    hostile_viewer,
)
from sqlalchemy import text
from starlette.testclient import TestClient

from reports.viewer import CSP, create_app
from snapshots import open_store

TOKEN = "a-long-enough-viewer-token"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Hostile]]:
    with hostile_viewer(tmp_path_factory.mktemp("hostile")) as viewer:
        yield viewer


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


def test_a_range_that_ends_before_it_begins_is_refused(hostile) -> None:
    client, _rows = hostile
    r = client.get("/takedowns?since=2024-06-10&until=2024-06-01")
    assert r.status_code == 400
    assert "until (2024-06-01) is before since (2024-06-10)" in r.text
    assert client.get("/takedowns?since=2024-06-01&until=2024-06-01").status_code == 200


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
