"""Schema migrations on SQLite and PostgreSQL: a store made by an older schema revision,
holding rows that schema knows, is brought to head by ``open_store``; the rows survive, the
new tables work (detection runs over the old captures), and opening it again changes
nothing.  No downgrade is ever needed or run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, LargeBinary, MetaData, func, select, type_coerce

from diffing.detect import detect
from snapshots import blobs as blobcodec
from snapshots import open_store
from snapshots.db import Base, make_engine, pack_json
from snapshots.migrate import alembic_config, current, upgrade
from snapshots.models import Capture, DetectedRound, DetectState, LinkSet, Takedown, Url
from snapshots.records import NewCapture

DAY0 = datetime(2021, 3, 15, tzinfo=UTC)
PAGE = "http://127.0.0.1:9/news/1.html"
ARTICLE = ("<html><head><title>一篇文章</title></head><body><article><h1>一篇文章</h1><p>"
           + "这是一篇正常的文章正文，内容完整。" * 12 + "</p></article></body></html>")
HTML = "text/html; charset=utf-8"
GONE = "<html><head><title>Not Found</title></head><body><h1>Not Found</h1></body></html>"


def revisions() -> tuple[str, list[str]]:
    """(head, every older revision), from the migration scripts themselves."""
    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    walk = [rev.revision for rev in script.walk_revisions()]   # head first
    return walk[0], walk[1:]


HEAD, OLDER = revisions()


def old_store(url: str, revision: str) -> Engine:
    """A store at *revision* holding one target, two daily rounds of one page (an article,
    then a 404) with their blobs and a link, and a learned session parameter: rows every
    revision since the first has held, written through its own (reflected) tables."""
    engine = make_engine(url)
    upgrade(engine, revision)
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    with engine.begin() as conn:
        # ids as the database hands them out (its sequences, on PostgreSQL), like a real store
        put = _writer(conn, t)
        tid = put("targets", name="news", url=PAGE, spec={"depth": 0}, created_at=DAY0)
        uid = put("urls", target_id=tid, url=PAGE, depth=0, first_seen=DAY0, last_alive=DAY0)
        for day, (status, html) in enumerate(((200, ARTICLE), (404, GONE))):
            at, body = DAY0 + timedelta(days=day), html.encode("utf-8")
            sha, codec, packed = blobcodec.pack(body)
            put("blobs", sha256=sha, size=len(body), codec=codec, data=packed)
            rid = put("rounds", at=at, started_at=at, finished_at=at, status="done",
                      watchlist="", stats={"captures": 1})
            cid = put("captures", round_id=rid, url_id=uid, target_id=tid, captured_at=at,
                      fetched_at=at, state="ok" if status == 200 else "gone", status=status,
                      final_url=PAGE, redirects=[], headers={"content-type": HTML},
                      body_sha256=sha, text_sha256=sha, size=len(body), truncated=False,
                      content_type=HTML, encoding="utf-8", attempts=1, via="seed")
            _put_link(conn, t, put, cid, ("http://127.0.0.1:9/", "首页"))
        put("volatile_params", host="127.0.0.1:9", name="sid", learned_at=DAY0,
            evidence={"seen": 3})
    return engine


def _put_link(conn, tables, put, capture_id: int, link: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    """The capture's one link: a ``links`` row before 0003, a link set since."""
    if "links" in tables:
        put("links", capture_id=capture_id, position=0, url=link[0], text=link[1])
        return
    sha, count, packed = blobcodec.pack_links([link])
    sha = _as_stored(tables["link_sets"].c.sha256, sha)
    if conn.scalar(select(func.count()).select_from(tables["link_sets"])
                   .where(tables["link_sets"].c.sha256 == sha)) == 0:
        put("link_sets", sha256=sha, count=count, data=packed)
    conn.execute(tables["captures"].update().where(tables["captures"].c.id == capture_id)
                 .values(links_sha256=sha))


def _writer(conn, tables):  # type: ignore[no-untyped-def]
    def put(table_name: str, /, **row: object) -> object:
        table = tables[table_name]
        res = conn.execute(table.insert(), {k: _as_stored(table.columns[k], v)
                                            for k, v in row.items() if k in table.columns})
        return res.inserted_primary_key[0]
    return put


