"""`takedown import-warc`: every real sample archive (what it yields, what it skips and why),
revisits resolved across files, redirects, rounds by window, watchlist scopes, re-imports
that add nothing, hostile files, and a hand-made history that detection reads as a
takedown."""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import REALDATA
from sqlalchemy import select
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.warc_import import import_archives
from crawler.watchlist import parse_watchlist
from snapshots import open_store
from snapshots.models import Blob, Capture, Round, Target, Url

SAMPLES = REALDATA / "warc-samples"
DAY = timedelta(days=1)

# every archive of warc-samples, imported alone with daily rounds: (records read,
# captures, skipped by reason, offsets of a break).  Why each, from the file itself:
EXPECTED = {
    # 3 responses + 9 revisits: 8 revisits refer to iana.warc.gz's records; the 9th
    # (example.com) to this file's own response of 17:12:00, which it supersedes
    "pywb/dupes.warc.gz": (25, 3, {"earlier in window": 1, "revisit without original": 8,
                                   "warcinfo record": 1}, []),
    # the same response twice (same record id), once answering GET and once "GETX",
    # and two revisits of it on 2014-06-03
    "pywb/example-extra.warc": (6, 2, {"GETX request": 1, "earlier in window": 1}, []),
    "pywb/example-url-agnostic-orig.warc.gz": (2, 1, {"warcinfo record": 1}, []),
    # its one revisit refers to example-url-agnostic-orig's record
    "pywb/example-url-agnostic-revisit.warc.gz": (2, 0, {"revisit without original": 1,
                                                         "warcinfo record": 1}, []),
    "pywb/example-wget-1-14.warc.gz": (6, 1, {"resource record": 3,
                                              "warcinfo record": 1}, []),
    "pywb/example-wpull.warc.gz": (4, 1, {"resource record": 1, "warcinfo record": 1}, []),
    # 48 responses + 123 revisits (SOURCE.txt) of 43 URLs, all on 2014-01-26
    "pywb/iana.warc.gz": (343, 43, {"earlier in window": 128, "warcinfo record": 1}, []),
    "pywb/missing-status-text.warc": (1, 1, {}, []),
    # gzipped whole, not a member per record: read decompressed; a response and its
    # revisit on one day
    "warcio/example-bad-non-chunked.warc.gz": (6, 1, {"earlier in window": 1,
                                                      "warcinfo record": 2}, []),
    "warcio/example-digest.warc": (4, 0, {}, []),              # requests only
    "warcio/example-iana.org-chunked.warc": (3, 1, {"warcinfo record": 1}, []),
    "warcio/example-resource.warc.gz": (3, 0, {"resource record": 1,
                                               "warcinfo record": 2}, []),
    "warcio/example-space-in-target-uri.warc.gz": (2, 0, {"resource record": 1,
                                                          "warcinfo record": 1}, []),
    "warcio/example-trunc.warc": (4, 1, {"warcinfo record": 2}, []),
    "warcio/example-wget-bad-target-uri.warc.gz": (6, 1, {"metadata record": 1,
                                                          "resource record": 2,
                                                          "warcinfo record": 1}, []),
    # its first gzip member ends inside the response's body: the record is cut short and
    # the file breaks where the next member starts
    "warcio/example-wrong-chunks.warc.gz": (1, 0, {"record cut short": 1}, [516]),
    "warcio/example.arc": (2, 1, {"warcinfo record": 1}, []),
    "warcio/example.arc.gz": (2, 1, {"warcinfo record": 1}, []),
    "warcio/example.warc": (6, 1, {"earlier in window": 1, "warcinfo record": 2}, []),
    "warcio/example.warc.gz": (6, 1, {"earlier in window": 1, "warcinfo record": 2}, []),
    "warcio/post-test.warc.gz": (6, 0, {"POST request": 3}, []),     # answers to POSTs
}


@pytest.fixture(scope="module")
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"real sample archives not found at {SAMPLES}")
    return SAMPLES


def new_store(tmp_path: Path, name: str = "d"):  # type: ignore[no-untyped-def]
    return open_store(tmp_path / name, None, create=True)


def captures(store) -> list[dict]:  # type: ignore[no-untyped-def]
    """Every capture, oldest round first: its target, URL and what was recorded."""
    q = (select(Capture, Url.url, Target.name).join(Url, Capture.url_id == Url.id)
         .join(Target, Target.id == Capture.target_id).order_by(Capture.captured_at, Url.url))
    with store.session() as s:
        return [{"target": t, "url": u, "status": c.status, "state": c.state,
                 "final_url": c.final_url, "redirects": c.redirects, "size": c.size,
                 "body": c.body_sha256, "truncated": c.truncated, "via": c.via,
                 "error_kind": c.error_kind, "captured_at": c.captured_at.replace(tzinfo=UTC),
                 "fetched_at": c.fetched_at.replace(tzinfo=UTC), "round": c.round_id}
                for c, u, t in s.execute(q)]


