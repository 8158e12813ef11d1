"""A user's regex that backtracks without end cannot hang a job.

A pattern with nested repeats, such as ``(a|a)*``, takes time exponential in the length of
a run it can read two ways; Python's ``re`` cannot be interrupted, so a page carrying such a
run once hung the crawl (a target's ``allow``), detection (a phrase row) and reports and the
viewer (an event's scope).  Every user regex now runs under a time limit, and each job says
which pattern, from where, ran away:

- crawl: the link is not followed, the rest of the round is crawled, a warning names it;
- detect: the capture gets an ``error`` verdict naming the phrase row, the rest is detected;
- report: ``error: …`` naming the event, exit 2, nothing written;
- viewer: the event's listing answers 422 with the message, never a 500 or a hang.

Each job runs in a subprocess with a timeout far below the hours the pattern would take.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sitesim import crawl_days, page
from sqlalchemy import select
from starlette.testclient import TestClient

from reports.events import load_events
from reports.viewer import create_app
from snapshots import open_store
from snapshots.models import Url

DAY = "2024-06-{:02d}T08:00:00Z"
RUN = "a" * 40 + "!"  # read two ways by (a|a)* at every a: 2^40 paths before failing
ALLOW = r"^http://[^/]+/a/(a|a)*\d*\.html$"
PHRASE = "this post was removed(a|a)*$"
SCOPE = r"^(.|.)*\.htm$"


def site(day: int) -> dict:
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"})}
    r["/list.html"] = page("<ul>" + f"<li><a href='/a/{RUN}.html'>odd link</a></li>" + "".join(
        f"<li><a href='/a/{i}.html'>Local news story number {i}</a></li>" for i in range(1, 5))
        + "</ul>")
    for i in range(1, 5):
        r[f"/a/{i}.html"] = page(f"<h1>Story {i}</h1><p>{'Schools and roads in town. ' * 8}</p>")
    r["/a/3.html"] = page(f"<h1>Story 3</h1><p>This post was removed{RUN}</p>")
    if day >= 1:
        del r["/a/4.html"]
    return r


def _cli(data: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "takedown", "--data", str(data), *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("runaway")
    targets = (f'[[target]]\nname = "n"\nurl = "{{base}}/list.html"\ndepth = 1\n'
               f"allow = ['{ALLOW}']\n")
    data, base, runs = crawl_days(tmp, site, 3, targets, "[crawl]\ntimeout = 20\ndelay = 0\n",
                                  DAY)
    return {"tmp": tmp, "data": data, "base": base, "runs": runs}


def test_a_runaway_allow_pattern_skips_the_link_and_crawls_the_rest(crawled: dict) -> None:
    for run in crawled["runs"]:
        assert run.returncode == 0, run.stderr[-3000:]
        assert "Traceback" not in run.stderr
        assert repr(ALLOW) in run.stderr and "target n: allow" in run.stderr
        assert "simplify it" in run.stderr
    store = open_store(crawled["data"])
    with store.session() as s:
        urls = {u.removeprefix(crawled["base"]) for u in s.scalars(select(Url.url))}
    store.close()
    assert {"/list.html", "/a/1.html", "/a/2.html", "/a/3.html", "/a/4.html"} <= urls
    assert not any(RUN in u for u in urls)


def test_a_runaway_phrase_is_an_error_verdict_naming_its_row(crawled: dict) -> None:
    phrases = crawled["tmp"] / "phrases.tsv"
    phrases.write_text("state\tkind\tplatform\tlang\tmatch\tpattern\tsource\n"
                       f"notice\tremoved\tforum\ten\tregex\t{PHRASE}\tmy notes\n",
                       encoding="utf-8")
    det = _cli(crawled["data"], "detect", "--phrases", str(phrases))
    assert det.returncode == 0 and "Traceback" not in det.stderr, det.stderr[-3000:]
    history = json.loads(_cli(crawled["data"], "history", f"{crawled['base']}/a/3.html",
                              "--json").stdout)
    assert [h["state"] for h in history] == ["error"] * 3
    assert all(f"{phrases}:2" in h["error"] and "RunawayPattern" in h["error"]
               for h in history)
    records = [json.loads(line) for line in _cli(crawled["data"], "export").stdout.splitlines()]
    assert [(r["url"].removeprefix(crawled["base"]), r["kind"]) for r in records] == [
        ("/a/4.html", "removed")]


def _events(tmp: Path) -> Path:
    path = tmp / "events.toml"
    path.write_text(f'title = "t"\n[[event]]\nid = "e1"\ndate = "2024-06"\ntitle = "an event"\n'
                    f"scope = ['{SCOPE}']\n", encoding="utf-8")
    return path


def test_a_runaway_event_scope_is_an_error_in_a_report(crawled: dict) -> None:
    if _cli(crawled["data"], "detect").returncode != 0:
        pytest.fail("detect failed")
    out = crawled["tmp"] / "report"
    run = _cli(crawled["data"], "report", "--events", str(_events(crawled["tmp"])),
               "--out", str(out))
    assert run.returncode == 2, run.stderr[-3000:]
    assert run.stderr.splitlines()[-1].startswith("error: scope of event e1: regex ")
    assert "simplify it" in run.stderr and "Traceback" not in run.stderr
    assert not out.exists()


def test_a_runaway_event_scope_is_refused_by_the_viewer_not_a_500(crawled: dict) -> None:
    _cli(crawled["data"], "detect")
    store = open_store(crawled["data"])
    app = create_app(store, events=load_events(_events(crawled["tmp"])))
    with TestClient(app, base_url="http://127.0.0.1:8080", raise_server_exceptions=False) as client:
        everything = client.get("/takedowns")
        one = client.get("/takedowns", params={"event": "e1"})
    store.close()
    assert everything.status_code == 200
    assert one.status_code == 422
    assert "scope of event e1" in one.text and "simplify it" in one.text
