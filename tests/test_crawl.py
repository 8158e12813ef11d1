"""Real Scrapy rounds against a loopback site: what a round stores, case by case.

One module-scoped scenario runs three rounds over a site that shows every fetch case at
once (statuses, redirects, retries, faults, encodings, size cap, robots, session ids), then
each test reads what the store holds.
"""

from __future__ import annotations

import pytest
from sitesim import RouteSite, crawl, page, serve, watchlist
from sqlalchemy import select

from snapshots import open_store
from snapshots.models import Capture, Url
from takedown.demo.server import Reply

GBK_TEXT = "朱镕基视察军民融合项目"   # 镕 lies outside GB2312, inside GB18030
BIG = 300 * 1024


def listing(ids: list[int], sid: str) -> Reply:
    items = "".join(f'<li><a href="/news/{i}.html?sid={sid}">item {i}</a></li>'
                    f'<li><a href="/news/{i}.html?zz={sid}">item {i} (zz)</a></li>'
                    for i in ids)
    return page(f"<ul>{items}</ul><a href='/out.html'>out</a>"
                "<a href='http://example.org/x'>elsewhere</a>"
                "<a href='/private/p.html'>private</a>"
                "<a href='/ads/a.html'>ad</a>", title="list")


def round_routes(day: int) -> dict:
    ids = [1, 2, 3, 4, 5] if day == 0 else [1, 3, 4, 5]   # item 2 leaves the listing on day 1
    sid = f"s{day}x"
    gbk = (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
           f"</head><body><p>{GBK_TEXT}</p></body></html>").encode("gb18030")
    routes = {
        "/robots.txt": Reply(headers={"Content-Type": "text/plain"},
                             body=b"User-agent: *\nDisallow: /private/\n"),
        "/news/list.html": listing(ids, sid),
        "/news/1.html": page("<p>one</p>"),
        "/news/2.html": page("<p>two</p>"),
        "/news/3.html": page("<p>three</p>"),
        "/news/4.html": page("<p>four</p>"),
        "/news/5.html": page("<p>five</p>"),
        "/gone/410.html": page("gone", status=410),
        "/gone/451.html": page("unavailable for legal reasons", status=451),
        "/moved/old.html": Reply(status=301, headers={"Location": "/moved/new.html"}),
        "/moved/new.html": page("<p>moved here</p>"),
        "/flaky/500.html": [page("boom", status=500)],
        "/flaky/429.html": [Reply(status=429, headers={"Retry-After": "1"}), page("<p>ok</p>")],
        "/fault/reset.html": Reply(fault="reset"),
        "/fault/truncate.html": page("<p>" + "x" * 5000 + "</p>", fault="truncate"),
        "/fault/slow.html": page("<p>slow</p>", delay=4.0),
        "/enc/gbk.html": Reply(headers={"Content-Type": "text/html"}, body=gbk),
        "/bin/blob.bin": Reply(headers={"Content-Type": "application/octet-stream"},
                               body=bytes(range(256)) * 4),
        "/big/page.html": page("<p>" + "y" * BIG + "</p>"),
        "/private/p.html": page("secret"),
    }
    return routes


SINGLES = ["/gone/410.html", "/gone/451.html", "/moved/old.html", "/flaky/500.html",
           "/flaky/429.html", "/fault/reset.html", "/fault/truncate.html", "/fault/slow.html",
           "/enc/gbk.html", "/bin/blob.bin", "/big/page.html"]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("crawl")
    site = RouteSite(round_routes(0))
    server = serve(site)
    base = server.base_url
    targets = f"""
[[target]]
name = "news"
url = "{base}/news/list.html"
depth = 1
deny = ["/ads/"]
headers = {{ X-Research = "takedown-tests" }}
""" + "".join(f'\n[[target]]\nname = "single{i}"\nurl = "{base}{p}"\n'
              for i, p in enumerate(SINGLES))
    wl = watchlist(tmp / "wl.toml", targets,
                   "[crawl]\ntimeout = 2\nretries = 1\ndelay = 0\nmax_size = 102400\n")
    data = tmp / "data"
    runs = []
    for day in range(3):
        site.swap(round_routes(day))
        server.hits.clear()
        runs.append(crawl(wl, data, f"2021-03-{15 + day}T06:00:00Z"))
        runs[-1].hits = dict(server.hits)
        runs[-1].requests = list(site.requests)
        site.requests.clear()
    server.stop()
    store = open_store(data)
    yield {"base": base, "runs": runs, "store": store, "data": data}
    store.close()


def last(scenario, path: str):
    rows = scenario["store"].history(scenario["base"] + path)
    assert rows, f"no capture of {path}"
    return rows[-1]


def test_rounds_exit_zero_even_with_failures(scenario) -> None:
    for run in scenario["runs"]:
        assert run.returncode == 0, run.stderr
    rounds = scenario["store"].rounds()
    assert [r["status"] for r in rounds] == ["done"] * 3
    assert [r["at"] for r in rounds] == [f"2021-03-{d}T06:00:00+00:00" for d in (15, 16, 17)]


