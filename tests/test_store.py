"""The snapshot store on SQLite and PostgreSQL: captures, blobs, links, URLs, integrity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from snapshots import blobs as blobcodec
from snapshots.models import Blob, Capture, LinkSet, Url
from snapshots.records import NewCapture

AT = datetime(2021, 3, 15, tzinfo=UTC)


def capture(url: str = "http://127.0.0.1/a", status: int | None = 200, body: bytes = b"<p>x</p>",
            **kw) -> NewCapture:
    kw.setdefault("text", body.decode("utf-8", "replace") if body is not None else None)
    return NewCapture(target="t", url=url, depth=0, via="seed", fetched_at=AT, status=status,
                      final_url=url, body=body, **kw)


def open_round(store, at=AT, targets=("t",)):
    ids = store.ensure_targets((n, "http://127.0.0.1/", {}) for n in targets)
    return store.begin_round(at), ids


def test_unchanged_page_ten_rounds_one_blob(store) -> None:
    for day in range(10):
        rid, ids = open_round(store, AT + timedelta(days=day))
        stored = store.record_capture(rid, ids["t"], AT + timedelta(days=day), capture())
        # a UTF-8 page's decoded text has the same bytes, so one key serves both
        assert stored.new_blobs == (1 if day == 0 else 0)
        store.finish_round(rid, {})
    assert store.count(Capture) == 10
    assert store.count(Blob) == 1
    assert len(store.history("http://127.0.0.1/a")) == 10


def test_distinct_bodies_distinct_blobs_and_roundtrip(store) -> None:
    rid, ids = open_round(store)
    big = ("军民融合 " * 5000).encode("gb18030")
    store.record_capture(rid, ids["t"], AT, capture("http://127.0.0.1/b", body=big,
                                                    text=big.decode("gb18030")))
    store.record_capture(rid, ids["t"], AT, capture("http://127.0.0.1/c", body=b"other"))
    rows = {r.url: r for r in store.history("http://127.0.0.1/b")}
    sha = rows["http://127.0.0.1/b"].body_sha256
    assert store.blob(sha) == big
    assert store.count(Blob) == 3   # gb18030 bytes, their UTF-8 text, b"other"


def test_capture_fields_and_links_in_order(store) -> None:
    rid, ids = open_round(store)
    links = tuple((f"http://127.0.0.1/p{i}", f"item {i}") for i in (3, 1, 2))
    c = capture(status=301, redirects=((301, "http://127.0.0.1/a"),),
                headers={"content-type": "text/html"}, links=links)
    stored = store.record_capture(rid, ids["t"], AT, c)
    with store.session() as s:
        row = s.get(Capture, stored.capture_id)
        assert row.status == 301 and row.redirects == [[301, "http://127.0.0.1/a"]]
        assert row.headers == {"content-type": "text/html"}
        links_set = s.get(LinkSet, row.links_sha256)
    assert links_set.count == 3
    assert blobcodec.unpack_links(links_set.data) == list(links)


def test_body_stored_by_an_earlier_process_is_not_new(store, db_url: str) -> None:
    """A fresh Store (no preload, so it must ask the database) sees a known body as known:
    the blob insert's row count, not -1, decides (it was -1 on PostgreSQL)."""
    from snapshots import open_store

    rid, ids = open_round(store)
    assert store.record_capture(rid, ids["t"], AT, capture()).new_blobs == 1
    store.finish_round(rid, {})
    later = open_store(db_url=db_url)
    try:
        rid, ids = open_round(later, AT + timedelta(days=1))
        stored = later.record_capture(rid, ids["t"], AT + timedelta(days=1), capture())
        assert stored.new_blobs == 0
        assert later.count(Blob) == 1
    finally:
        later.close()


@pytest.mark.parametrize(("status", "error_kind", "state"), [
    (200, None, "ok"), (404, None, "gone"), (410, None, "gone"), (451, None, "notice"),
    (500, None, "failed"), (429, None, "failed"), (None, "timeout", "failed"),
    (200, "dataloss", "failed"), (401, None, "restricted"), (202, None, "failed"),
    (403, None, "failed"), (400, None, "failed"),
], ids=["200", "404", "410", "451", "500", "429", "timeout", "dataloss", "401", "202", "403",
        "400"])
def test_first_state(store, status, error_kind, state) -> None:
    rid, ids = open_round(store)
    body = None if status is None else b"x"
    stored = store.record_capture(rid, ids["t"], AT, capture(status=status, body=body,
                                                             error_kind=error_kind))
    assert stored.state == state


def test_revisit_window_follows_last_alive(store) -> None:
    rid, ids = open_round(store)
    store.record_capture(rid, ids["t"], AT, capture("http://127.0.0.1/alive"))
    store.record_capture(rid, ids["t"], AT, capture("http://127.0.0.1/dead", status=404))
    assert store.urls_to_revisit(ids["t"], AT + timedelta(days=1), 90) == [
        ("http://127.0.0.1/alive", 0)]
    assert store.urls_to_revisit(ids["t"], AT + timedelta(days=91), 90) == []


