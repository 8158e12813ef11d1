"""``takedown export-warc``: the store's captures as a gzip WARC 1.1 file (warcio).

One ``warcinfo`` record first, then every capture in the order of its round stamp and
fetch time:

* a capture with a response (any HTTP status) → one ``response`` record at its final URL,
  its HTTP block rebuilt from the stored status, headers and body.  The body is stored
  already decoded of its Content-Encoding, so ``Content-Encoding``, ``Transfer-Encoding``
  and ``Content-Length`` are replaced (``Content-Length`` is the stored length) and the
  values the server sent are kept as ``X-Takedown-Orig-…`` headers.  A body whose payload
  digest was already written becomes a ``revisit`` record (profile
  identical-payload-digest, naming the first record's URI and date) instead;
* each hop of its redirect chain → a ``response`` with the hop's 3xx status and a
  ``Location`` to the next hop, so the chain replays; a hop that was a meta refresh
  (status 0: no response of its own was kept) → a ``metadata`` record saying so;
* a failed fetch (no response: timeout, dns, refused, robots …) → a ``metadata`` record
  (``application/json``: error kind, message, attempts), never a response.

Every record but the warcinfo carries ``WARC-Date`` = the capture's own fetch time and the
``WARC-Takedown-Round`` (the round's stamp), ``-Target``, ``-Capture`` (its id), ``-Url``
(the URL as watched, before redirects and learned session parameters), ``-Via``,
``-Depth``, ``-Role`` (``page`` or ``probe``: the not-found probes are fetches too, so they
are exported) and, with a body, ``-Sha256`` (our key of the body); ``import-warc`` reads
them back, so an export re-imports capture for capture.  A body cut off by a lost
connection is ``WARC-Truncated: disconnect``; one cut at the size cap ``length``.  Bodies
are read one at a time.
Imports ``snapshots`` and warcio.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from io import BytesIO
from typing import Any, BinaryIO

from sqlalchemy import select
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from snapshots.errors import TakedownError
from snapshots.models import Capture, Target, Url, Verdict
from snapshots.repo import Store, as_utc

SOFTWARE = "takedown"
# headers that describe the bytes on the wire, not the stored (decoded) body
WIRE_HEADERS = ("content-encoding", "transfer-encoding", "content-length")
ORIG_PREFIX = "X-Takedown-Orig-"


@dataclass
class ExportCounts:
    """What one export wrote, by record type."""

    responses: int = 0
    revisits: int = 0
    metadata: int = 0
    redirects: int = 0
    captures: list[int] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.captures)} captures: {self.responses} responses, "
                f"{self.revisits} revisits, {self.redirects} redirects, "
                f"{self.metadata} metadata")


@dataclass(frozen=True)
class Selection:
    """Which captures go out: target names, round stamps (both inclusive), capture ids."""

    targets: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    capture_ids: tuple[int, ...] | None = None


def parse_bound(value: str | None, option: str, end: bool) -> datetime | None:
    """``--since``/``--until``: a day (``YYYY-MM-DD``, its whole day) or an ISO-8601 stamp.

    >>> parse_bound("2021-03-20", "--until", end=True).isoformat()
    '2021-03-20T23:59:59.999999+00:00'
    >>> parse_bound("2021-03-20T08:00:00Z", "--since", end=False).isoformat()
    '2021-03-20T08:00:00+00:00'
    """
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1, microseconds=-1) if end else start
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError) as exc:
        raise TakedownError(f"{option}: not a day (YYYY-MM-DD) or an ISO-8601 time: "
                            f"{value!r}") from exc
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def warc_date(at: datetime) -> str:
    """A WARC 1.1 date (UTC, microseconds)."""
    return datetime_to_iso_date(as_utc(at).replace(tzinfo=None), use_micros=True)


def payload_digest(body: bytes) -> str:
    """``sha1:BASE32``, as warcio writes ``WARC-Payload-Digest``."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def _captures(store: Store,
              sel: Selection) -> Iterator[tuple[Capture, str, int, str, str]]:
    q = (select(Capture, Url.url, Url.depth, Url.role, Target.name)
         .join(Url, Url.id == Capture.url_id)
         .join(Target, Target.id == Capture.target_id)
         .order_by(Capture.captured_at, Capture.fetched_at, Capture.id))
    if sel.targets:
        q = q.where(Target.name.in_(sel.targets))
    if sel.since is not None:
        q = q.where(Capture.captured_at >= sel.since)
    if sel.until is not None:
        q = q.where(Capture.captured_at <= sel.until)
    if sel.capture_ids is not None:
        q = q.where(Capture.id.in_(sel.capture_ids))
    with store.session() as s:
        for c, url, depth, role, target in s.execute(q.execution_options(yield_per=200)):
            s.expunge(c)
            yield c, url, depth, role, target


