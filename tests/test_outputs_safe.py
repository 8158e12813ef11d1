"""Report and export outputs are safe and whole: zero takedowns is a report, dates at the
calendar's ends are unknown ages, CSV cells cannot be formulas, Markdown carries no HTML,
the viewer URL is http(s), and a report folder or export file is replaced all at once.

The store is real: a loopback site crawled over two rounds and detected, once per module.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import lxml.html
import pytest
from click.testing import CliRunner, Result
from sitesim import RouteSite, crawl, page, serve, watchlist

from reports.export import csv_cell, write_csv
from reports.output import write_report
from reports.report import ReportOptions, build_report
from snapshots import open_store
from takedown.cli import cli

REPORT_FILES = ["events.csv", "report.html", "report.json", "report.md", "takedowns.csv"]
TEXT = "这是一篇正常的文章正文，内容完整。" * 8
# page → (title, publication time shown in a <time> element, or None)
NEWS = {
    "a1": ('=HYPERLINK("http://x","y")', "2021-03-01T08:00:00Z"),
    "a2": ("year one", "0001-01-01T00:00:00+08:00"),
    "a3": ("the calendar's last second", "9999-12-31T23:59:59-08:00"),
    "a4": ("@SUM(1+1)*cmd|' /C calc'!A0", None),
    "a5": ("+1+1", None),
    "a6": ("-2+3", None),
}
PLAIN = ("p1", "p2")  # pages that show no publication time


def article(title: str, published: str | None, extra: str = "") -> object:
    when = f"<time datetime='{published}' pubdate>published</time>" if published else ""
    return page(f"<article><h1>{title}</h1>{when}<p>{TEXT}</p><p>{extra}</p></article>",
                title=title)


def listing(prefix: str, names: tuple[str, ...]) -> object:
    items = "".join(f"<li><a href='/{prefix}/{n}.html'>第{n}篇</a></li>" for n in names)
    return page(f"<ul>{items}</ul>")


def routes(day: int) -> dict:
    """Day 0 every article is up; day 1 every article is a 404 under a living list."""
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"}),
         "/news/list.html": listing("news", tuple(NEWS)),
         "/plain/list.html": listing("plain", PLAIN)}
    if day == 0:
        for name, (title, published) in NEWS.items():
            r[f"/news/{name}.html"] = article(title, published, "&lt;b&gt;x&lt;/b&gt;")
        for name in PLAIN:
            r[f"/plain/{name}.html"] = article(f"plain {name}", None)
    return r


@pytest.fixture(scope="module")
def site_store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two rounds of a loopback site through `takedown crawl` and `detect`: six news
    articles (hostile titles, dates at the calendar's ends) and two plain ones, all gone
    in the second round."""
    tmp = tmp_path_factory.mktemp("site")
    site = RouteSite(routes(0))
    server = serve(site)
    base = server.base_url
    wl = watchlist(tmp / "wl.toml",
                   f'[[target]]\nname = "news"\nurl = "{base}/news/list.html"\ndepth = 1\n\n'
                   f'[[target]]\nname = "plain"\nurl = "{base}/plain/list.html"\ndepth = 1\n')
    data = tmp / "data"
    try:
        for day in range(2):
            site.swap(routes(day))
            run = crawl(wl, data, f"2021-03-{20 + day}T00:00:00Z")
            assert run.returncode == 0, run.stderr[-3000:]
            det = subprocess.run([sys.executable, "-m", "takedown", "--data", str(data),
                                  "detect"], capture_output=True, text=True, timeout=120)
            assert det.returncode == 0, det.stderr[-3000:]
    finally:
        server.stop()
    return {"data": data, "base": base}


def report(data: Path, out: Path, *args: str) -> Result:
    """``takedown report`` in this process (its errors are the command's own)."""
    return CliRunner().invoke(cli, ["--data", str(data), "report", "--out", str(out),
                                    "--no-progress", *args])


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.output, result.stderr, result.exception)
    return result


def refused(result: Result, message: str) -> None:
    """Exit 2 with ``error: …`` on stderr and no traceback."""
    assert result.exit_code == 2, (result.output, result.exception)
    assert "error: " in result.stderr and message in result.stderr, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(path.open(encoding="utf-8", newline="")))


