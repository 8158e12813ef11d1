"""The viewer and reports read at most ``READ_CAP`` bytes of one capture, whatever the store
holds: a store crawled with ``max_size = 0`` may hold a body of gigabytes, and a page view or
a report must not decode it whole.  On SQLite and on the real PostgreSQL server (the stored
prefix is cut in SQL), with Python's own allocation tracer as the measure of what one read
holds."""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import lxml.html
import pytest
from starlette.testclient import TestClient

from reports.viewer import create_app
from snapshots import browse, open_store, reporting
from snapshots.blobs import READ_CAP, pack, stored_prefix, unpack
from snapshots.records import NewCapture

AT = datetime(2024, 3, 1, tzinfo=UTC)
URL = "http://127.0.0.1:9/huge"
MIB = 1 << 20
HUGE = 12 * READ_CAP     # bytes of the huge page (compresses to well under 1 MiB)
LINE = "<p>the same paragraph, again and again</p>\n"


def huge_page(tail: str) -> str:
    head = "<html><head><title>Huge</title></head><body>\n"
    return head + LINE * ((HUGE - len(head)) // len(LINE)) + tail + "</body></html>"


def peak(call: Callable[[], object]) -> tuple[object, int]:
    """What *call* returns, and the most Python memory it held at once."""
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
def huge(db_url: str):
    """A store with two captures of a page of HUGE bytes (the second lost its tail)."""
    store = open_store(db_url=db_url)
    target_id = store.ensure_targets([("huge", URL, {})])["huge"]
    ids = []
    for day, tail in enumerate(("<p>The tail the crawl kept.</p>", "")):
        html = huge_page(tail)
        rid = store.begin_round(AT + timedelta(days=day))
        ids.append(store.record_capture(rid, target_id, AT, NewCapture(
            target="huge", url=URL, depth=0, via="seed", fetched_at=AT + timedelta(days=day),
            status=200, final_url=URL, redirects=(), body=html.encode(), text=html,
            content_type="text/html; charset=utf-8", headers={})).capture_id)
        store.finish_round(rid, {})
    yield store, ids
    store.close()


def test_a_capture_is_read_as_its_head_only(huge) -> None:
    store, (first, _second) = huge
    cap, held = peak(lambda: browse.capture_body(store, first))
    assert cap.size > HUGE - MIB and cap.clipped
    assert len(cap.body) == READ_CAP and cap.body == huge_page("").encode()[:READ_CAP]
    assert len(cap.text.encode()) <= READ_CAP and cap.text.startswith("<html><head><title>")
    assert held < 6 * READ_CAP, f"held {held / MIB:.0f} MiB reading a {HUGE / MIB:.0f} MiB page"


def test_the_raw_body_comes_as_its_head_and_says_so(huge) -> None:
    store, (first, _second) = huge
    with TestClient(create_app(store), base_url="http://127.0.0.1") as client:
        r, held = peak(lambda: client.get(f"/captures/{first}/raw"))
    assert r.status_code == 200 and len(r.content) == READ_CAP
    size = browse.capture_body(store, first).size
    assert r.headers["x-takedown-clipped"] == f"first {READ_CAP} of {size} bytes"
    assert held < 6 * READ_CAP, f"held {held / MIB:.0f} MiB serving a {HUGE / MIB:.0f} MiB body"


def test_the_comparison_page_says_what_it_shows(huge) -> None:
    store, (first, second) = huge
    url_id = browse.capture_body(store, first).url_id
    with TestClient(create_app(store), base_url="http://127.0.0.1") as client:
        r = client.get(f"/compare/{url_id}", params={"a": first, "b": second})
    assert r.status_code == 200
    shown = lxml.html.document_fromstring(r.text).xpath("//tr[@class='clipped']/td")
    assert len(shown) == 2 and f"{READ_CAP:,}" in shown[0].text_content()
    # the tail lies beyond the cap on both sides: the heads compare equal
    assert "The tail the crawl kept" not in r.text


def test_reports_read_a_page_as_its_head(huge) -> None:
    store, (first, _second) = huge
    sha = reporting.capture_text_keys(store, [first])[first]
    found, held = peak(lambda: list(reporting.texts(store, [sha])))
    assert [len(text) for _, text in found] == [READ_CAP]
    assert held < 6 * READ_CAP, f"held {held / MIB:.0f} MiB reading a {HUGE / MIB:.0f} MiB text"


@pytest.mark.parametrize("size", [0, 100, READ_CAP - 1, READ_CAP, READ_CAP + 1, 3 * READ_CAP])
@pytest.mark.parametrize("kind", ["text", "random"])
def test_a_stored_prefix_decodes_to_the_blobs_head(size: int, kind: str) -> None:
    """zstd read from a cut stored prefix: the first bytes exactly, also of incompressible
    data, where the stored form is longer than the data."""
    data = (LINE.encode() * (size // len(LINE) + 1))[:size] if kind == "text" else \
        random.Random(size).randbytes(size)
    _, codec, stored = pack(data)
    head = unpack(codec, stored[:stored_prefix(READ_CAP)], READ_CAP)
    assert head == data[:READ_CAP]
    assert unpack("raw", data, READ_CAP) == data[:READ_CAP]
