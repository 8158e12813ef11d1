"""Report benchmark: ``takedown report`` over a store of 1,000,000 captures and 10,000
takedowns, on SQLite.  Goal: under ``GOAL`` seconds.

The store is synthetic and built directly with SQLAlchemy Core bulk inserts (no crawl, no
detection): ``TARGETS`` targets of ``URLS_PER_TARGET`` pages each, captured in ``ROUNDS``
daily rounds (1,000,000 captures).  Each page is a ~3 KB Chinese article with a
publication time; ``TAKEDOWNS`` of them are taken down (every kind, from round
``FIRST_TAKEDOWN`` on), after which their captures show a notice page.  Building takes a
while, so the SQLite file is kept under ``bench-out/`` keyed by ``STORE_VERSION`` and the
newest migration; a cached store is checked (row counts) before use.

Timed: the report as the command builds and writes it (HTML, Markdown, CSV, JSON), with the
example events file and a keyword list of ``KEYWORDS`` terms, in this process after a warm
import; the stages (query, content extraction and keyword search, charts, writing) are
printed too, and the CPU time with the load average: on a shared machine the wall time
says as much about the neighbours as about the report.
Imports ``snapshots`` and ``reports``.
"""

from __future__ import annotations

import json
import os
import random
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from reports.events import load_events_file
from reports.keywords import KeywordList, Term
from reports.output import write_report
from reports.report import ReportOptions, build_report
from snapshots import blobs as blobcodec
from snapshots import open_store
from snapshots.models import Blob, Capture, Round, Takedown, Target, Url
from snapshots.repo import Store

STORE_VERSION = 1
TARGETS = 40
URLS_PER_TARGET = 500
ROUNDS = 50                      # 40 × 500 × 50 = 1,000,000 captures
TAKEDOWNS = 10_000
FIRST_TAKEDOWN = 5
KEYWORDS = 3_000
GOAL = 10.0
BATCH = 20_000
START = datetime(2021, 1, 1, 6, 0, tzinfo=UTC)
BASE = "http://127.0.0.1:8000"
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out"
EVENTS = ROOT / "examples" / "events" / "military-civil-fusion.toml"
KINDS = ("removed", "censored", "author_deleted", "account_suspended", "section_closed",
         "delisted", "edited")
_WORDS = ("军民融合", "市政府", "发布了", "新的停车收费标准", "区教育局", "召开会议讨论",
          "老旧小区改造计划", "相关负责人表示将持续跟进", "武器装备", "自媒体", "国防科技工业",
          "春季学期招生安排", "地铁三号线延伸工程", "空气质量月度报告", "夜间经济扶持政策")
NOTICE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>提示</title></head>"
          "<body><div class='msg'>此内容因违规无法查看</div></body></html>").encode()


