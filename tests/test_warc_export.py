"""``takedown export-warc`` over a small loopback site crawled for three rounds: a page that
redirects, a page that stays identical (revisits), a page whose connection is reset (a
failed fetch: metadata only), a page censored and one removed; read back with warcio
(digests checked), filtered by target and round, and replayed by a real pywb."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sitesim import crawl_days, page
from warcio.archiveiterator import ArchiveIterator

from takedown.demo.server import Reply

DAY = "2021-03-{:02d}T00:00:00Z"
ARTICLE = ("<article><h1>文章 {0}</h1><p>" + "这是一篇正常的文章正文，内容完整。" * 8
           + "</p></article>")
TARGETS = ('[[target]]\nname = "news"\nurl = "{base}/news/list.html"\ndepth = 1\n\n'
           '[[target]]\nname = "same"\nurl = "{base}/same.html"\n')
CRAWL = "[crawl]\ntimeout = 2\nretries = 0\ndelay = 0\nconcurrency = 8\n"


def archive_bin() -> Path:
    return Path(os.environ.get("TAKEDOWN_ARCHIVE_BIN",
                               Path(__file__).resolve().parents[1] / ".venv-archive" / "bin"))


def site(day: int) -> dict:
    links = "".join(f"<li><a href='/news/a{i}.html'>第{i}篇 报道</a></li>" for i in range(1, 5))
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"}),
         "/news/list.html": page(f"<ul>{links}</ul><a href='/old.html'>old</a>"
                                 "<a href='/broken.html'>broken</a>"),
         "/old.html": Reply(301, {"Location": "/new.html"}),
         "/new.html": page(ARTICLE.format("new")),
         "/broken.html": Reply(200, {"Content-Type": "text/html"}, b"", fault="reset"),
         "/same.html": page("<p>" + "unchanged page text, every round the same. " * 10 + "</p>")}
    for i in range(1, 5):
        r[f"/news/a{i}.html"] = page(ARTICLE.format(i))
    if day >= 1:
        r["/news/a2.html"] = page("<div class='msg'>此内容因违规无法查看</div>")
    if day >= 2:
        r["/news/a3.html"] = page("Not Found", status=404)
    return r


def takedown(data: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "takedown", "--data", str(data), *args],
                         capture_output=True, text=True, timeout=120)
    if check:
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return run


def crawl_site(tmp: Path) -> tuple[Path, str]:
    """The site's three days crawled and detected into *tmp*: (data folder, base URL)."""
    data, base, runs = crawl_days(tmp, site, 3, TARGETS, CRAWL, DAY)
    bad = [r for r in runs if r.returncode != 0]
    assert not bad, [(r.returncode, r.stdout[-800:], r.stderr[-1500:]) for r in bad]
    takedown(data, "detect")
    return data, base


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("warc")
    data, base = crawl_site(tmp)
    out = tmp / "all.warc.gz"
    run = takedown(data, "export-warc", "--out", str(out))
    db = sqlite3.connect(data / "takedown.sqlite")
    # (a key is stored as its 32 bytes: snapshots.db.Digest)
    rows = db.execute("select c.id, c.status, c.fetched_at, c.captured_at, "
                      "lower(hex(c.body_sha256)), c.final_url, u.url, c.redirects, "
                      "c.error_kind, t.name from captures c "
                      "join urls u on u.id = c.url_id join targets t on t.id = c.target_id")
    keys = ("id", "status", "fetched_at", "captured_at", "sha", "final_url", "url",
            "redirects", "error_kind", "target")
    captures = {r[0]: dict(zip(keys, r, strict=True)) for r in rows}
    db.close()
    return {"data": data, "base": base, "out": out, "stdout": run.stdout, "tmp": tmp,
            "captures": captures}


def records(path: Path) -> list[dict]:
    out = []
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh, check_digests=True):
            body = rec.content_stream().read()
            assert rec.digest_checker.passed is not False, rec.digest_checker.problems
            out.append({"type": rec.rec_type, "h": dict(rec.rec_headers.headers),
                        "status": rec.http_headers.get_statuscode() if rec.http_headers
                        else None, "http": rec.http_headers, "body": body})
    return out


def iso(stored: str) -> str:
    """A stored SQLite time as a WARC date (UTC, microseconds)."""
    at = stored.replace(" ", "T")[:26]
    return (at + ".000000"[len(at) - 19:] if "." not in at else at.ljust(26, "0")) + "Z"


