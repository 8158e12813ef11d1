"""Store benchmark: the store's size against a gzip WARC of the same captures, and what the
compact layout costs detection and the viewer.

World ``SEED`` of `takedown.world` (full scale: five sites — forum, microblog, news, portal,
WeChat — with clocks, session ids, form tokens, rotating widgets and ads, template changes,
planted takedowns, faults) is crawled ``ROUNDS`` rounds, one simulated day apart, with the
real command line (``crawl`` then ``detect`` each round, as ``takedown.world.run`` does).

Figures: the crawl's store in bytes (the SQLite file after a WAL checkpoint) and per table
(``dbstat``), and the part of it that is the full-text index (``snapshots.search``, which
``detect`` fills); a gzip WARC of the same captures written with warcio (one ``response`` record
per capture with a response, its HTTP headers and body; a ``revisit`` record when its
payload digest was written before); their ratio (goal <= ``GOAL_SIZE``); the bytes served.
Then the crawl's captures are replayed, round by round, through ``Store.record_capture``
into two fresh stores, one compact and one in the old layout (``Store(engine,
delta=False)``: every body full), ``detect`` timed after each round on each; and the
viewer's compare (`snapshots.browse.capture_body` of two captures and
`reports.viewer_pages.side_by_side`) timed over the same URL pairs on both; ratios compact /
old (goal <= ``GOAL_TIME``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from diffing.detect import detect
from reports.viewer_pages import side_by_side
from snapshots import browse, open_store
from snapshots.db import DB_FILENAME
from snapshots.models import Capture, LinkSet, Round, Target, Url
from snapshots.records import NewCapture
from snapshots.repo import Store, as_utc
from takedown.demo.server import SiteServer
from takedown.world.world import World

SEED = int(os.environ.get("BENCH_STORE_SEED", "5"))   # seed 5 draws five sites
ROUNDS = int(os.environ.get("BENCH_STORE_ROUNDS", "10"))
START = dt.datetime(2021, 3, 15, 6, 0, tzinfo=dt.UTC)
GOAL_SIZE = 0.25
GOAL_TIME = 1.2
COMPARES = 60        # URL pairs (first and last capture) timed through the viewer's compare


def _cli(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "takedown", "--data", str(data), *args]


def crawl(data: Path) -> None:
    """ROUNDS rounds of crawl + detect of the world into *data*."""
    world = World(SEED, ROUNDS, planted=True, scale="full")
    env = dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1")
    with SiteServer(world) as server:
        wl = data / "world-watchlist.toml"
        data.mkdir(parents=True, exist_ok=True)
        wl.write_text(world.watchlist_toml(server.base_url), encoding="utf-8")
        for r in range(ROUNDS):
            world.round = r
            at = START + dt.timedelta(days=r)
            for cmd in (_cli(data, "crawl", str(wl), "--at", at.isoformat(), "--no-progress"),
                        _cli(data, "detect")):
                done = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if done.returncode:
                    raise RuntimeError(f"{' '.join(cmd[3:5])} failed: {done.stderr[-2000:]}")
            print(f"  crawled round {r + 1}/{ROUNDS}", flush=True)


def sqlite_sizes(path: Path) -> tuple[int, dict[str, int]]:
    """(file bytes after a checkpoint, bytes per table and index from dbstat)."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        per = dict(con.execute("select name, sum(pgsize) from dbstat group by name "
                               "order by 2 desc"))
    finally:
        con.close()
    return path.stat().st_size, per