def test_same_url_twice_in_a_round_keeps_first(store) -> None:
    rid, ids = open_round(store)
    assert store.record_capture(rid, ids["t"], AT, capture(body=b"first")) is not None
    assert store.record_capture(rid, ids["t"], AT, capture(body=b"second")) is None
    assert store.count(Capture) == 1
    assert store.integrity_problems() == []


def test_renormalise_merges_session_split_urls(store) -> None:
    for day, sid in enumerate(("aaa", "bbb", "ccc")):
        at = AT + timedelta(days=day)
        rid, ids = open_round(store, at)
        store.record_capture(rid, ids["t"], at, capture(f"http://127.0.0.1/t?id=1&sid={sid}"))
    assert store.count(Url) == 3
    changed = store.renormalise_urls(lambda u: u.split("&sid=")[0])
    assert changed == 3
    assert store.count(Url) == 1 and store.count(Capture) == 3
    assert len(store.history("http://127.0.0.1/t?id=1")) == 3
    assert store.integrity_problems() == []


def test_interrupted_round_is_closed_by_the_next(store) -> None:
    first, _ = open_round(store)
    second, _ = open_round(store, AT + timedelta(days=1))
    status = {r["id"]: r["status"] for r in store.rounds()}
    assert status[first] == "interrupted" and status[second] == "running"


def test_integrity_check_finds_a_corrupt_blob(store) -> None:
    rid, ids = open_round(store)
    store.record_capture(rid, ids["t"], AT, capture())
    assert store.integrity_problems() == []
    with store.session() as s, s.begin():
        blob = s.query(Blob).one()
        blob.codec = "raw"
        blob.data = b"tampered"
    assert any("does not match" in p for p in store.integrity_problems())


def test_times_of_any_offset_are_stored_and_compared_as_utc(store) -> None:
    # SQLite keeps clock text without the offset: a +08:00 time, written or compared,
    # must mean the same instant there as on PostgreSQL
    from sqlalchemy import select

    from snapshots.models import Round

    east = timezone(timedelta(hours=8))
    for hour in range(24):
        store.begin_round(datetime(2021, 3, 20, hour, tzinfo=UTC))
    rid = store.begin_round(datetime(2021, 3, 21, 10, tzinfo=east))  # 02:00 UTC
    with store.session() as s:
        assert s.get(Round, rid).at == datetime(2021, 3, 21, 2, tzinfo=UTC)
        since = datetime(2021, 3, 20, 8, tzinfo=east)              # 00:00 UTC
        assert len(s.scalars(select(Round.id).where(Round.at >= since)).all()) == 25


def test_a_write_that_reads_first_survives_a_writer_in_another_connection(tmp_path) -> None:
    """SQLite: a deferred transaction that reads, then writes after another connection
    committed, fails at once ("database is locked", no busy wait).  The scheduler's job
    store commits while detection runs; `Store.writing` takes the write lock at BEGIN, so
    the other writer waits its turn instead, and both commit."""
    import threading

    from sqlalchemy import select, update

    from snapshots import open_store
    from snapshots.models import Target

    mine, other = open_store(tmp_path), open_store(tmp_path)
    try:
        mine.ensure_targets([("mine", "http://127.0.0.1/a", {})])
        committed = threading.Event()
        elsewhere = threading.Thread(target=lambda: (
            other.ensure_targets([("other", "http://127.0.0.1/b", {})]), committed.set()))
        with mine.writing() as s:
            target = s.scalar(select(Target).where(Target.name == "mine"))  # read first
            elsewhere.start()
            assert not committed.wait(0.5), "the other writer did not wait for this one"
            s.execute(update(Target).where(Target.id == target.id).values(url="http://x/"))
        elsewhere.join(10)
        assert committed.is_set()
        with mine.session() as s:
            assert dict(s.execute(select(Target.name, Target.url)).all()) == {
                "mine": "http://x/", "other": "http://127.0.0.1/b"}
    finally:
        mine.close()
        other.close()


def test_rounds_are_read_through_the_store(store) -> None:
    """The scheduler's log and a worker's "is this my coordinator's round" ask the store,
    not its tables."""
    assert (store.last_round_id(), store.rounds_since(0), store.round_at(1)) == (0, [], None)
    first, _ = open_round(store)
    store.finish_round(first, {"captures": 3})
    second, _ = open_round(store, AT + timedelta(days=1))
    assert store.last_round_id() == second
    assert store.round_at(first) == AT and store.round_at(second + 1) is None
    since = store.rounds_since(first)
    assert [(rid, status) for rid, status, _ in since] == [(second, "running")]
    assert [stats.get("captures") for _, _, stats in store.rounds_since(0)][0] == 3
