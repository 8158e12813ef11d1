"""The viewer over real HTTP (uvicorn on a loopback port) on the demo store, on SQLite and
PostgreSQL (`demo_db_url`): every route, the filters against the export, the side-by-side
view of an edited takedown, raw bodies, and the guard (methods, Host, token, headers).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta, timezone
from pathlib import Path

import httpx
import lxml.html
import pytest
from serving import serving

from reports.viewer import CSP, create_app
from snapshots import open_store
from snapshots.browse import takedown_list

HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff",
           "referrer-policy": "no-referrer", "x-frame-options": "SAMEORIGIN"}


@pytest.fixture(scope="module")
def viewer(demo_db_url: str) -> Iterator[tuple[str, object]]:
    store = open_store(db_url=demo_db_url)
    with serving(create_app(store)) as base:
        yield base, store
    store.close()


def _get(base: str, path: str, **kw: object) -> httpx.Response:
    return httpx.get(base + path, timeout=30, **kw)


def _secured(r: httpx.Response) -> None:
    assert {k: r.headers.get(k) for k in HEADERS} == HEADERS, r.url


def test_every_page_answers_with_the_security_headers(viewer, demo_store) -> None:
    base, store = viewer
    rows = takedown_list(store)
    td = rows[0]
    for path in ("/", "/targets/forum", f"/urls/{td['url_id']}", "/takedowns",
                 f"/takedowns/{td['id']}", f"/compare/{td['url_id']}"):
        r = _get(base, path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        _secured(r)
    index = lxml.html.document_fromstring(_get(base, "/").text)
    listed = {a.text for a in index.xpath("//a[starts-with(@href, '/targets/')]")}
    assert listed == {t["name"] for t in store.targets()}
    assert {r["target"] for r in demo_store["records"]} < listed
    for path, status in (("/targets/nope", 404), ("/takedowns/999999", 404),
                         ("/urls/999999", 404), ("/takedowns?since=yesterday", 400),
                         (f"/compare/{td['url_id']}?a=x", 400), ("/nowhere", 404)):
        r = _get(base, path)
        assert r.status_code == status, path
        _secured(r)


def test_no_write_endpoints(viewer) -> None:
    base, _store = viewer
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        r = httpx.request(method, base + "/takedowns", timeout=30)
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD", method
        _secured(r)
    assert httpx.head(base + "/takedowns", timeout=30).status_code == 200


def _listed_ids(base: str, query: str) -> list[int]:
    doc = lxml.html.document_fromstring(_get(base, "/takedowns?" + query).text)
    return [int(a.get("href").rsplit("/", 1)[1])
            for a in doc.xpath("//table[@id='takedowns']//a[starts-with(@href,'/takedowns/')]")]


def test_takedown_filters_agree_with_the_export(viewer, demo_store) -> None:
    base, store = viewer
    records = demo_store["records"]
    by_id = {r["id"]: r for r in takedown_list(store)}
    assert len(_listed_ids(base, "")) == len(records) == len(by_id)
    for kind in ("edited", "delisted", "censored"):
        ids = _listed_ids(base, f"kind={kind}")
        assert len(ids) == sum(r["kind"] == kind for r in records) > 0
        assert {by_id[i]["kind"] for i in ids} == {kind}
    ids = _listed_ids(base, "target=forum&kind=section_closed")
    assert len(ids) == sum(r["target"] == "forum" and r["kind"] == "section_closed"
                           for r in records) > 0
    days = sorted({r["detected_at"][:10] for r in records})
    since, until = days[1], days[2]
    expected = sum(since <= r["detected_at"][:10] <= until for r in records)
    assert len(_listed_ids(base, f"since={since}&until={until}")) == expected > 0
    edited = next(r for r in records if r["kind"] == "edited")
    word = edited["evidence"]["removed_text"][0][:6]
    ids = _listed_ids(base, "q=" + word)
    assert ids and all(word in str(by_id[i]["evidence"]) or word in by_id[i]["url"]
                       for i in ids)
    assert _listed_ids(base, "q=no-such-word-anywhere") == []


def test_time_filters_mean_the_same_instant_in_any_offset(viewer) -> None:
    # SQLite keeps UTC clock text: a bound of another offset must be converted, not compared
    # as its clock reading (the PostgreSQL half checks the same answer)
    _base, store = viewer
    times = sorted(r["detected_at"] for r in takedown_list(store))
    mid = times[len(times) // 2]
    east = mid.astimezone(timezone(timedelta(hours=8)))
    assert takedown_list(store, since=east) == takedown_list(store, since=mid)
    assert takedown_list(store, until=east) == takedown_list(store, until=mid)
    assert 0 < len(takedown_list(store, since=east)) < len(times)


def test_event_filter_keeps_takedowns_in_window_and_scope(demo_db_url, demo_store,
                                                          tmp_path: Path) -> None:
    from reports.correlate import event_window
    from reports.events import load_events

    day = date.fromisoformat(max(r["detected_at"][:10] for r in demo_store["records"]))
    path = tmp_path / "events.toml"
    path.write_text(f'[[event]]\nid = "late"\ndate = {day + timedelta(days=3)}\n'
                    f'title = "Late purge"\nscope = ["gov-news", "/forum/"]\n',
                    encoding="utf-8")
    events = load_events(path)
    start, end = event_window(events[0])
    expected = {(r["url"], r.get("item", "")) for r in demo_store["records"]
                if start <= date.fromisoformat(r["detected_at"][:10]) <= end
                and (r["target"] == "gov-news" or "/forum/" in r["url"])}
    store = open_store(db_url=demo_db_url)
    by_id = {r["id"]: r for r in takedown_list(store)}
    with serving(create_app(store, events)) as base:
        ids = _listed_ids(base, "event=late")
        assert _get(base, "/takedowns?event=nope").status_code == 400
    store.close()
    assert expected and {(by_id[i]["url"], by_id[i]["item"]) for i in ids} == expected


def test_edited_takedown_side_by_side_marks_the_removed_text(viewer, demo_store) -> None:
    base, store = viewer
    rows = [r for r in takedown_list(store) if r["kind"] == "edited"]
    assert rows
    for td in rows:
        doc = lxml.html.document_fromstring(_get(base, f"/takedowns/{td['id']}").text)
        deleted = [el.text_content() for el in doc.xpath("//table[@id='text-diff']//del")]
        for text in td["evidence"]["removed_text"]:
            assert text in deleted
        frames = doc.xpath("//iframe")
        assert len(frames) == 2 and all(f.get("sandbox") == "" for f in frames)
        before = lxml.html.document_fromstring(frames[0].get("srcdoc"))
        marked = [el.text_content() for el in before.xpath("//*[@data-td='removed']")]
        assert set(td["evidence"]["removed_text"]) <= {" ".join(m.split()) for m in marked}


def test_compare_takes_only_captures_of_its_url(viewer) -> None:
    base, store = viewer
    td = next(r for r in takedown_list(store) if r["kind"] == "removed" and not r["item"])
    a, b = td["last_ok_capture_id"], td["first_capture_id"]
    r = _get(base, f"/compare/{td['url_id']}?a={a}&b={b}")
    assert r.status_code == 200 and f"capture #{a}" in r.text and f"capture #{b}" in r.text
    other = next(x for x in takedown_list(store) if x["url_id"] != td["url_id"])
    assert _get(base, f"/compare/{td['url_id']}?a={other['first_capture_id']}&b={b}"
                ).status_code == 404


def test_raw_body_is_an_inert_attachment_with_the_stored_hash(viewer, demo_store) -> None:
    base, store = viewer
    td = next(r for r in takedown_list(store) if r["kind"] == "edited")
    first = td["evidence"]["first"]
    r = _get(base, f"/captures/{first['capture_id']}/raw")
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == "text/plain"
    assert r.headers["content-disposition"].startswith("attachment;")
    _secured(r)
    assert hashlib.sha256(r.content).hexdigest() == first["sha256"]


def test_host_header_must_be_loopback_without_token(viewer) -> None:
    base, _store = viewer
    assert _get(base, "/", headers={"Host": "evil.example"}).status_code == 400
    assert _get(base, "/", headers={"Host": "localhost:1234"}).status_code == 200


def test_token_once_in_the_query_then_a_cookie_or_bearer(demo_db_url) -> None:
    store = open_store(db_url=demo_db_url)
    with serving(create_app(store, token="s3cret-viewer-token")) as base:
        assert _get(base, "/takedowns").status_code == 401
        assert _get(base, "/takedowns?token=wrong").status_code == 401
        r = _get(base, "/takedowns?kind=edited&token=s3cret-viewer-token")
        assert r.status_code == 303 and r.headers["location"] == "/takedowns?kind=edited"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        _secured(r)
        with httpx.Client(base_url=base, timeout=30) as client:
            assert client.get("/takedowns?token=s3cret-viewer-token", follow_redirects=True
                              ).status_code == 200
            assert client.get("/").status_code == 200          # the cookie, from now on
        bearer = {"Authorization": "Bearer s3cret-viewer-token"}
        assert _get(base, "/", headers={**bearer, "Host": "viewer.lan"}).status_code == 200
        assert _get(base, "/", headers={"Authorization": "Bearer nope"}).status_code == 401
    store.close()


def test_serve_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "takedown", "--data", str(tmp_path), "serve",
                          "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert run.returncode == 2
    assert run.stderr.startswith("error: --host 0.0.0.0 is not loopback")


@pytest.mark.parametrize("where", ["port-in-use", "foreign-address", "unknown-name"])
def test_serve_that_cannot_listen_says_so_before_serving(tmp_path: Path, where: str) -> None:
    """The socket is bound before "serving …" is printed: a port in use or an address of
    another machine is an error line, exit 2 (uvicorn printed "serving" then exited 3)."""
    import socket

    open_store(tmp_path / "d").close()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        host, says = {"port-in-use": ("127.0.0.1", "cannot listen on 127.0.0.1 port"),
                      "foreign-address": ("192.0.2.1", "cannot listen on 192.0.2.1 port"),
                      "unknown-name": ("nosuch.invalid", "not an address of this machine"),
                      }[where]
        run = subprocess.run([sys.executable, "-m", "takedown", "--data", str(tmp_path / "d"),
                              "serve", "--host", host, "--port", str(port),
                              "--token", "a-token-of-24-characters"],
                             capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    assert "serving" not in run.stderr and "Traceback" not in run.stderr
    assert run.stderr.startswith("error: ") and says in run.stderr, run.stderr