def by_path(rows: list[dict], base: str) -> dict[str, dict]:
    return {r["url"].removeprefix(base): r for r in rows}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


# -- zero takedowns ------------------------------------------------------------------------


@pytest.mark.parametrize("args, takedowns", [
    (("--kind", "account_suspended"), 0),
    (("--target", "plain"), 2),
], ids=["kind-matches-nothing", "no-publication-times"])
def test_report_without_takedowns_or_ages_is_written_in_every_format(
        site_store: dict, tmp_path: Path, args: tuple[str, ...], takedowns: int) -> None:
    out = tmp_path / "out"
    ok(report(site_store["data"], out, *args))
    assert sorted(p.name for p in out.iterdir()) == REPORT_FILES
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert rep["summary"]["takedowns"] == len(rep["takedowns"]) == takedowns
    assert rep["summary"]["lifetime"] == {"with_age": 0, "at_least": None, "at_most": None}
    html = (out / "report.html").read_text(encoding="utf-8")
    doc = lxml.html.fromstring(html)
    assert doc.xpath("//td[@id='total-takedowns']/text()") == [str(takedowns)]
    assert "No takedown's page showed a publication time." in html
    md = (out / "report.md").read_text(encoding="utf-8")
    assert len(read_csv(out / "takedowns.csv")) == takedowns
    if takedowns == 0:
        assert doc.xpath("//p[@id='no-takedowns']/text()") == ["No takedowns match the filters."]
        assert "No takedowns match the filters." in md and "Takedowns first seen" not in md
        assert (out / "takedowns.csv").read_text(encoding="utf-8").startswith("id,detected_at,")


def test_report_of_an_empty_store(tmp_path: Path) -> None:
    out = tmp_path / "out"
    open_store(tmp_path / "empty")          # a store, created, that holds nothing yet
    ok(report(tmp_path / "empty", out))
    assert sorted(p.name for p in out.iterdir()) == REPORT_FILES
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "The store holds no takedowns." in md
    html = lxml.html.fromstring((out / "report.html").read_text(encoding="utf-8"))
    assert html.xpath("//p[@id='no-takedowns']/text()") == ["The store holds no takedowns."]


# -- dates at the calendar's ends ------------------------------------------------------------


def test_publication_times_beyond_the_calendar_are_unknown_ages(site_store: dict,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "out"
    ok(report(site_store["data"], out, "--target", "news"))
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    got = by_path(rep["takedowns"], site_store["base"])
    # 0001-01-01 at +08:00 is in year 0 in UTC, 9999-12-31 at -08:00 in year 10000
    assert got["/news/a2.html"]["published"] is None and got["/news/a2.html"]["age_hours"] is None
    assert got["/news/a3.html"]["published"] is None and got["/news/a3.html"]["age_hours"] is None
    assert got["/news/a1.html"]["age_hours"] == {"at_least": 448.0, "at_most": 472.0}
    assert rep["summary"]["lifetime"]["with_age"] == 1


def test_filters_and_events_at_the_calendar_ends(site_store: dict, tmp_path: Path) -> None:
    events = tmp_path / "events.toml"
    events.write_text('[[event]]\nid = "first"\ndate = 0001-01-01\ntitle = "year one"\n\n'
                      '[[event]]\nid = "last"\ndate = 9999-12-31\ntitle = "last day"\n',
                      encoding="utf-8")
    out = tmp_path / "out"
    ok(report(site_store["data"], out, "--events", str(events), "--since", "0001-01-01",
              "--until", "9999-12-31", "--after-days", "3650", "--format", "json,md,html"))
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert rep["summary"]["takedowns"] == len(NEWS) + len(PLAIN)
    assert [e["window"] for e in rep["events"]] == [["0001-01-01", "0010-12-30"],
                                                    ["9999-12-24", "9999-12-31"]]


# -- CSV cells -------------------------------------------------------------------------------


@pytest.mark.parametrize("value, cell", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("a=1", "a=1"), ("", ""), (-3, -3), (2.5, 2.5),
], ids=["equals", "plus", "minus", "at", "tab", "cr", "inner", "empty", "int", "float"])
def test_csv_cell_neutralises_strings_only(value: object, cell: object) -> None:
    assert csv_cell(value) == cell


