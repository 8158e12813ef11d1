"""``takedown report`` on the demo store (SQLite and PostgreSQL) scored against the demo
site's ground truth; the HTML is self-contained, inert and opens offline in Chromium."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from click.testing import CliRunner

from reports.correlate import TakedownRow, correlate, daily_counts, lifetime_summary
from reports.events import load_events
from reports.output import CSP, md, render_html, render_markdown
from reports.report import Report, ReportOptions
from takedown.cli import cli

ROOT = Path(__file__).resolve().parents[1]
DEMO_EVENTS = ROOT / "takedown" / "demo" / "events.toml"
VIEWER = re.compile(r"^http://127\.0\.0\.1:8080/takedowns/(\d+)$")


def takedown(*args: str, data: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "takedown", "--data", str(data), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo_report(demo_db_url: str, demo_store: dict, tmp_path_factory) -> dict:
    """The report of the demo store through the CLI, on each backend."""
    out = tmp_path_factory.mktemp("report") / "out"
    run = takedown("--db", demo_db_url, "report", "--events", str(DEMO_EVENTS), "--out",
                   str(out), data=out.parent / "unused")
    assert run.returncode == 0, run.stderr
    return {"out": out, "run": run, "json": json.loads((out / "report.json").read_text()),
            "html": (out / "report.html").read_text(encoding="utf-8")}


def truth_day(demo_store: dict, day: int) -> date:
    return datetime.fromisoformat(demo_store["meta"]["start"]).date() + timedelta(days=day)


def test_counts_match_the_demo_ground_truth(demo_report: dict, demo_store: dict) -> None:
    truth, rep = demo_store["truth"], demo_report["json"]
    assert sorted(p.name for p in demo_report["out"].iterdir()) == [
        "events.csv", "report.html", "report.json", "report.md", "takedowns.csv"]
    assert rep["summary"]["takedowns"] == len(truth)
    assert rep["summary"]["by_kind"] == dict(Counter(t.kind for t in truth))
    expected_days = Counter((truth_day(demo_store, t.day).isoformat(), t.kind) for t in truth)
    got_days = Counter({(d["day"], k): n for d in rep["timeline"] for k, n in d.items()
                        if k != "day"})
    assert got_days == expected_days
    assert {(t["url"], t.get("item") or None, t["kind"]) for t in rep["takedowns"]} == \
        {(t.url, t.item, t.kind) for t in truth}
    # every event counts the truth's takedowns inside its window and scope
    for event, res in zip(load_events(DEMO_EVENTS), rep["events"], strict=True):
        lo, hi = event.start - timedelta(days=7), event.end + timedelta(days=30)
        inside = [t for t in truth if lo <= truth_day(demo_store, t.day) <= hi
                  and event.applies_to(t.target, t.url)]
        assert len(res["takedowns"]) == len(inside), event.id
        assert res["by_kind"] == dict(Counter(t.kind for t in inside)), event.id
    rows = list(csv.DictReader((demo_report["out"] / "takedowns.csv").open(encoding="utf-8")))
    assert len(rows) == len(truth)
    assert {r["kind"] for r in rows} == {t.kind for t in truth}


def test_keywords_and_lifetimes(demo_report: dict, demo_store: dict) -> None:
    rep = demo_report["json"]
    by_id = {t["id"]: t for t in rep["takedowns"]}
    events = {e["id"]: e for e in rep["events"]}
    # the closed 武器装备 board and its threads hold the board's name; nothing else does
    board = {by_id[m["takedown"]]["url"] for m in events["forum-equipment-board-closed"]
             ["keyword_matches"]}
    assert board == {t.url for t in demo_store["truth"] if t.kind == "section_closed"}
    # the paragraph cut from the economy report named 军民融合 (its removed text)
    cleanup = {by_id[m["takedown"]]["url"]: m["terms"]
               for m in events["yunhai-mcf-cleanup"]["keyword_matches"]}
    assert any(u.endswith("/gov/news/art_125.html") and "军民融合" in terms
               for u, terms in cleanup.items())
    assert events["cac-self-media-rectification"]["takedowns"] == []
    aged = [t for t in rep["takedowns"] if t["published"]]
    assert aged and rep["summary"]["lifetime"]["with_age"] == len(aged)
    for t in aged:
        published = datetime.fromisoformat(t["published"])
        last, gone = (datetime.fromisoformat(t[k]) for k in ("last_seen", "detected_at"))
        assert t["age_hours"] == {"at_least": round((last - published) / timedelta(hours=1), 2),
                                  "at_most": round((gone - published) / timedelta(hours=1), 2)}


def test_html_is_self_contained_and_marks_the_events(demo_report: dict) -> None:
    html, rep = demo_report["html"], demo_report["json"]
    doc = lxml.html.fromstring(html)
    assert not doc.xpath("//script") and "<script" not in html.lower()
    assert doc.xpath("//meta[@http-equiv='Content-Security-Policy']/@content") == [CSP]
    sources = {s for e in rep["events"] for s in e["sources"]}
    assert sources and set(doc.xpath("//a/@href")) >= sources
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), (el.tag, name)
            if name.lower() in ("src", "href", "xlink:href", "action", "data", "srcset") or \
                    name.endswith("}href"):
                external = re.match(r"\s*(https?:)?//", value)
                assert not external or (el.tag == "a" and (VIEWER.match(value) or
                                                            value in sources)), (el.tag, value)
    assert "url(http" not in html and "@import" not in html
    # every takedown links to its side-by-side view
    linked = {int(m[1]) for a in doc.xpath("//a/@href") if (m := VIEWER.match(a))}
    assert linked == {t["id"] for t in rep["takedowns"]}
    # the timeline is matplotlib's SVG, inline, and names each event it spans
    svg = doc.xpath("//div[@id='timeline-chart']/*[local-name()='svg']")
    assert len(svg) == 1
    labels = " ".join(svg[0].xpath(".//*[local-name()='text']//text()"))
    first, last = date.fromisoformat(rep["summary"]["span"][0]), \
        date.fromisoformat(rep["summary"]["span"][1])
    shown = [(n, e) for n, e in enumerate(rep["events"], start=1)
             if date.fromisoformat(e["start"]) <= last and date.fromisoformat(e["end"]) >= first]
    assert len(shown) >= 4
    for n, e in shown:
        assert f"{n}. {e['title'][:20]}" in labels
    assert doc.xpath("//div[@id='lifetime-chart']/*[local-name()='svg']")


def test_markdown_and_events_csv(demo_report: dict) -> None:
    out, rep = demo_report["out"], demo_report["json"]
    text = (out / "report.md").read_text(encoding="utf-8")
    for n, e in enumerate(rep["events"], start=1):
        assert f"### {n}. {md(e['title'])}" in text
    assert text.count("\n| ") >= len(rep["takedowns"])
    rows = list(csv.DictReader((out / "events.csv").open(encoding="utf-8")))
    assert [(r["id"], int(r["takedowns"])) for r in rows] == \
        [(e["id"], len(e["takedowns"])) for e in rep["events"]]


def test_cli_filters_keyword_lists_progress_and_errors(demo_store: dict, tmp_path: Path) -> None:
    data = demo_store["data"]
    terms = tmp_path / "terms.csv"
    terms.write_text("Date Tested,Keyword\n2021,武器装备\n2021,军民融合+产值\n", encoding="utf-8")
    out = tmp_path / "r"
    run = takedown("report", "--out", str(out), "--format", "json,md", "--kind",
                   "section_closed", "--kind", "edited", "--since", "2021-03-19", "--until",
                   "2021-03-21", "--keywords", str(terms), "--viewer-url",
                   "http://127.0.0.1:9999/", data=data)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md"]
    rep = json.loads((out / "report.json").read_text())
    truth = [t for t in demo_store["truth"] if t.kind in ("section_closed", "edited")
             and date(2021, 3, 19) <= truth_day(demo_store, t.day) <= date(2021, 3, 21)]
    assert rep["summary"]["takedowns"] == len(truth) and rep["events"] == []
    assert {t["viewer_url"] for t in rep["takedowns"]} == \
        {f"http://127.0.0.1:9999/takedowns/{t['id']}" for t in rep["takedowns"]}
    tagged = {t["url"]: t["terms"] for t in rep["takedowns"] if t["terms"]}
    assert {u for u, terms in tagged.items() if terms == ["武器装备"]} == \
        {t.url for t in truth if t.kind == "section_closed"}
    assert any(u.endswith("art_125.html") and "军民融合+产值" in terms
               for u, terms in tagged.items())
    # progress off a terminal: plain lines on stderr, the summary alone on stdout
    assert "report: reading pages" in run.stderr and run.stdout.startswith("report: ")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[event]]\nid = "x"\ntitle = "t"\ndate = "2021-02-30"\n', encoding="utf-8")
    nokey = tmp_path / "nokey.csv"
    nokey.write_text("date,translation\n2016,x\n", encoding="utf-8")
    # bad input: exit 2 before anything is read or written (in-process: same command)
    for args, message in ((("--events", str(bad)), f"error: {bad}:4: key 'date'"),
                          (("--keywords", str(nokey)), f"error: {nokey}:1: no keyword column"),
                          (("--format", "html,pdf"), "unknown report format 'pdf'")):
        result = CliRunner().invoke(cli, ["--data", str(data), "report", "--out",
                                          str(tmp_path / "never"), *args])
        assert result.exit_code == 2 and message in result.stderr, result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "never").exists()


def test_demo_ends_with_the_report(demo_store: dict) -> None:
    out = demo_store["data"] / "report"
    assert (out / "report.html").is_file() and (out / "report.json").is_file()
    assert str(out / "report.html") in demo_store["stdout"]
    assert f"takedown --data {demo_store['data']} serve" in demo_store["stdout"]


HOSTILE = '<script>alert(1)</script><img src=http://evil.test/x onerror=alert(2)>'


def test_captured_text_stays_inert() -> None:
    now = datetime(2021, 3, 20, tzinfo=UTC)
    cap = {"capture_id": 1, "sha256": "ab" * 32, "text_sha256": None, "captured_at": now,
           "status": 200, "final_url": "javascript:alert(3)"}
    row = TakedownRow(
        id=7, url="javascript:alert(4)//" + HOSTILE, url_id=1, target="t", kind="edited",
        item="", last_seen=now - timedelta(days=1), detected_at=now, restored_at=None,
        evidence={"rule": HOSTILE, "phrase": HOSTILE, "removed_text": [HOSTILE],
                  "source": HOSTILE}, last_ok=cap, first=cap, title=HOSTILE, content=HOSTILE,
        published=now - timedelta(days=3), terms=(HOSTILE,))
    events = load_events(DEMO_EVENTS)
    results = correlate(events, [row])
    days = daily_counts([row])
    report = Report(HOSTILE, now, ReportOptions(), events, [], {
        "captures": 1, "urls": 1, "targets": 1, "rounds": 1, "first_round": now,
        "last_round": now}, [row], results, days, (now.date(), now.date()),
        lifetime_summary([row]))
    html = render_html(report)
    doc = lxml.html.fromstring(html)
    assert not doc.xpath("//script | //img | //*[@onerror]")
    assert not [h for h in doc.xpath("//@href") if h.lower().startswith("javascript:")]
    assert html.count("&lt;script&gt;") >= 5
    text = render_markdown(report)
    captured = re.sub(r"^Sources: .*$", "", text, flags=re.M)  # the events file's autolinks
    assert re.search(r"(?<!\\)<", captured) is None and "\\<script\\>" in text


def test_report_opens_offline_in_chromium(demo_store: dict, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    page_path = demo_store["data"] / "report" / "report.html"
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(offline=True)
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.as_uri())
            box = page.locator("#timeline-chart svg").bounding_box()
            label = page.locator("#timeline-chart svg text", has_text="武器装备").first
            label_box = label.bounding_box()
            bars = page.locator("#timeline-chart svg path").count()
        finally:
            browser.close()
    assert box and box["width"] > 400 and box["height"] > 150
    assert label_box and label_box["height"] > 20  # drawn (rotated), not an empty box
    assert bars > 10
    assert requests == [page_path.as_uri()]
