"""Browser targets, screenshots and cookies, in real headless Chromium against a loopback site.

Two rounds as ``takedown crawl`` subprocesses (one browser launch each), then ``takedown
detect``:

1. a page whose article text is written by a script: the browser target captures the text,
   the plain target of the same page does not (its raw body, kept beside, has the script,
   not the text); a full-page PNG is stored; the cookies file reaches the server, in the
   ``Cookie`` header of plain and browser requests;
2. the page is gone (404): a takedown of the browser target, shown in the viewer with the
   before and after screenshots side by side and packed into a verified evidence package;
   the cookies have expired: both cookie targets are redirected to a login page, which is
   ``restricted`` (the round summary says so), never a takedown.

The cookie's value is then looked for everywhere we write: every blob, every captures row,
the database files, the crawl output, the export, the WARC export, the evidence package.
A distributed worker (Redis: ``TAKEDOWN_TEST_REDIS_URL``) renders a browser target too.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.request import urlopen

import pytest
from serving import serving
from sitesim import HTML, RouteSite, crawl, page, serve, watchlist
from sqlalchemy import select

from reports.viewer import create_app
from snapshots import open_store
from snapshots.browse import takedown_list
from snapshots.models import Blob, Capture, Target, Url, Verdict
from takedown.demo.server import Reply

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (make browser installs it)", allow_module_level=True)
pytest.importorskip("scrapy_playwright", reason="scrapy-playwright is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
SECRET = "k7Qz-cookie-value-9f3e1b"
TEXT = "The harvest report of the northern district was published this morning"
# the text exists only once the script ran: the served HTML holds it reversed
SCRIPT = ("<script>var t = '" + TEXT[::-1] + "'.split('').reverse().join('');"
          "var p = document.createElement('p'); p.textContent = t + '. It goes on for a while "
          "so that the article is a real paragraph of prose.';"
          "document.getElementById('story').appendChild(p);</script>")
STORY = page("<h1>News</h1><article id=\"story\"></article>" + SCRIPT, title="Harvest")
MEMBERS = page("<p>Members only: the board met today and decided many things at length.</p>")
LOGIN = page("<h1>Sign in</h1><form method=post><input name=user>"
             "<input type=password name=pw><button>Sign in</button></form>", title="Sign in")
# the plain target watches a copy of the page: a takedown is one record per URL
# a server that sends the session cookie back (renewed as it was): a leak path to close
ECHO = Reply(200, {**HTML, "Set-Cookie": f"sid={SECRET}; Path=/; HttpOnly"}, MEMBERS.body)
DAY1 = {"/story.html": STORY, "/copy.html": STORY, "/members.html": ECHO, "/app.html": ECHO}
DAY2 = {"/story.html": page("<h1>Not Found</h1>", status=404), "/copy.html": STORY,
        "/members.html": Reply(302, {"Location": "/login?next=/members.html", **HTML}),
        "/app.html": Reply(302, {"Location": "/login?next=/app.html", **HTML}),
        "/login?next=/members.html": LOGIN, "/login?next=/app.html": LOGIN}
TARGETS = """
[[target]]
name = "rendered"
url = "{base}/story.html"
render = "browser"
wait_for = "#story p"
screenshot = true

[[target]]
name = "plain"
url = "{base}/copy.html"

[[target]]
name = "members"
url = "{base}/members.html"
cookies = "cookies.txt"