def counts(store) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {m.__name__: store.count(m) for m in (Capture, Url, Blob, Round, Target)}


def test_every_sample_archive_is_covered(samples: Path) -> None:
    found = {str(p.relative_to(samples)) for p in samples.glob("*/*")
             if p.suffix not in (".txt", ".cdx")}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_yields_and_skips(samples: Path, tmp_path: Path, name: str) -> None:
    records, n, skipped, breaks = EXPECTED[name]
    store = new_store(tmp_path)
    result = import_archives([samples / name], store, DAY)
    report = result.files[0]
    assert (report.records, report.captures, dict(report.skipped)) == (records, n, skipped)
    assert [offset for _a, offset, _why in report.broken] == breaks
    assert report.unreadable is None
    rows = captures(store)
    assert len(rows) == n and all(r["via"] == "import" for r in rows)
    assert store.integrity_problems() == []


def test_iana_revisits_and_redirects(samples: Path, tmp_path: Path) -> None:
    store = new_store(tmp_path)
    import_archives([samples / "pywb/iana.warc.gz"], store, DAY)
    rows = {r["url"]: r for r in captures(store)}
    assert {r["captured_at"] for r in rows.values()} == {datetime(2014, 1, 26, tzinfo=UTC)}
    # jquery.js: a response at 20:06:25, then only revisits; the last (20:13:07 under
    # https) and 20:12:48 (http) carry the original's payload
    js = rows["http://www.iana.org/_js/2013.1/jquery.js"]
    assert js["fetched_at"] == datetime(2014, 1, 26, 20, 12, 48, tzinfo=UTC)
    assert js["size"] > 90_000 and js["status"] == 200
    assert rows["https://www.iana.org/_js/2013.1/jquery.js"]["body"] == js["body"]
    # the four 302s lead to captures of the same round: recorded as followed redirects
    for old, new in [("http://www.iana.org/about/performance/ietf-statistics",
                      "http://www.iana.org/performance/ietf-statistics"),
                     ("http://www.iana.org/domains/root/db/",
                      "http://www.iana.org/domains/root/db"),
                     ("http://www.iana.org/dnssec", "https://www.iana.org/dnssec")]:
        r = rows[old]
        assert (r["status"], r["final_url"], r["redirects"]) == (200, new, [[302, old]])
        assert r["body"] == rows[new]["body"]
    # a page's links are read as the crawler reads them
    home = store.round_fetch(rows["http://www.iana.org/"]["round"], "http://www.iana.org/")
    assert "http://www.iana.org/domains" in [u for u, _text in home.links]


def test_dupes_resolve_only_with_iana(samples: Path, tmp_path: Path) -> None:
    store = new_store(tmp_path)
    result = import_archives([samples / "pywb/iana.warc.gz", samples / "pywb/dupes.warc.gz"],
                             store, DAY)
    dupes = result.files[1]
    assert dupes.captures == 11 and "revisit without original" not in dupes.skipped
    rows = captures(store)
    day = {(r["url"], r["captured_at"].day): r for r in rows}
    assert day[("http://www.iana.org/", 27)]["body"] == day[("http://www.iana.org/", 26)]["body"]
    # http://iana.org 302 → http://www.iana.org/, which dupes holds as a revisit
    assert day[("http://iana.org/", 27)]["redirects"] == [[302, "http://iana.org"]]
    assert day[("http://iana.org/", 27)]["status"] == 200
    assert len(rows) == 43 + 11


def test_url_agnostic_revisit_resolves_with_its_original(samples: Path,
                                                          tmp_path: Path) -> None:
    store = new_store(tmp_path)
    result = import_archives([samples / "pywb/example-url-agnostic-revisit.warc.gz",
                              samples / "pywb/example-url-agnostic-orig.warc.gz"], store, DAY)
    assert [f.captures for f in result.files] == [1, 1]
    rows = {r["url"]: r for r in captures(store)}
    assert rows["http://test@example.com/"]["body"] == rows["http://example.iana.org/"]["body"]
    assert rows["http://test@example.com/"]["size"] == 1270


