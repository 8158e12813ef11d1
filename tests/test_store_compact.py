"""The compact store on SQLite and PostgreSQL: bodies as deltas against their URL's keyframe
(every version reads back byte-exact, prefixes too, never through a chain), link lists
stored once per distinct list, and a store of the older layout upgraded to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, delete, select, update

from snapshots import blobs as blobcodec
from snapshots import open_store
from snapshots.errors import StoreError
from snapshots.models import Blob, Capture, LinkSet
from snapshots.records import NewCapture
from snapshots.repo import KEYFRAME_EVERY, Store
from takedown.cli import cli

AT = datetime(2021, 3, 15, tzinfo=UTC)
URL = "http://127.0.0.1/page"
ARTICLE = "".join(f"<p>paragraph {i} of an article that stays the same</p>" for i in range(80))


def page(n: int, extra: str = "") -> bytes:
    """A page whose visit counter and token change every round."""
    return (f"<html><body><div>visits: {1000 + 7 * n}</div><input value='tok{n * 7919}'>"
            f"{ARTICLE}{extra}</body></html>").encode()


def record(store: Store, day: int, body: bytes, url: str = URL, text: str | None = None,
           links: tuple = ()) -> str:
    at = AT + timedelta(days=day)
    ids = store.ensure_targets([("t", "http://127.0.0.1/", {})])
    rid = store.begin_round(at)
    store.record_capture(rid, ids["t"], at, NewCapture(
        target="t", url=url, depth=0, via="seed", fetched_at=at, status=200, final_url=url,
        body=body, text=body.decode("utf-8", "replace") if text is None else text,
        links=links))
    store.finish_round(rid, {})
    with store.session() as s:
        return s.scalar(select(Capture.body_sha256).where(Capture.round_id == rid))


def blob_rows(store: Store) -> dict[str, tuple[str, str | None, int]]:
    with store.session() as s:
        return {sha: (codec, base, len(data)) for sha, codec, base, data in s.execute(
            select(Blob.sha256, Blob.codec, Blob.base_sha256, Blob.data))}


def test_versions_are_deltas_and_read_back_exact(store: Store, db_url: str) -> None:
    shas = [record(store, day, page(day)) for day in range(5)]
    rows = blob_rows(store)
    assert [rows[s][0] for s in shas] == ["zstd"] + ["zdelta"] * 4
    assert all(rows[s][1] == shas[0] for s in shas[1:])
    assert all(rows[s][2] < 120 for s in shas[1:]), rows   # a counter and a token
    fresh = open_store(db_url=db_url)
    try:    # an empty keyframe cache: the base is read from the database
        for day, sha in enumerate(shas):
            assert fresh.blob(sha) == page(day)
            assert fresh.blob(sha, 100) == page(day)[:100]
    finally:
        fresh.close()
    assert store.integrity_problems() == []


def test_a_new_keyframe_every_n_versions(store: Store) -> None:
    shas = [record(store, day, page(day)) for day in range(2 * KEYFRAME_EVERY + 1)]
    rows = blob_rows(store)
    full = [day for day, s in enumerate(shas) if rows[s][0] == "zstd"]
    assert full == [0, KEYFRAME_EVERY, 2 * KEYFRAME_EVERY]


def test_keyframes_survive_a_new_process(store: Store, db_url: str) -> None:
    """Each crawl is a process of its own: preload finds the URL's keyframe and how many
    deltas it already has."""
    shas = [record(store, 0, page(0))]
    for day in range(1, KEYFRAME_EVERY + 2):
        other = open_store(db_url=db_url)
        try:
            other.preload([1])
            shas.append(record(other, day, page(day)))
        finally:
            other.close()
    rows = blob_rows(store)
    assert [d for d, s in enumerate(shas) if rows[s][0] == "zstd"] == [0, KEYFRAME_EVERY]


def test_a_rewritten_page_is_stored_full(store: Store) -> None:
    record(store, 0, page(0))
    other = "".join(f"<li>entirely new item {i * 31}</li>" for i in range(300)).encode()
    sha = record(store, 1, other)
    assert blob_rows(store)[sha][:2] == ("zstd", None)
    assert store.blob(sha) == other


def test_identical_bodies_one_row_and_text_blobs(store: Store) -> None:
    gbk = ("军民融合发展 " * 300 + "访问量 1").encode("gb18030")
    for day in range(3):
        record(store, day, page(1), url="http://127.0.0.1/same")
    assert store.count(Blob) == 1
    shas = []
    for day in range(3):
        body = gbk.replace(b"1", str(day + 1).encode())
        shas.append(record(store, day, body, url="http://127.0.0.1/gbk",
                           text=body.decode("gb18030")))
    with store.session() as s:
        texts = s.scalars(select(Capture.text_sha256).where(Capture.body_sha256.in_(shas))
                          .order_by(Capture.id)).all()
    rows = blob_rows(store)
    assert [rows[t][0] for t in texts] == ["zstd", "zdelta", "zdelta"]
    assert rows[texts[2]][1] == texts[0]          # the text's own keyframe, not the body's
    for day, (sha, t) in enumerate(zip(shas, texts, strict=True)):
        body = gbk.replace(b"1", str(day + 1).encode())
        assert store.blob(sha) == body
        assert store.blob(t).decode("utf-8") == body.decode("gb18030")


def test_a_read_decodes_at_most_two_frames(store: Store) -> None:
    for day in range(KEYFRAME_EVERY + 3):
        record(store, day, page(day, "<p>more</p>" * day))
    rows = blob_rows(store)
    for codec, base, _n in rows.values():
        if codec == "zdelta":
            assert rows[base][0] == "zstd" and rows[base][1] is None


def test_equal_link_lists_share_one_set(store: Store) -> None:
    links = tuple((f"http://127.0.0.1/a/{i}", f"item {i}") for i in range(40))
    for day in range(3):
        record(store, day, page(day), links=links)
    record(store, 3, page(3), links=links[1:])
    record(store, 4, page(4), url="http://127.0.0.1/other", links=links)
    assert store.count(LinkSet) == 2
    # round ids from 1: round 5 holds /other alone, which has no earlier capture
    assert list(store.link_pairs(5)) == []
    (url, old, new), = store.link_pairs(4)
    assert url == URL and len(old) == 40 and new == [(t, u) for u, t in links[1:]]
    again = store.round_fetch(1, URL)
    assert again is not None and again.links == links


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 60),
                          st.binary(max_size=80)), min_size=1, max_size=20),
       st.integers(1, 4000))
def test_random_edits_read_back_exact(tmp_path_factory, edits, limit) -> None:
    store = open_store(tmp_path_factory.mktemp("edits"))
    try:
        body = bytes(range(256)) * 8 + ARTICLE.encode()
        versions = []
        for day, (at, cut, insert) in enumerate(edits):
            at %= len(body) + 1
            body = body[:at] + insert + body[at + cut:]
            versions.append((record(store, day, body, text=""), body))
        fresh = Store(store.engine)
        for sha, want in versions:
            assert fresh.blob(sha) == want
            assert fresh.blob(sha, limit) == want[:limit]
        assert store.integrity_problems() == []
    finally:
        store.close()


# -- link sets as deltas -----------------------------------------------------------------


def listing(day: int, token: str = "") -> tuple[tuple[str, str], ...]:
    """A listing page's links on *day*: a new item on top each day, a reply counter in an
    anchor, a token in a URL."""
    items = tuple((f"http://127.0.0.1/item/{blobcodec.sha256_hex(bytes([i]))[:16]}",
                   f"{blobcodec.sha256_hex(b'%d' % i)[:20]} ({day if i == 5 else 0} replies)")
                  for i in range(day + 40, 0, -1))
    return (("http://127.0.0.1/login?tok=" + (token or f"t{day * 7919}"), "log in"), *items)


def set_rows(store: Store) -> dict[str, tuple[tuple[str, int] | None, int]]:
    """link set key → (its (base, nth) or None when full, stored bytes)."""
    with store.session() as s:
        return {sha: (blobcodec.links_base(bytes(data)), len(data)) for sha, data in
                s.execute(select(LinkSet.sha256, LinkSet.data))}


def links_of(store: Store, day: int, url: str = URL) -> tuple:
    fetched = store.round_fetch(day + 1, url)
    assert fetched is not None
    return fetched.links


def test_link_sets_are_deltas_against_a_full_set(store: Store, db_url: str) -> None:
    days = 2 * KEYFRAME_EVERY + 1
    for day in range(days):
        record(store, day, page(day), links=listing(day))
    rows = set_rows(store)
    assert len(rows) == days
    full = {sha for sha, (base, _n) in rows.items() if base is None}
    assert len(full) == 3                       # every KEYFRAME_EVERY sets
    for base, size in rows.values():
        if base is not None:
            assert base[0] in full and 1 <= base[1] < KEYFRAME_EVERY
            assert size * 2 <= rows[base[0]][1], rows     # new items, a counter, a token
    fresh = open_store(db_url=db_url)           # no cached bases: read from the database
    try:
        assert [links_of(fresh, d) for d in range(days)] == [listing(d) for d in range(days)]
        pairs = list(fresh.link_pairs(days))
        assert pairs == [(URL, [(t, u) for u, t in listing(days - 2)],
                          [(t, u) for u, t in listing(days - 1)])]
    finally:
        fresh.close()
    assert store.integrity_problems() == []


def test_link_set_deltas_survive_a_new_process(store: Store, db_url: str) -> None:
    record(store, 0, page(0), links=listing(0))
    for day in range(1, KEYFRAME_EVERY + 2):
        other = open_store(db_url=db_url)
        try:
            other.preload([1])
            record(other, day, page(day), links=listing(day))
        finally:
            other.close()
    with store.session() as s:     # in the order written
        nth = [(blobcodec.links_base(bytes(d)) or ("", 0))[1] for d in s.scalars(
            select(LinkSet.data).join(Capture).order_by(Capture.round_id))]
    assert nth == [0, *range(1, KEYFRAME_EVERY), 0, 1]


def test_a_rewritten_link_list_is_stored_full(store: Store) -> None:
    record(store, 0, page(0), links=listing(0))
    other = tuple((f"http://127.0.0.1/x/{i * 37}", f"new {i}") for i in range(60))
    record(store, 1, page(1), links=other)
    assert sum(base is None for base, _n in set_rows(store).values()) == 2
    assert links_of(store, 1) == other


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 80), st.integers(0, 5),
                          st.lists(st.tuples(st.text(max_size=30), st.text(max_size=20)),
                                   max_size=4)), min_size=1, max_size=24))
def test_random_link_lists_read_back_exact(tmp_path_factory, edits) -> None:
    store = open_store(tmp_path_factory.mktemp("links"))
    try:
        links = list(listing(3))
        versions = []
        for day, (at, cut, insert) in enumerate(edits):
            links[at:at + cut] = [(f"http://127.0.0.1/{u}", t) for u, t in insert]
            record(store, day, page(day), links=tuple(links))
            versions.append(tuple(links))
        fresh = Store(store.engine)
        assert [links_of(fresh, d) for d in range(len(versions))] == versions
        for base, _n in set_rows(store).values():
            assert base is None or set_rows(store)[base[0]][0] is None
        assert store.integrity_problems() == []
    finally:
        store.close()


def test_a_link_set_chain_deeper_than_two_is_refused(store: Store) -> None:
    """A read decodes a delta and its base, never more: a delta whose base is a delta
    (never written, only by damage) is an error, not a longer walk."""
    for day in range(3):
        record(store, day, page(day), links=listing(day))
    rows = set_rows(store)
    (first,) = [sha for sha, (base, _n) in rows.items() if base is None]
    second, third = (sha for sha, (base, _n) in rows.items() if base is not None)
    with store.session() as s:
        data = {sha: bytes(d) for sha, d in s.execute(select(LinkSet.sha256, LinkSet.data))}
    raw = blobcodec.links_json(links_of(store, 1))
    chained = blobcodec.pack_links_delta(blobcodec.links_json(links_of(store, 2)),
                                         blobcodec.sha256_hex(raw), raw, 1)
    assert blobcodec.sha256_hex(raw) in (second, third) and first not in (second, third)
    key = third if blobcodec.sha256_hex(raw) == second else second
    with store.writing() as s:
        s.execute(update(LinkSet).where(LinkSet.sha256 == key).values(data=chained))
    fresh = Store(store.engine)
    with pytest.raises(StoreError, match="is a delta itself"):
        fresh.link_set(key)
    assert any(p.startswith(f"link set {key}:") for p in fresh.integrity_problems())
    assert data[first][:4] == b"\x28\xb5\x2f\xfd"      # full sets: a bare zstd frame


def test_check_finds_a_damaged_delta_link_set(store: Store, db_url: str) -> None:
    for day in range(2):
        record(store, day, page(day), links=listing(day))
    rows = set_rows(store)
    (delta,) = [sha for sha, (base, _n) in rows.items() if base is not None]
    (base,) = [sha for sha in rows if sha != delta]
    store.close()
    with Store(create_engine(db_url)).writing() as s:
        stored = s.scalar(select(LinkSet.data).where(LinkSet.sha256 == delta))
        s.execute(update(LinkSet).where(LinkSet.sha256 == delta)
                  .values(data=bytes(stored)[:-6] + b"broken"))
    code, lines = check(db_url)
    assert code == 1 and lines == [f"link set {delta[:12]}…: cannot be decoded: " +
                                   lines[0].split(": ", 2)[2]], lines
    with Store(create_engine(db_url)).writing() as s:
        s.execute(update(LinkSet).where(LinkSet.sha256 == delta).values(data=stored))
        s.execute(update(Capture).where(Capture.links_sha256 == base).values(links_sha256=None))
        s.execute(delete(LinkSet).where(LinkSet.sha256 == base))
    code, lines = check(db_url)
    assert code == 1 and lines == [f"link set {delta[:12]}…: its base {base[:12]}… is "
                                   f"missing, damaged or not full [{delta}]"], lines


def check(db_url: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, ["--db", db_url, "check"], catch_exceptions=False)
    return result.exit_code, result.stdout.splitlines()


# -- keyframes against a sibling -----------------------------------------------------------


def sibling_page(url: str, n: int) -> bytes:
    """A page of the site's template: the same header, footer and sidebar as every other
    page, its own article."""
    own = "".join(f"<p>{url} says {i * 13} things</p>" for i in range(10))
    return page(n, own).replace(b"<body>", b"<body>" + NAV)


NAV = "".join(f"<a href='/s/{i}'>section {i} of the site's navigation</a>"
              for i in range(60)).encode()


def test_keyframes_delta_against_a_sibling_and_read_back(store: Store, db_url: str) -> None:
    urls = [f"http://127.0.0.1/p/{k}" for k in range(3)]
    shas = {(u, d): record(store, d, sibling_page(u, d), url=u)
            for d in range(3) for u in urls}
    rows = blob_rows(store)
    first = shas[(urls[0], 0)]
    assert rows[first][:2] == ("zstd", None)
    for u in urls[1:]:                  # a new URL's first version: against a sibling
        codec, base, size = rows[shas[(u, 0)]]
        assert codec == "zsibling" and rows[base][:2] == ("zstd", None), rows
        assert size * 2 < len(blobcodec.pack(sibling_page(u, 0))[2])
        for d in (1, 2):                # its later versions: against that keyframe
            assert rows[shas[(u, d)]][:2] == ("zdelta", shas[(u, 0)])
    assert chain_lengths(rows) <= 3
    fresh = open_store(db_url=db_url)
    try:
        for (u, d), sha in shas.items():
            assert fresh.blob(sha) == sibling_page(u, d)
            assert fresh.blob(sha, 50) == sibling_page(u, d)[:50]
    finally:
        fresh.close()
    assert store.integrity_problems() == []
    code, lines = check(db_url)
    assert code == 0, lines


def test_a_new_process_finds_a_sibling(store: Store, db_url: str) -> None:
    record(store, 0, sibling_page("http://127.0.0.1/p/0", 0), url="http://127.0.0.1/p/0")
    other = open_store(db_url=db_url)
    try:
        other.preload([1])
        sha = record(other, 1, sibling_page("http://127.0.0.1/p/1", 1),
                     url="http://127.0.0.1/p/1")
    finally:
        other.close()
    assert blob_rows(store)[sha][0] == "zsibling"


def test_old_layout_writes_no_sibling(db_url: str) -> None:
    old = Store(create_engine(db_url), delta=False)
    try:
        from snapshots.db import Base
        Base.metadata.create_all(old.engine)
        for k in range(2):
            record(old, k, sibling_page(f"http://127.0.0.1/p/{k}", k),
                   url=f"http://127.0.0.1/p/{k}")
        assert {codec for codec, _b, _n in blob_rows(old).values()} == {"zstd"}
    finally:
        old.close()


def chain_lengths(rows: dict[str, tuple[str, str | None, int]]) -> int:
    """The most frames any blob's read decodes."""
    def frames(sha: str) -> int:
        base = rows[sha][1]
        return 1 if base is None else 1 + frames(base)
    return max(frames(sha) for sha in rows)


def test_a_blob_chain_deeper_than_three_is_refused(store: Store) -> None:
    urls = [f"http://127.0.0.1/p/{k}" for k in range(2)]
    for d in range(2):
        for u in urls:
            record(store, d, sibling_page(u, d), url=u)
    rows = blob_rows(store)
    (sib,) = [sha for sha, (codec, _b, _n) in rows.items() if codec == "zsibling"]
    (version,) = [sha for sha, (_c, base, _n) in rows.items() if base == sib]
    full = rows[sib][1]
    assert chain_lengths(rows) == 3
    # damage: the full keyframe made a delta of the version, a cycle no writer makes
    with store.writing() as s:
        s.execute(update(Blob).where(Blob.sha256 == full)
                  .values(codec="zdelta", base_sha256=version))
    fresh = Store(store.engine)
    with pytest.raises(StoreError, match="more than three frames"):
        fresh.blob(version)
    assert any(p.startswith(f"blob {version}:") for p in fresh.integrity_problems())