class WarcExport:
    """Writes captures to *out* (a binary file) as gzip WARC 1.1 records."""

    def __init__(self, store: Store, out: BinaryIO) -> None:
        self.store, self.writer = store, WARCWriter(out, gzip=True, warc_version="1.1")
        self.seen: dict[str, tuple[str, str]] = {}   # payload digest → (URI, WARC-Date)
        self.counts = ExportCounts()

    def warcinfo(self, filename: str, about: str) -> None:
        self.writer.write_record(self.writer.create_warcinfo_record(filename, {
            "software": SOFTWARE, "format": "WARC File Format 1.1",
            "isPartOf": about, "description": "captures of a takedown store"}))

    def run(self, sel: Selection) -> ExportCounts:
        for c, url, depth, role, target in _captures(self.store, sel):
            self.capture(c, url, depth, role, target)
        return self.counts

    def capture(self, c: Capture, url: str, depth: int, role: str, target: str) -> None:
        common = {"WARC-Date": warc_date(c.fetched_at),
                  "WARC-Takedown-Round": as_utc(c.captured_at).isoformat(),
                  "WARC-Takedown-Target": target, "WARC-Takedown-Capture": str(c.id),
                  "WARC-Takedown-Role": role, "WARC-Takedown-Url": url,
                  "WARC-Takedown-Via": c.via, "WARC-Takedown-Depth": str(depth)}
        self.counts.captures.append(c.id)
        if c.status is None:
            self._failure(c, url, common)
            return
        hops = [(int(st), u) for st, u in c.redirects or ()]
        for i, (status, hop) in enumerate(hops):
            to = hops[i + 1][1] if i + 1 < len(hops) else (c.final_url or url)
            self._hop(status, hop, to, common)
        self._response(c, c.final_url or url, common)

    def _hop(self, status: int, uri: str, to: str, common: dict[str, str]) -> None:
        self.counts.redirects += 1
        if not 300 <= status < 400:   # a meta refresh: its page was not kept
            self._metadata(uri, {"redirect": "meta refresh", "location": to}, common)
            return
        http = StatusAndHeaders(_status_line(status), [("Location", to), ("Content-Length", "0")],
                                protocol="HTTP/1.1")
        self.writer.write_record(self.writer.create_warc_record(
            uri, "response", payload=BytesIO(), length=0, http_headers=http,
            warc_headers_dict=dict(common)))

    def _response(self, c: Capture, uri: str, common: dict[str, str]) -> None:
        body = b"" if c.body_sha256 is None else self.store.blob(c.body_sha256)
        http = StatusAndHeaders(_status_line(c.status), _http_headers(c.headers or {}, len(body)),
                                protocol="HTTP/1.1")
        headers = dict(common)
        if c.body_sha256 is not None:
            headers["WARC-Takedown-Sha256"] = c.body_sha256
        if c.error_kind == "dataloss":   # the connection was lost inside the body
            headers["WARC-Truncated"] = "disconnect"
        elif c.truncated:
            headers["WARC-Truncated"] = "length"
        digest = payload_digest(body)
        first = self.seen.get(digest)
        if first is not None and body:
            self.counts.revisits += 1
            record = self.writer.create_revisit_record(uri, digest, first[0], first[1],
                                                       http_headers=http,
                                                       warc_headers_dict=headers)
        else:
            self.counts.responses += 1
            self.seen.setdefault(digest, (uri, headers["WARC-Date"]))
            record = self.writer.create_warc_record(uri, "response", payload=BytesIO(body),
                                                    length=len(body), http_headers=http,
                                                    warc_headers_dict=headers)
        self.writer.write_record(record)

    def _failure(self, c: Capture, uri: str, common: dict[str, str]) -> None:
        self._metadata(c.final_url or uri, {
            "fetch": "failed", "url": uri, "error_kind": c.error_kind, "error": c.error,
            "attempts": c.attempts, "elapsed_ms": c.elapsed_ms,
            "redirects": [list(r) for r in c.redirects or ()]}, common)

    def _metadata(self, uri: str, facts: dict[str, Any], common: dict[str, str]) -> None:
        self.counts.metadata += 1
        data = json.dumps(facts, ensure_ascii=False, sort_keys=True).encode("utf-8")
        self.writer.write_record(self.writer.create_warc_record(
            uri, "metadata", payload=BytesIO(data), length=len(data),
            warc_content_type="application/json", warc_headers_dict=dict(common)))


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _http_headers(stored: dict[str, str], length: int) -> list[tuple[str, str]]:
    """The stored headers made true of the stored body: the wire's length and codings
    become ``X-Takedown-Orig-…``, ``Content-Length`` the body's length."""
    out = []
    for name, value in stored.items():
        if name.lower() in WIRE_HEADERS:
            out.append((ORIG_PREFIX + name.title(), value))
        else:
            out.append((name.title(), value.replace("\r", " ").replace("\n", " ")))
    out.append(("Content-Length", str(length)))
    return out


