"""Notifications through Apprise, on SQLite and PostgreSQL: what a detection finds goes to a
loopback ``json://`` receiver once, a refused delivery is retried by the next run, a digest
collects a period, a URL used for the first time is not sent the store's history, and a
bad ``[notify]`` table names file, line and key.

Rounds are written through the store's own API (``Store.record_capture``) and detected for
real, except in the scheduled round, which crawls a loopback site like the scheduler does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sitesim import RouteSite, page, serve

from crawler.errors import WatchlistError
from crawler.watchlist import parse_watchlist
from diffing.detect import detect
from reports import notify as notify_mod
from reports.notify import NotifyOptions, deliver, prepare
from snapshots.outbox import Outbox, destination_key
from snapshots.records import NewCapture
from takedown import schedule

DAY0 = datetime(2021, 3, 15, tzinfo=UTC)
ARTICLE = ("<html><head><title>{i}</title></head><body><h1>Story {i}</h1><p>"
           + "Local news about roads and schools. " * 20 + "</p></body></html>")
NOTICE = ("<html><body><p>This content has been removed for violating our rules.</p>"
          "</body></html>")
GONE = "<html><body><h1>Not Found</h1></body></html>"


class Receiver:
    """A loopback endpoint recording the JSON POSTed to it; ``status`` answers (500:
    refuse), ``stall`` seconds of silence first."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.status, self.stall = 200, 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(outer.stall)
                if outer.status == 200:
                    outer.posts.append({"path": self.path, **json.loads(body)})
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "hook", auth: str = "") -> str:
        return f"json://{auth}127.0.0.1:{self.port}/{path}"

    def titles(self, path: str = "/hook") -> list[str]:
        return [p["title"] for p in self.posts if p["path"] == path]


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator:
    """A store on SQLite only, for what the backends cannot make differ."""
    from snapshots import open_store

    store = open_store(db_url=f"sqlite:///{tmp_path / 'store.sqlite'}")
    yield store
    store.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _round(store, at: datetime, pages: dict[str, tuple[str, int, str]]) -> None:  # type: ignore[no-untyped-def]
    """One round: *pages* maps a path to (target, status, html); then detection."""
    ids = store.ensure_targets((n, "http://127.0.0.1:9/", {}) for n in ("news", "blog"))
    rid = store.begin_round(at)
    for path, (target, status, html) in pages.items():
        url = f"http://127.0.0.1:9{path}"
        store.record_capture(rid, ids[target], at, NewCapture(
            target=target, url=url, depth=0, via="seed", fetched_at=at, status=status,
            final_url=url, body=html.encode(), text=html, content_type="text/html",
            headers={"Content-Type": "text/html; charset=utf-8"}))
    store.finish_round(rid, {})
    detect(store)


def _day(n: int, a: tuple[int, str], b: tuple[int, str]) -> dict:
    return {"/a": ("news", *a), "/b": ("blog", *b)}


UP = _day(0, (200, ARTICLE.format(i=1)), (200, ARTICLE.format(i=2)))
DOWN = _day(0, (404, GONE), (200, NOTICE))


def test_detection_delivers_each_event_once_with_its_facts(store, receiver: Receiver) -> None:
    opts = NotifyOptions((receiver.url(),), viewer_url="http://viewer.test/")
    prepare(store, opts)
    _round(store, DAY0, UP)
    _round(store, DAY0 + timedelta(days=1), DOWN)
    assert deliver(store, opts) == []
    assert sorted(receiver.titles()) == ["Takedown (censored): http://127.0.0.1:9/b",
                                         "Takedown (removed): http://127.0.0.1:9/a"]
    body, gone = (p["message"] for p in sorted(receiver.posts, key=lambda p: p["title"]))
    assert "censored: http://127.0.0.1:9/b\ntarget: blog\n" in body
    assert "last seen 2021-03-15 00:00 UTC; detected 2021-03-16 00:00 UTC" in body
    assert "notice: “has been removed for violating our”" in body
    assert "viewer: http://viewer.test/takedowns/" in body
    assert "rule: http:404" in gone
    detect(store)                                  # a re-run finds nothing, sends nothing
    assert deliver(store, opts) == [] and len(receiver.posts) == 2
    _round(store, DAY0 + timedelta(days=2), UP)
    deliver(store, opts)
    assert sorted(receiver.titles()[2:]) == ["Restored: http://127.0.0.1:9/a",
                                             "Restored: http://127.0.0.1:9/b"]
    assert Outbox(store).counts(destination_key(receiver.url())) == {"sent": 4}