def run() -> dict:
    """Build (or reuse) the store, time the report, print; returns the figures."""
    path = _store_path()
    t0 = time.perf_counter()
    built = not path.exists()
    if built:
        _build(path)
    build_s = time.perf_counter() - t0
    store = open_store(db_url=f"sqlite:///{path}")
    try:
        counts = _check(store)
        events = load_events_file(EVENTS)
        terms = KeywordList("bench", tuple(Term.parse(t) for t in _terms(KEYWORDS)))
        _warm(path)
        with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
            cpu0 = _cpu()
            t1 = time.perf_counter()
            report = build_report(store, list(events.events), ReportOptions(), [terms],
                                  events.title)
            t2 = time.perf_counter()
            files = write_report(report, Path(tmp))
            t3 = time.perf_counter()
            cpu = _cpu() - cpu0
            sizes = {f.name: f.stat().st_size for f in files}
    finally:
        store.close()
    figures = {
        "goal_s": GOAL, "report_s": round(t3 - t1, 2), "build_s": round(t2 - t1, 2),
        "write_s": round(t3 - t2, 2), "cpu_s": round(cpu, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "stages_s": {k: round(v, 2) for k, v in report.seconds.items()},
        "captures": counts["captures"], "takedowns": len(report.rows),
        "tagged": sum(1 for r in report.rows if r.terms),
        "with_age": report.lifetime["with_age"], "bytes": sizes,
        "store_built_s": round(build_s, 1) if built else None, "store": str(path),
    }
    _print(figures)
    return figures


def _warm(path: Path) -> None:
    """Read the store file once, untimed: the report is measured with the store in the OS
    page cache, as after any recent use of it, not at the speed of the disk (a cold read of
    these 350 MB alone took about 3 s here)."""
    with path.open("rb") as fh:
        while fh.read(1 << 24):
            pass


def _print(f: dict) -> None:
    verdict = "meets" if f["report_s"] <= f["goal_s"] else "MISSES"
    print(f"report: {f['captures']:,} captures, {f['takedowns']:,} takedowns "
          f"({f['tagged']:,} tagged, {f['with_age']:,} with an age) -> report in "
          f"{f['report_s']:.2f} s (build {f['build_s']:.2f} s: "
          + ", ".join(f"{k} {v:.2f}" for k, v in f["stages_s"].items())
          + f"; write {f['write_s']:.2f} s); goal <= {f['goal_s']:.0f} s: {verdict}")
    print(f"report: CPU {f['cpu_s']:.2f} s (this process and its extraction workers); "
          f"load average {f['load_average_1min']} on {os.cpu_count()} cores while timed")
    print("report: files " + ", ".join(f"{n} {b / 1e6:.1f} MB" for n, b in f["bytes"].items()))
    if f["store_built_s"] is not None:
        print(f"report: store built in {f['store_built_s']:.0f} s, cached at {f['store']}")


def _cpu() -> float:
    """CPU seconds of this process and of its reaped children (the extraction pool)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), \
        resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _store_path() -> Path:
    newest = max(p.name.split("_")[0] for p in
                 (ROOT / "snapshots" / "migrations" / "versions").glob("[0-9]*.py"))
    return OUT / f"report-store-v{STORE_VERSION}-m{newest}.sqlite"


def _check(store: Store) -> dict:
    with store.engine.connect() as conn:
        counts = {"captures": conn.scalar(select(func.count()).select_from(Capture)),
                  "takedowns": conn.scalar(select(func.count()).select_from(Takedown))}
    expected = {"captures": TARGETS * URLS_PER_TARGET * ROUNDS, "takedowns": TAKEDOWNS}
    if counts != expected:
        raise SystemExit(f"report benchmark: cached store holds {counts}, expected "
                         f"{expected}; delete it and run again")
    return counts


def _terms(n: int) -> list[str]:
    """A keyword list like a censorship study's: a few real terms, then invented ones."""
    rng = random.Random(7)
    chars = "军民融合国防科技工业装备自媒体网信办整治清理删除信息发布平台论坛账号封禁"
    out = ["军民融合", "武器装备", "自媒体+资质", "国防科技工业"]
    while len(out) < n:
        out.append("".join(rng.choice(chars) for _ in range(rng.randint(3, 6))))
    return list(dict.fromkeys(out))[:n]


def _page(t: int, u: int, rng: random.Random) -> bytes:
    published = START - timedelta(days=rng.randint(1, 400), minutes=rng.randint(0, 1440))
    paras = "".join(f"<p>{''.join(rng.choice(_WORDS) for _ in range(12))}。</p>"
                    for _ in range(8))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>文章 {t}-{u}</title>"
            f"<meta property='article:published_time' content='{published.isoformat()}'>"
            f"</head><body><nav><a href='/'>首页</a></nav><article><h1>文章 {t}-{u}</h1>"
            f"{paras}</article><footer>版权所有</footer></body></html>").encode()


def _build(path: Path) -> None:
    """Write the synthetic store to *path* (atomically: a killed build leaves nothing)."""
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".building")
    for p in tmp.parent.glob(tmp.name + "*"):
        p.unlink()
    store = open_store(db_url=f"sqlite:///{tmp}")
    rng = random.Random(1)
    n_urls = TARGETS * URLS_PER_TARGET
    victims = dict(zip(rng.sample(range(n_urls), TAKEDOWNS),
                       (rng.randrange(FIRST_TAKEDOWN, ROUNDS) for _ in range(TAKEDOWNS)),
                       strict=True))
    with store.engine.begin() as conn:
        pages = _base_rows(conn, rng, n_urls)
        for r in range(ROUNDS):
            conn.execute(insert(Capture), [_capture(r, u, pages[u], victims.get(u))
                                           for u in range(n_urls)])
        conn.execute(insert(Takedown), [_takedown(u, r, pages[u]) for u, r in victims.items()])
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    tmp.rename(path)