def test_second_import_adds_nothing(samples: Path, tmp_path: Path) -> None:
    files = [samples / "pywb/iana.warc.gz", samples / "pywb/dupes.warc.gz",
             samples / "warcio/example.warc.gz"]
    store = new_store(tmp_path)
    first = import_archives(files, store, DAY)
    before = counts(store)
    again = import_archives(files, store, DAY)
    assert first.captures == 55 and again.captures == 0 and again.duplicates == 55
    assert counts(store) == before
    assert not any(again.rounds.values())    # every round was there


def test_watchlist_maps_urls_to_targets(samples: Path, tmp_path: Path) -> None:
    wl = parse_watchlist(
        '[[target]]\nname = "domains"\nurl = "http://www.iana.org/domains"\ndepth = 1\n'
        'allow = ["/domains"]\n\n'
        '[[target]]\nname = "site"\nurl = "http://www.iana.org/"\ndepth = 1\n'
        'deny = ["/_css/", "/_img/", "/_js/"]\n', "wl.toml")
    store = new_store(tmp_path)
    result = import_archives([samples / "pywb/iana.warc.gz"], store, DAY, wl)
    rows = captures(store)
    by_target: dict[str, set[str]] = {}
    for r in rows:
        by_target.setdefault(r["target"], set()).add(r["url"])
    assert by_target["domains"] == {u for u in by_target["site"] if "/domains" in u}
    assert "http://www.iana.org/domains/root/db" in by_target["domains"]
    assert not any("/_css/" in u for u in by_target["site"])
    # https URLs are another host's scheme, but the same host: in scope of "site"
    assert "https://www.iana.org/dnssec" in by_target["site"]
    out = result.files[0].skipped["out of scope"]
    assert out == 43 - len(by_target["site"])   # the css, images and scripts
    assert out > 0 and result.targets == ["domains", "site"]


# -- hand-made archives ------------------------------------------------------------------------


def record(writer: WARCWriter, url: str, at: str, body: bytes = b"<p>x</p>",
           status: str = "200 OK", headers: list | None = None, kind: str = "response",
           extra: dict | None = None) -> None:
    http = StatusAndHeaders(status, headers or [("Content-Type", "text/html; charset=utf-8")],
                            protocol="HTTP/1.1")
    rec = writer.create_warc_record(url, kind, payload=io.BytesIO(body), http_headers=http,
                                    warc_headers_dict={"WARC-Date": at, **(extra or {})})
    writer.write_record(rec)


def warc(path: Path, *records: tuple, gz: bool = True) -> Path:
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=gz)
        for args in records:
            record(writer, *args[:2], **(args[2] if len(args) > 2 else {}))
    return path


def test_round_every_keeps_a_urls_latest_capture_per_window(tmp_path: Path) -> None:
    url = "http://site.test/page"
    path = warc(tmp_path / "a.warc.gz", (url, "2021-03-15T01:00:00Z", {"body": b"<p>1</p>"}),
                (url, "2021-03-15T05:00:00Z", {"body": b"<p>2</p>"}),
                (url, "2021-03-15T13:00:00Z", {"body": b"<p>3</p>"}))
    store = new_store(tmp_path)
    result = import_archives([path], store, timedelta(hours=6))
    rows = captures(store)
    assert [(r["captured_at"].hour, r["fetched_at"].hour) for r in rows] == [(0, 5), (12, 13)]
    assert result.files[0].skipped == {"earlier in window": 1}
    with store.session() as s:
        made = s.scalars(select(Round)).all()
    assert {r.status for r in made} == {"done"}
    assert all(r.watchlist == "import-warc: a.warc.gz" for r in made)
    assert sum(r.stats["captures"] for r in made) == 2
    # daily rounds: one capture, the latest
    other = new_store(tmp_path, "daily")
    import_archives([path], other, DAY)
    assert [r["fetched_at"].hour for r in captures(other)] == [13]


def test_takedown_round_header_names_the_round(tmp_path: Path) -> None:
    stamp = "2021-03-15T09:30:00+00:00"
    path = warc(tmp_path / "ours.warc.gz",
                ("http://site.test/a", "2021-03-15T09:31:07Z",
                 {"extra": {"WARC-Takedown-Round": stamp}}),
                ("http://site.test/b", "2021-03-15T09:35:00Z",
                 {"extra": {"WARC-Takedown-Round": "not a time"}}))
    store = new_store(tmp_path)
    result = import_archives([path], store, DAY)
    assert [r["captured_at"].isoformat() for r in captures(store)] == [stamp]
    assert result.files[0].skipped == {"bad WARC-Takedown-Round": 1}