def test_filters_choose_kinds_and_targets(sqlite_store, receiver: Receiver) -> None:
    only_blog = NotifyOptions((receiver.url("blog"),), targets=("blog",))
    only_removed = NotifyOptions((receiver.url("removed"),), kinds=("removed",))
    for opts in (only_blog, only_removed):
        prepare(sqlite_store, opts)
    _round(sqlite_store, DAY0, UP)
    _round(sqlite_store, DAY0 + timedelta(days=1), DOWN)
    for opts in (only_blog, only_removed):
        deliver(sqlite_store, opts)
    assert receiver.titles("/blog") == ["Takedown (censored): http://127.0.0.1:9/b"]
    assert receiver.titles("/removed") == ["Takedown (removed): http://127.0.0.1:9/a"]


def test_a_refused_delivery_is_kept_and_retried(store, receiver: Receiver) -> None:
    opts = NotifyOptions((receiver.url(auth="ana:s3cret@"),))
    prepare(store, opts)
    _round(store, DAY0, UP)
    _round(store, DAY0 + timedelta(days=1), DOWN)
    receiver.status = 500
    (failure,) = deliver(store, opts)
    assert "s3cret" not in failure.url and failure.url.startswith("json://ana:")
    assert "500" in failure.error and failure.waiting == 2
    key = destination_key(opts.urls[0])
    waiting = Outbox(store).pending(key)
    assert [(i.attempts, i.event) for i in waiting] == [(1, "opened"), (0, "opened")]
    receiver.status = 200
    assert deliver(store, opts) == []               # the next run retries
    assert len(receiver.posts) == 2 and Outbox(store).counts(key) == {"sent": 2}


