"""The command-line contract: exit codes, error messages, JSON output, the global options
(before or after the subcommand), history with detection's verdicts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import click.testing
import httpx
import pytest
from click.testing import CliRunner
from sitesim import RouteSite, crawl, page, serve, watchlist

from takedown.cli import Context, cli


def takedown(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "takedown", *args], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize(("text", "line", "key"), [
    ('[[target]]\nname = "a"\nurl = "http://127.0.0.1:9/"\ndepht = 1\n', 4, "depht"),
    ('[crawl]\ntimeout = 2\nconcurency = 3\n\n[[target]]\nname = "a"\n'
     'url = "http://127.0.0.1:9/"\n', 3, "concurency"),
    ('[[target]]\nname = "a"\nurl = "http://127.0.0.1:9/"\n\n[[target]]\nname = "a"\n'
     'url = "http://127.0.0.1:9/b"\n', 6, "name"),
    ('[[target]]\nname = "a"\nurl = "http://127.0.0.1:9/"\nallow = ["(unclosed"]\n', 4,
     "allow"),
], ids=["typo-target-key", "typo-crawl-key", "duplicate-name", "bad-regex"])
def test_bad_watchlist_names_file_line_key_and_writes_nothing(
        tmp_path: Path, text: str, line: int, key: str) -> None:
    wl = tmp_path / "watch.toml"
    wl.write_text(text, encoding="utf-8")
    data = tmp_path / "data"
    run = takedown("--data", str(data), "crawl", str(wl))
    assert run.returncode == 2
    assert run.stderr.startswith(f"error: {wl}:{line}: ")
    assert f"'{key}'" in run.stderr
    assert "Traceback" not in run.stderr
    assert not data.exists()


def test_bad_at_stamp_is_a_usage_error(tmp_path: Path) -> None:
    wl = tmp_path / "w.toml"
    wl.write_text('[[target]]\nname = "a"\nurl = "http://127.0.0.1:9/"\n', encoding="utf-8")
    run = takedown("--data", str(tmp_path / "d"), "crawl", str(wl), "--at", "yesterday")
    assert run.returncode == 2 and "ISO-8601" in run.stderr


def test_missing_watchlist_file(tmp_path: Path) -> None:
    run = takedown("--data", str(tmp_path / "d"), "crawl", str(tmp_path / "nope.toml"))
    assert run.returncode == 2 and "nope.toml" in run.stderr


def test_inspection_commands(tmp_path: Path, db_url: str) -> None:
    """targets, rounds and history read the same on SQLite and PostgreSQL (aggregates,
    time zones of the stamps)."""
    site = RouteSite({"/a.html": page("<a href='/b.html'>b</a>"), "/b.html": page("b")})
    server = serve(site)
    base = server.base_url
    wl = watchlist(tmp_path / "w.toml",
                   f'[[target]]\nname = "a"\nurl = "{base}/a.html"\ndepth = 1\n')
    data = str(tmp_path / "d")
    try:
        assert crawl(wl, Path(data), "2021-03-22T08:00:00+08:00", db=db_url).returncode == 0
    finally:
        server.stop()
    targets = json.loads(takedown("--db", db_url, "targets", "--json").stdout)
    assert targets == [{"name": "a", "url": f"{base}/a.html", "urls": 2, "captures": 2,
                        "last_capture": "2021-03-22T00:00:00+00:00"}]
    rounds = json.loads(takedown("--db", db_url, "rounds", "--json").stdout)
    assert [(r["status"], r["captures"], r["failed"]) for r in rounds] == [("done", 2, 0)]
    hist = json.loads(takedown("--db", db_url, "history", f"{base}/b.html#frag", "--json").stdout)
    assert [(h["state"], h["status"], len(h["body_sha256"])) for h in hist] == [("ok", 200, 64)]
    table = takedown("--db", db_url, "history", f"{base}/b.html").stdout
    assert "2021-03-22T00:00:00+00:00" in table and "ok" in table
    missing = takedown("--db", db_url, "history", f"{base}/never.html")
    assert missing.returncode == 2 and "no captures" in missing.stderr


# -- global options after the subcommand ------------------------------------------------------


@pytest.fixture(scope="module")
def two_round_store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two rounds of a loopback site in a store named only after the subcommand: /a.html
    moves (a redirect to the same content), /c.html turns into an HTTP 451, then detect."""
    tmp = tmp_path_factory.mktemp("after")
    article = "<article>" + "<p>The county published its annual budget today.</p>" * 6
    # a publication time on the page that goes: the report cannot be written without one
    posted = '<time datetime="2021-02-20T08:00:00Z">2021-02-20</time><p>c page</p>'
    site = RouteSite({"/a.html": page(article + "</article>"), "/c.html": page(posted)})
    server = serve(site)
    base = server.base_url
    wl = watchlist(tmp / "w.toml", f'[[target]]\nname = "a"\nurl = "{base}/a.html"\n'
                                   f'[[target]]\nname = "c"\nurl = "{base}/c.html"\n')
    data, decoy = tmp / "data", tmp / "decoy"
    env = dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1")
    try:
        for at, routes in (("2021-03-01T00:00:00Z", site.routes),
                           ("2021-03-02T00:00:00Z", {
                               "/a.html": page("", 301, {"Location": f"{base}/new/a.html"}),
                               "/new/a.html": page(article + "</article>"),
                               "/c.html": page("Unavailable For Legal Reasons", 451)})):
            site.swap(routes)
            run = subprocess.run([sys.executable, "-m", "takedown", "--data", str(decoy),
                                  "crawl", str(wl), "--at", at, "--data", str(data),
                                  "--no-progress"], capture_output=True, text=True, env=env,
                                 timeout=120)
            assert run.returncode == 0, run.stderr
    finally:
        server.stop()
    assert not decoy.exists() and (data / "takedown.sqlite").is_file()
    crawler_read = {path: [(r["state"], r["kind"], r["status"]) for r in json.loads(
        invoke("history", base + path, "--json", "--data", str(data)).stdout)]
        for path in ("/a.html", "/c.html")}  # before any detection
    return {"tmp": tmp, "wl": wl, "data": data, "decoy": decoy, "base": base,
            "crawler_read": crawler_read}