def _as_stored(column, value: object) -> object:  # type: ignore[no-untyped-def]
    """A value as its column holds it: a JSON value packed where the revision made the
    column binary (``headers`` since 0004), a digest as its bytes where the key columns are
    binary (since 0007), as is elsewhere."""
    if isinstance(value, dict) and isinstance(column.type, LargeBinary):
        return pack_json(value, "headers")
    if isinstance(value, str) and isinstance(column.type, LargeBinary) and len(value) == 64:
        return bytes.fromhex(value)   # a digest, binary since 0007
    return value


@pytest.mark.parametrize("revision", OLDER)
def test_open_store_upgrades_an_older_store_and_keeps_its_rows(db_url: str,
                                                              revision: str) -> None:
    engine = old_store(db_url, revision)
    assert current(engine) == revision
    engine.dispose()
    store = open_store(db_url=db_url)
    try:
        assert current(store.engine) == HEAD
        rows = store.history(PAGE)
        assert [(r.status, r.state) for r in rows] == [(200, "ok"), (404, "gone")]
        assert store.blob(rows[0].body_sha256).decode("utf-8") == ARTICLE
        assert store.volatile_params() == {"127.0.0.1:9": {"sid"}}
        # old URLs take the new columns' defaults (role 'page'), so revisits still find them
        assert store.urls_to_revisit(1, DAY0 + timedelta(days=1), 7) == [(PAGE, 0)]
        assert store.integrity_problems() == []
        # the new schema works on the old rows: detection turns them into a takedown
        summary = detect(store)
        assert (summary.jobs, summary.opened) == (2, {"removed": 1})
    finally:
        store.close()


def test_upgraded_store_takes_new_writes_and_restores(db_url: str) -> None:
    """After the upgrade, a third round written through the Store API (ids from the
    sequences past the old explicit ones) brings the article back: the takedown is
    restored."""
    old_store(db_url, OLDER[0]).dispose()
    store = open_store(db_url=db_url)
    try:
        detect(store)
        at = DAY0 + timedelta(days=2)
        rid = store.begin_round(at)
        stored = store.record_capture(rid, 1, at, NewCapture(
            "news", PAGE, 0, "revisit", at, status=200, final_url=PAGE,
            headers={"content-type": "text/html; charset=utf-8"},
            body=ARTICLE.encode("utf-8"), text=ARTICLE, encoding="utf-8"))
        store.finish_round(rid, {"captures": 1})
        assert (rid, stored.capture_id, stored.new_blobs) == (3, 3, 0)  # same body, one blob
        assert detect(store).restored == 1
        with store.session() as s:
            (td,) = s.scalars(select(Takedown)).all()
            assert (td.kind, td.first_capture_id, td.last_ok_capture_id) == ("removed", 2, 1)
            assert td.restored_at is not None and td.restored_at.date() == at.date()
    finally:
        store.close()


def test_reopening_at_head_changes_nothing(db_url: str) -> None:
    old_store(db_url, OLDER[0]).dispose()
    for _ in range(2):
        store = open_store(db_url=db_url)
        detect(store)
        store.close()
    store = open_store(db_url=db_url)
    try:
        assert current(store.engine) == HEAD
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1
            counts = [conn.scalar(select(func.count()).select_from(m))
                      for m in (Url, Capture, Takedown)]
        assert counts == [1, 2, 1]
        assert store.count(Takedown) == 1
    finally:
        store.close()


def test_migrations_build_exactly_the_models_schema(db_url: str) -> None:
    """What the migrations create equals what the models declare (no drift left for a
    future autogenerate to pick up), on both backends."""
    store = open_store(db_url=db_url)
    try:
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert [d for d in diff if not _search_index(d)] == []
    finally:
        store.close()


