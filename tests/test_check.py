"""`takedown check`: a sound store passes; each kind of damage is found and named.

A store of three rounds (one page deleted on the second, so detection opens a takedown) is
built through the real store and detector, then damaged by hand as only a hand, a partial
restore or writes with the foreign keys off could: a blob's bytes, a blob row, a verdict or
a takedown or a capture pointing at nothing, a round left ``running``, the schema revision.
Each damage must give exit 1 and its one line; nothing else may be reported.  On SQLite and,
with ``TAKEDOWN_TEST_PG_URL``, on PostgreSQL.  The command runs in process (the real click
command); the exit-code contract through ``main`` (exit 2) runs as a subprocess.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Executable, create_engine, inspect, text, update

from diffing.detect import detect
from snapshots import blobs as blobcodec
from snapshots import open_store
from snapshots.check import blob_batches, open_for_check
from snapshots.models import Capture, Round
from snapshots.records import NewCapture
from takedown.cli import cli

AT = datetime(2021, 3, 15, tzinfo=UTC)
DAYS = ({"a": 200, "b": 200}, {"a": 200, "b": 404}, {"a": 200, "b": 404})


def html(name: str) -> str:
    return (f"<html><head><title>Post {name}</title></head><body><article><h1>Post {name}"
            f"</h1><p>{'text ' * 50}{name}</p></article></body></html>")


def fetch(name: str, status: int, when: datetime | None = None) -> NewCapture:
    body = html(name) if status == 200 else "<html><body><h1>Not Found</h1></body></html>"
    url = f"http://127.0.0.1/{name}"
    return NewCapture(target="t", url=url, depth=0, via="seed",
                      fetched_at=when or datetime.now(UTC), status=status, final_url=url,
                      body=body.encode(), text=body, content_type="text/html")


@pytest.fixture
def sound(db_url: str) -> str:
    """*db_url* holding three detected rounds: 3 blobs, 6 captures, 6 verdicts, 1 takedown."""
    store = open_store(db_url=db_url)
    ids = store.ensure_targets([("t", "http://127.0.0.1/", {})])
    for day, pages in enumerate(DAYS):
        at = AT + timedelta(days=day)
        rid = store.begin_round(at)
        for name, status in pages.items():
            store.record_capture(rid, ids["t"], at, fetch(name, status))
        store.finish_round(rid, {})
    assert detect(store).opened == {"removed": 1}
    store.close()
    return db_url


def run_check(db_url: str, *args: str) -> tuple[int, list[str], str]:
    """The command in process: exit code, stdout lines, stderr."""
    result = CliRunner().invoke(cli, ["--db", db_url, "check", *args], catch_exceptions=False)
    return result.exit_code, result.stdout.splitlines(), result.stderr


def _key_bytes(value: object) -> object:
    """A key as the store holds it (``snapshots.db.Digest``): 64 hex digits → 32 bytes."""
    if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value):
        return bytes.fromhex(value)
    return value


def _key_hex(value: object) -> object:
    """A stored key back as hex, as the store's readers see it; other values as they are."""
    if isinstance(value, (bytes, memoryview)) and len(value) == 32:
        return bytes(value).hex()
    return value


def sql(db_url: str, statement: str | Executable, **params: object) -> list:
    """Run *statement* with the foreign keys off (a plain SQLite connection has them off;
    PostgreSQL's replica role skips their triggers); returns its rows, if any."""
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            query = text(statement) if isinstance(statement, str) else statement
            result = conn.execute(query, {k: _key_bytes(v) for k, v in params.items()})
            if not result.returns_rows:
                return []
            keys = [name.endswith("sha256") for name in result.keys()]
            return [tuple(_key_hex(v) if key else v for key, v in zip(keys, row, strict=True))
                    for row in result.all()]
    finally:
        engine.dispose()


def damaged(db_url: str) -> list[str]:
    """The problem lines of a store that must fail the check."""
    code, lines, err = run_check(db_url)
    assert code == 1, (lines, err)
    assert err.startswith(f"store DAMAGED: {len(lines)} problem"), err
    return lines


# -- a sound store ---------------------------------------------------------------------------