@pytest.mark.parametrize(("path", "status", "state"), [
    ("/gone/410.html", 410, "gone"), ("/gone/451.html", 451, "notice"),
    ("/flaky/500.html", 500, "failed"), ("/flaky/429.html", 200, "ok"),
], ids=["410", "451", "500", "429-then-ok"])
def test_status_is_stored(scenario, path: str, status: int, state: str) -> None:
    row = last(scenario, path)
    assert (row.status, row.state) == (status, state)


def test_500_retried_with_backoff_then_recorded_failed(scenario) -> None:
    assert scenario["runs"][-1].hits["/flaky/500.html"] == 2      # first try + 1 retry


def test_429_honours_retry_after(scenario) -> None:
    with scenario["store"].session() as s:
        row = s.query(Capture).join(Url).filter(Url.url.like("%/flaky/429.html")).first()
        assert row.attempts == 2 and row.status == 200


def test_redirect_chain_is_kept_and_url_is_as_watched(scenario) -> None:
    row = last(scenario, "/moved/old.html")
    assert row.final_url == scenario["base"] + "/moved/new.html"
    assert row.redirects == [[301, scenario["base"] + "/moved/old.html"]]


@pytest.mark.parametrize(("path", "kind"), [
    ("/fault/reset.html", "reset"), ("/fault/slow.html", "timeout"),
    ("/fault/truncate.html", "dataloss"),
], ids=["reset", "timeout", "truncated"])
def test_faults_are_failed_captures(scenario, path: str, kind: str) -> None:
    row = last(scenario, path)
    assert row.state == "failed" and row.error_kind == kind
    hits = scenario["runs"][-1].hits[path]
    # retried once by us; Twisted's pool also replays a GET once when a reused
    # keep-alive connection is reset, so a reset may reach the server twice per try
    # (whether a try got a reused connection depends on what else was in flight)
    assert hits == 2 or (kind == "reset" and 2 < hits <= 4)


def test_truncated_body_keeps_what_arrived(scenario) -> None:
    row = last(scenario, "/fault/truncate.html")
    assert row.truncated and 0 < row.size < 5000


def test_size_cap_keeps_the_head(scenario) -> None:
    row = last(scenario, "/big/page.html")
    assert row.state == "ok" and row.truncated and row.size == 102400
    assert scenario["store"].blob(row.body_sha256).startswith(b"<html><head><title>")


def test_gb2312_label_decodes_as_gb18030(scenario) -> None:
    store = scenario["store"]
    with store.session() as s:
        cap = s.query(Capture).join(Url).filter(Url.url.like("%/enc/gbk.html")).first()
        text_sha, body_sha, enc = cap.text_sha256, cap.body_sha256, cap.encoding
    assert GBK_TEXT in store.blob(text_sha).decode("utf-8")
    assert store.blob(body_sha) == store.blob(body_sha).decode("gb18030").encode("gb18030")
    assert enc == "gb18030"


def test_binary_page_is_stored(scenario) -> None:
    row = last(scenario, "/bin/blob.bin")
    assert row.state == "ok"
    assert scenario["store"].blob(row.body_sha256) == bytes(range(256)) * 4


def test_vanished_listing_item_is_revisited(scenario) -> None:
    rows = scenario["store"].history(scenario["base"] + "/news/2.html")
    assert [r.captured_at.day for r in rows] == [15, 16, 17]
    with scenario["store"].session() as s:
        vias = [c.via for c in s.query(Capture).join(Url)
                .filter(Url.url.like("%/news/2.html")).order_by(Capture.id)]
    assert vias == ["link", "revisit", "revisit"]


def test_depth_allow_deny_same_host_robots(scenario) -> None:
    hits = scenario["runs"][0].hits
    assert "/out.html" in hits                       # same host, no allow list: followed
    assert not any(p.startswith("/ads/") for p in hits)          # deny
    assert not any(p.startswith("/private/") for p in hits)      # robots.txt
    assert "/robots.txt" in hits
    assert not any("example.org" in r.url for r in scenario["store"].history(
        "http://example.org/x"))


def test_per_target_headers_and_user_agent(scenario) -> None:
    headers = dict(scenario["runs"][0].requests)["/news/list.html"]
    assert headers.get("X-Research") == "takedown-tests"
    assert headers.get("User-Agent", "").startswith("takedown/")


def test_session_parameter_learned_and_merged(scenario) -> None:
    store = scenario["store"]
    learned = store.volatile_params()
    assert "zz" in learned.get("127.0.0.1", set())
    with store.session() as s:
        news1 = [u for (u,) in s.query(Url.url).filter(Url.url.like("%/news/1.html%"))]
    assert news1 == [scenario["base"] + "/news/1.html"]
    assert len(store.history(scenario["base"] + "/news/1.html")) == 3
    assert store.integrity_problems() == []


