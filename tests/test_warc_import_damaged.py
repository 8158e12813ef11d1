"""Damaged and hostile archives: `takedown import-warc` keeps what can be read, says what
broke, and never stops with a traceback.

A WARC gzipped as one stream and cut short (an interrupted download), a WACZ whose member
breaks early or late, records whose headers are odd but well formed (a superscript digit as
a depth, a metadata record of deeply nested JSON), an ARC record whose date warcio cannot
read (and dates 2999-12-31), a round left ``running`` by a killed import, file contents
that would drive a terminal, and a named pipe given as the file.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update
from test_warc_import import captures, new_store, record, warc
from warcio.warcwriter import WARCWriter

from crawler.warc_import import import_archives
from snapshots.models import Round

DAY = timedelta(days=1)
AT = "2021-03-15T01:00:00Z"


def pages(n: int, size: int = 300) -> list[tuple]:
    return [(f"http://site.test/p{i}", AT, {"body": b"<p>%d</p>" % i + os.urandom(size // 2)
                                           .hex().encode()}) for i in range(n)]


def takedown(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "takedown", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})


def test_a_whole_gzip_stream_cut_short_keeps_the_records_before_the_cut(
        tmp_path: Path) -> None:
    for n in (5, 200):   # under and over one read of the stream
        whole = warc(tmp_path / f"w{n}.warc", *pages(n), gz=False)
        packed = gzip.compress(whole.read_bytes())
        cut = tmp_path / f"cut{n}.warc.gz"
        cut.write_bytes(packed[:len(packed) // 2])
        store = new_store(tmp_path, f"d{n}")
        result = import_archives([cut], store, DAY)
        (report,) = result.files
        assert 0 < result.captures < n
        assert [why for _a, _o, why in report.broken] == [
            "the stream breaks: EOFError: Compressed file ended before the end-of-stream "
            "marker was reached"]
        assert {r["url"] for r in captures(store)} == {
            f"http://site.test/p{i}" for i in range(result.captures)}   # the first ones
        again = import_archives([cut], store, DAY)
        assert (again.captures, again.duplicates) == (0, result.captures)
        assert store.integrity_problems() == []


def _member_data_offset(path: Path, name: str) -> tuple[int, int]:
    """(offset in the zip file, size) of the stored bytes of member *name*."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    with path.open("rb") as fh:
        fh.seek(info.header_offset + 26)
        name_len, extra_len = int.from_bytes(fh.read(2), "little"), int.from_bytes(
            fh.read(2), "little")
    return info.header_offset + 30 + name_len + extra_len, info.compress_size


def _damaged_wacz(tmp_path: Path, name: str, compression: int, at: float) -> Path:
    inner = warc(tmp_path / f"{name}.warc", *pages(60, 1000), gz=False)
    path = tmp_path / f"{name}.wacz"
    with zipfile.ZipFile(path, "w", compression) as zf:
        zf.write(inner, "archive/data.warc")
        zf.writestr("datapackage.json", "{}")
    start, size = _member_data_offset(path, "archive/data.warc")
    data = bytearray(path.read_bytes())
    hit = start + int(size * at)
    data[hit:hit + 64] = bytes(64)
    path.write_bytes(bytes(data))
    return path


def test_a_wacz_member_damaged_late_keeps_the_records_before_the_damage(
        tmp_path: Path) -> None:
    wacz = _damaged_wacz(tmp_path, "late", zipfile.ZIP_STORED, 0.97)
    store = new_store(tmp_path)
    result = import_archives([wacz], store, DAY)
    (report,) = result.files
    assert result.captures >= 50
    assert len(report.broken) == 1 and "Bad CRC-32" in report.broken[0][2]
    assert store.integrity_problems() == []


def test_a_wacz_member_damaged_at_its_start_is_refused_without_a_traceback(
        tmp_path: Path) -> None:
    wacz = _damaged_wacz(tmp_path, "early", zipfile.ZIP_DEFLATED, 0.0)
    run = takedown("import-warc", str(wacz), "--data", str(tmp_path / "d"))
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith("error: nothing imported: ") and "early.wacz" in run.stderr


