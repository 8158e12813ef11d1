"""A capture never stops detection: a page that makes its reading raise gets an ``error``
verdict naming the exception, the rest of its round is detected, and so are the next rounds.

A page whose ``<meta name="date">`` carries an offset no clock has (``+99:00``) once made
every later ``takedown detect`` raise; it is now read as a page without a date.  The
boundary itself is shown by a reading that raises for one URL (a fault injected into the
extraction step of a real crawl's detection).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sitesim import crawl_days, page

import diffing.detect as detect_mod
from diffing.detect import detect
from snapshots import open_store

DAY = "2024-06-{:02d}T08:00:00Z"


def _article(i: int, meta: str = "") -> object:
    head = f"<meta name='date' content='{meta}'>" if meta else ""
    return page(f"{head}<h1>第{i}篇</h1><p>第{i}篇的正文：{'关于本地交通和教育的报道。' * 3}</p>")


def site(day: int) -> dict:
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"})}
    r["/list.html"] = page("<ul class='n'>" + "".join(
        f"<li><a href='/a/{i}.html'>第{i}篇 本地新闻标题</a></li>" for i in range(1, 7))
        + "</ul>")
    for i in range(1, 7):
        r[f"/a/{i}.html"] = _article(i, "2024-06-01T10:00:00+99:00" if i == 2 else "")
    if day >= 2:
        del r["/a/4.html"]
    return r


def _rounds(tmp: Path, days: int, each) -> tuple[Path, str]:
    def crawled(data: Path, done: subprocess.CompletedProcess) -> None:
        assert done.returncode == 0, done.stderr[-3000:]
        each(data)

    data, base, _runs = crawl_days(
        tmp, site, days, '[[target]]\nname = "n"\nurl = "{base}/list.html"\ndepth = 1\n',
        "[crawl]\ntimeout = 20\ndelay = 0\n", DAY, crawled)
    return data, base


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "takedown", "--data", str(data), *args],
                          capture_output=True, text=True)


def test_an_impossible_date_offset_does_not_stop_detection(tmp_path: Path) -> None:
    def each(data: Path) -> None:
        det = _cli(data, "detect")
        assert det.returncode == 0 and "Traceback" not in det.stderr, det.stderr[-3000:]

    data, base = _rounds(tmp_path, 3, each)
    records = [json.loads(line) for line in _cli(data, "export").stdout.splitlines()]
    assert [(r["url"].removeprefix(base), r["kind"]) for r in records] == [
        ("/a/4.html", "removed")]


def test_a_capture_whose_reading_raises_is_an_error_verdict(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = detect_mod.extract

    def failing(text: str, url: str, *args: object) -> object:
        if url.endswith("/a/3.html") and "2024-06-02" in failing.day:
            raise RecursionError("maximum recursion depth exceeded")
        return real(text, url, *args)

    failing.day = ""
    monkeypatch.setattr(detect_mod, "extract", failing)

    def each(data: Path) -> None:
        store = open_store(data)
        failing.day = max(str(r["at"]) for r in store.rounds())
        summary = detect(store)
        assert summary.errors == (1 if "2024-06-02" in failing.day else 0)

    data, base = _rounds(tmp_path, 3, each)
    history = json.loads(_cli(data, "history", f"{base}/a/3.html", "--json").stdout)
    assert [h["state"] for h in history] == ["ok", "error", "ok"]
    assert history[1]["error"] == "RecursionError: maximum recursion depth exceeded"
    records = [json.loads(line) for line in _cli(data, "export").stdout.splitlines()]
    assert [(r["url"].removeprefix(base), r["kind"]) for r in records] == [
        ("/a/4.html", "removed")]
