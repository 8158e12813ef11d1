"""Publication times end to end: a forum reply's own time (not its thread's), a relative
time ("3小时前") read against the round's stamp, a target's ``timezone`` for times written
without an offset, and the report saying which ages come from a time nobody gave an
offset for (read as UTC, bounds widened by the offsets a site may have)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sitesim import crawl_days, page

from reports.content import ZONE_ASSUMED, ZONE_PAGE, ZONE_WATCHLIST, read_page

DAY = "2021-03-{:02d}T12:00:00Z"
FILLER = "关于本地交通和教育的讨论，大家各抒己见。" * 3


def _post(pid: int, when: str, text: str) -> str:
    return (f"<div class='post' data-pid='{pid}'><p class='author'>用户{pid} 发表于 {when}</p>"
            f"<p>{text}{FILLER}</p></div>")


def site(day: int) -> dict:
    posts = [_post(1, "2021-02-27 20:00", "楼主的话"), _post(2, "3小时前", "第二楼的回复"),
             _post(3, "2021-02-28 21:30", "第三楼的回复")]
    if day >= 2:
        del posts[1]
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"}),
         "/thread-1.html": page("<h1>讨论帖</h1>" + "".join(posts))}
    if day < 2:
        r["/a.html"] = page(f"<h1>通知</h1><p>发布时间：2021-02-20 09:00</p><p>{FILLER}</p>")
    return r


TARGETS = ('[[target]]\nname = "forum"\nurl = "{base}/thread-1.html"\nitems = ".post"\n'
           'item_id = "data-pid"\ntimezone = "+08:00"\n\n'
           '[[target]]\nname = "notice"\nurl = "{base}/a.html"\n')


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "takedown", "--data", str(data), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("published")
    data, _base, runs = crawl_days(tmp, site, 3, TARGETS, "[crawl]\ntimeout = 20\n", DAY)
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr[-2000:]
    assert _cli(data, "detect").returncode == 0
    done = _cli(data, "report", "--out", str(tmp / "report"), "--format", "json,csv,md,html",
                "--no-progress")
    assert done.returncode == 0, done.stderr[-2000:]
    rep = json.loads((tmp / "report" / "report.json").read_text(encoding="utf-8"))
    return {"json": rep, "dir": tmp / "report",
            "rows": {(t["target"], t["item"]): t for t in rep["takedowns"]}}


def _hours(delta: timedelta) -> float:
    return round(delta / timedelta(hours=1), 2)


def test_a_reply_has_its_own_relative_time_read_against_the_round(report: dict) -> None:
    reply = report["rows"][("forum", "2")]
    # last seen on the second round (2021-03-02 12:00 UTC): "3小时前" is three hours before
    assert reply["published"] == "2021-03-02T09:00:00+00:00"
    assert reply["published_zone"] == ZONE_PAGE
    last, gone = (datetime.fromisoformat(reply[k]) for k in ("last_seen", "detected_at"))
    at = datetime.fromisoformat(reply["published"])
    assert reply["age_hours"] == {"at_least": _hours(last - at), "at_most": _hours(gone - at)}


def test_a_time_without_an_offset_is_marked_and_its_age_only_bounded(report: dict) -> None:
    notice = report["rows"][("notice", None)]
    assert (notice["kind"], notice["published"], notice["published_zone"]) == (
        "removed", "2021-02-20T09:00:00+00:00", ZONE_ASSUMED)
    last, gone = (datetime.fromisoformat(notice[k]) for k in ("last_seen", "detected_at"))
    at = datetime.fromisoformat(notice["published"])
    assert notice["age_hours"] == {"at_least": _hours(last - at) - 12,
                                   "at_most": _hours(gone - at) + 14}
    md = (report["dir"] / "report.md").read_text(encoding="utf-8")
    assert "2021-02-20T09:00:00+00:00 (assumed UTC)" in md
    html = (report["dir"] / "report.html").read_text(encoding="utf-8")
    assert html.count("(offset not stated: read as UTC)") == 1   # the notice's, not the reply's
    csv = (report["dir"] / "takedowns.csv").read_text(encoding="utf-8")
    assert "published_zone" in csv.splitlines()[0] and ZONE_ASSUMED in csv


def test_the_targets_timezone_places_a_local_time() -> None:
    html = ("<html><body><h1>t</h1><p>发布时间：2021-02-20 09:00</p>"
            f"<div class='post' data-pid='7'>发表于 昨天 23:10 {FILLER}</div></body></html>")
    at = datetime.fromisoformat("2021-03-02T12:00:00+00:00")
    _, content = read_page(("k", html, "http://127.0.0.1:1/t", ".post", "data-pid", at,
                            "Asia/Shanghai"))
    assert (content.published.isoformat(), content.published_zone) == (
        "2021-02-20T01:00:00+00:00", ZONE_WATCHLIST)
    # 2021-03-02 12:00 UTC is 20:00 in Beijing: 昨天 23:10 is 03-01 23:10 there
    when, zone = content.item_published["7"]
    assert (when.isoformat(), zone) == ("2021-03-01T15:10:00+00:00", ZONE_WATCHLIST)
