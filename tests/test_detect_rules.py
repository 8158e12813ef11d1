"""Detector rules on a small loopback site, round by round: a later page of a list that
got shorter is pagination, a board page that went while the site lives is a closed
section, a 404 that comes back is restored, and a kind change updates the record; on SQLite
and on PostgreSQL (the detector's state updates, upserts and restores)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sitesim import RouteSite, crawl, page, serve, watchlist


def listing(prefix: str, ids: range, more: str = "") -> object:
    items = "".join(f"<li><a href='/{prefix}/a{i}.html'>第{i}篇 关于基层治理的报道 {i}</a></li>"
                    for i in ids)
    return page(f"<div class='list'><ul>{items}</ul></div>{more}")


def article(i: int) -> object:
    return page(f"<article><h1>文章 {i}</h1><p>{'这是一篇正常的文章正文，内容完整。' * 8}</p>"
                "</article>")


def routes(day: int) -> dict:
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"})}
    r["/news/list.html"] = listing("news", range(1, 7),
                                   "" if day >= 1 else "<a href='/news/list_2.html'>下一页</a>")
    r["/news/list_2.html"] = listing("news", range(7, 13)) if day == 0 else \
        page("Not Found", status=404)
    r["/bbs/board.html"] = listing("bbs", range(1, 7)) if day == 0 else \
        page("Not Found", status=404)
    for i in range(1, 13):
        r[f"/news/a{i}.html"] = article(i)
        r[f"/bbs/a{i}.html"] = article(i)
    # a3 is deleted on day 1, comes back on day 2; a5 is 404 then a censorship notice
    r["/news/a3.html"] = page("Not Found", status=404) if day == 1 else article(3)
    if day >= 1:
        r["/news/a5.html"] = page("Not Found", status=404) if day == 1 else \
            page("<div class='msg'>此内容因违规无法查看</div>")
    return r


def test_rules_over_three_rounds(tmp_path: Path, db_url: str) -> None:
    site = RouteSite(routes(0))
    server = serve(site)
    base = server.base_url
    wl = watchlist(tmp_path / "wl.toml",
                   f'[[target]]\nname = "news"\nurl = "{base}/news/list.html"\ndepth = 1\n\n'
                   f'[[target]]\nname = "bbs"\nurl = "{base}/bbs/board.html"\ndepth = 1\n')
    data = tmp_path / "data"
    try:
        for day in range(3):
            site.swap(routes(day))
            assert crawl(wl, data, f"2021-03-{20 + day}T00:00:00Z", db=db_url).returncode == 0
            det = subprocess.run([sys.executable, "-m", "takedown", "--db", db_url, "detect"],
                                 capture_output=True, text=True)
            assert det.returncode == 0, det.stderr[-3000:]
    finally:
        server.stop()
    out = subprocess.run([sys.executable, "-m", "takedown", "--db", db_url, "export"],
                         check=True, capture_output=True, text=True).stdout
    got = {r["url"].removeprefix(base): r for r in map(json.loads, out.splitlines())}
    assert sorted(got) == ["/bbs/board.html", "/news/a3.html", "/news/a5.html"]
    assert got["/bbs/board.html"]["kind"] == "section_closed"
    assert got["/news/a3.html"]["kind"] == "removed"
    assert got["/news/a3.html"]["restored_at"].startswith("2021-03-22")
    assert got["/news/a5.html"]["kind"] == "censored"          # 404, then the notice
    assert got["/news/a5.html"]["detected_at"].startswith("2021-03-21")
    assert got["/news/a5.html"]["evidence"]["phrase"] == "此内容因违规无法查看"