def invoke(*args: str, env: dict | None = None) -> click.testing.Result:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.xdist_group("cli-two-rounds")  # the store is built once
def test_history_shows_the_verdict_once_detected(two_round_store: dict) -> None:
    """The crawler reads a redirect that serves as `ok`; detection reads it as `moved`
    (same content elsewhere), and history shows detection's state and kind."""
    data, base = str(two_round_store["data"]), two_round_store["base"]

    def states(path: str) -> list[tuple[str, str | None, int]]:
        rows = json.loads(invoke("history", base + path, "--json", "--data", data).stdout)
        return [(r["state"], r["kind"], r["status"]) for r in rows]

    assert two_round_store["crawler_read"] == {
        "/a.html": [("ok", None, 200), ("ok", None, 200)],
        "/c.html": [("ok", None, 200), ("notice", None, 451)]}
    invoke("detect", "--data", data)
    assert states("/a.html") == [("ok", None, 200), ("moved", None, 200)]
    assert states("/c.html") == [("ok", None, 200), ("notice", "censored", 451)]
    table = invoke("history", base + "/a.html", "--data", data).stdout
    assert "moved" in table and f"{base}/new/a.html" in table


@pytest.mark.xdist_group("cli-two-rounds")  # the store is built once
def test_every_subcommand_reads_the_data_given_after_it(
        two_round_store: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--data X` after any subcommand beats `--data D` before it and TAKEDOWN_DATA; D is
    never opened."""
    s = two_round_store
    data, decoy, wl, base = str(s["data"]), str(s["decoy"]), str(s["wl"]), s["base"]
    env = {"TAKEDOWN_DATA": str(tmp_path / "env"), "TAKEDOWN_DB": None}

    def run(*args: str) -> str:
        return invoke("--data", decoy, *args, "--data", data, env=env).stdout

    assert [t["name"] for t in json.loads(run("targets", "--json"))] == ["a", "c"]
    assert [r["status"] for r in json.loads(run("rounds", "--json"))] == ["done", "done"]
    assert len(json.loads(run("history", base + "/a.html", "--json"))) == 2
    assert "detect:" in run("detect")
    assert [json.loads(line)["kind"] for line in run("export").splitlines()] == ["censored"]
    assert "1 takedowns" in run("report", "--out", str(tmp_path / "rep"), "--no-progress")
    sync_jobs_in(data, wl)
    assert [j["job"] for j in json.loads(run("schedule", wl, "--list", "--json"))] == \
        ["every-1h"]
    seen: dict[str, object] = {}
    monkeypatch.setattr("uvicorn.Server.run",
                        lambda server, sockets=None: seen.update(app=server.config.app))
    run("serve", "--port", "0")
    page_ = asyncio.run(get(seen["app"], "/"))
    assert page_.status_code == 200 and f"{base}/c.html" in page_.text
    monkeypatch.setattr("crawler.worker.run_worker",
                        lambda redis, d, db, **kw: seen.update(worker=(d, db)))
    run("worker", "--redis", "redis://127.0.0.1:1/0")
    assert seen["worker"] == (data, None)
    monkeypatch.setattr("takedown.demo.run.run_demo",
                        lambda d, db, days, start: seen.update(demo=(str(d), db)))
    run("demo", "--days", "2")
    assert seen["demo"] == (data, None)
    assert not Path(decoy).exists() and not (tmp_path / "env").exists()


async def get(app: object, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.get(path)


def sync_jobs_in(data: str, wl: str) -> None:
    """A stored job in *data*'s job table, as `schedule` would leave it."""
    from datetime import UTC, datetime

    from apscheduler.schedulers.background import BackgroundScheduler

    from takedown.schedule import JobPlan, ScheduleOptions, make_jobstore, sync_jobs

    scheduler = BackgroundScheduler(
        jobstores={"default": make_jobstore(f"sqlite:///{data}/takedown.sqlite")}, timezone=UTC)
    scheduler.start(paused=True)
    try:
        sync_jobs(scheduler, [JobPlan("every-1h", 3600, ("a",))], ScheduleOptions(wl, data),
                  now=datetime(2030, 1, 1, tzinfo=UTC))
    finally:
        scheduler.shutdown(wait=False)


def test_db_after_the_subcommand_wins(tmp_path: Path, db_url: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`--db` after the subcommand beats `--db` before it and TAKEDOWN_DB."""
    from snapshots import open_store

    open_store(db_url=db_url).close()
    wrong = f"sqlite:///{tmp_path / 'wrong.sqlite'}"
    monkeypatch.setenv("TAKEDOWN_DB", f"sqlite:///{tmp_path / 'env.sqlite'}")
    assert invoke("rounds", "--json", "--db", db_url).stdout.strip() == "[]"
    assert invoke("--db", wrong, "targets", "--db", db_url, "--json").stdout.strip() == "[]"
    # before the subcommand it still counts: the store read there is the wrong one, which a
    # command that only reads never creates
    result = CliRunner().invoke(cli, ["--db", wrong, "targets"])
    assert result.exit_code == 2 and f"no store at {tmp_path / 'wrong.sqlite'}" in result.output
    assert not (tmp_path / "wrong.sqlite").exists() and not (tmp_path / "env.sqlite").exists()


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_subcommand_lists_the_global_options(name: str) -> None:
    help_text = invoke(name, "--help").stdout
    for option in ("--data DIR", "--db URL", "--debug", "-v, --verbose", "TAKEDOWN_DATA",
                   "TAKEDOWN_DB"):
        assert option in help_text, (name, option)


def parsed(monkeypatch: pytest.MonkeyPatch, *args: str) -> dict:
    """The command line parsed as `takedown` would, every subcommand's body replaced by a
    recorder of its parameters and of the effective global options (``obj``)."""
    seen: dict = {}

    def record(**params: object) -> None:
        seen.update(params, obj=click.get_current_context().find_object(Context))

    for command in cli.commands.values():
        monkeypatch.setattr(command, "callback", record)
    invoke(*args)
    return seen


@pytest.mark.parametrize(("args", "verbose", "debug"), [
    (("-v", "rounds"), 1, False), (("rounds", "-v"), 1, False),
    (("-v", "rounds", "-vv"), 3, False), (("rounds",), 0, False),
    (("--debug", "rounds"), 0, True), (("rounds", "--debug"), 0, True),
])
def test_verbose_counts_and_debug_holds_on_either_side(
        monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], verbose: int,
        debug: bool) -> None:
    obj = parsed(monkeypatch, *args)["obj"]
    assert (obj.verbose, obj.debug) == (verbose, debug)


def test_data_precedence_after_before_env_default(monkeypatch: pytest.MonkeyPatch) -> None:
    def data(*args: str) -> str:
        return parsed(monkeypatch, *args)["obj"].data

    monkeypatch.delenv("TAKEDOWN_DATA", raising=False)
    assert data("targets") == "takedown-data"
    monkeypatch.setenv("TAKEDOWN_DATA", "env")
    assert data("targets") == "env"
    assert data("--data", "before", "targets") == "before"
    assert data("targets", "--data", "after") == "after"
    assert data("--data", "before", "targets", "--data", "after") == "after"


def test_serve_names_a_missing_keyword_file_of_its_events(tmp_path: Path) -> None:
    events = tmp_path / "events.toml"
    events.write_text('[[event]]\nid = "a"\ndate = 2021-03-01\ntitle = "t"\n'
                      'keyword_files = ["missing.txt"]\n', encoding="utf-8")
    run = takedown("serve", "--events", str(events), "--data", str(tmp_path / "d"))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"error: {events}:5: key 'keyword_files' in [[event]] 'a': "
                                 f"{tmp_path / 'missing.txt'}: cannot read")
    assert not (tmp_path / "d").exists()
