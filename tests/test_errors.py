"""The error boundary: every error a user can cause ends as one ``error: …`` line on stderr
with exit code 2, naming what is wrong (file:line and key where there is a file), with no
traceback unless ``--debug``, and with nothing written where nothing should be.

Each case runs the real command line as a subprocess (``python -m takedown``).  Stores are
made with `snapshots.open_store`, the code every command uses.  PostgreSQL cases use
``TAKEDOWN_TEST_PG_URL`` and skip, saying so, without it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import REDIS_URL, pg_schema
from sqlalchemy import create_engine, inspect, text

from snapshots import open_store

ONE_TARGET = '[[target]]\nname = "a"\nurl = "http://127.0.0.1:9/"\n'
READERS = {  # the commands that only read a store, with what they need besides
    "targets": [], "rounds": [], "export": [], "detect": [],
    "history": ["http://127.0.0.1:9/"], "report": ["--out", "{tmp}/report"],
    "serve": ["--port", "0"],
}


def takedown(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TAKEDOWN_DATA", "TAKEDOWN_DB")}
    return subprocess.run([sys.executable, "-m", "takedown", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def refused(run: subprocess.CompletedProcess, *named: str) -> str:
    """The error line of a run that must have failed as a user's error, naming *named*."""
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    line = run.stderr.strip().splitlines()[-1]
    assert line.startswith("error: "), run.stderr
    for name in named:
        assert name in line, (name, line)
    return line