def test_report_csv_cells_are_never_formulas(site_store: dict, tmp_path: Path) -> None:
    events = tmp_path / "events.toml"
    events.write_text('[[event]]\nid = "e"\ndate = 2021-03-21\ntitle = "=1+2"\n',
                      encoding="utf-8")
    out = tmp_path / "out"
    ok(report(site_store["data"], out, "--events", str(events), "--format", "csv"))
    rows = by_path(read_csv(out / "takedowns.csv"), site_store["base"])
    titles = {path: r["title"] for path, r in rows.items() if path.startswith("/news/")}
    assert titles == {f"/news/{name}.html": ("'" + title if title[0] in "=+-@" else title)
                      for name, (title, _) in NEWS.items()}
    assert rows["/news/a1.html"]["age_at_least_hours"] == "448.0"  # our numbers stay numbers
    assert [r["title"] for r in read_csv(out / "events.csv")] == ["'=1+2"]


def test_export_csv_cells_are_never_formulas(site_store: dict, tmp_path: Path) -> None:
    records = [{"url": "http://127.0.0.1/a", "kind": "removed", "target": "-t",
                "targets": ["-t"], "item": "=HYPERLINK(\"http://x\",\"y\")",
                "last_seen": "2021-03-20T00:00:00+00:00",
                "detected_at": "2021-03-21T00:00:00+00:00",
                "evidence": {"rule": "+rule", "phrase": "@phrase"}}]
    buf = io.StringIO()
    assert write_csv(records, buf) == 1
    row = next(csv.DictReader(io.StringIO(buf.getvalue())))
    assert (row["target"], row["targets"], row["item"], row["rule"], row["phrase"]) == \
        ("'-t", "'-t", "'=HYPERLINK(\"http://x\",\"y\")", "'+rule", "'@phrase")
    # the command writes through the same rule
    out = tmp_path / "export.csv"
    ok(CliRunner().invoke(cli, ["--data", str(site_store["data"]), "export", "--format",
                                "csv", "--out", str(out)]))
    assert len(read_csv(out)) == len(NEWS) + len(PLAIN)


# -- Markdown --------------------------------------------------------------------------------


def test_markdown_carries_no_html_from_any_input(site_store: dict, tmp_path: Path) -> None:
    events = tmp_path / "events.toml"
    events.write_text(
        '[[event]]\nid = "e"\ndate = 2021-03-21\ntitle = "<img src=x onerror=alert(1)>"\n'
        'summary = "# not a heading <script>alert(2)</script>"\n'
        'keywords = ["<b>x</b>"]\n'
        'sources = ["http://127.0.0.1/<script>alert(1)</script>", "https://127.0.0.1/ok"]\n',
        encoding="utf-8")
    terms = tmp_path / "terms.txt"
    terms.write_text("<b>x</b>\n", encoding="utf-8")
    out = tmp_path / "out"
    ok(report(site_store["data"], out, "--events", str(events), "--keywords", str(terms),
              "--format", "md"))
    text = (out / "report.md").read_text(encoding="utf-8")
    links = re.findall(r"<(https?://[^>]*)>", text)
    assert links == ["http://127.0.0.1/%3Cscript%3Ealert(1)%3C/script%3E",
                     "https://127.0.0.1/ok"]
    outside = re.sub(r"<https?://[^<>]*>", "", text)
    assert re.search(r"(?<!\\)[<>]", outside) is None, outside
    assert "\\<b\\>x\\</b\\>" in text and "\\<img src=x onerror=alert(1)\\>" in text
    assert "\n# not a heading" not in text and "\n\\# not a heading" in text


# -- the viewer URL --------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "//evil.test/",
                                 "ftp://127.0.0.1/", "http://"])
def test_viewer_url_must_be_http(site_store: dict, tmp_path: Path, url: str) -> None:
    out = tmp_path / "out"
    refused(report(site_store["data"], out, "--viewer-url", url), "--viewer-url")
    assert not out.exists()


# -- whole outputs ---------------------------------------------------------------------------