[[target]]
name = "members-app"
url = "{base}/app.html"
render = "browser"
cookies = "cookies.txt"
"""
CRAWL = "[crawl]\ntimeout = 5\nretries = 1\ndelay = 0\nconcurrency = 4\n"


def _takedown(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "takedown", *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1", **(env or {})))
    assert run.returncode == 0, f"{args}: {run.stdout[-2000:]}{run.stderr[-3000:]}"
    return run


def _cookies(folder: Path) -> None:
    (folder / "cookies.txt").write_text("# Netscape HTTP Cookie File\n"
                                        f"127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\t{SECRET}\n")


def _captures(data: Path) -> dict[tuple[int, str, str], dict]:
    """(round, target, path) → the capture's row, verdict and blobs."""
    store = open_store(data)
    try:
        with store.session() as s:
            rows = s.execute(select(Capture, Url.url, Target.name, Verdict.state)
                             .join(Url, Url.id == Capture.url_id)
                             .join(Target, Target.id == Capture.target_id)
                             .outerjoin(Verdict, Verdict.capture_id == Capture.id)).all()
        out = {}
        for c, url, target, verdict in rows:
            blob = {k: store.blob(getattr(c, f"{k}_sha256")) if getattr(c, f"{k}_sha256")
                    else None for k in ("text", "raw", "screenshot")}
            out[(c.round_id, target, url.rsplit("/", 1)[-1])] = {
                "id": c.id, "state": c.state, "verdict": verdict, "status": c.status,
                "headers": c.headers, **blob}
        return out
    finally:
        store.close()


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("browser")
    site = RouteSite(DAY1)
    server = serve(site)
    base = server.base_url
    _cookies(tmp)
    wl = watchlist(tmp / "wl.toml", TARGETS.replace("{base}", base), CRAWL)
    data = tmp / "data"
    try:
        first = crawl(wl, data, "2026-01-01T00:00:00Z")
        day1 = list(site.requests)
        site.swap(DAY2)
        second = crawl(wl, data, "2026-01-02T00:00:00Z")
    finally:
        server.stop()
    for run in (first, second):
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    detect = _takedown("--data", str(data), "detect")
    export = _takedown("--data", str(data), "export", "--format", "jsonl")
    records = [json.loads(line) for line in export.stdout.splitlines() if line.strip()]
    return {"tmp": tmp, "data": data, "base": base, "requests": day1,
            "outputs": [first, second, detect, export], "records": records,
            "captures": _captures(data)}


def test_the_browser_captures_the_text_a_script_writes_and_the_plain_fetch_does_not(
        rounds: dict) -> None:
    caps = rounds["captures"]
    rendered, plain = caps[(1, "rendered", "story.html")], caps[(1, "plain", "copy.html")]
    assert TEXT in rendered["text"].decode("utf-8")
    assert TEXT not in plain["text"].decode("utf-8")
    assert plain["raw"] is None and plain["screenshot"] is None
    # the HTTP response's own body is kept beside the rendered DOM: the script, not its text
    assert b"<script>" in rendered["raw"] and TEXT.encode() not in rendered["raw"]
    assert rendered["screenshot"].startswith(PNG)
    assert caps[(1, "members-app", "app.html")]["screenshot"] is None   # not asked for


def test_a_rendered_text_removed_is_a_takedown_shown_with_both_screenshots(
        rounds: dict) -> None:
    story = f"{rounds['base']}/story.html"
    mine = [r for r in rounds["records"] if r["url"] == story and r["target"] == "rendered"]
    assert [r["kind"] for r in mine] == ["removed"]
    assert not [r for r in rounds["records"] if r["target"] == "plain"]
    caps = rounds["captures"]
    before, after = caps[(1, "rendered", "story.html")], caps[(2, "rendered", "story.html")]
    assert after["screenshot"].startswith(PNG) and after["screenshot"] != before["screenshot"]
    store = open_store(rounds["data"])
    try:
        td = _rendered_takedown(store)
        with serving(create_app(store)) as base:
            html = urlopen(f"{base}/takedowns/{td}").read().decode("utf-8")
            for c in (before, after):
                assert f'src="/captures/{c["id"]}/screenshot.png"' in html
            with urlopen(f"{base}/captures/{after['id']}/screenshot.png") as r:
                assert r.headers["Content-Type"] == "image/png"
                assert r.headers["X-Content-Type-Options"] == "nosniff"
                assert "img-src data: 'self'" in r.headers["Content-Security-Policy"]
                assert r.read() == after["screenshot"]
            widths = _image_widths(f"{base}/takedowns/{td}")
    finally:
        store.close()
    assert len(widths) == 2 and all(w > 0 for w in widths)   # the CSP lets both load


def _rendered_takedown(store: object) -> int:
    return next(r["id"] for r in takedown_list(store, targets=("rendered",)))


def _image_widths(url: str) -> list[int]:
    """The natural widths of the screenshots as the viewer's page shows them in Chromium."""
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM,
                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            p = browser.new_page()
            p.goto(url)
            p.wait_for_load_state("load")
            return p.eval_on_selector_all("#screenshots img",
                                          "els => els.map(e => e.naturalWidth)")
        finally:
            browser.close()