def watchlist(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watch.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- times and durations out of range -----------------------------------------------------


@pytest.mark.parametrize("at", ["0001-01-01", "0001-01-02", "9999-12-31T23:59:59",
                                "9999-12-31T23:59:59-01:00", "1969-12-31T23:59:59Z"])
def test_round_stamp_out_of_range(tmp_path: Path, at: str) -> None:
    run = takedown("crawl", str(watchlist(tmp_path, ONE_TARGET)), "--at", at,
                   "--data", str(tmp_path / "d"))
    refused(run, "--at", at, "1970-01-01 to 8999-12-31")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(("text", "line", "key"), [
    ('[crawl]\nevery = "99999999999999999999d"\n\n' + ONE_TARGET, 2, "every"),
    (ONE_TARGET + 'every = "3651d"\n', 4, "every"),
    ('[crawl]\nretention_days = 1000000\n\n' + ONE_TARGET, 2, "retention_days"),
    (ONE_TARGET + "retention_days = 36501\n", 4, "retention_days"),
    ('[crawl]\nretries = 99999999999999999999\n\n' + ONE_TARGET, 2, "retries"),
    ('[crawl]\ntimeout = 1e12\n\n' + ONE_TARGET, 2, "timeout"),
    ('[crawl]\ndelay = 864000\n\n' + ONE_TARGET, 2, "delay"),
    ('[crawl]\nconcurrency = 1000000\n\n' + ONE_TARGET, 2, "concurrency"),
    ('[crawl]\nmax_size = 99999999999999999999\n\n' + ONE_TARGET, 2, "max_size"),
], ids=["crawl-every", "target-every", "crawl-retention", "target-retention", "retries",
        "timeout", "delay", "concurrency", "max-size"])
@pytest.mark.parametrize("command", ["crawl", "schedule"])
def test_watchlist_values_out_of_range(tmp_path: Path, text: str, line: int, key: str,
                                          command: str) -> None:
    wl = watchlist(tmp_path, text)
    listing = ["--list"] if command == "schedule" else []  # checked the same, never runs
    run = takedown(command, str(wl), *listing, "--data", str(tmp_path / "d"))
    refused(run, f"{wl}:{line}:", f"'{key}'")
    assert not (tmp_path / "d").exists()


def test_schedule_every_option_out_of_range(tmp_path: Path) -> None:
    run = takedown("schedule", str(watchlist(tmp_path, ONE_TARGET)), "--every",
                   "99999999999999999999d", "--data", str(tmp_path / "d"))
    refused(run, "--every", "3650d")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("args", [("--at", "0001-01-02"), ()], ids=["at", "retention"])
def test_a_round_refused_before_crawling_is_never_left_running(tmp_path: Path,
                                                               args: tuple[str, ...]) -> None:
    data = tmp_path / "d"
    open_store(data).close()
    text = ONE_TARGET + ("retention_days = 1000000\n" if not args else "")
    run = takedown("crawl", str(watchlist(tmp_path, text)), *args, "--data", str(data))
    refused(run)
    store = open_store(data, create=False)
    try:
        assert store.rounds() == [] and store.targets() == []
    finally:
        store.close()


def test_deeply_nested_watchlist_names_the_file(tmp_path: Path) -> None:
    wl = watchlist(tmp_path, ONE_TARGET + "allow = " + "[" * 5000 + "]" * 5000 + "\n")
    refused(takedown("crawl", str(wl), "--data", str(tmp_path / "d")), f"{wl}:", "nested")
    assert not (tmp_path / "d").exists()


# -- the store: where it is, what it is ----------------------------------------------------


@pytest.mark.parametrize("command", sorted(READERS))
def test_reading_a_missing_store_creates_nothing(tmp_path: Path, command: str) -> None:
    data = tmp_path / "typo"
    extra = [a.format(tmp=tmp_path) for a in READERS[command]]
    run = takedown(command, *extra, "--data", str(data))
    refused(run, f"no store at {data} (run takedown crawl first)")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_reading_an_empty_postgresql_database_creates_nothing(tmp_path: Path) -> None:
    with pg_schema("err") as url:
        for command in ("targets", "rounds", "detect"):
            refused(takedown(command, "--db", url), "no store in ", "run takedown crawl first")
        assert tables(url) == set()


@pytest.mark.parametrize(("start", "days"), [("8999-12-31", 2), ("8999-12-01", 60)])
def test_a_demo_whose_last_day_is_out_of_range_writes_nothing(tmp_path: Path, start: str,
                                                             days: int) -> None:
    """Every simulated day is checked before the first is crawled (a store was left with
    the rounds that fit and an error at the first that did not)."""
    run = takedown("demo", "--start", start, "--days", str(days), "--data", str(tmp_path / "d"))
    refused(run, "--start", "past 8999-12-31")
    assert not (tmp_path / "d").exists()


def test_a_round_stamped_before_the_latest_is_refused(tmp_path: Path) -> None:
    """Detection reads rounds in time order: a back-dated round would be compared with
    rounds after it.  Refused before anything is written; the same stamp is allowed."""
    wl = str(watchlist(tmp_path, "[crawl]\nretries = 0\ntimeout = 2\n" + ONE_TARGET))
    data = ["--data", str(tmp_path / "d")]
    for at in ("2024-06-02T08:00:00Z", "2024-06-02T08:00:00Z"):
        assert takedown("crawl", wl, "--at", at, "--no-progress", *data).returncode == 0
    run = takedown("crawl", wl, "--at", "2024-06-01", *data)
    refused(run, "round stamp 2024-06-01T00:00:00+00:00 is earlier than round 2 at "
                 "2024-06-02T08:00:00+00:00")
    store = open_store(tmp_path / "d")
    assert [r["id"] for r in store.rounds()] == [1, 2]
    store.close()


@pytest.mark.parametrize("command", ["rounds", "crawl", "schedule", "demo"])
def test_data_that_is_a_file(tmp_path: Path, command: str) -> None:
    data = tmp_path / "data"
    data.write_text("not a folder", encoding="utf-8")
    extra = {"crawl": [str(watchlist(tmp_path, ONE_TARGET))],
             "schedule": [str(watchlist(tmp_path, ONE_TARGET)), "--list"]}.get(command, [])
    refused(takedown(command, *extra, "--data", str(data)), f"{data} is a file")
    assert data.read_text(encoding="utf-8") == "not a folder"


def _worker_args() -> list[str]:
    if not REDIS_URL:
        pytest.skip("TAKEDOWN_TEST_REDIS_URL is not set (CI sets it; see .ci/run)")
    return ["--redis", REDIS_URL, "--prefix", f"td-errors-{os.getpid()}"]


@pytest.mark.parametrize("command", ["rounds", "crawl", "schedule", "demo", "check", "worker"])
def test_data_that_is_a_loop_of_symbolic_links(tmp_path: Path, command: str) -> None:
    """A --data path that never resolves is an error line, not pathlib's RuntimeError (the
    worker says so at start-up, not at the first round it is given)."""
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    extra = {"crawl": [str(watchlist(tmp_path, ONE_TARGET))],
             "schedule": [str(watchlist(tmp_path, ONE_TARGET)), "--list"],
             "worker": _worker_args() if command == "worker" else []}.get(command, [])
    run = takedown(command, *extra, "--data", str(tmp_path / "a"))
    refused(run, str(tmp_path / "a"))


@pytest.mark.parametrize("data", ["file", "foreign"])
def test_a_worker_refuses_an_unusable_store_at_start_up(tmp_path: Path, data: str) -> None:
    path = tmp_path / "data"
    path.mkdir()
    if data == "file":
        path = tmp_path / "plain"
        path.write_text("not a folder", encoding="utf-8")
    else:
        sqlite3.connect(path / "takedown.sqlite").execute("CREATE TABLE mine (x)").connection \
            .commit()
    run = takedown("worker", *_worker_args(), "--data", str(path))
    refused(run, str(path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod; a read-only "
                                               "folder cannot be tested as root")
def test_read_only_data(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    data.chmod(0o500)
    try:
        run = takedown("crawl", str(watchlist(tmp_path, ONE_TARGET)), "--data", str(data))
        refused(run, str(data))
    finally:
        data.chmod(0o700)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite+pysqlite://"])
@pytest.mark.parametrize("command", ["crawl", "rounds", "detect"])
def test_an_in_memory_database_is_refused(tmp_path: Path, url: str, command: str) -> None:
    """A crawl into memory would report its captures and keep none."""
    extra = [str(watchlist(tmp_path, ONE_TARGET))] if command == "crawl" else []
    refused(takedown(command, *extra, "--db", url, "--data", str(tmp_path / "d")),
            "in-memory database")
    assert not (tmp_path / "d").exists()


def test_database_url_that_is_a_folder(tmp_path: Path) -> None:
    refused(takedown("rounds", "--db", f"sqlite:///{tmp_path}"), f"{tmp_path} is a folder")
    refused(takedown("crawl", str(watchlist(tmp_path, ONE_TARGET)), "--db",
                     f"sqlite:///{tmp_path}"), f"{tmp_path} is a folder")


@pytest.mark.parametrize("command", ["rounds", "crawl"])
def test_refused_connection_never_shows_the_password(tmp_path: Path, command: str) -> None:
    url = "postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:1/x"
    extra = [str(watchlist(tmp_path, ONE_TARGET))] if command == "crawl" else []
    run = takedown(command, *extra, "--db", url)
    refused(run, "postgresql+psycopg://postgres:***@127.0.0.1:1/x", "refused")
    assert "s3cret-pw" not in run.stderr + run.stdout
    debug = takedown(command, *extra, "--db", url, "--debug")
    assert "s3cret-pw" not in debug.stderr + debug.stdout


@pytest.mark.parametrize("command", ["crawl", "worker"])
def test_an_empty_redis_url_is_refused_not_ignored(tmp_path: Path, command: str) -> None:
    """``--redis ''`` (an unset variable in a script) once ran a local crawl."""
    extra = [str(watchlist(tmp_path, ONE_TARGET))] if command == "crawl" else []
    run = takedown(command, *extra, "--redis", "", "--data", str(tmp_path / "d"))
    refused(run, "cannot use Redis at ''")
    assert not (tmp_path / "d").exists()


def test_redis_that_refuses_is_refused_before_the_store_is_made(tmp_path: Path) -> None:
    run = takedown("crawl", str(watchlist(tmp_path, ONE_TARGET)), "--redis",
                   "redis://:s3cret-pw@127.0.0.1:1/0", "--data", str(tmp_path / "d"))
    refused(run, "redis://:***@127.0.0.1:1/0")
    assert "s3cret-pw" not in run.stderr and not (tmp_path / "d").exists()


def test_logged_urls_lose_their_passwords(caplog: pytest.LogCaptureFixture) -> None:
    """The program's log records are masked whatever handler prints them (a worker logs
    the Redis URL it serves, Scrapy its settings)."""
    from takedown.cli import _masking

    factory = logging.getLogRecordFactory()
    logging.setLogRecordFactory(_masking(factory))
    try:
        with caplog.at_level(logging.WARNING, logger="crawler.worker"):
            logging.getLogger("crawler.worker").warning(
                "worker %s serving %s", "w1", "redis://:s3cret-pw@127.0.0.1:6379/0")
    finally:
        logging.setLogRecordFactory(factory)
    assert caplog.messages == ["worker w1 serving redis://:***@127.0.0.1:6379/0"]


def test_a_bad_database_url_never_shows_the_password() -> None:
    run = takedown("rounds", "--db", "nosuchdriver://ana:s3cret-pw@db/x")
    refused(run, "nosuchdriver://ana:***@db/x")
    assert "s3cret-pw" not in run.stderr


@pytest.mark.parametrize("command", ["rounds", "crawl"])
def test_corrupt_store_file(tmp_path: Path, command: str) -> None:
    data = tmp_path / "d"
    data.mkdir()
    junk = os.urandom(8192)
    (data / "takedown.sqlite").write_bytes(junk)
    extra = [str(watchlist(tmp_path, ONE_TARGET))] if command == "crawl" else []
    refused(takedown(command, *extra, "--data", str(data)),
            str(data / "takedown.sqlite"), "not a database")
    assert (data / "takedown.sqlite").read_bytes() == junk
    assert sorted(p.name for p in data.iterdir()) == ["takedown.sqlite"]


@pytest.mark.parametrize("command", ["rounds", "crawl"])
def test_foreign_sqlite_database_is_left_alone(tmp_path: Path, command: str) -> None:
    data = tmp_path / "d"
    data.mkdir()
    db = data / "takedown.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE people (id INTEGER, name TEXT)")
    conn.close()
    before = db.read_bytes()
    extra = [str(watchlist(tmp_path, ONE_TARGET))] if command == "crawl" else []
    refused(takedown(command, *extra, "--data", str(data)),
            f"{db} is not a takedown store", "people")
    assert db.read_bytes() == before
    assert sorted(p.name for p in data.iterdir()) == ["takedown.sqlite"]


def test_foreign_postgresql_database_is_left_alone(tmp_path: Path) -> None:
    with pg_schema("err") as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE people (id integer, name text)"))
        engine.dispose()
        for args in (("rounds",), ("crawl", str(watchlist(tmp_path, ONE_TARGET)))):
            refused(takedown(*args, "--db", url), "is not a takedown store", "people")
        assert tables(url) == {"people"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_unknown_schema_revision(tmp_path: Path, backend: str) -> None:
    if backend == "sqlite":
        check_unknown_revision(tmp_path, f"sqlite:///{tmp_path / 'store.sqlite'}")
    else:
        with pg_schema("err") as url:
            check_unknown_revision(tmp_path, url)


def check_unknown_revision(tmp_path: Path, url: str) -> None:
    open_store(db_url=url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'deadbeef'"))
    for args in (("rounds",), ("crawl", str(watchlist(tmp_path, ONE_TARGET)))):
        refused(takedown(*args, "--db", url), "schema revision 'deadbeef' is unknown")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM rounds")).scalar() == 0
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == \
            "deadbeef"
    engine.dispose()


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


# -- arguments and input files --------------------------------------------------------------


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """A store holding one target, ``a``, and nothing else."""
    data = tmp_path / "store"
    store = open_store(data)
    store.ensure_targets([("a", "http://127.0.0.1:9/", {})])
    store.close()
    return data


@pytest.mark.parametrize("url", ["http://[::1", "ftp://example.org/x", "not a url"])
def test_history_of_a_malformed_url(store_dir: Path, url: str) -> None:
    refused(takedown("history", url, "--data", str(store_dir)), repr(url))


@pytest.mark.parametrize("command", ["export", "report"])
def test_unknown_kind_names_the_kinds(store_dir: Path, tmp_path: Path, command: str) -> None:
    extra = ["--out", str(tmp_path / "out")] if command == "report" else []
    run = takedown(command, *extra, "--kind", "nosuch", "--data", str(store_dir))
    refused(run, "unknown kind 'nosuch'; choose from ", "censored", "delisted", "removed")
    assert run.stdout == "" and not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["export", "report"])
def test_unknown_target_names_the_targets(store_dir: Path, tmp_path: Path,
                                          command: str) -> None:
    extra = ["--out", str(tmp_path / "out")] if command == "report" else []
    run = takedown(command, *extra, "--target", "b", "--data", str(store_dir))
    refused(run, "unknown target 'b'; choose from a")
    assert run.stdout == "" and not (tmp_path / "out").exists()


def test_a_report_range_that_ends_before_it_begins(store_dir: Path, tmp_path: Path) -> None:
    run = takedown("report", "--out", str(tmp_path / "out"), "--since", "2021-03-10",
                   "--until", "2021-03-01", "--data", str(store_dir))
    refused(run, "--until", "2021-03-01 is before --since 2021-03-10")
    assert not (tmp_path / "out").exists()


def test_keyword_csv_with_an_oversize_field(store_dir: Path, tmp_path: Path) -> None:
    terms = tmp_path / "terms.csv"
    terms.write_text('keyword,added\n军民融合,2021\n"' + "x" * 200_000 + '",2021\n',
                     encoding="utf-8")
    run = takedown("report", "--out", str(tmp_path / "out"), "--keywords", str(terms),
                   "--data", str(store_dir))
    refused(run, f"{terms}:3: ", "field larger than field limit")
    assert not (tmp_path / "out").exists()


INPUTS = {  # a command reading a user's input file, with the file's place in its arguments
    "watchlist": ["crawl", "FILE"], "phrases": ["detect", "--phrases", "FILE"],
    "events": ["report", "--events", "FILE", "--out", "{tmp}/out"],
    "keywords": ["report", "--keywords", "FILE", "--out", "{tmp}/out"],
    "serve-events": ["serve", "--events", "FILE", "--port", "0"],
}


@pytest.mark.parametrize("source", ["/dev/zero", "fifo"])
@pytest.mark.parametrize("what", sorted(INPUTS))
def test_an_input_that_is_no_file_is_refused_not_read_for_ever(
        store_dir: Path, tmp_path: Path, what: str, source: str) -> None:
    """An endless device is read up to a cap, a pipe nobody writes to reads as empty: both
    end in an error line naming the path (they used to exhaust memory or wait for ever)."""
    path = source
    if source == "fifo":
        path = str(tmp_path / "pipe")
        os.mkfifo(path)
    args = [path if a == "FILE" else a.format(tmp=tmp_path) for a in INPUTS[what]]
    refused(takedown(*args, "--data", str(store_dir)), f"{path}")
    assert not (tmp_path / "out").exists()


LONG = "x" * 300  # one path component longer than any file system allows (255 bytes)


@pytest.mark.parametrize("args", [
    ("targets", "--data", "{tmp}/" + LONG), ("check", "--data", "{tmp}/" + LONG),
    ("crawl", "WL", "--data", "{tmp}/" + LONG), ("--db", "sqlite:///{tmp}/" + LONG, "rounds"),
    ("report", "--out", "{tmp}/" + LONG, "--data", "STORE"),
    ("export", "--out", "{tmp}/" + LONG + "/x.jsonl", "--data", "STORE"),
], ids=["targets", "check", "crawl", "db", "report-out", "export-out"])
def test_a_path_the_system_refuses_is_an_error_line(store_dir: Path, tmp_path: Path,
                                                    args: tuple[str, ...]) -> None:
    wl = str(watchlist(tmp_path, ONE_TARGET))
    argv = [wl if a == "WL" else str(store_dir) if a == "STORE" else a.format(tmp=tmp_path)
            for a in args]
    refused(takedown(*argv), "name too long")


@pytest.mark.parametrize("url", ["postgresql+psycopg://ana:s3cret@127.0.0.1:abc/x",
                                 "postgresql://ana:s3cret@[::1"])
@pytest.mark.parametrize("command", ["rounds", "check", "crawl"])
def test_a_database_url_with_a_bad_port(tmp_path: Path, url: str, command: str) -> None:
    extra = [str(watchlist(tmp_path, ONE_TARGET))] if command == "crawl" else []
    line = refused(takedown(command, *extra, "--db", url), "database URL")
    assert "s3cret" not in line and "ana:***@" in line


def test_a_keyword_csv_with_a_quote_left_open(store_dir: Path, tmp_path: Path) -> None:
    """The csv module would read the rest of the file as one term: refused instead."""
    for content, says in (('keyword\n"unclosed\nb\n', "bad CSV: unexpected end of data"),
                          ('keyword\n"a\nb",x\nc\n', "a term spans lines")):
        terms = tmp_path / "terms.csv"
        terms.write_text(content, encoding="utf-8")
        run = takedown("report", "--out", str(tmp_path / "out"), "--keywords", str(terms),
                       "--data", str(store_dir))
        refused(run, f"{terms}:3: ", says)
        assert not (tmp_path / "out").exists()


def test_a_report_never_replaces_a_folder_named_like_its_files(store_dir: Path,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "report.html").mkdir(parents=True)
    (out / "report.html" / "thesis.tex").write_text("precious", encoding="utf-8")
    refused(takedown("report", "--out", str(out), "--data", str(store_dir)),
            "holds files that are not a report's", "report.html")
    assert (out / "report.html" / "thesis.tex").read_text(encoding="utf-8") == "precious"


def test_schedule_list_reads_and_json_needs_list(tmp_path: Path) -> None:
    wl = str(watchlist(tmp_path, ONE_TARGET))
    refused(takedown("schedule", wl, "--list", "--data", str(tmp_path / "d")), "no store")
    assert not (tmp_path / "d").exists()
    refused(takedown("schedule", wl, "--json", "--data", str(tmp_path / "d")),
            "--json goes with --list")
    assert not (tmp_path / "d").exists()


def test_a_demo_into_a_store_with_later_rounds_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "d"
    store = open_store(data)
    store.finish_round(store.begin_round(datetime(2022, 1, 1, tzinfo=UTC)), {})
    store.close()
    before = sorted(p.name for p in data.iterdir())
    refused(takedown("demo", "--days", "2", "--data", str(data)),
            "already holds round 1 at 2022-01-01T00:00:00+00:00")
    assert sorted(p.name for p in data.iterdir()) == before


def test_a_missing_keyword_file_of_an_event_names_the_events_file(store_dir: Path,
                                                                 tmp_path: Path) -> None:
    events = tmp_path / "events.toml"
    events.write_text('title = "t"\n[[event]]\nid = "e1"\ndate = "2024"\ntitle = "x"\n'
                      'keyword_files = ["nope.txt"]\n', encoding="utf-8")
    refused(takedown("report", "--events", str(events), "--out", str(tmp_path / "out"),
                     "--data", str(store_dir)),
            f"{events}:6: key 'keyword_files' in [[event]] 'e1': ", "nope.txt")


def test_usage_errors_end_in_an_error_line(tmp_path: Path) -> None:
    run = takedown("crawl", str(watchlist(tmp_path, ONE_TARGET)), "--at", "yesterday",
                   "--data", str(tmp_path / "d"))
    refused(run, "ISO-8601")
    assert "Usage:" in run.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    run = takedown("rounds", "--data", str(tmp_path / "typo"), "--debug")
    assert run.returncode == 2
    assert "Traceback" in run.stderr and "StoreMissing" in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("error: no store at ")
    assert not (tmp_path / "typo").exists()


# -- numbers that would overflow a clock -----------------------------------------------------


@pytest.mark.parametrize("args", [
    ("schedule", "WL", "--list", "--jitter", "99999999999999999999"),
    ("schedule", "WL", "--list", "--misfire-grace", "99999999999999999999"),
    ("worker", "--redis", "redis://127.0.0.1:1", "--lease", "nan"),
    ("worker", "--redis", "redis://127.0.0.1:1", "--lease", "inf"),
    ("check", "--stale-after", "99999999999999999999"),
], ids=["jitter", "misfire-grace", "lease-nan", "lease-inf", "stale-after"])
def test_time_options_out_of_range_are_refused(tmp_path: Path, args: tuple[str, ...]) -> None:
    """Values the scheduler's, the lease's or the check's clocks cannot hold: refused at the
    option (they used to kill the scheduler's thread, the worker's heartbeat, or trace)."""
    wl = str(watchlist(tmp_path, ONE_TARGET))
    run = takedown(*(wl if a == "WL" else a for a in args), "--data", str(tmp_path / "d"))
    refused(run, args[-2])
    assert not (tmp_path / "d").exists()