def test_every_capture_is_one_record_with_its_own_time(crawled: dict) -> None:
    recs = records(crawled["out"])
    assert recs[0]["type"] == "warcinfo"
    assert b"software: takedown" in recs[0]["body"]
    caps = crawled["captures"]
    main: dict[int, list[dict]] = {}
    for r in recs[1:]:
        cid = int(r["h"]["WARC-Takedown-Capture"])
        assert r["h"]["WARC-Takedown-Target"] == caps[cid]["target"]
        assert r["h"]["WARC-Takedown-Round"].startswith(caps[cid]["captured_at"][:10])
        assert r["h"]["WARC-Date"] == iso(caps[cid]["fetched_at"])
        if r["type"] in ("response", "revisit") and r["status"] not in ("301", "302"):
            main.setdefault(cid, []).append(r)
    answered = {cid for cid, c in caps.items() if c["status"] is not None}
    assert set(main) == answered and all(len(v) == 1 for v in main.values())
    for cid in answered:
        r, c = main[cid][0], caps[cid]
        assert r["h"]["WARC-Target-URI"] == c["final_url"]
        assert r["status"] == str(c["status"])
        if r["type"] == "response":
            digest = base64.b32encode(hashlib.sha1(r["body"]).digest()).decode()
            assert r["h"]["WARC-Payload-Digest"] == "sha1:" + digest
            if c["sha"]:
                assert hashlib.sha256(r["body"]).hexdigest() == c["sha"] \
                    == r["h"]["WARC-Takedown-Sha256"]
    assert any(r["type"] == "revisit" for v in main.values() for r in v)
    revisit = next(r for v in main.values() for r in v if r["type"] == "revisit")
    assert revisit["h"]["WARC-Profile"].endswith("identical-payload-digest")
    assert revisit["h"]["WARC-Refers-To-Target-URI"] and revisit["h"]["WARC-Refers-To-Date"]


def test_failures_are_metadata_and_redirects_replay(crawled: dict) -> None:
    recs, base, caps = records(crawled["out"]), crawled["base"], crawled["captures"]
    failed = {cid for cid, c in caps.items() if c["status"] is None}
    assert failed, "the reset page never failed"
    by_cid: dict[int, list[dict]] = {}
    for r in recs[1:]:
        by_cid.setdefault(int(r["h"]["WARC-Takedown-Capture"]), []).append(r)
    for cid in failed:
        assert [r["type"] for r in by_cid[cid]] == ["metadata"]
        facts = json.loads(by_cid[cid][0]["body"])
        assert facts["error_kind"] == caps[cid]["error_kind"] and facts["fetch"] == "failed"
    hops = [r for r in recs if r["status"] == "301"]
    assert len(hops) == 3     # one per round
    assert all(r["h"]["WARC-Target-URI"] == f"{base}/old.html" and
               r["http"].get_header("Location") == f"{base}/new.html" for r in hops)
    assert "3 redirects" in crawled["stdout"] and "metadata" in crawled["stdout"]


def test_target_and_round_filters(crawled: dict) -> None:
    data, tmp = crawled["data"], crawled["tmp"]
    out = tmp / "same.warc.gz"
    takedown(data, "export-warc", "--out", str(out), "--target", "same", "--since",
             "2021-03-02", "--until", "2021-03-02T00:00:00Z")
    got = [r for r in records(out) if r["type"] != "warcinfo"]
    assert {r["h"]["WARC-Takedown-Target"] for r in got} == {"same"}
    assert {r["h"]["WARC-Takedown-Round"] for r in got} == {"2021-03-02T00:00:00+00:00"}
    run = takedown(data, "export-warc", "--out", str(out), "--target", "nope", check=False)
    assert run.returncode == 2 and "unknown target 'nope'" in run.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_pywb_replays_an_exported_capture(crawled: dict) -> None:
    bins = archive_bin()
    if not (bins / "wayback").exists():
        pytest.skip(f"pywb is not installed at {bins} (make archive-tools, or set "
                    "TAKEDOWN_ARCHIVE_BIN)")
    root = crawled["tmp"] / "pywb"
    root.mkdir()
    subprocess.run([bins / "wb-manager", "init", "coll"], cwd=root, check=True,
                   capture_output=True)
    subprocess.run([bins / "wb-manager", "add", "coll", crawled["out"]], cwd=root,
                   check=True, capture_output=True)
    target = next(r for r in records(crawled["out"])
                  if r["type"] == "response" and r["h"]["WARC-Target-URI"].endswith("a1.html"))
    ts = target["h"]["WARC-Date"].replace("-", "").replace(":", "").replace("T", "")[:14]
    port = _free_port()
    proc = subprocess.Popen([bins / "wayback", "-p", str(port), "-b", "127.0.0.1"], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        body = _get(f"http://127.0.0.1:{port}/coll/{ts}id_/{target['h']['WARC-Target-URI']}")
    finally:
        proc.terminate()
        proc.wait(10)
    assert body == target["body"]


def _get(url: str) -> bytes:
    for _ in range(100):
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.read()
        except (ConnectionError, urllib.error.URLError):
            time.sleep(0.2)
    raise AssertionError(f"pywb never answered {url}")