def test_the_evidence_package_holds_the_screenshots_and_verifies(rounds: dict) -> None:
    tmp, data = rounds["tmp"], rounds["data"]
    store = open_store(data)
    try:
        td = _rendered_takedown(store)
    finally:
        store.close()
    out = tmp / "td.wacz"
    _takedown("--data", str(data), "evidence", str(td), "--out", str(out))
    _takedown("verify", str(out))
    with zipfile.ZipFile(out) as zf:
        shots = [n for n in zf.namelist() if n.startswith("takedown/screenshot-")]
        package = json.loads(zf.read("datapackage.json"))
        assert len(shots) == 2 and all(zf.read(n).startswith(PNG) for n in shots)
    listed = {r["path"] for r in package["resources"]}
    assert set(shots) <= listed


def test_cookies_reach_the_server_in_plain_and_browser_requests(rounds: dict) -> None:
    sent = {path: h.get("Cookie") or h.get("cookie") for path, h in rounds["requests"]
            if path in ("/members.html", "/app.html", "/story.html")}
    assert sent["/members.html"] == f"sid={SECRET}"
    assert sent["/app.html"] == f"sid={SECRET}"
    assert sent["/story.html"] is None     # a target without cookies sends none


def test_an_expired_login_is_restricted_and_said_never_a_takedown(rounds: dict) -> None:
    caps = rounds["captures"]
    for target, path in (("members", "members.html"), ("members-app", "app.html")):
        assert caps[(1, target, path)]["verdict"] == "ok"
        assert caps[(2, target, path)]["state"] == "restricted"
        assert caps[(2, target, path)]["verdict"] == "restricted"
    assert not [r for r in rounds["records"] if r["target"].startswith("members")]
    summary = rounds["outputs"][1].stdout
    assert "login wall: members:" in summary and "login wall: members-app:" in summary
    assert "login wall" not in rounds["outputs"][0].stdout
    # the Set-Cookie the server sent back is kept as a header that was there, not its value
    assert caps[(1, "members", "members.html")]["headers"]["set-cookie"] == "<hidden>"
    assert caps[(1, "members-app", "app.html")]["headers"]["set-cookie"] == "<hidden>"


def test_the_cookie_value_is_stored_and_written_nowhere(rounds: dict) -> None:
    data, secret = rounds["data"], SECRET.encode()
    store = open_store(data)
    try:
        with store.session() as s:
            keys = s.execute(select(Blob.sha256)).scalars().all()
            rows = s.execute(select(Capture)).scalars().all()
        assert all(secret not in store.blob(k) for k in keys)
        for c in rows:
            assert SECRET not in repr({k: v for k, v in vars(c).items() if k[0] != "_"})
    finally:
        store.close()
    for f in data.iterdir():
        if f.is_file():
            assert secret not in f.read_bytes(), f
    warc = rounds["tmp"] / "all.warc.gz"
    _takedown("--data", str(data), "export-warc", "--out", str(warc))
    assert secret not in gzip.decompress(warc.read_bytes())
    for run in rounds["outputs"]:
        assert SECRET not in run.stdout + run.stderr
    wacz = rounds["tmp"] / "td.wacz"
    if wacz.exists():
        with zipfile.ZipFile(wacz) as zf:
            for name in zf.namelist():
                raw = zf.read(name)
                assert secret not in (gzip.decompress(raw) if name.endswith(".gz") else raw)


REDIS_URL = os.environ.get("TAKEDOWN_TEST_REDIS_URL")


def test_a_distributed_worker_renders_a_browser_target(tmp_path: Path, prefix: str) -> None:
    site = RouteSite({"/story.html": STORY})
    server = serve(site)
    data = tmp_path / "data"
    wl = watchlist(tmp_path / "wl.toml", TARGETS.split("[[target]]\nname = \"plain\"")[0]
                   .replace("{base}", server.base_url), CRAWL)
    env = dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1", TAKEDOWN_REDIS_PREFIX=prefix)
    worker = subprocess.Popen([sys.executable, "-m", "takedown", "--data", str(data), "worker",
                               "--redis", REDIS_URL], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _takedown("--data", str(data), "crawl", str(wl), "--redis", REDIS_URL, "--at",
                  "2026-01-01T00:00:00Z", "--no-progress", env={"TAKEDOWN_REDIS_PREFIX": prefix})
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
        server.stop()
    assert worker.returncode == 0, err[-3000:]
    rendered = _captures(data)[(1, "rendered", "story.html")]
    assert TEXT in rendered["text"].decode("utf-8")
    assert rendered["screenshot"].startswith(PNG)
