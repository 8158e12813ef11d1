"""The viewer's JSON API and Atom feed (reports/api.py, reports/feed.py) on the demo store,
on SQLite and PostgreSQL (`demo_db_url`): records equal ``takedown export``'s, the filters
select what the HTML list selects, feedparser reads the feed, hostile text stays data, and
the guard (token, Host, headers) covers every route.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import feedparser
import lxml.html
import pytest
from hostile_store import build_hostile_store
from serving import serving
from starlette.testclient import TestClient

from reports.api import MAX_LIMIT
from reports.events import load_events
from reports.feed import FEED_CAP, atom_feed
from reports.viewer import CSP, create_app
from snapshots import open_store
from snapshots.browse import takedown_list, url_detail
from snapshots.detection_store import DetectionStore

LOCAL = "http://127.0.0.1:8765"
ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "takedown" / "demo" / "events.toml"
TOKEN = "feed-reader-token-0123456789"


@pytest.fixture(scope="module")
def api(demo_db_url: str) -> Iterator[tuple[TestClient, object]]:
    store = open_store(db_url=demo_db_url)
    with TestClient(create_app(store, load_events(EVENTS)), base_url=LOCAL) as client:
        yield client, store
    store.close()


def _all_records(client: TestClient, query: str, limit: int) -> tuple[list[dict], int]:
    """Every record of ``/api/takedowns?query``, following ``next`` page by page."""
    records: list[dict] = []
    url: str | None = f"/api/takedowns?{query}&limit={limit}"
    while url is not None:
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        body = r.json()
        assert len(body["records"]) <= limit
        records += body["records"]
        url = body["next"]
    return records, body["total"]


def _html_ids(client: TestClient, query: str) -> list[int]:
    doc = lxml.html.document_fromstring(client.get("/takedowns?" + query).text)
    return [int(a.get("href").rsplit("/", 1)[1])
            for a in doc.xpath("//table[@id='takedowns']//a[starts-with(@href,'/takedowns/')]")]


def _feed(client: TestClient, query: str = "") -> feedparser.FeedParserDict:
    r = client.get("/feed.atom?" + query)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(r.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    return feed


def _feed_ids(feed: feedparser.FeedParserDict) -> list[int]:
    prefix = LOCAL + "/takedowns/"
    assert all(e.link.startswith(prefix) for e in feed.entries)
    return [int(e.link[len(prefix):]) for e in feed.entries]


def _by_id(records: list[dict]) -> list[dict]:
    return sorted(records, key=lambda r: r["id"])


def test_api_records_equal_the_export(api, demo_store) -> None:
    client, store = api
    records, total = _all_records(client, "", limit=7)
    export = demo_store["records"]
    assert total == len(records) == len(export) > 7
    assert _by_id(records) == _by_id(export)
    assert [r["id"] for r in records] == [r["id"] for r in takedown_list(store)]  # newest first
    for kind in ("edited", "removed"):
        by_kind, _total = _all_records(client, f"kind={kind}", limit=MAX_LIMIT)
        expected = [r for r in export if r["kind"] == kind]
        assert expected and _by_id(by_kind) == _by_id(expected)
    one = export[-1]
    r = client.get(f"/api/takedowns/{one['id']}")
    assert r.status_code == 200 and r.json() == one


def test_api_and_feed_select_what_the_list_selects(api, demo_store) -> None:
    client, _store = api
    days = sorted({r["detected_at"][:10] for r in demo_store["records"]})
    edited = next(r for r in demo_store["records"] if r["kind"] == "edited")
    word = edited["evidence"]["removed_text"][0][:6]
    for query in ("", "kind=edited", "target=forum&kind=section_closed",
                  f"since={days[1]}&until={days[2]}", f"q={word}",
                  "event=yunhai-mcf-cleanup", "event=military-forums-shut&kind=removed"):
        listed = _html_ids(client, query)
        records, total = _all_records(client, query, limit=5)
        assert listed and [r["id"] for r in records] == listed and total == len(listed), query
        assert _feed_ids(_feed(client, query)) == listed, query


def test_the_feed_has_one_entry_per_takedown(api, demo_store) -> None:
    client, store = api
    feed = _feed(client)
    rows = takedown_list(store)
    assert len(feed.entries) == len(rows) == len(demo_store["records"])
    assert _feed_ids(feed) == [r["id"] for r in rows]
    assert len({e.id for e in feed.entries}) == len(rows)
    assert all(e.id.startswith("urn:uuid:") for e in feed.entries)
    for entry, row in zip(feed.entries, rows, strict=True):
        assert entry.title.startswith(f"{row['kind']}: {row['url']}")
        assert entry.updated_parsed[:6] == row["detected_at"].timetuple()[:6]
        assert f"target: {row['target']}" in entry.summary
        if row["evidence"].get("phrase"):
            assert f"notice: {row['evidence']['phrase']}" in entry.summary
    # the same takedown keeps its entry id however the viewer is reached
    other = TestClient(create_app(store), base_url="http://localhost:9999")
    again = feedparser.parse(other.get("/feed.atom").content)
    assert [e.id for e in again.entries] == [e.id for e in feed.entries]


def test_the_feed_is_capped(demo_store) -> None:
    store = open_store(demo_store["data"])
    rows = takedown_list(store)
    store.close()
    many = [{**rows[i % len(rows)], "id": i, "item": str(i)} for i in range(FEED_CAP + 5)]
    feed = feedparser.parse(atom_feed(many, LOCAL, LOCAL + "/feed.atom"))
    assert feed.bozo == 0 and len(feed.entries) == FEED_CAP
    assert feed.entries[-1].link == f"{LOCAL}/takedowns/{FEED_CAP - 1}"


@pytest.mark.parametrize("path, status", [
    ("/api/takedowns?limit=0", 400), (f"/api/takedowns?limit={MAX_LIMIT + 1}", 400),
    ("/api/takedowns?limit=ten", 400), ("/api/takedowns?page=0", 400),
    ("/api/takedowns?page=" + "9" * 30, 400), ("/api/takedowns?since=yesterday", 400),
    ("/api/takedowns?since=2021-03-20&until=2021-03-19", 400),
    ("/api/takedowns?event=nope", 400), ("/api/takedowns?kind=a%00b", 400),
    ("/api/takedowns/999999", 404), ("/api/takedowns/abc", 404),
    ("/api/takedowns/" + "9" * 25, 404), ("/api/urls/999999/captures", 404),
    ("/api/nowhere", 404),
])
def test_api_errors_are_json(api, path: str, status: int) -> None:
    client, _store = api
    r = client.get(path)
    assert r.status_code == status and r.headers["content-type"] == "application/json"
    assert set(r.json()) == {"error"} and r.json()["error"]


def test_the_feed_refuses_what_the_list_refuses(api) -> None:
    client, _store = api
    for query in ("since=yesterday", "event=nope", "until=2021-03-19&since=2021-03-20"):
        assert client.get("/feed.atom?" + query).status_code == 400
        assert client.get("/takedowns?" + query).status_code == 400


def test_a_page_past_the_end_is_empty(api, demo_store) -> None:
    client, _store = api
    body = client.get(f"/api/takedowns?limit={MAX_LIMIT}&page=2").json()
    assert body == {"records": [], "total": len(demo_store["records"]), "next": None}


def test_captures_of_a_url_with_their_raw_bodies(api) -> None:
    client, store = api
    td = next(r for r in takedown_list(store) if r["kind"] == "removed")
    body = client.get(f"/api/urls/{td['url_id']}/captures").json()
    detail = url_detail(store, td["url_id"])
    assert body["url"] == td["url"] and td["id"] in body["takedowns"]
    assert [c["id"] for c in body["captures"]] == [c["id"] for c in detail["captures"]]
    assert {td["last_ok_capture_id"], td["first_capture_id"]} <= {
        c["id"] for c in body["captures"]}
    for c in body["captures"]:
        assert c["captured_at"].endswith("+00:00") and c["state"]
        if c["sha256"] is None:
            assert c["raw"] is None
            continue
        assert c["raw"] == f"{LOCAL}/captures/{c['id']}/raw"
        raw = client.get(c["raw"])
        assert raw.status_code == 200 and hashlib.sha256(raw.content).hexdigest() == c["sha256"]


def test_events_as_given_to_serve(api, demo_store) -> None:
    client, store = api
    events = client.get("/api/events").json()
    assert [e["id"] for e in events] == [e.id for e in load_events(EVENTS)]
    shut = next(e for e in events if e["id"] == "military-forums-shut")
    assert (shut["start"], shut["end"], shut["when"]) == ("2021-03-01", "2021-03-31", "2021-03")
    assert TestClient(create_app(store), base_url=LOCAL).get("/api/events").json() == []


def _add_hostile_takedown(store) -> tuple[int, str]:
    """A takedown whose item and notice hold markup, a CDATA end and control characters."""
    first = takedown_list(store)[0]
    with DetectionStore(store).job() as js:
        row = js.add_takedown(
            target_id=store.ensure_targets([("hostile", "http://127.0.0.1:9/", {})])["hostile"],
            url_id=first["url_id"], item="<script>alert(1)</script>]]>\x01\x0b\x1b",
            kind="censored", last_seen=first["last_seen"],
            detected_at=first["detected_at"] + timedelta(days=1),
            last_ok_capture_id=first["last_ok_capture_id"],
            first_capture_id=first["first_capture_id"],
            evidence={"rule": "phrase:x", "phrase": "]]><b>gone</b>\x07\x1f & <!--"})
    return row.id, first["url"]


def test_hostile_text_stays_data_in_the_feed_and_the_api(db_url: str, tmp_path: Path) -> None:
    store, _rows = build_hostile_store(db_url)
    try:
        takedown_id, url = _add_hostile_takedown(store)
        client = TestClient(create_app(store), base_url=LOCAL)
        feed = _feed(client, "kind=censored")
        (entry,) = feed.entries
        assert entry.title == f"censored: {url} (item <script>alert(1)</script>]]>)"
        assert "notice: ]]><b>gone</b> & <!--" in entry.summary
        assert entry.link == f"{LOCAL}/takedowns/{takedown_id}"
        record = client.get(f"/api/takedowns/{takedown_id}").json()
        assert record["item"] == "<script>alert(1)</script>]]>\x01\x0b\x1b"
    finally:
        store.close()


def test_the_guard_covers_the_api_and_the_feed(api) -> None:
    _client, store = api
    client = TestClient(create_app(store, token=TOKEN), base_url=LOCAL, follow_redirects=False)
    for path in ("/api/takedowns", "/api/takedowns/1", "/api/events", "/feed.atom"):
        refused = client.get(path)
        assert refused.status_code == 401, path
        assert client.get(path + "?token=wrong-token-0123456789").status_code == 401, path
        bearer = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        direct = client.get(f"{path}?token={TOKEN}")   # feed readers send no header
        for r in (refused, bearer, direct):
            assert r.headers["content-security-policy"] == CSP, path
            assert r.headers["x-content-type-options"] == "nosniff", path
        assert bearer.status_code == direct.status_code == 200, path
        assert "set-cookie" not in direct.headers and not client.cookies
    page = client.get(f"/api/takedowns?limit=3&token={TOKEN}").json()   # next keeps it
    assert f"token={TOKEN}" in page["next"]
    assert client.get(page["next"]).status_code == 200
    login = client.get(f"/takedowns?token={TOKEN}")   # the pages still log in and redirect
    assert login.status_code == 303 and login.headers["location"] == "/takedowns"
    open_app = TestClient(create_app(store), base_url="http://evil.example")
    assert open_app.get("/api/takedowns").status_code == 400
    assert open_app.get("/feed.atom").status_code == 400
    for method in ("POST", "DELETE"):
        assert client.request(method, f"/api/takedowns?token={TOKEN}").status_code == 405


def _documented_curls() -> list[str]:
    """The ``curl`` lines of the README's API section and of docs/api.md."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### JSON API and feeds", 1)[1].split("\n## ", 1)[0]
    text = section + (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.startswith("curl ")]


