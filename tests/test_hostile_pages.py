"""A hostile loopback site crawled, detected, reported, checked and viewed end to end.

Its pages trickle or reset mid-body, declare a charset that does not exist or none at all
(GBK bytes), come as UTF-16, nest ten thousand elements deep, carry a date with an offset no
clock has, a title that is a spreadsheet formula, NUL bytes, binary bytes served as HTML and
links no URL parser accepts.  Every URL the round meant to fetch ends as a capture (ok, or
failed saying why), detection and the report go through, the CSV cell is inert, the store
checks clean and the viewer answers every capture without a server error.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sitesim import crawl_days, page
from starlette.testclient import TestClient

from reports.viewer import create_app
from snapshots import open_store
from takedown.demo.server import Reply

pytestmark = pytest.mark.slow
DAY = "2024-07-{:02d}T08:00:00Z"
FORMULA = '=HYPERLINK("http://evil.example/","open me")'
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def _raw(body: bytes, ctype: str = "text/html", **kw: object) -> Reply:
    return Reply(status=200, headers={"Content-Type": ctype}, body=body, **kw)


def _article(word: str) -> str:
    return f"<h1>{word}</h1><p>{'关于这件事情的详细报道和后续的各方面回应。' * 4}</p>"


def pages() -> dict[str, Reply]:
    deep = "<div>" * 10_000 + "深层嵌套的正文内容，足够长的一段文字。" + "</div>" * 10_000
    return {
        "/h/trickle.html": page(_article("慢慢到达"), delay=0.02, fault="trickle"),
        "/h/stalled.html": page(_article("停滞"), delay=0.6, fault="trickle"),
        "/h/reset-body.html": page(_article("中途断开") * 20, fault="reset-body"),
        "/h/bad-charset.html": _raw(_article("未知字符集").encode("utf-8"),
                                    "text/html; charset=x-no-such-charset"),
        "/h/gbk.html": _raw(("<html><body>" + _article("国标编码") + "</body></html>")
                            .encode("gbk")),
        "/h/utf16.html": _raw(("<html><body>" + _article("双字节") + "</body></html>")
                              .encode("utf-16")),
        "/h/deep.html": page(deep),
        "/h/bad-date.html": page("<meta name='date' content='2024-07-01T10:00:00+99:00'>"
                                 + _article("日期")),
        "/h/formula.html": page(_article("公式标题"), title=FORMULA),
        "/h/nul.html": _raw(b"<html><body><h1>\x00NUL</h1><p>" + "空字符之后的正文内容。".encode()
                            * 4 + b"\x00</p></body></html>"),
        "/h/binary.html": _raw(PNG),
        "/h/bad-links.html": page("<a href='http://[::1'>broken v6</a>"
                                  "<a href='http://x:99999/'>bad port</a>"
                                  "<a href='javascript:alert(1)'>script</a>" + _article("坏链接")),
    }


def site(day: int) -> dict[str, Reply]:
    routes = pages()
    links = "".join(f"<li><a href='{path}'>{path}</a></li>" for path in routes)
    routes["/h/index.html"] = page(f"<ul class='l'>{links}</ul>")
    routes["/robots.txt"] = page("", headers={"Content-Type": "text/plain"})
    if day >= 1:    # two pages taken down: their takedowns carry the hostile title and date
        for path in ("/h/formula.html", "/h/bad-date.html"):
            routes[path] = page("<h1>404</h1>", status=404)
    return routes


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "takedown", "--data", str(data), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    detects: list[subprocess.CompletedProcess] = []
    data, base, crawls = crawl_days(
        tmp_path_factory.mktemp("hostile"), site, 3,
        '[[target]]\nname = "h"\nurl = "{base}/h/index.html"\ndepth = 1\n',
        "[crawl]\ntimeout = 3\nretries = 0\ndelay = 0\n", DAY,
        lambda data, _done: detects.append(_cli(data, "detect")))
    return base, data, crawls + detects


def test_every_round_and_detection_goes_through(world) -> None:
    _base, _data, runs = world
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
        assert "Traceback" not in run.stderr, run.stderr[-3000:]


def test_every_url_meant_to_be_fetched_ends_as_a_capture(world) -> None:
    base, data, _runs = world
    rows = {}
    for path in pages():
        history = json.loads(_cli(data, "history", base + path, "--json").stdout)
        assert len(history) == 3, (path, history)
        rows[path] = history[0]
    failed = {p: r for p, r in rows.items() if r["state"] == "failed"}
    assert set(failed) == {"/h/stalled.html", "/h/reset-body.html"}, rows
    assert all(r["error"] for r in failed.values()), failed
    assert rows["/h/trickle.html"]["state"] == "ok"


def test_takedowns_of_hostile_pages_are_found(world) -> None:
    base, data, _runs = world
    records = [json.loads(line) for line in _cli(data, "export").stdout.splitlines()]
    assert sorted((r["url"].removeprefix(base), r["kind"]) for r in records) == [
        ("/h/bad-date.html", "removed"), ("/h/formula.html", "removed")]


def test_the_report_csv_holds_the_formula_as_text(world, tmp_path: Path) -> None:
    _base, data, _runs = world
    out = tmp_path / "report"
    done = _cli(data, "report", "--out", str(out), "--format", "csv,html,md,json")
    assert done.returncode == 0, done.stderr[-3000:]
    with open(out / "takedowns.csv", encoding="utf-8", newline="") as fh:
        titles = {row["url"].rsplit("/", 1)[-1]: row["title"] for row in csv.DictReader(fh)}
    assert titles["formula.html"] == "'" + FORMULA


def test_the_store_checks_clean(world) -> None:
    _base, data, _runs = world
    done = _cli(data, "check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_viewer_answers_every_capture(world) -> None:
    _base, data, _runs = world
    store = open_store(data)
    with TestClient(create_app(store), base_url="http://127.0.0.1",
                    raise_server_exceptions=False) as client:
        urls = json.loads(_cli(data, "targets", "--json").stdout)
        assert urls
        index = client.get("/")
        assert index.status_code == 200
        for url_id in range(1, 40):
            for route in (f"/urls/{url_id}", f"/compare/{url_id}"):
                answer = client.get(route)
                assert answer.status_code in (200, 404), (route, answer.status_code)
        for capture_id in range(1, 60):
            answer = client.get(f"/captures/{capture_id}/raw")
            assert answer.status_code in (200, 404), (capture_id, answer.status_code)
        for takedown_id in (1, 2):
            assert client.get(f"/takedowns/{takedown_id}").status_code == 200


def test_hostile_captures_go_through_warc_and_evidence(world, tmp_path: Path) -> None:
    """Every hostile capture (GBK, UTF-16, NUL bytes, binary served as HTML, a body cut by
    a reset, a formula title) exports to WARC, re-imports capture for capture with the same
    hashes, and each takedown's evidence package verifies."""
    base, data, _runs = world
    warc = tmp_path / "hostile.warc.gz"
    done = _cli(data, "export-warc", "--out", str(warc))
    assert done.returncode == 0, done.stderr[-3000:]
    again = tmp_path / "again"
    done = _cli(again, "import-warc", str(warc))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    before, after = open_store(data), open_store(again)
    try:
        for path in pages():
            want, got = before.history(base + path), after.history(base + path)
            assert len(got) == 3, path
            assert [(c.captured_at, c.state, c.body_sha256, c.size) for c in got] == \
                [(c.captured_at, c.state, c.body_sha256, c.size) for c in want], path
    finally:
        before.close()
        after.close()
    for record in (json.loads(line) for line in _cli(data, "export").stdout.splitlines()):
        package = tmp_path / f"{record['id']}.wacz"
        done = _cli(data, "evidence", str(record["id"]), "--out", str(package))
        assert done.returncode == 0, done.stderr[-3000:]
        checked = _cli(data, "verify", str(package))
        assert checked.returncode == 0, checked.stdout + checked.stderr