def test_summary_counts_what_the_store_holds(scenario) -> None:
    """The zz links split news pages until zz was learned and the URLs merged: the
    printed captures of the round that learned it (and of the next) are the store's, not
    those written before the merge (the merge also thins the earlier rounds)."""
    runs, rounds = scenario["runs"], scenario["store"].rounds()
    learned = next(i for i, r in enumerate(runs) if "learned session parameters" in r.stdout)
    for run, stored in zip(runs[learned:], rounds[learned:], strict=True):
        row = next(line for line in run.stdout.splitlines() if "│ all " in line)
        printed = int(row.split("│")[3])
        assert printed == stored["captures"], run.stdout


def _stored(data, *columns) -> list[tuple]:
    """(URL, *columns) of every capture in the store at *data*."""
    store = open_store(data)
    with store.session() as s:
        rows = s.execute(select(Url.url, *columns)
                         .join(Capture, Capture.url_id == Url.id)).all()
    store.close()
    return [tuple(r) for r in rows]


def test_an_ipv6_literal_target_is_fetched(tmp_path) -> None:
    """``http://[::1]:PORT/`` is fetched like any host (Scrapy's default resolver asked
    for IPv4 only: every fetch failed with "DNS lookup failed")."""
    from takedown.demo.server import SiteServer

    site = RouteSite({"/robots.txt": page("", headers={"Content-Type": "text/plain"}),
                      "/six.html": page("<p>served over IPv6</p>")})
    try:
        server = SiteServer(site, host="::1").start()
    except OSError as exc:
        pytest.skip(f"this machine cannot listen on ::1 ({exc})")
    base = server.base_url
    try:
        wl = watchlist(tmp_path / "wl.toml",
                       f'[[target]]\nname = "six"\nurl = "{base}/six.html"\n')
        run = crawl(wl, tmp_path / "data", "2024-06-01T08:00:00Z")
    finally:
        server.stop()
    assert run.returncode == 0, run.stderr[-3000:]
    assert (f"{base}/six.html", 200, None) in _stored(tmp_path / "data", Capture.status,
                                                      Capture.error)


def test_an_unreachable_site_is_a_failed_capture_without_tracebacks(tmp_path) -> None:
    """Nothing listens: robots.txt cannot be read (one warning line, where Scrapy logged two
    tracebacks), the page is tried and stored failed with its reason, the round is done."""
    import socket

    with socket.socket() as sock:  # a port nobody listens on once it is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    wl = watchlist(tmp_path / "wl.toml",
                   f'[[target]]\nname = "a"\nurl = "http://127.0.0.1:{port}/x.html"\n')
    run = crawl(wl, tmp_path / "data", "2024-06-01T08:00:00Z", "--no-progress")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert "robots.txt unread: the page is fetched anyway" in run.stderr
    assert (f"http://127.0.0.1:{port}/x.html", "refused") in _stored(tmp_path / "data",
                                                                     Capture.error_kind)


def test_loopback_only_refuses_a_proxy_elsewhere(tmp_path) -> None:
    """Under TAKEDOWN_LOOPBACK_ONLY a target's proxy is a host the request goes to: one
    beyond loopback is refused like the target's own host would be (never contacted)."""
    site = RouteSite({"/robots.txt": page("", headers={"Content-Type": "text/plain"}),
                      "/p.html": page("<p>through a proxy</p>")})
    server = serve(site)
    base = server.base_url
    try:
        wl = watchlist(tmp_path / "wl.toml",
                       f'[[target]]\nname = "p"\nurl = "{base}/p.html"\n'
                       'proxy = "http://192.0.2.1:3128"\n',
                       "[crawl]\ntimeout = 2\nretries = 0\ndelay = 0\n")
        run = crawl(wl, tmp_path / "data", "2024-06-01T08:00:00Z", "--no-progress")
    finally:
        server.stop()
    assert run.returncode == 0, run.stderr[-3000:]
    assert (f"{base}/p.html", "refused_host") in _stored(tmp_path / "data", Capture.error_kind)


def test_a_crawl_stopped_by_ctrl_c_says_so_and_exits_130(tmp_path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    routes = {"/robots.txt": page("", headers={"Content-Type": "text/plain"}),
              "/list.html": page("".join(f"<a href='/s/{i}.html'>story {i}</a>"
                                         for i in range(30)))}
    routes |= {f"/s/{i}.html": page(f"<p>story {i}</p>", delay=1.0) for i in range(30)}
    site = RouteSite(routes)
    server = serve(site)
    try:
        wl = watchlist(tmp_path / "wl.toml",
                       f'[[target]]\nname = "s"\nurl = "{server.base_url}/list.html"\n'
                       "depth = 1\n", "[crawl]\ntimeout = 20\nretries = 0\nconcurrency = 1\n")
        proc = subprocess.Popen(
            [sys.executable, "-m", "takedown", "--data", str(tmp_path / "data"), "crawl",
             str(wl), "--at", "2024-06-01T08:00:00Z", "--no-progress"],
            env=dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1"), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not any(p.startswith("/s/") for p, _h in list(site.requests)) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        server.stop()
    assert proc.returncode == 130, err[-3000:]
    assert "round 1 interrupted" in err and "(interrupted)" in out
    assert "Traceback" not in err