def test_odd_but_well_formed_records_do_not_end_the_scan(tmp_path: Path) -> None:
    path = tmp_path / "odd.warc.gz"
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        record(writer, "http://site.test/a", AT)
        record(writer, "http://site.test/depth", AT, extra={"WARC-Takedown-Depth": "²"})
        nested = writer.create_warc_record(
            "http://site.test/failed", "metadata", payload=io.BytesIO(b"[" * 200_000),
            warc_headers_dict={"WARC-Date": AT, "WARC-Takedown-Capture": "7",
                               "WARC-Takedown-Round": AT, "Content-Type": "application/json"})
        writer.write_record(nested)
        record(writer, "http://site.test/b", AT)
    store = new_store(tmp_path)
    result = import_archives([path], store, DAY)
    (report,) = result.files
    assert report.broken == [] and report.skipped == {"metadata record": 1}
    assert sorted(r["url"] for r in captures(store)) == [
        "http://site.test/a", "http://site.test/b", "http://site.test/depth"]


ARC_HEAD = (b"filedesc://x.arc 127.0.0.1 20140216050221 text/plain 75\n1 0 LiveWeb Capture\n"
            b"URL IP-address Archive-date Content-type Archive-length\n\n")
ARC_BODY = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>hi</p>"


def test_an_arc_record_of_an_unreadable_or_future_date_is_skipped(tmp_path: Path) -> None:
    arc = tmp_path / "dates.arc"
    lines = [ARC_HEAD]
    for i, date in enumerate((b"abcdefghijklmn", b"99999999999999", b"20140216050221")):
        lines.append(b"http://example.com/%d 1.2.3.4 %s text/html %d\n%s\n"
                     % (i, date, len(ARC_BODY), ARC_BODY))
    arc.write_bytes(b"".join(lines))
    store = new_store(tmp_path)
    result = import_archives([arc], store, DAY)
    assert [(r["url"], r["fetched_at"].year) for r in captures(store)] == [
        ("http://example.com/2", 2014)]
    assert result.files[0].skipped["WARC-Date in the future"] == 2


def test_a_round_a_killed_import_left_running_is_closed_by_the_next(tmp_path: Path) -> None:
    path = warc(tmp_path / "a.warc.gz", *pages(3))
    store = new_store(tmp_path)
    first = import_archives([path], store, DAY)
    (rid,) = first.rounds
    with store.writing() as s:   # as a SIGKILL between two captures leaves it
        s.execute(update(Round).where(Round.id == rid).values(status="running"))
    import_archives([path], store, DAY)
    with store.session() as s:
        assert s.scalar(select(Round.status).where(Round.id == rid)) == "done"
    # a crawl's running round (it may be live) is not the import's to close
    with store.writing() as s:
        s.execute(update(Round).where(Round.id == rid).values(status="running",
                                                              watchlist="crawl"))
    import_archives([path], store, DAY)
    with store.session() as s:
        assert s.scalar(select(Round.status).where(Round.id == rid)) == "running"


def test_what_the_file_says_reaches_the_terminal_escaped(tmp_path: Path) -> None:
    path = tmp_path / "esc.warc"
    evil = "\x1b]0;TITLE\x07\x1b[31mRED\x00"
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=False)
        record(writer, "http://site.test/a b" + evil, AT)
        writer.write_record(writer.create_warc_record(
            "http://site.test/x", "x" + evil, payload=io.BytesIO(b"x"),
            warc_headers_dict={"WARC-Date": AT}))
    run = takedown("import-warc", str(path), "--data", str(tmp_path / "d"))
    assert run.returncode == 0, run.stderr
    for out in (run.stdout, run.stderr):
        assert "\x1b" not in out and "\x00" not in out and "\x07" not in out
    assert "\\x1b]0;TITLE\\x07" in run.stdout
    assert "note: Replacing spaces in invalid WARC-Target-URI" in run.stdout


def test_a_named_pipe_or_a_device_is_refused_at_once(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.warc"
    os.mkfifo(pipe)
    zero = tmp_path / "zero.wacz"   # read as a zip, /dev/zero would fill memory
    zero.symlink_to("/dev/zero")
    for path in (pipe, zero):
        run = takedown("import-warc", str(path), "--data", str(tmp_path / "d"))
        assert run.returncode == 2 and "not a regular file" in run.stderr, run.stderr
        assert not (tmp_path / "d").exists()