def test_a_stalled_endpoint_or_a_spent_budget_does_not_hold_a_run(
        sqlite_store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    opts = NotifyOptions((receiver.url(),))
    prepare(sqlite_store, opts)
    _round(sqlite_store, DAY0, UP)
    _round(sqlite_store, DAY0 + timedelta(days=1), DOWN)
    assert deliver(sqlite_store, opts, budget=0) == [] and receiver.posts == []
    monkeypatch.setattr(notify_mod, "SOCKET_TIMEOUT", 0.3)
    receiver.stall = 3
    start = time.monotonic()
    (failure,) = deliver(sqlite_store, opts)
    assert time.monotonic() - start < 2.5 and failure.waiting == 2   # not one try a message


def test_a_digest_collects_a_period(store, receiver: Receiver) -> None:
    opts = NotifyOptions((receiver.url(),), digest=timedelta(days=1))
    prepare(store, opts)
    _round(store, DAY0, UP)
    _round(store, DAY0 + timedelta(hours=30), _day(0, (404, GONE), (200, ARTICLE.format(i=2))))
    deliver(store, opts)
    _round(store, DAY0 + timedelta(hours=42), DOWN)
    deliver(store, opts)
    assert receiver.posts == []                     # the period (from the first event) runs
    _round(store, DAY0 + timedelta(hours=55), UP)
    deliver(store, opts)
    (digest,) = receiver.posts
    assert digest["title"] == "takedown: 2 takedowns, 2 restored"
    assert digest["message"].count("http://127.0.0.1:9/") == 4
    _round(store, DAY0 + timedelta(hours=60), DOWN)
    _round(store, DAY0 + timedelta(hours=80), DOWN)
    deliver(store, opts)                            # a new period starts at its first event
    assert len(receiver.posts) == 1
    _round(store, DAY0 + timedelta(hours=84), DOWN)
    deliver(store, opts)
    assert receiver.posts[1]["title"] == "takedown: 2 takedowns"


def test_a_new_url_is_not_sent_the_stores_history(store, receiver: Receiver) -> None:
    _round(store, DAY0, UP)
    _round(store, DAY0 + timedelta(days=1), DOWN)
    opts = NotifyOptions((receiver.url(),))
    prepare(store, opts)                     # two takedowns open before it was used
    deliver(store, opts)
    assert receiver.posts == []
    _round(store, DAY0 + timedelta(days=2), _day(0, (200, ARTICLE.format(i=1)), (200, NOTICE)))
    deliver(store, opts)
    assert receiver.titles() == ["Restored: http://127.0.0.1:9/a"]


# -- the command line and the scheduler -------------------------------------------------------


def test_a_scheduled_round_delivers_once_to_the_watchlist_and_notify_urls(
        db_url: str, tmp_path: Path, receiver: Receiver) -> None:
    """The first round is written through the store; the scheduled one crawls the site,
    where a page is gone, and its detection sends to both URLs; a re-run sends nothing."""
    from click.testing import CliRunner

    from snapshots import open_store
    from takedown.cli import Context, cli

    site = RouteSite({"/a.html": page(ARTICLE.format(i=1))})
    server = serve(site)
    base = server.base_url
    wl = tmp_path / "wl.toml"
    wl.write_text(f'[crawl]\ntimeout = 2\nretries = 0\ndelay = 0\n[notify]\n'
                  f'urls = ["{receiver.url("table")}"]\n'
                  + "".join(f'[[target]]\nname = "{n}"\nurl = "{base}/{n}.html"\n'
                            for n in "ab"), encoding="utf-8")
    store = open_store(db_url=db_url)
    ids = store.ensure_targets((n, f"{base}/{n}.html", {}) for n in "ab")
    rid = store.begin_round(DAY0)
    for n in "ab":
        html = ARTICLE.format(i=n)
        store.record_capture(rid, ids[n], DAY0, NewCapture(
            target=n, url=f"{base}/{n}.html", depth=0, via="seed", fetched_at=DAY0,
            status=200, final_url=f"{base}/{n}.html", body=html.encode(), text=html,
            content_type="text/html", headers={"Content-Type": "text/html"}))
    store.finish_round(rid, {})
    rt = schedule._RUNTIME = schedule._Runtime(store, notify=(receiver.url("option"),))
    try:
        schedule.run_round_job("every-1h", str(wl), ["a", "b"], str(tmp_path), db_url, [])
    finally:
        schedule._RUNTIME = None
        server.stop()
    gone = f"Takedown (removed): {base}/b.html"
    assert receiver.titles("/table") == [gone] and receiver.titles("/option") == [gone]
    again = CliRunner().invoke(cli, ["--db", db_url, "detect", "--watchlist", str(wl),
                                     "--notify", receiver.url("option")], obj=Context())
    rt.store.close()
    assert again.exit_code == 0, again.output
    assert len(receiver.posts) == 2


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "takedown", *args], capture_output=True,
                          text=True, timeout=60)


def test_detect_warns_on_a_refused_delivery_and_exits_0(sqlite_store,
                                                        receiver: Receiver) -> None:
    from click.testing import CliRunner

    from takedown.cli import Context, cli

    url = receiver.url(auth="ana:s3cret@")
    prepare(sqlite_store, NotifyOptions((url,)))
    _round(sqlite_store, DAY0, UP)
    _round(sqlite_store, DAY0 + timedelta(days=1), DOWN)  # detected; queued by the CLI's run
    receiver.status = 500
    db = ["--db", str(sqlite_store.engine.url)]
    run = CliRunner().invoke(cli, [*db, "detect", "--notify", url], obj=Context())
    assert run.exit_code == 0, run.output
    assert f"warning: notify json://ana:***@127.0.0.1:{receiver.port}/hook: " in run.stderr
    assert "(2 events kept for the next run)" in run.stderr and "s3cret" not in run.stderr
    listed = CliRunner().invoke(cli, [*db, "notify", "--notify", url, "--json"], obj=Context())
    assert json.loads(listed.stdout) == [{"url": f"json://ana:***@127.0.0.1:{receiver.port}"
                                          "/hook", "pending": 2, "sent": 0, "known": 0}]