def test_the_documented_curl_commands_answer(api) -> None:
    _client, store = api
    client = TestClient(create_app(store, load_events(EVENTS), token=TOKEN), base_url=LOCAL)
    curls = _documented_curls()
    assert len(curls) >= 8
    for line in curls:
        words = shlex.split(line.replace("$TAKEDOWN_SERVE_TOKEN", TOKEN), comments=True)
        (url,) = [w for w in words if w.startswith("http")]
        headers = dict(words[i + 1].split(": ", 1) for i, w in enumerate(words) if w == "-H")
        headers.setdefault("Authorization", f"Bearer {TOKEN}")
        r = client.get(url.split("8080", 1)[1], headers=headers)
        assert r.status_code == 200, line
        if "/api/" in url:
            assert r.headers["content-type"] == "application/json", line
        else:
            assert feedparser.parse(r.content).bozo == 0, line


def test_the_notebook_example_reads_every_record(demo_db_url: str, demo_store) -> None:
    code = (ROOT / "docs" / "api.md").read_text(encoding="utf-8").split("```python\n")[1]
    code = code.split("```")[0]
    store = open_store(db_url=demo_db_url)
    try:
        with serving(create_app(store)) as base:
            names: dict = {}
            exec(code.replace("http://127.0.0.1:8080", base), names)
    finally:
        store.close()
    censored = [r for r in demo_store["records"] if r["kind"] == "censored"]
    assert censored and _by_id(names["records"]) == _by_id(censored)
