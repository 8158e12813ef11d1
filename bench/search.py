"""Search benchmark: query latency over a million captures, and what indexing adds to detect.

Latency.  A SQLite store of ``URLS`` pages captured in ``ROUNDS`` rounds (1,000,000
captures) whose pages change now and then, so ``TEXTS`` distinct texts: written straight
into the tables (the capture rows in bulk, the documents through
``snapshots.search.add_texts``), not crawled.  Texts are sentences drawn from a small
vocabulary of Chinese words, so two-character terms occur at every frequency; ``军民融合`` is
planted in ``PLANTED`` of the texts.  Each query (`QUERIES`: a rare and a common
two-character term, a four-character one, an ASCII one) runs ``REPEAT`` times through
``search_captures`` (the first 50 hits, newest first, as ``takedown search`` asks);
the median is reported against ``GOAL_S``.

Indexing rate.  The detect benchmark's synthetic site (``bench.detect_growth``) over
``DETECT_ROUNDS`` rounds, recorded through ``Store.record_capture``; then the index is
filled on its own (``index_pending``, timed), then ``detect`` runs (its own indexing finds
nothing left).  The ratio (detect + indexing) / detect is reported against ``GOAL_RATIO``.
Imports ``snapshots``, ``diffing`` and ``bench.detect_growth``.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

from bench.detect_growth import SECTIONS, START, SyntheticSite
from diffing.detect import detect
from snapshots import open_store
from snapshots.repo import Store
from snapshots.search import add_texts, index_pending, search_captures

URLS = 10_000
ROUNDS = 100                      # URLS × ROUNDS captures
TEXTS = 50_000                    # distinct texts among them
PLANTED = 0.005                   # share of the texts holding 军民融合
QUERIES = ("军民", "发展", "军民融合", "army")
REPEAT = 5
GOAL_S = 0.5
DETECT_ROUNDS = 8
GOAL_RATIO = 1.2
_WORDS = ("发展 经济 社会 建设 改革 创新 人民 政府 工作 会议 城市 农村 教育 医疗 科技 文化 "
          "交通 环境 安全 生产 企业 市场 服务 管理 政策 项目 投资 产业 地区 国家 国际 合作 "
          "研究 技术 质量 标准 规划 治理 保障 民生 就业 收入 消费 金融 文明 历史 传统 青年 "
          "军事 装备 防务 部队 民兵 武器 报告 记者 采访 表示 认为 指出 强调 推进 加强 完善").split()


def run() -> dict:
    figures = {**_latency(), **_indexing_rate()}
    print(f"search over {figures['captures']:,} captures ({figures['texts']:,} texts, "
          f"built in {figures['build_s']:.0f} s):")
    for term, seconds in figures["median_s"].items():
        print(f"  {term!r}: {seconds:.3f} s median, {figures['hits'][term]} hits"
              f" (goal < {GOAL_S} s)")
    print(f"detect {figures['detect_s']:.2f} s, indexing {figures['index_s']:.2f} s over "
          f"{figures['detect_captures']} captures: {figures['ratio']:.2f}× "
          f"(goal <= {GOAL_RATIO}×)")
    return figures


# -- latency -------------------------------------------------------------------------------
def _latency() -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        store = open_store(tmp)
        try:
            t0 = time.perf_counter()
            _fill(store)
            build = time.perf_counter() - t0
            medians, hits = {}, {}
            for term in QUERIES:
                times = []
                for _ in range(REPEAT):
                    t1 = time.perf_counter()
                    found = search_captures(store, term)
                    times.append(time.perf_counter() - t1)
                medians[term], hits[term] = statistics.median(times), len(found)
        finally:
            store.close()
    return {"captures": URLS * ROUNDS, "texts": TEXTS, "build_s": round(build, 1),
            "median_s": {t: round(s, 4) for t, s in medians.items()}, "hits": hits,
            "goal_s": GOAL_S}


def _fill(store: Store) -> None:
    """Targets, rounds, URLs and captures by bulk SQL (no blobs: foreign keys off for this
    connection), and the texts through the index's own writer."""
    rng = random.Random(7)
    texts = [_text(rng, i) for i in range(TEXTS)]
    keys = [hashlib.sha256(t.encode()).digest() for t in texts]
    raw = store.engine.raw_connection()
    try:
        db = raw.driver_connection
        db.execute("PRAGMA foreign_keys = OFF")
        db.execute("PRAGMA cache_size = -262144")
        # an index built once over sorted keys, not a million random insertions into it
        db.execute("DROP INDEX ix_captures_text_sha256")
        _rows(db, rng, keys)
        db.execute("CREATE INDEX ix_captures_text_sha256 ON captures (text_sha256)")
        db.commit()
    finally:
        raw.close()
    with store.engine.begin() as conn:
        for start in range(0, TEXTS, 1000):
            add_texts(conn, [(k.hex(), t) for k, t in zip(keys[start:start + 1000],
                                                         texts[start:start + 1000],
                                                         strict=True)])
        conn.exec_driver_sql("INSERT INTO search_marks (name, last_id) VALUES ('captures', ?)",
                             (URLS * ROUNDS,))


