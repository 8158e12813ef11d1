"""Blob and link-set keys are stored as their 32 bytes (``snapshots.db.Digest``) on SQLite
and PostgreSQL: a new store writes them so, a store of the hex layout is converted by its
upgrade and reads the same, and a damaged key survives the conversion for ``takedown
check`` to name."""

from __future__ import annotations

from sqlalchemy import create_engine, func, select, text
from test_migrations import ARTICLE, DAY0, PAGE, old_store

from diffing.detect import detect
from snapshots import blobs as blobcodec
from snapshots import open_store
from snapshots.check import check_store
from snapshots.models import Blob, Capture, LinkSet
from snapshots.records import NewCapture


def _raw(db_url: str, statement: str) -> list[tuple]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(statement))]
    finally:
        engine.dispose()


def _problems(db_url: str) -> list[str]:
    store = open_store(db_url=db_url)
    try:
        return [p.message for p in check_store(store.engine).problems]
    finally:
        store.close()


def test_an_upgraded_store_holds_32_byte_keys_and_reads_the_same(db_url: str) -> None:
    old_store(db_url, "0006").dispose()
    body = ARTICLE.encode("utf-8")
    (hex_key,), = _raw(db_url, f"SELECT sha256 FROM blobs WHERE size = {len(body)}")
    assert hex_key == blobcodec.sha256_hex(body)         # the old layout: 64 hex digits
    store = open_store(db_url=db_url)
    try:
        assert store.blob(hex_key) == body
        with store.session() as s:
            keys = s.scalars(select(Capture.links_sha256).where(
                Capture.links_sha256.is_not(None))).all()
            assert [store.read_links(s, k) for k in keys] == \
                [[("http://127.0.0.1:9/", "首页")]] * 2
        detect(store)
    finally:
        store.close()
    lengths = _raw(db_url, "SELECT DISTINCT length(sha256) FROM blobs "
                           "UNION SELECT DISTINCT length(body_sha256) FROM captures "
                           "UNION SELECT DISTINCT length(links_sha256) FROM captures "
                           "UNION SELECT DISTINCT length(sha256) FROM link_sets")
    assert {n for (n,) in lengths} == {32}
    assert _problems(db_url) == []


def test_a_new_store_writes_32_byte_keys_and_finds_rows_by_hex(store) -> None:  # type: ignore[no-untyped-def]
    tid = store.ensure_targets([("news", PAGE, {})])["news"]
    rid = store.begin_round(DAY0)
    body = ARTICLE.encode("utf-8")
    store.record_capture(rid, tid, DAY0, NewCapture(
        target="news", url=PAGE, depth=0, fetched_at=DAY0, status=200, final_url=PAGE,
        headers={"content-type": "text/html; charset=utf-8"}, body=body, text=ARTICLE,
        encoding="utf-8", content_type="text/html; charset=utf-8",
        links=(("http://127.0.0.1:9/a", "A"),), via="seed"))
    store.finish_round(rid, {})
    key = blobcodec.sha256_hex(body)
    with store.session() as s:
        assert s.scalar(select(func.length(Blob.data)).where(Blob.sha256 == key)) > 0
        assert s.scalar(select(Capture.body_sha256)) == key
        assert s.scalar(select(func.count()).select_from(LinkSet)) == 1
        assert s.scalar(select(func.count()).where(Blob.sha256 == "not a key")) == 0
        raw = s.execute(text("SELECT body_sha256, links_sha256 FROM captures")).one()
    assert bytes(raw[0]) == bytes.fromhex(key)
    assert all(len(bytes(v)) == 32 for v in raw)


def test_a_damaged_key_survives_the_upgrade_and_is_named(db_url: str) -> None:
    old_store(db_url, "0006").dispose()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE captures SET text_sha256 = 'damaged-key' WHERE id = "
                          "(SELECT min(id) FROM captures)"))
    engine.dispose()
    problems = _problems(db_url)
    assert any("text_sha256" in line and "damaged-key" in line for line in problems), problems