def _digest(body: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def write_warc(store: Store, out: Path) -> tuple[int, int, int]:
    """A gzip WARC of every capture with a response; (bytes, responses, revisits)."""
    q = (select(Capture, Url.url).join(Url, Capture.url_id == Url.id)
         .where(Capture.status.is_not(None)).order_by(Capture.id))
    seen: dict[str, tuple[str, str]] = {}
    responses = revisits = 0
    with out.open("wb") as fh, store.session() as s:
        writer = WARCWriter(fh, gzip=True)
        for cap, url in s.execute(q):
            body = b"" if cap.body_sha256 is None else store.blob(cap.body_sha256)
            uri = cap.final_url or url
            date = as_utc(cap.fetched_at).strftime("%Y-%m-%dT%H:%M:%SZ")
            http = StatusAndHeaders(f"{cap.status} -", list((cap.headers or {}).items()),
                                    protocol="HTTP/1.1")
            digest = _digest(body)
            if digest in seen:
                first_uri, first_date = seen[digest]
                record = writer.create_revisit_record(uri, digest, first_uri, first_date,
                                                      http_headers=http)
                revisits += 1
            else:
                record = writer.create_warc_record(uri, "response", payload=io.BytesIO(body),
                                                   http_headers=http)
                seen[digest] = (uri, date)
                responses += 1
            record.rec_headers.replace_header("WARC-Date", date)
            writer.write_record(record)
    return out.stat().st_size, responses, revisits


def _captures_of(src: Store, round_id: int) -> list[NewCapture]:
    q = (select(Capture, Url.url, Url.depth, Target.name, LinkSet.data)
         .join(Url, Capture.url_id == Url.id).join(Target, Capture.target_id == Target.id)
         .outerjoin(LinkSet, LinkSet.sha256 == Capture.links_sha256)
         .where(Capture.round_id == round_id).order_by(Capture.id))
    out = []
    with src.session() as s:
        for cap, url, depth, target, links in s.execute(q):
            body = None if cap.body_sha256 is None else src.blob(cap.body_sha256)
            text = None if cap.text_sha256 is None else src.blob(cap.text_sha256).decode()
            out.append(NewCapture(
                target=target, url=url, depth=depth, via=cap.via,
                fetched_at=as_utc(cap.fetched_at), status=cap.status, final_url=cap.final_url,
                redirects=tuple((int(st), u) for st, u in (cap.redirects or [])),
                headers=dict(cap.headers or {}), body=body, text=text, encoding=cap.encoding,
                content_type=cap.content_type, truncated=cap.truncated, error=cap.error,
                error_kind=cap.error_kind, attempts=cap.attempts, elapsed_ms=cap.elapsed_ms,
                links=() if links is None else tuple(src.read_links(s, cap.links_sha256))))
    return out


def replay(src: Store, stores: dict[str, Store]) -> dict[str, list[float]]:
    """Every round of *src* recorded into each of *stores*, detect timed after each round."""
    with src.session() as s:
        targets = [(t.name, t.url, t.spec) for t in s.scalars(select(Target).order_by(Target.id))]
        rounds = s.execute(select(Round.id, Round.at).order_by(Round.at, Round.id)).all()
    ids = {name: st.ensure_targets(targets) for name, st in stores.items()}
    times: dict[str, list[float]] = {name: [] for name in stores}
    for rid, at in rounds:
        caps = _captures_of(src, rid)
        for name, st in stores.items():
            st.preload(ids[name].values())
            new_rid = st.begin_round(as_utc(at))
            for c in caps:
                st.record_capture(new_rid, ids[name][c.target], as_utc(at), c)
            st.finish_round(new_rid, {"captures": len(caps)})
        order = sorted(stores, reverse=bool(rid % 2))      # alternate who goes first
        for name in order:
            t0 = time.perf_counter()
            detect(stores[name])
            times[name].append(time.perf_counter() - t0)
    return times


def compare_time(store: Store, pairs: list[tuple[int, int]], repeat: int = 3) -> float:
    """Median seconds of the viewer's compare of each pair, totalled."""
    total = 0.0
    for a_id, b_id in pairs:
        runs = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            a, b = browse.capture_body(store, a_id), browse.capture_body(store, b_id)
            side_by_side(a, b, set())
            runs.append(time.perf_counter() - t0)
        total += statistics.median(runs)
    return total


def _pairs(store: Store) -> list[tuple[int, int]]:
    """(first, last) ok capture of the URLs with the most distinct bodies."""
    with store.session() as s:
        rows = s.execute(select(Capture.url_id, Capture.id, Capture.body_sha256)
                         .where(Capture.state == "ok", Capture.body_sha256.is_not(None))
                         .order_by(Capture.url_id, Capture.id)).all()
    per: dict[int, list[tuple[int, str]]] = {}
    for uid, cid, sha in rows:
        per.setdefault(uid, []).append((cid, sha))
    ranked = sorted(per.values(), key=lambda caps: -len({sha for _c, sha in caps}))
    return [(caps[0][0], caps[-1][0]) for caps in ranked[:COMPARES] if len(caps) > 1]


def bench(tmp: Path) -> dict:
    t0 = time.monotonic()
    crawl(tmp / "crawl")
    store_bytes, tables = sqlite_sizes(tmp / "crawl" / DB_FILENAME)
    src = open_store(tmp / "crawl")
    with src.session() as s:
        served = sum(c or 0 for c in s.scalars(select(Capture.size)))
    warc_bytes, responses, revisits = write_warc(src, tmp / "crawl.warc.gz")
    new = open_store(tmp / "new")
    old = Store(open_store(tmp / "old").engine, delta=False)
    times = replay(src, {"new": new, "old": old})
    pairs = _pairs(new)
    cmp_new, cmp_old = compare_time(new, pairs), compare_time(old, pairs)
    cmp_new = min(cmp_new, compare_time(new, pairs))   # second pass: caches warm in both
    new_bytes, _ = sqlite_sizes(tmp / "new" / DB_FILENAME)
    old_bytes, old_tables = sqlite_sizes(tmp / "old" / DB_FILENAME)
    for st in (src, new, old):
        st.close()
    detect_new, detect_old = statistics.median(times["new"]), statistics.median(times["old"])
    out = {
        "seed": SEED, "rounds": ROUNDS, "served_bytes": served,
        "store_bytes": store_bytes, "tables": tables,
        "warc_bytes": warc_bytes, "warc_responses": responses, "warc_revisits": revisits,
        "store_over_warc": round(store_bytes / warc_bytes, 3), "goal_store_over_warc": GOAL_SIZE,
        "search_index_bytes": search_bytes(tables),
        "store_without_search_over_warc": round(
            (store_bytes - search_bytes(tables)) / warc_bytes, 3),
        "replayed_compact_bytes": new_bytes, "replayed_full_blobs_bytes": old_bytes,
        "full_blobs_tables": old_tables,
        "detect_seconds_per_round_compact": round(detect_new, 4),
        "detect_seconds_per_round_full": round(detect_old, 4),
        "detect_ratio": round(detect_new / detect_old, 3),
        "compare_pairs": len(pairs), "compare_seconds_compact": round(cmp_new, 4),
        "compare_seconds_full": round(cmp_old, 4),
        "compare_ratio": round(cmp_new / cmp_old, 3) if cmp_old else None,
        "goal_time_ratio": GOAL_TIME, "seconds": round(time.monotonic() - t0, 1)}
    _print(out)
    return out


def search_bytes(tables: dict[str, int]) -> int:
    """Bytes of the full-text index (`snapshots.search`): derived from the captures, as
    an index is, and reported apart so the captures' own cost stays visible."""
    return sum(size for name, size in tables.items()
               if name.startswith(("search_", "sqlite_autoindex_search_"))
               or name == "ix_captures_text_sha256")


def _print(out: dict) -> None:
    mb = 1024 * 1024
    print(f"store: {out['store_bytes'] / mb:.2f} MiB for {out['served_bytes'] / mb:.1f} MiB "
          f"served; gzip WARC with revisits {out['warc_bytes'] / mb:.2f} MiB "
          f"({out['warc_responses']} responses, {out['warc_revisits']} revisits)")
    print(f"store / WARC = {out['store_over_warc']:.3f} (goal <= {GOAL_SIZE}); of the store, "
          f"the full-text index {out['search_index_bytes'] / mb:.2f} MiB: without it "
          f"{out['store_without_search_over_warc']:.3f}")
    for name, size in list(out["tables"].items())[:8]:
        print(f"  {name:32s} {size / mb:8.2f} MiB")
    print(f"same captures replayed: compact {out['replayed_compact_bytes'] / mb:.2f} MiB, "
          f"full blobs {out['replayed_full_blobs_bytes'] / mb:.2f} MiB")
    print(f"detect per round: {out['detect_seconds_per_round_compact']:.3f} s compact vs "
          f"{out['detect_seconds_per_round_full']:.3f} s full blobs = "
          f"{out['detect_ratio']:.2f}x (goal <= {GOAL_TIME})")
    print(f"viewer compare ({out['compare_pairs']} pairs): "
          f"{out['compare_seconds_compact']:.3f} s vs {out['compare_seconds_full']:.3f} s = "
          f"{out['compare_ratio']}x (goal <= {GOAL_TIME})")


def run() -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        return bench(Path(tmp))


if __name__ == "__main__":
    run()