def _rows(db, rng: random.Random, keys: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    at = datetime(2021, 1, 1, tzinfo=UTC)
    db.execute("INSERT INTO targets VALUES (1, 'bench', 'http://127.0.0.1/', '{}', ?)",
               (at.isoformat(),))
    db.executemany("INSERT INTO rounds (id, at, started_at, status, watchlist, stats) "
                   "VALUES (?, ?, ?, 'done', '', '{}')",
                   [(r, _stamp(at, r), _stamp(at, r)) for r in range(1, ROUNDS + 1)])
    db.executemany("INSERT INTO urls (id, target_id, url, depth, first_seen) "
                   "VALUES (?, 1, ?, 1, ?)",
                   [(u, f"http://127.0.0.1/p/{u}.html", _stamp(at, 1))
                    for u in range(1, URLS + 1)])
    # each URL keeps a text for a stretch of rounds, then changes: TEXTS texts in all
    current = [rng.randrange(TEXTS) for _ in range(URLS)]
    change = TEXTS / (URLS * ROUNDS)
    for r in range(1, ROUNDS + 1):
        rows, stamp = [], _stamp(at, r)
        for u in range(URLS):
            if rng.random() < change:
                current[u] = rng.randrange(TEXTS)
            rows.append((r, u + 1, stamp, stamp, keys[current[u]]))
        db.executemany(
            "INSERT INTO captures (round_id, url_id, target_id, captured_at, fetched_at, "
            "state, status, redirects, text_sha256, size, truncated, attempts, via) "
            "VALUES (?, ?, 1, ?, ?, 'ok', 200, '[]', ?, 0, 0, 1, 'revisit')", rows)


def _stamp(at: datetime, r: int) -> str:
    return (at + timedelta(days=r)).strftime("%Y-%m-%d %H:%M:%S.%f")


def _text(rng: random.Random, i: int) -> str:
    """A page of 6-10 sentences of vocabulary words; 军民融合 in PLANTED of them, and an
    English line now and then."""
    lines = ["".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 16))) + "。"
             for _ in range(rng.randint(6, 10))]
    if rng.random() < PLANTED:
        lines.insert(rng.randrange(len(lines)), "本市推进军民融合深度发展。")
    if i % 50 == 0:
        lines.append(f"The army report number {i}.")
    return "\n".join(lines)


# -- indexing rate -------------------------------------------------------------------------
def _indexing_rate() -> dict:
    site = SyntheticSite(DETECT_ROUNDS)
    with tempfile.TemporaryDirectory(prefix="bench-search-detect-") as tmp:
        store = open_store(tmp)
        try:
            captures = sum(_record(store, site, r) for r in range(DETECT_ROUNDS))
            t0 = time.perf_counter()
            with store.writing() as s:
                counts = index_pending(store, s.connection())
            index_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            detect(store)
            detect_s = time.perf_counter() - t1
        finally:
            store.close()
    return {"detect_captures": captures, "indexed_texts": counts.texts,
            "detect_s": round(detect_s, 3), "index_s": round(index_s, 3),
            "ratio": round((detect_s + index_s) / detect_s, 3), "goal_ratio": GOAL_RATIO}


def _record(store: Store, site: SyntheticSite, r: int) -> int:
    """Round *r* of the synthetic site, recorded as the crawler records it."""
    at = START + timedelta(days=r)
    ids = store.ensure_targets(site.specs())
    round_id = store.begin_round(at, "bench:search")
    n = 0
    for s in range(SECTIONS):
        for c in site.captures(s, r, at):
            store.record_capture(round_id, ids[c.target], at, c)
            n += 1
    store.finish_round(round_id, {"status": "done", "captures": n})
    return n