def test_existing_round_of_the_same_stamp_is_reused(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    rid = store.begin_round(datetime(2021, 3, 15, tzinfo=UTC), "crawl")
    store.finish_round(rid, {}, "done")
    path = warc(tmp_path / "a.warc.gz", ("http://site.test/", "2021-03-15T10:00:00Z"))
    result = import_archives([path], store, DAY)
    assert result.rounds == {rid: False}
    assert [r["round"] for r in captures(store)] == [rid]


def test_hostile_records_are_skipped_never_a_crash(tmp_path: Path) -> None:
    wl = parse_watchlist('[crawl]\nmax_size = 1000\n\n[[target]]\nname = "s"\n'
                         'url = "http://site.test/"\ndepth = 1\n', "wl.toml")
    path = warc(
        tmp_path / "h.warc.gz",
        ("http://site.test/big", "2021-03-15T01:00:00Z", {"body": b"<p>" + b"a" * 50_000}),
        ("http://site.test/bin", "2021-03-15T01:00:00Z",
         {"body": bytes(range(256)) * 20, "headers": [("Content-Type", "text/html")]}),
        ("http://site.test/with space", "2021-03-15T01:00:00Z"),
        ("site.test/no-scheme", "2021-03-15T01:00:00Z"),
        ("dns:site.test", "2021-03-15T01:00:00Z"),
        ("urn:x-test:1", "2021-03-15T01:00:00Z"),
        ("ftp://site.test/f", "2021-03-15T01:00:00Z"),
        ("http://site.test/gz", "2021-03-15T01:00:00Z",
         {"body": gzip.compress(b"<p>unzipped</p>"),
          "headers": [("Content-Type", "text/html"), ("Content-Encoding", "gzip")]}),
        ("http://site.test/cut", "2021-03-15T01:00:00Z",
         {"extra": {"WARC-Truncated": "disconnect"}}),
        ("http://site.test/long", "2021-03-15T01:00:00Z",
         {"extra": {"WARC-Truncated": "length"}}))
    store = new_store(tmp_path)
    result = import_archives([path], store, DAY, wl)
    assert result.files[0].skipped == {"not an http(s) URL": 4}
    rows = {r["url"]: r for r in captures(store)}
    assert set(rows) == {"http://site.test/big", "http://site.test/bin",
                         "http://site.test/with%20space", "http://site.test/gz",
                         "http://site.test/cut", "http://site.test/long"}
    assert rows["http://site.test/big"]["size"] == 1000 and rows["http://site.test/big"][
        "truncated"]
    assert rows["http://site.test/gz"]["size"] == len(b"<p>unzipped</p>")
    assert (rows["http://site.test/cut"]["state"], rows["http://site.test/cut"][
        "error_kind"]) == ("failed", "dataloss")
    assert rows["http://site.test/long"]["truncated"] and rows["http://site.test/long"][
        "state"] == "ok"
    assert store.integrity_problems() == []


def test_a_warc_cut_inside_a_record_keeps_what_came_before(tmp_path: Path) -> None:
    whole = warc(tmp_path / "whole.warc", ("http://site.test/a", "2021-03-15T01:00:00Z"),
                 ("http://site.test/b", "2021-03-15T01:00:00Z",
                  {"body": b"<p>" + b"b" * 5000}), gz=False)
    data = whole.read_bytes()
    cut = tmp_path / "cut.warc"
    cut.write_bytes(data[:len(data) - 2000])
    store = new_store(tmp_path)
    result = import_archives([cut], store, DAY)
    report = result.files[0]
    assert [r["url"] for r in captures(store)] == ["http://site.test/a"]
    assert report.skipped == {"record cut short": 1}


def test_a_wacz_package_is_read_through(tmp_path: Path) -> None:
    inner = warc(tmp_path / "data.warc.gz", ("http://site.test/", "2021-03-15T01:00:00Z"))
    wacz = tmp_path / "pack.wacz"
    with zipfile.ZipFile(wacz, "w") as zf:
        zf.write(inner, "archive/data.warc.gz")
        zf.writestr("datapackage.json", "{}")
    store = new_store(tmp_path)
    result = import_archives([wacz], store, DAY)
    assert result.captures == 1 and captures(store)[0]["url"] == "http://site.test/"


# -- the command line ----------------------------------------------------------------------------


def takedown(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "takedown", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})