def _search_index(change: tuple) -> bool:  # type: ignore[type-arg]
    """A difference that is the full-text index proper, which no model can declare: SQLite's
    FTS5 virtual tables and the shadow tables FTS5 makes for them, and PostgreSQL's
    ``pg_trgm`` GIN index (see `snapshots.search.create_index`)."""
    from snapshots.search import FTS_TABLES, TRIGRAM_INDEX

    what, item = change[0], change[1]
    if what == "remove_table":
        return item.name.startswith(FTS_TABLES)
    return what == "remove_index" and item.name == TRIGRAM_INDEX


def test_links_rows_become_one_link_set_per_distinct_list(db_url: str) -> None:
    """0003 turns every capture's ``links`` rows into a link set (page order kept, equal
    lists shared) and the readers (refetch, link pairs, integrity) read them back."""
    engine = old_store(db_url, "0002")
    extra = [("http://127.0.0.1:9/b", "第二"), ("http://127.0.0.1:9/a", "")]
    with engine.begin() as conn:
        for pos, (url, text) in enumerate(extra, start=1):
            conn.exec_driver_sql("INSERT INTO links (capture_id, position, url, text) "
                                 f"VALUES (1, {pos}, '{url}', '{text}')")
    engine.dispose()
    store = open_store(db_url=db_url)
    try:
        first = (("http://127.0.0.1:9/", "首页"), *extra)
        assert store.round_fetch(1, PAGE).links == first
        assert store.round_fetch(2, PAGE).links == (("http://127.0.0.1:9/", "首页"),)
        assert list(store.link_pairs(2)) == [
            (PAGE, [(t, u) for u, t in first], [("首页", "http://127.0.0.1:9/")])]
        assert store.count(LinkSet) == 2
        assert store.integrity_problems() == []
        with store.engine.connect() as conn:
            assert "links" not in conn.dialect.get_table_names(conn)
    finally:
        store.close()


MEMORY = {"listings": {PAGE: {"capture_id": 1, "at": DAY0.isoformat(),
                              "links": [[f"http://127.0.0.1:9/{i}", "body>ul>li"]
                                        for i in range(30)]}},
          "items": {}, "list_paths": ["body>ul"], "bumped": [], "rotating": [],
          "version": 1}
URL_MEMORY = {"keys": {f"{i:016x}": i % 3 + 1 for i in range(20)}, "vpaths": {}, "oks": 2,
              "ok_sha": "ab" * 32, "listing": "pagination"}


def test_0004_packs_headers_and_memories_and_reads_the_same_dicts(db_url: str) -> None:
    """A store at 0003 holding headers and both detector memories (as JSON) is upgraded:
    the columns hold packed bytes (a tag byte, smaller than the JSON) that read back as the
    same dicts."""
    engine = old_store(db_url, "0003")
    with engine.begin() as conn:
        meta = MetaData()
        meta.reflect(conn)
        t = meta.tables
        conn.execute(t["detected_rounds"].insert(), [
            {"round_id": 1, "target_id": 1, "detected_at": DAY0, "memory": MEMORY},
            {"round_id": 2, "target_id": 1, "detected_at": DAY0, "memory": {}}])
        conn.execute(t["detect_state"].insert(), {
            "url_id": 1, "last_capture_id": 2, "state": "gone", "memory": URL_MEMORY})
        before = dict(conn.execute(select(t["captures"].c.id, t["captures"].c.headers)).all())
    engine.dispose()
    store = open_store(db_url=db_url)
    try:
        with store.session() as s:
            assert dict(s.execute(select(Capture.id, Capture.headers)).all()) == before
            assert s.get(DetectedRound, (1, 1)).memory == MEMORY
            assert s.get(DetectedRound, (2, 1)).memory == {}
            assert s.get(DetectState, 1).memory == URL_MEMORY
        with store.engine.connect() as conn:
            raw = conn.execute(select(type_coerce(DetectedRound.memory, LargeBinary))
                               .order_by(DetectedRound.round_id)).scalars().all()
            headers = conn.scalar(select(type_coerce(Capture.headers, LargeBinary)).limit(1))
        assert raw[0][0] == 2 and len(raw[0]) < len(json.dumps(MEMORY)) // 5
        assert bytes(raw[1]) == b"{}"        # packing would not make it smaller
        assert headers[0] == 1
        assert detect(store).jobs == 0       # both rounds were detected already
    finally:
        store.close()