def _base_rows(conn, rng: random.Random, n_urls: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Targets, rounds, URLs and blobs; returns each URL's page hash."""
    conn.execute(insert(Target), [{"id": t + 1, "name": f"site-{t:02d}",
                                   "url": f"{BASE}/s{t}/", "spec": {}, "created_at": START}
                                  for t in range(TARGETS)])
    conn.execute(insert(Round), [{"id": r + 1, "at": START + timedelta(days=r),
                                  "started_at": START, "finished_at": START, "status": "done",
                                  "watchlist": "bench", "stats": {}} for r in range(ROUNDS)])
    conn.execute(insert(Url), [{"id": u + 1, "target_id": u // URLS_PER_TARGET + 1,
                                "url": f"{BASE}/s{u // URLS_PER_TARGET}/a{u}.html",
                                "depth": 1, "role": "page", "first_seen": START}
                               for u in range(n_urls)])
    hashes, rows = [], [_blob(NOTICE)]
    for u in range(n_urls):
        body = _page(u // URLS_PER_TARGET, u, rng)
        rows.append(_blob(body))
        hashes.append(rows[-1]["sha256"])
        if len(rows) >= BATCH:
            conn.execute(insert(Blob), rows)
            rows = []
    conn.execute(insert(Blob), rows)
    return hashes


def _blob(data: bytes) -> dict:
    sha, codec, packed = blobcodec.pack(data)
    return {"sha256": sha, "size": len(data), "codec": codec, "data": packed}


def _capture_id(r: int, u: int) -> int:
    return r * TARGETS * URLS_PER_TARGET + u + 1


def _capture(r: int, u: int, page: str, gone_from: int | None) -> dict:
    gone = gone_from is not None and r >= gone_from
    sha = blobcodec.sha256_hex(NOTICE) if gone else page
    return {"id": _capture_id(r, u), "round_id": r + 1, "url_id": u + 1,
            "target_id": u // URLS_PER_TARGET + 1, "captured_at": START + timedelta(days=r),
            "fetched_at": START + timedelta(days=r), "state": "notice" if gone else "ok",
            "status": 200, "final_url": None, "redirects": [], "headers": {},
            "body_sha256": sha, "text_sha256": sha, "size": 3000, "truncated": False,
            "content_type": "text/html", "encoding": "utf-8", "error": None,
            "error_kind": None, "attempts": 1, "elapsed_ms": 5, "via": "link"}


def _takedown(u: int, r: int, page: str) -> dict:
    kind = KINDS[u % len(KINDS)]
    ok, first = _capture_id(r - 1, u), _capture_id(r, u)
    facts = {"last_ok": {"capture_id": ok, "sha256": page, "status": 200},
             "first": {"capture_id": first, "sha256": blobcodec.sha256_hex(NOTICE),
                       "status": 200}}
    evidence = {"rule": "phrase:WeChat", "phrase": "此内容因违规无法查看", **facts}
    if kind == "delisted":
        evidence = {"rule": "listing:vanished-from-middle", "page_still_serving":
                    {"capture_id": ok}, **facts}
    elif kind == "edited":
        evidence = {"rule": "blocks:removed", "removed_text": ["军民融合相关段落。"], **facts}
    return {"target_id": u // URLS_PER_TARGET + 1, "url_id": u + 1, "item": "", "kind": kind,
            "last_seen": START + timedelta(days=r - 1), "detected_at": START + timedelta(days=r),
            "last_ok_capture_id": ok, "first_capture_id": first,
            "evidence": json.loads(json.dumps(evidence)), "updated_at": START}


if __name__ == "__main__":
    run()