def test_files_that_are_no_archive_exit_2_and_make_no_store(tmp_path: Path) -> None:
    (tmp_path / "empty.warc").write_bytes(b"")
    # seed 20's bytes have a first line warcio takes for an ARC record header
    (tmp_path / "random.warc").write_bytes(random.Random(20).randbytes(4096))
    (tmp_path / "garbage.warc.gz").write_bytes(gzip.compress(random.Random(1).randbytes(4096)))
    (tmp_path / "fake.warc.gz").write_bytes(b"not gzip at all\n")
    (tmp_path / "bad.wacz").write_bytes(b"PK not a zip")
    data = tmp_path / "d"
    for name in ("empty.warc", "random.warc", "garbage.warc.gz", "fake.warc.gz", "bad.wacz"):
        run = takedown("import-warc", str(tmp_path / name), "--data", str(data))
        assert run.returncode == 2, name
        assert run.stderr.startswith("error: nothing imported: ") and name in run.stderr
        assert "Traceback" not in run.stderr
    run = takedown("import-warc", str(tmp_path), "--data", str(data))
    assert run.returncode == 2 and "is a directory" in run.stderr
    run = takedown("import-warc", str(tmp_path / "missing.warc"), "--data", str(data))
    assert run.returncode == 2 and "does not exist" in run.stderr
    assert not data.exists()


def test_cli_reports_and_json(samples: Path, tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    files = [str(samples / "warcio/example-wrong-chunks.warc.gz"),
             str(samples / "warcio/example.warc.gz")]
    run = takedown("import-warc", *files, "--data", data)
    assert run.returncode == 0, run.stderr
    assert "example-wrong-chunks.warc.gz: 1 records, 0 captures imported" in run.stdout
    assert "broken: example-wrong-chunks.warc.gz at offset 516: ArchiveLoadFailed" \
        in run.stdout
    assert "skipped 1: record cut short" in run.stdout
    assert "import-warc: 1 captures imported into 1 rounds (1 new)" in run.stdout
    again = takedown("import-warc", *files, "--json", "--data", data)
    assert again.returncode == 0
    out = json.loads(again.stdout)
    assert (out["captures"], out["duplicates"], out["new_rounds"]) == (0, 1, [])
    assert out["files"][0]["broken"][0]["offset"] == 516


def listing(items: list[int]) -> bytes:
    links = "".join(f'<li><a href="/post/{i}.html">Post number {i} title</a></li>'
                    for i in items)
    return f"<html><body><h1>News</h1><ul>{links}</ul></body></html>".encode()


def post(i: int) -> bytes:
    return (f"<html><body><h1>Post {i}</h1><p>The full text of post {i}, long enough to be "
            f"read as the page's content and not as its frame.</p></body></html>").encode()


def test_hand_made_history_gives_a_takedown(tmp_path: Path) -> None:
    day1, day2 = "2021-03-15T10:00:00Z", "2021-03-16T10:00:00Z"
    base = "http://news.test"
    recs: list[tuple] = [(f"{base}/", day1, {"body": listing([1, 2, 3])})]
    recs += [(f"{base}/post/{i}.html", day1, {"body": post(i)}) for i in (1, 2, 3)]
    recs += [(f"{base}/", day2, {"body": listing([1, 3])})]
    recs += [(f"{base}/post/{i}.html", day2, {"body": post(i)}) for i in (1, 3)]
    recs += [(f"{base}/post/2.html", day2, {"body": b"<h1>Not Found</h1>",
                                            "status": "404 Not Found"})]
    path = warc(tmp_path / "news.warc.gz", *recs)
    data = str(tmp_path / "d")
    run = takedown("import-warc", str(path), "--data", data)
    assert run.returncode == 0, run.stderr
    assert "6 captures" not in run.stdout and "8 captures imported" in run.stdout
    detect = takedown("detect", "--data", data)
    assert detect.returncode == 0, detect.stderr
    assert "new takedowns: none" not in detect.stdout
    export = takedown("export", "--data", data)
    rows = [json.loads(line) for line in export.stdout.splitlines()]
    assert any(r["url"] == f"{base}/post/2.html" for r in rows), rows
    report = takedown("report", "--out", str(tmp_path / "rep"), "--no-progress",
                      "--data", data)
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "rep" / "report.html").exists()
    # detection has read 2021-03-16: importing an older day would be read out of order
    older = warc(tmp_path / "older.warc.gz", (f"{base}/", "2021-03-14T10:00:00Z"))
    run = takedown("import-warc", str(older), "--data", data)
    assert run.returncode == 2 and "detection reads rounds in time order" in run.stderr


def test_import_on_every_backend(samples: Path, store) -> None:  # type: ignore[no-untyped-def]
    """The `store` fixture: SQLite, and PostgreSQL where TAKEDOWN_TEST_PG_URL is set."""
    files = [samples / "pywb/iana.warc.gz", samples / "pywb/dupes.warc.gz"]
    first = import_archives(files, store, DAY)
    before = counts(store)
    again = import_archives(files, store, DAY)
    assert (first.captures, again.captures, again.duplicates) == (54, 0, 54)
    assert counts(store) == before and before["Round"] == 2
    assert store.integrity_problems() == []
