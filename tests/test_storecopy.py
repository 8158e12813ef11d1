"""The demo store on both backends: ``demo_db_url``'s PostgreSQL copy holds the same rows,
reads back the same through the Store API, and takes new rows after the copied ids; the
demo's crawls detected afresh on PostgreSQL give the SQLite run's takedowns."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from storecopy import DETECTION_TABLES, copy_store, row_counts

from diffing.detect import detect
from snapshots import open_store
from snapshots.db import default_url, make_engine
from snapshots.detection_store import takedown_rows
from snapshots.models import Blob, Capture, Round, Takedown, Target, Url
from snapshots.records import NewCapture


def test_demo_db_url_holds_the_demo_store(demo_db_url: str, demo_store: dict) -> None:
    store = open_store(db_url=demo_db_url)
    try:
        assert takedown_rows(store) == demo_store["records"]
        assert store.count(Takedown) == len(demo_store["records"]) > 0
        assert store.integrity_problems(verify_blobs=True) == []
    finally:
        store.close()


def test_postgres_copy_matches_sqlite_row_for_row(demo_pg_url: str, demo_store: dict) -> None:
    sqlite, pg = make_engine(default_url(demo_store["data"])), make_engine(demo_pg_url)
    try:
        counts = row_counts(sqlite)
        assert counts["captures"] > 100 and counts["takedowns"] > 0
        # SQLite's search index also marks the last line id it gave (snapshots.search)
        assert counts.pop("search_marks") == 2
        assert row_counts(pg) == counts | {"search_marks": 1}
        a, b = open_store(db_url=str(sqlite.url)), open_store(db_url=demo_pg_url)
        with a.session() as sa, b.session() as sb:
            blob = sa.query(Blob).order_by(Blob.sha256).first()
            assert sb.get(Blob, blob.sha256).data == blob.data  # bytes intact
            cap = sa.query(Capture).order_by(Capture.id.desc()).first()
            twin = sb.get(Capture, cap.id)
            assert twin.captured_at == cap.captured_at.replace(tzinfo=UTC)
            assert (twin.headers, twin.redirects) == (cap.headers, cap.redirects)  # JSON
        a.close()
        b.close()
    finally:
        sqlite.dispose()
        pg.dispose()


def test_postgres_copy_takes_new_rows_after_copied_ids(pg_url: str, demo_store: dict) -> None:
    """Sequences reset: a new target, round, URL and capture get the next ids after the
    copied ones (on a private copy, since the shared one is read-only)."""
    copy_store(default_url(demo_store["data"]), pg_url)
    store = open_store(db_url=pg_url)
    try:
        with store.session() as s:
            top = {m: s.scalar(select(func.max(m.id))) for m in (Target, Round, Url, Capture)}
        ids = store.ensure_targets([("late-target", "http://127.0.0.1:9/", {})])
        at = datetime(2030, 1, 1, tzinfo=UTC)
        rid = store.begin_round(at)
        stored = store.record_capture(rid, ids["late-target"], at, NewCapture(
            "late-target", "http://127.0.0.1:9/", 0, "seed", at, status=200,
            body=b"<p>hi</p>", text="hi"))
        with store.session() as s:
            uid = s.scalar(select(Url.id).where(Url.target_id == ids["late-target"]))
        assert (ids["late-target"], rid, uid, stored.capture_id) == (
            top[Target] + 1, top[Round] + 1, top[Url] + 1, top[Capture] + 1)
    finally:
        store.close()


# the demo targets that between them show every kind and a restore (about two thirds of
# the captures: detecting over all of them costs PostgreSQL's round trips for no new case)
EVERY_KIND = frozenset({"forum", "gov-news", "weibo-1001", "wx-bingqi-zhishi"})


def test_detection_on_postgresql_finds_what_it_found_on_sqlite(pg_url: str,
                                                                demo_store: dict) -> None:
    """The demo's crawls alone (no verdicts, takedowns or detector state) copied into
    PostgreSQL and detected there afresh give the demo's export record for record: every
    kind, restore and evidence field the SQLite run produced."""
    counts = copy_store(default_url(demo_store["data"]), pg_url, skip=DETECTION_TABLES,
                        targets=EVERY_KIND)
    assert counts["targets"] == len(EVERY_KIND) and "takedowns" not in counts
    want = [r for r in demo_store["records"] if r["target"] in EVERY_KIND]
    assert {r["kind"] for r in want} == {"removed", "censored", "author_deleted",
                                         "account_suspended", "section_closed", "delisted",
                                         "edited"}
    assert any("restored_at" in r for r in want)
    store = open_store(db_url=pg_url)
    try:
        summary = detect(store)
        assert summary.jobs == demo_store["meta"]["days"] * len(EVERY_KIND)
        # takedown ids number rows in the order each store's detection wrote them
        assert [without_id(r) for r in takedown_rows(store)] == [without_id(r) for r in want]
        assert detect(store).jobs == 0   # idempotent on PostgreSQL too
    finally:
        store.close()


def without_id(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "id"}