def test_sound_store_passes(sound: str) -> None:
    code, lines, err = run_check(sound)
    assert code == 0 and err == ""
    assert len(lines) == 1 and re.fullmatch(
        r"store OK: 3 blobs, 6 captures, 3 rounds, 1 target, 2 URLs, 6 verdicts, "
        r"1 takedown; schema \w+", lines[0]), lines
    code, lines, _ = run_check(sound, "--json")
    report = json.loads("\n".join(lines))
    assert code == 0 and report["ok"] is True and report["problems"] == []
    assert report["counts"]["captures"] == 6 and report["schema"]["revision"] == \
        report["schema"]["head"]


def test_sound_store_passes_as_a_real_process(sound: str) -> None:
    done = subprocess.run([sys.executable, "-m", "takedown", "--db", sound, "check"],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("store OK: 3 blobs, 6 captures")


def test_blobs_are_read_in_batches(sound: str) -> None:
    engine = open_for_check(db_url=sound)
    try:
        batches = [[row.sha256 for row in rows] for rows in blob_batches(engine, 2)]
    finally:
        engine.dispose()
    assert [len(b) for b in batches] == [2, 1]
    keys = [k for b in batches for k in b]
    assert keys == sorted(keys) and len(set(keys)) == 3


# -- each kind of damage ---------------------------------------------------------------------


def _some_blob(db_url: str) -> tuple[str, int]:
    """The key of the first capture's blob that is full and no other blob's base (a base's
    damage shows in its deltas too), and how many captures' bodies use it."""
    (sha,), = sql(db_url, "SELECT c.body_sha256 FROM captures c JOIN blobs b ON "
                          "b.sha256 = c.body_sha256 WHERE b.codec = 'zstd' AND NOT EXISTS "
                          "(SELECT 1 FROM blobs d WHERE d.base_sha256 = b.sha256) "
                          "ORDER BY c.id LIMIT 1")
    (n,), = sql(db_url, "SELECT count(*) FROM captures WHERE body_sha256 = :k", k=sha)
    return sha, n


@pytest.mark.parametrize(("stored", "says"), [
    (lambda: blobcodec.pack(b"<p>other content</p>")[2], "content hashes to {other}"),
    (lambda: b"not a zstd frame", "cannot be decoded (zstd)"),
], ids=["other-content", "undecodable"])
def test_corrupt_blob_is_found(sound: str, stored, says: str) -> None:
    sha, _ = _some_blob(sound)
    sql(sound, "UPDATE blobs SET data = :d WHERE sha256 = :k", d=stored(), k=sha)
    other = blobcodec.sha256_hex(b"<p>other content</p>")
    (line,) = damaged(sound)
    assert line.startswith(f"blob {sha[:12]}…: {says.format(other=other)}"), line
    assert line.endswith(f"[{sha}]")


def test_blob_of_wrong_size_is_found(sound: str) -> None:
    sha, _ = _some_blob(sound)
    sql(sound, "UPDATE blobs SET size = size + 1 WHERE sha256 = :k", k=sha)
    (line,) = damaged(sound)
    assert re.fullmatch(rf"blob {sha[:12]}…: (\d+) bytes decoded, \d+ recorded \[{sha}\]", line)


def test_capture_pointing_at_a_deleted_blob_is_found(sound: str) -> None:
    sha, n = _some_blob(sound)
    assert n == 2  # page b's "not found", the same over two rounds
    sql(sound, "DELETE FROM blobs WHERE sha256 = :k", k=sha)
    # a UTF-8 page's text is its body: both references dangle
    assert sorted(damaged(sound)) == [
        f"captures.{column}: 2 rows point at a missing blobs.sha256 ({sha})"
        for column in ("body_sha256", "text_sha256")]


@pytest.mark.parametrize(("statement", "line"), [
    ("INSERT INTO verdicts (capture_id, state, kind, rule, detail) "
     "VALUES (9999, 'gone', 'removed', 'status', '{}')",
     "verdicts.capture_id: 1 row points at a missing captures.id (9999)"),
    ("UPDATE takedowns SET first_capture_id = 9998",
     "takedowns.first_capture_id: 1 row points at a missing captures.id (9998)"),
    ("UPDATE captures SET round_id = 777 WHERE id = 2",
     "captures.round_id: 1 row points at a missing rounds.id (777)"),
    ("UPDATE captures SET url_id = 778 WHERE id = 2",
     "captures.url_id: 1 row points at a missing urls.id (778)"),
    ("UPDATE captures SET target_id = 779 WHERE id = 2",
     "captures.target_id: 1 row points at a missing targets.id (779)"),
], ids=["verdict-capture", "takedown-capture", "capture-round", "capture-url",
        "capture-target"])
def test_reference_to_a_missing_row_is_found(sound: str, statement: str, line: str) -> None:
    sql(sound, statement)
    assert damaged(sound) == [line]


def test_round_left_running_by_a_dead_crawl(sound: str) -> None:
    """A process opens a round, commits one capture and dies: while its last capture is
    recent the round may be a live crawl (listed, not a problem); idle past --stale-after
    it is a problem; the next crawl marks it interrupted and the store is clean."""
    opener = ("import os, signal, sys\nfrom datetime import UTC, datetime\n"
              "from snapshots import open_store\nfrom snapshots.records import NewCapture\n"
              "at = datetime(2021, 3, 18, tzinfo=UTC)\n"
              "s = open_store(db_url=sys.argv[1])\nrid = s.begin_round(at)\n"
              "s.record_capture(rid, 1, at, NewCapture('t', 'http://127.0.0.1/a', 0, 'seed', "
              "datetime.now(UTC), status=200, body=b'<p>a</p>', text='<p>a</p>'))\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    died = subprocess.run([sys.executable, "-c", opener, sound], timeout=60)
    assert died.returncode == -signal.SIGKILL
    code, lines, _ = run_check(sound)
    assert code == 0 and re.search(r"; 1 running \(round 4 last active \d+s ago; reported "
                                   r"once idle 1h00m\)$", lines[0]), lines
    assert damaged_with(sound, "--stale-after", "0")[0].startswith(
        "round 4 (at 2021-03-18T00:00:00+00:00) is still running, last active ")
    # started three hours ago, but its capture is ten minutes old: still a live crawl
    sql(sound, update(Round).where(Round.id == 4).values(
        started_at=datetime.now(UTC) - timedelta(hours=3)))
    sql(sound, update(Capture).where(Capture.round_id == 4).values(
        fetched_at=datetime.now(UTC) - timedelta(minutes=10)))
    assert run_check(sound)[0] == 0
    assert run_check(sound, "--stale-after", "5")[0] == 1
    sql(sound, update(Capture).where(Capture.round_id == 4).values(
        fetched_at=datetime.now(UTC) - timedelta(hours=2)))
    assert damaged(sound) == [
        "round 4 (at 2021-03-18T00:00:00+00:00) is still running, last active 2h00m ago "
        "with 1 capture: its crawl is dead or stalled; detect skips the round until the "
        "next crawl marks it interrupted"]
    store = open_store(db_url=sound)
    store.finish_round(store.begin_round(AT + timedelta(days=4)), {})
    assert store.rounds()[3]["status"] == "interrupted"
    store.close()
    assert run_check(sound, "--stale-after", "0")[0] == 0


def damaged_with(db_url: str, *args: str) -> list[str]:
    code, lines, err = run_check(db_url, *args)
    assert code == 1, (lines, err)
    return lines


@pytest.mark.parametrize(("statement", "says"), [
    ("UPDATE alembic_version SET version_num = 'ffffffffffff'",
     r"schema: revision ffffffffffff is unknown to this code \(head \w+\): a newer "
     r"release's store, or a damaged alembic_version"),
    ("UPDATE alembic_version SET version_num = '0001'",
     r"schema: revision 0001 is older than the code's head \w+ \(any other takedown "
     r"command upgrades it in place\)"),
    ("DELETE FROM alembic_version",
     r"schema: no revision in alembic_version \(code's head is \w+\): not made by "
     r"takedown's migrations\?"),
], ids=["unknown", "older", "missing"])
def test_wrong_schema_revision_is_found_and_left_alone(sound: str, statement: str,
                                                       says: str) -> None:
    before = sql(sound, "SELECT version_num FROM alembic_version")
    sql(sound, statement)
    changed = sql(sound, "SELECT version_num FROM alembic_version")
    assert changed != before
    (line,) = damaged(sound)
    assert re.fullmatch(says, line), line
    assert sql(sound, "SELECT version_num FROM alembic_version") == changed  # not migrated


def test_json_names_each_problem(sound: str) -> None:
    sha, _ = _some_blob(sound)
    sql(sound, "UPDATE blobs SET data = :d WHERE sha256 = :k", d=b"x", k=sha)
    sql(sound, "INSERT INTO verdicts (capture_id, state, kind, rule, detail) "
               "VALUES (9999, 'gone', 'removed', 'status', '{}')")
    code, lines, _ = run_check(sound, "--json")
    report = json.loads("\n".join(lines))
    assert code == 1 and report["ok"] is False
    assert [p["kind"] for p in report["problems"]] == ["blob", "orphan"]


# -- no store --------------------------------------------------------------------------------


def test_missing_store_is_an_error_and_stays_missing(db_url: str, tmp_path: Path) -> None:
    """Exit 2 through the real `main`; no file, folder or table is made."""
    if db_url.startswith("sqlite"):
        args, says = ["--data", str(tmp_path / "nowhere")], "error: no store at "
    else:
        args, says = ["--db", db_url], "error: no takedown store in postgresql"
    done = subprocess.run([sys.executable, "-m", "takedown", *args, "check"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith(says), done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "nowhere").exists()
    if not db_url.startswith("sqlite"):
        engine = create_engine(db_url)
        assert inspect(engine).get_table_names() == []
        engine.dispose()


@pytest.mark.parametrize("content", ["empty", "foreign", "text"])
def test_a_file_that_is_no_store_is_left_byte_for_byte(tmp_path: Path, content: str) -> None:
    """`check` only reads: a foreign SQLite file keeps its journal mode and bytes, an empty
    one stays empty, a text file stays text (a check once switched them to WAL)."""
    data = tmp_path / "data"
    data.mkdir()
    path = data / "takedown.sqlite"
    if content == "foreign":
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE mine (x)")
        conn.commit()
        conn.close()
    else:
        path.write_bytes(b"" if content == "empty" else b"notes, not a database\n")
    before = path.read_bytes()
    done = subprocess.run([sys.executable, "-m", "takedown", "--data", str(data), "check"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    says = "file is not a database" if content == "text" else "no takedown store in"
    assert done.stderr.startswith("error: ") and says in done.stderr, done.stderr
    assert path.read_bytes() == before
    assert sorted(p.name for p in data.iterdir()) == ["takedown.sqlite"]


@pytest.mark.parametrize(("table", "key", "column"), [
    ("targets", "id", "spec"), ("rounds", "id", "stats"), ("verdicts", "capture_id", "detail")])
def test_a_damaged_json_value_is_found_and_named_by_the_readers(sound: str, tmp_path: Path,
                                                                table: str, key: str,
                                                                column: str) -> None:
    """Written by hand or another tool: `check` names the row; a command that reads it
    says so in an error line (a report once stopped on it with a traceback)."""
    if sound.startswith("postgresql"):
        pytest.skip("PostgreSQL refuses to store text that is not JSON in a JSON column")
    row = sql(sound, f"SELECT min({key}) FROM {table}")[0][0]
    sql(sound, f"UPDATE {table} SET {column} = '{{not json' WHERE {key} = :i", i=row)
    (line,) = damaged(sound)
    assert line == f"json: {table}.{column} of row {row} is not JSON ('{{not json')"
    if table != "targets":
        return  # a report reads the targets' specs, not these
    done = subprocess.run([sys.executable, "-m", "takedown", "--db", sound, "report",
                           "--out", str(tmp_path / "out"), "--no-progress"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "damaged JSON value" in done.stderr.splitlines()[-1]


@pytest.mark.parametrize(("table", "column"), [
    ("captures", "headers"), ("detect_state", "memory"), ("detected_rounds", "memory")])
def test_a_damaged_packed_json_value_is_found_and_named_by_the_readers(
        sound: str, tmp_path: Path, table: str, column: str) -> None:
    """A packed JSON column (headers, the detector's memories) whose bytes do not decode:
    `check` names the row; exporting the captures, which reads their headers, says so in
    an error line, not a traceback."""
    keys = {"captures": "id", "detect_state": "url_id", "detected_rounds": "round_id"}
    key = keys[table]
    row = sql(sound, f"SELECT min({key}) FROM {table}")[0][0]
    sql(sound, f"UPDATE {table} SET {column} = :v WHERE {key} = :i", v=b"\x01\xff\xff", i=row)
    (line,) = damaged(sound)
    where = f"{row}, 1" if table == "detected_rounds" else f"{row}"
    assert line.startswith(f"json: {table}.{column} of row {where} does not decode "
                           "(b'\\x01\\xff\\xff'): a packed JSON value does not decode"), line
    if table != "captures":
        return
    done = subprocess.run([sys.executable, "-m", "takedown", "--db", sound, "export-warc",
                           "--out", str(tmp_path / "out.warc.gz")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "damaged JSON value" in done.stderr.splitlines()[-1]


# -- deltas and link sets --------------------------------------------------------------------


@pytest.fixture
def with_delta(db_url: str) -> tuple[str, str, str]:
    """*db_url* holding two versions of a page (a counter changed) with its links: the
    first stored full, the second as a delta against it; (url, base key, delta key)."""
    store = open_store(db_url=db_url)
    ids = store.ensure_targets([("t", "http://127.0.0.1/", {})])
    for day in range(2):
        at = AT + timedelta(days=day)
        rid = store.begin_round(at)
        body = html("a").replace("</h1>", f"</h1><p>visits: {100 + day}</p>")
        store.record_capture(rid, ids["t"], at, NewCapture(
            target="t", url="http://127.0.0.1/a", depth=0, via="seed", fetched_at=at,
            status=200, final_url="http://127.0.0.1/a", body=body.encode(), text=body,
            links=(("http://127.0.0.1/b", "b"),)))
        store.finish_round(rid, {})
    store.close()
    ((base, delta),) = sql(db_url, "SELECT base_sha256, sha256 FROM blobs "
                                   "WHERE codec = 'zdelta'")
    return db_url, base, delta


def test_sound_store_with_deltas_passes(with_delta: tuple[str, str, str]) -> None:
    code, lines, err = run_check(with_delta[0])
    assert code == 0 and lines[0].startswith("store OK: 2 blobs, 2 captures"), (lines, err)


def test_damaged_delta_is_found(with_delta: tuple[str, str, str]) -> None:
    db_url, _base, delta = with_delta
    sql(db_url, "UPDATE blobs SET data = :d WHERE sha256 = :k", d=b"not a frame", k=delta)
    (line,) = damaged(db_url)
    assert line.startswith(f"blob {delta[:12]}…: cannot be decoded (zdelta)"), line


def test_delta_decoding_to_other_content_is_found(with_delta: tuple[str, str, str]) -> None:
    db_url, base, delta = with_delta
    (raw,), = sql(db_url, "SELECT data FROM blobs WHERE sha256 = :k", k=base)
    other = blobcodec.pack_delta(b"<p>other</p>", blobcodec.unpack("zstd", bytes(raw)))[2]
    sql(db_url, "UPDATE blobs SET data = :d WHERE sha256 = :k", d=other, k=delta)
    (line,) = damaged(db_url)
    assert line.startswith(f"blob {delta[:12]}…: content hashes to "
                           f"{blobcodec.sha256_hex(b'<p>other</p>')}"), line


def test_delta_whose_base_is_missing_is_found(with_delta: tuple[str, str, str]) -> None:
    db_url, base, delta = with_delta
    sql(db_url, "DELETE FROM blobs WHERE sha256 = :k", k=base)
    lines = damaged(db_url)
    assert (f"blob {delta[:12]}…: its base {base[:12]}… is missing or damaged, so it cannot "
            f"be decoded [{delta}]") in lines
    assert f"blobs.base_sha256: 1 row points at a missing blobs.sha256 ({base})" in lines


def test_damaged_link_set_is_found(with_delta: tuple[str, str, str]) -> None:
    db_url = with_delta[0]
    (sha,), = sql(db_url, "SELECT sha256 FROM link_sets")
    sql(db_url, "UPDATE link_sets SET count = 5")
    assert damaged(db_url) == [f"link set {sha[:12]}…: 1 links decoded, 5 recorded [{sha}]"]
    _, _, packed = blobcodec.pack_links([("http://127.0.0.1/c", "c")])
    sql(db_url, "UPDATE link_sets SET count = 1, data = :d", d=packed)
    (line,) = damaged(db_url)
    assert line.startswith(f"link set {sha[:12]}…: hashes to "), line