def export_warc(store: Store, out: BinaryIO, sel: Selection, *, filename: str,
                about: str) -> ExportCounts:
    """Write the warcinfo record and every selected capture to *out*."""
    export = WarcExport(store, out)
    export.warcinfo(filename, about)
    return export.run(sel)


# -- what an evidence package names (reports.evidence) ------------------------------------


def capture_facts(store: Store, ids: list[int]) -> dict[int, dict]:
    """Each capture of *ids*: URL, target, times, status, hashes and detection's verdict."""
    q = (select(Capture, Url.url, Target.name, Verdict)
         .join(Url, Url.id == Capture.url_id).join(Target, Target.id == Capture.target_id)
         .outerjoin(Verdict, Verdict.capture_id == Capture.id).where(Capture.id.in_(ids)))
    with store.session() as s:
        rows = s.execute(q).all()
    return {c.id: {
        "capture_id": c.id, "url": url, "final_url": c.final_url, "target": target,
        "captured_at": as_utc(c.captured_at).isoformat(),
        "fetched_at": as_utc(c.fetched_at).isoformat(), "status": c.status,
        "body_sha256": c.body_sha256, "text_sha256": c.text_sha256, "size": c.size,
        "truncated": c.truncated, "error_kind": c.error_kind,
        "verdict": None if v is None else {"state": v.state, "kind": v.kind, "rule": v.rule,
                                           "detail": v.detail or {}},
        # a browser capture's own HTTP body and its screenshot, where it has them
        **{k: sha for k, sha in (("raw_sha256", c.raw_sha256),
                                 ("screenshot_sha256", c.screenshot_sha256)) if sha}}
        for c, url, target, v in rows}


def captures_at(store: Store, url: str, stamps: list[datetime]) -> dict[datetime, int]:
    """The capture of *url* (as watched, any target) in the round of each stamp, where
    there is one: the first by id."""
    q = (select(Capture.captured_at, Capture.id).join(Url, Url.id == Capture.url_id)
         .where(Url.url == url, Capture.captured_at.in_(stamps)).order_by(Capture.id))
    out: dict[datetime, int] = {}
    with store.session() as s:
        for at, cid in s.execute(q):
            out.setdefault(as_utc(at), cid)
    return out


def text_blob(store: Store, sha256: str | None) -> bytes | None:
    """A stored text (or body) by key, or None."""
    if sha256 is None:
        return None
    try:
        return store.blob(sha256)
    except KeyError:
        return None