def test_report_replaces_the_previous_folder_whole(site_store: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ok(report(site_store["data"], out))
    old_md = (out / "report.md").read_text(encoding="utf-8")
    with (out / "report.md").open(encoding="utf-8") as reader:  # reads the old file whole
        ok(report(site_store["data"], out, "--format", "md,json", "--target", "plain"))
        assert reader.read() == old_md
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md"]
    assert json.loads((out / "report.json").read_text())["summary"]["takedowns"] == len(PLAIN)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left


def test_failed_render_leaves_the_previous_report(site_store: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ok(report(site_store["data"], out))
    before = snapshot(out)
    store = open_store(site_store["data"])
    try:
        built = build_report(store, [], ReportOptions(), title="the second report")
    finally:
        store.close()
    built.rows[-1].first = {}  # the last CSV row cannot be written: a render that fails
    with pytest.raises(KeyError):  # after report.md and report.json, mid takedowns.csv
        write_report(built, out, ("md", "json", "csv"))
    assert snapshot(out) == before and all(before.values())
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_report_never_replaces_a_folder_of_other_files(site_store: dict,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    refused(report(site_store["data"], out), "notes.txt")
    assert snapshot(out) == {"notes.txt": b"mine"}


def test_output_paths_need_an_existing_parent_folder(site_store: dict, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    for bad in (tmp_path / "missing" / "out", tmp_path / "file" / "out"):
        refused(report(site_store["data"], bad), str(bad.parent))
        result = CliRunner().invoke(cli, ["--data", str(site_store["data"]), "export",
                                          "--out", str(bad)])
        refused(result, str(bad.parent))
    assert not (tmp_path / "missing").exists()
    assert (tmp_path / "file").read_text() == "x"


def test_export_replaces_its_file_whole(site_store: dict, tmp_path: Path) -> None:
    out = tmp_path / "takedowns.jsonl"
    out.write_text("stale\n", encoding="utf-8")
    with out.open(encoding="utf-8") as reader:  # opened before: reads the old file whole
        ok(CliRunner().invoke(cli, ["--data", str(site_store["data"]), "export", "--out",
                                    str(out), "--target", "plain"]))
        assert reader.read() == "stale\n"
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(PLAIN) and all(json.loads(x)["target"] == "plain" for x in lines)
    assert [p.name for p in tmp_path.iterdir()] == ["takedowns.jsonl"]


# -- what an export may replace, and standard output ----------------------------------------


def _export(data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "takedown", "export", "--data", str(data),
                           *args], capture_output=True, text=True, timeout=120)


def test_an_export_never_replaces_the_store_a_device_a_pipe_or_a_link(site_store: dict,
                                                                        tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(site_store["data"], data)
    store_file = next(data.glob("*.sqlite"))
    fifo, link, target = tmp_path / "fifo", tmp_path / "link", tmp_path / "target.txt"
    os.mkfifo(fifo)
    target.write_text("kept\n", encoding="utf-8")
    link.symlink_to(target)
    before = store_file.read_bytes()[:16]
    for out in (store_file, fifo, link):
        run = _export(data, "--out", str(out))
        assert run.returncode == 2 and run.stderr.startswith("error: "), (out, run.stderr)
        assert str(out) in run.stderr
    assert store_file.read_bytes()[:16] == before == b"SQLite format 3\x00"
    assert fifo.is_fifo() and link.is_symlink() and target.read_text() == "kept\n"
    ok_run = _export(data, "--out", str(tmp_path / "new.jsonl"))
    assert ok_run.returncode == 0, ok_run.stderr


def test_an_export_to_a_full_or_closed_stdout_is_an_error(site_store: dict) -> None:
    with open("/dev/full", "w") as full:
        run = subprocess.run([sys.executable, "-m", "takedown", "export", "--data",
                              str(site_store["data"])], stdout=full, stderr=subprocess.PIPE,
                             text=True, timeout=120)
    assert (run.returncode, run.stderr) == (
        2, "error: cannot write to standard output: No space left on device\n")
    closed = subprocess.run(
        [sys.executable, "-m", "takedown", "export", "--data", str(site_store["data"])],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120,
        preexec_fn=lambda: os.close(1))
    assert closed.returncode == 2 and "standard output is closed" in closed.stderr
    head = subprocess.run(f"{sys.executable} -m takedown export --data "
                          f"'{site_store['data']}' --format csv | head -c 10",
                          shell=True, capture_output=True, text=True, timeout=120,
                          executable="/bin/bash")
    assert head.stderr == "" and len(head.stdout) == 10