def test_notify_test_sends_one_message_and_names_the_urls_that_fail(
        tmp_path: Path, receiver: Receiver) -> None:
    wl = tmp_path / "wl.toml"
    wl.write_text(f'[notify]\nurls = ["{receiver.url()}"]\n[[target]]\nname = "a"\n'
                  'url = "http://127.0.0.1:9/"\n', encoding="utf-8")
    from click.testing import CliRunner

    from takedown.cli import Context, cli

    ok = CliRunner().invoke(cli, ["notify", "--test", "--watchlist", str(wl)], obj=Context())
    assert ok.exit_code == 0, ok.output
    assert receiver.titles() == ["takedown: test message"]
    dead = "json://ana:s3cret@127.0.0.1:9/nothing-listens"
    bad = _cli("notify", "--test", "--watchlist", str(wl), "--notify", dead)
    assert bad.returncode == 2 and len(receiver.posts) == 2
    assert bad.stderr.startswith("error: not delivered to 1 of 2 URLs: json://ana:")
    assert "s3cret" not in bad.stderr and "127.0.0.1:9/nothing-listens" in bad.stderr
    unknown = CliRunner().invoke(cli, ["notify", "--test", "--notify", "http://example.org/"],
                                 obj=Context())
    assert unknown.exit_code == 2 and "not a URL Apprise knows" in unknown.output


# -- the [notify] table -----------------------------------------------------------------------

TARGET = '[[target]]\nname = "a"\nurl = "http://127.0.0.1:9/"\n'


@pytest.mark.parametrize(("table", "where"), [
    ('[notify]\nkinds = ["censored"]\n', "wl.toml:4: missing key 'urls'"),
    ('[notify]\nurls = ["json://127.0.0.1/"]\ncolour = 1\n', "wl.toml:6: unknown key 'colour'"),
    ('[notify]\nurls = ["http://ana:pw@x/"]\n',
     "wl.toml:5: key 'urls' in [notify] has 'http://ana:***@x/', which is not a URL Apprise"),
    ('[notify]\nurls = ["json://x/"]\nkinds = ["gone"]\n',
     "wl.toml:6: key 'kinds' in [notify] has unknown kind 'gone'"),
    ('[notify]\nurls = ["json://x/"]\n\ntargets = ["b"]\n',
     "wl.toml:7: key 'targets' in [notify] names unknown target 'b' (targets: a)"),
    ('[notify]\nurls = ["json://x/"]\ndigest = "1 day"\n',
     "wl.toml:6: key 'digest' in [notify] must be an interval"),
    ('[notify]\nurls = ["json://x/"]\nviewer_url = "javascript:x"\n',
     "wl.toml:6: key 'viewer_url' in [notify] must be an http(s) URL"),
], ids=["no-urls", "unknown-key", "not-apprise", "kind", "target", "digest", "viewer"])
def test_a_bad_notify_table_names_file_line_and_key(table: str, where: str) -> None:
    with pytest.raises(WatchlistError) as caught:
        parse_watchlist(TARGET + table, "wl.toml")
    assert str(caught.value).startswith(where), str(caught.value)


def test_a_notify_table_reads_into_its_spec() -> None:
    wl = parse_watchlist(TARGET + '[notify]\nurls = ["json://127.0.0.1/", "ntfy://ntfy.sh/t"]\n'
                         'kinds = ["censored"]\ntargets = ["a"]\ndigest = "1d"\n', "wl.toml")
    assert wl.notify is not None and wl.notify.urls == ("json://127.0.0.1/", "ntfy://ntfy.sh/t")
    assert (wl.notify.kinds, wl.notify.targets, wl.notify.digest) == (("censored",), ("a",), "1d")
    assert parse_watchlist(TARGET, "wl.toml").notify is None
