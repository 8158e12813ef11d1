"""Reading web archives for ``takedown import-warc``: WARC and ARC files, WACZ packages.

`sources` lists the archives of the files given (a ``.wacz`` is a zip: every
``archive/*.warc``, ``*.warc.gz``, ``*.arc`` or ``*.arc.gz`` in it), `scan` reads one archive
once with warcio's ``ArchiveIterator`` (``arc2warc=True``, so an ARC reads as WARC) and
indexes its ``response`` and ``revisit`` records as `Entry`s: where they are (offset), what
they say (URL, WARC-Date, status, Location, digest, what a revisit refers to) but not their
payload, which `load` reads again by offset when the record is imported.  ``request``
records only lend their method to the response they go with; every other record type is
skipped and counted.  A file that breaks (a cut-off or mis-chunked gzip, garbage after a
record) keeps the records read before the break, and the break is noted with its offset and
warcio's message.  warcio's own warnings (a record not followed by a newline, spaces
replaced in a WARC-Target-URI) are caught and kept as notes, not printed.

Imports ``snapshots.urls`` and ``snapshots.inputs`` only.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import logging
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader

from snapshots.inputs import UnreadableInput, open_regular
from snapshots.urls import normalize_url

if TYPE_CHECKING:
    from collections.abc import Iterator

    from warcio.recordloader import ArcWarcRecord
    from warcio.statusandheaders import StatusAndHeaders

__all__ = ["Breakable", "Entry", "Scan", "Source", "load", "method_of", "parse_stamp", "scan",
           "sources", "warcio_warnings"]

READ = 64 * 1024
PIECE = 4096      # bytes a `Breakable` read asks of its stream at a time
UNKNOWN = "record of no type"
# what random bytes read as ARC records yield; a file of nothing else is no archive
JUNK = frozenset({UNKNOWN, "not an http(s) URL", "not an HTTP response"})
VIAS = frozenset({"seed", "link", "revisit", "probe", "import"})   # NewCapture.via
NOT_MEMBERS = "non-chunked gzip file detected"   # warcio's words for a file gzipped whole
_MEMBER = re.compile(r"archive/[^/]+\.(warc|arc)(\.gz)?", re.IGNORECASE)
# records before 1970 or after 8999 cannot be stamped (the CLI's round-stamp range)
FIRST, END = datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)
FUTURE = timedelta(days=1)   # a record dated later than now by more than this was no capture


@dataclass(frozen=True)
class Source:
    """One archive: a file, or a member of a WACZ package (*member* set)."""

    path: Path
    member: str | None = None
    whole_gzip: bool = False   # one gzip stream of records, read decompressed


    @property
    def name(self) -> str:
        return f"{self.path.name}!{self.member}" if self.member else self.path.name

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        with contextlib.ExitStack() as stack:
            fh: IO[bytes] = stack.enter_context(open_regular(self.path))
            if self.member is not None:
                zf = stack.enter_context(zipfile.ZipFile(fh))
                fh = stack.enter_context(zf.open(self.member))
            if self.whole_gzip:
                fh = stack.enter_context(gzip.GzipFile(fileobj=fh, mode="rb"))
            yield fh if self.member is None and not self.whole_gzip else Breakable(fh)


class Breakable:
    """A decompressing stream (a file gzipped whole, a WACZ member) that ends where its
    decompression breaks instead of raising: a gzip stream cut short (an interrupted
    download), a damaged deflate member, a zip member whose CRC does not match.  What came
    before the break reads as usual; `broken` says why the stream ended early.  Seeking
    back (`load` reads an indexed record again) starts afresh."""

    FAILS = (EOFError, zlib.error, zipfile.BadZipFile, gzip.BadGzipFile)

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.broken: str | None = None

    def read(self, n: int = -1) -> bytes:
        # in pieces of one underlying read each (``read1``): a read that meets the break
        # loses only its own piece, not everything a larger read had gathered
        parts: list[bytes] = []
        size = 0
        try:
            while self.broken is None and (n < 0 or size < n):
                piece = self.fh.read1(PIECE if n < 0 else min(PIECE, n - size))  # type: ignore[attr-defined]
                if not piece:
                    break
                parts.append(piece)
                size += len(piece)
        except self.FAILS as exc:
            self.broken = _cause(exc)
        return b"".join(parts)

    def seek(self, offset: int, whence: int = 0) -> int:
        self.broken = None
        try:
            return self.fh.seek(offset, whence)
        except self.FAILS as exc:   # a seek forward decompresses up to the break
            self.broken = _cause(exc)
            return self.fh.tell()

    def tell(self) -> int:
        return self.fh.tell()

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.fh.close()


def sources(path: Path) -> list[Source] | str:
    """The archives in the file at *path*, or why it holds none (a WACZ that is not a zip,
    or has no ``archive/`` WARC, or is no regular file: `open_regular`)."""
    if path.suffix.lower() != ".wacz":
        return [Source(path)]
    try:
        with open_regular(path) as fh, zipfile.ZipFile(fh) as zf:
            names = [n for n in zf.namelist() if _MEMBER.fullmatch(n)]
    except UnreadableInput as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    except (zipfile.BadZipFile, EOFError) as exc:
        return f"not a WACZ package (not a zip file: {exc})"
    if not names:
        return "a WACZ package without archive/*.warc(.gz) files"
    return [Source(path, n) for n in sorted(names)]


@dataclass
class Entry:
    """A response or revisit record, indexed without its payload."""

    source: int            # index into the scanned sources
    offset: int
    number: int            # its place among the archive's records (1: the first)
    seq: int               # order of reading, over every source
    kind: str              # response | revisit | failed (our own export's failure record)
    uri: str               # WARC-Target-URI as written (warcio replaced spaces)
    url: str               # normalised
    at: datetime           # WARC-Date
    status: int | None     # None: a revisit without HTTP headers
    location: str | None
    digest: str | None
    record_id: str | None
    refers_id: str | None = None
    refers_uri: str | None = None
    refers_at: datetime | None = None
    round_at: datetime | None = None     # WARC-Takedown-Round
    truncated: str | None = None         # WARC-Truncated
    concurrent: tuple[str, ...] = ()
    # our own export's WARC-Takedown-Target, -Role and -Capture (the records of one capture:
    # its redirect hops, then its response, share the capture id)
    target: str | None = None
    role: str | None = None
    capture: str | None = None
    via: str | None = None
    depth: int | None = None
    failure: dict | None = None          # a failed fetch: error kind, message, attempts


@dataclass
class Scan:
    """What reading one archive found."""

    source: Source     # as it was read (whole_gzip set when that was needed)
    entries: list[Entry] = field(default_factory=list)
    records: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    # (record number, method) of the request records: by record id (theirs and those they
    # are concurrent to) and by (target URI, WARC-Date); ids repeat in some files, so the
    # request nearest to a response (in records) is its own
    methods: dict[object, list[tuple[int, str]]] = field(default_factory=dict)
    broken: tuple[int, str] | None = None    # (offset, warcio's message)
    end: int = 0                             # where the last whole record ended
    notes: list[str] = field(default_factory=list)
    unreadable: str | None = None            # the file is no archive at all


def parse_stamp(value: str | None) -> datetime | None:
    """A WARC date (ISO-8601, ``Z`` or an offset; naive is UTC) in 1970..8999, else None.

    >>> parse_stamp("2014-01-26T20:06:24Z"), parse_stamp("2014-01-26T20:06:24.5+01:00")
    (datetime.datetime(2014, 1, 26, 20, 6, 24, tzinfo=datetime.timezone.utc), \
datetime.datetime(2014, 1, 26, 19, 6, 24, 500000, tzinfo=datetime.timezone.utc))
    >>> parse_stamp("yesterday"), parse_stamp("1969-12-31T00:00:00Z"), parse_stamp(None)
    (None, None, None)
    """
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return at if FIRST <= at < END else None


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


def _cause(exc: BaseException) -> str:
    """Why reading stopped, on one line: the exception's type and message."""
    return _one_line(f"{type(exc).__name__}: {exc}")


def scan(source: Source, index: int, seq: int = 0) -> Scan:
    """Index the records of *source* (the *index*-th archive; *seq* numbers its entries on
    from earlier archives).  A file gzipped whole rather than a gzip member per record
    (warcio refuses it: "non-chunked gzip file") is read again decompressed, offsets then
    counting decompressed bytes; the scan's ``source`` says how it was read."""
    out = _scan_once(source, index, seq)
    if out.broken is not None and NOT_MEMBERS in out.broken[1] and not source.whole_gzip:
        again = _scan_once(replace(source, whole_gzip=True), index, seq)
        again.notes.insert(0, "one gzip stream rather than a gzip member per record: "
                              "read decompressed (offsets count decompressed bytes)")
        return again
    return out


def _scan_once(source: Source, index: int, seq: int) -> Scan:
    out = Scan(source)
    caught = io.StringIO()
    with contextlib.redirect_stderr(caught), warcio_warnings() as logged:
        try:
            with source.open() as fh:
                _scan(fh, out, index, seq)
                cut = getattr(fh, "broken", None)
            if cut is not None:   # the cause of whatever warcio then made of the rest
                out.broken = (out.end, f"the stream breaks: {cut}")
        except UnreadableInput as exc:
            out.unreadable = str(exc)
        except OSError as exc:
            out.unreadable = f"cannot read: {exc.strerror or exc}"
        except (zipfile.BadZipFile, RuntimeError, EOFError, zlib.error) as exc:
            out.unreadable = f"cannot read: {exc}"   # a damaged or encrypted member
    printed = [n for n in re.split(r"\n(?=\S)", caught.getvalue()) if n.strip()]
    out.notes += [_one_line(n) for n in [*printed, *dict.fromkeys(logged)]]
    # no record read, or "records" (random bytes can pass for ARC header lines) followed
    # by a break with nothing usable in them: no archive
    junk = not out.entries and not out.skipped.keys() - JUNK and (
        UNKNOWN in out.skipped or
        (out.broken is not None and NOT_MEMBERS not in out.broken[1]))
    if out.unreadable is None and (out.records == 0 or junk):
        out.unreadable = ("not a WARC or ARC file: " + out.broken[1] if out.broken
                          else "empty: no records")
        out.broken = None
    return out


@contextlib.contextmanager
def warcio_warnings() -> Iterator[list[str]]:
    """The messages warcio logs meanwhile (``Replacing spaces in invalid WARC-Target-URI:
    …``, quoting the file's bytes), collected instead of written to the terminal."""
    logger = logging.getLogger("warcio")
    found: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: found.append(record.getMessage())  # type: ignore[method-assign]
    logger.addHandler(handler)
    was, logger.propagate = logger.propagate, False
    try:
        yield found
    finally:
        logger.removeHandler(handler)
        logger.propagate = was


def _opening(fh: IO[bytes]) -> bytes:
    """The first bytes of the archive in *fh* (of its first gzip member, if gzipped), the
    file left where it was."""
    start = fh.tell()
    head = fh.read(READ)
    fh.seek(start)
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(31).decompress(head, 64)
        except zlib.error:
            return b""
    return head.lstrip(b"\r\n")[:64]


def _scan(fh: IO[bytes], out: Scan, index: int, seq: int) -> None:
    opening = _opening(fh)
    if opening and not opening.startswith((b"WARC/", b"filedesc:")):
        # a WARC opens with its version line, an ARC with its filedesc:// record: a file
        # whose first line merely has an ARC header's shape (random bytes can) is none
        out.unreadable = "not a WARC or ARC file: it opens with neither WARC/ nor filedesc:"
        return
    it = ArchiveIterator(fh, arc2warc=True)
    offset = 0
    try:
        for record in it:
            offset = it.offset
            out.records += 1
            added = _take(record, out, index, offset, seq + len(out.entries))
            _drain(record, out, added)
            out.end = it.get_record_offset() + it.get_record_length()
    except Exception as exc:   # warcio raises many kinds on a broken file: what was read stays
        # past a record warcio could not delimit its length is meaningless: say where
        # that record began
        why = _cause(exc)
        out.broken = (out.end if out.end >= offset else offset, why)


def _drain(record: ArcWarcRecord, out: Scan, added: bool) -> None:
    """Read the rest of the record; an indexed record that ends before its declared length
    (the file breaks inside it) is dropped from the index."""
    while record.raw_stream.read(READ):
        pass
    if added and getattr(record.raw_stream, "limit", 0) > 0:
        out.entries.pop()
        out.skipped["record cut short"] += 1


def _take(record: ArcWarcRecord, out: Scan, index: int, offset: int, seq: int) -> bool:
    """Index *record* if it is a response or revisit we can use (True), else count why
    not (a request lends its method)."""
    kind = record.rec_type
    h = record.rec_headers
    if kind == "request":
        _method(record, out, out.records)
        return False
    if kind == "metadata" and h.get_header("WARC-Takedown-Capture"):
        return _failure(record, out, index, offset, seq)
    if kind not in ("response", "revisit"):
        out.skipped[f"{kind} record" if kind else UNKNOWN] += 1
        return False
    uri = (h.get_header("WARC-Target-URI") or "").strip().strip("<>")
    http = record.http_headers
    try:
        url = normalize_url(uri)
    except ValueError:
        out.skipped["not an http(s) URL"] += 1
        return False
    at = parse_stamp(h.get_header("WARC-Date"))
    if at is None:
        out.skipped["no valid WARC-Date"] += 1
        return False
    if at > datetime.now(UTC) + FUTURE:   # warcio dates an ARC record it cannot read 2999
        out.skipped["WARC-Date in the future"] += 1
        return False
    if kind == "response" and (http is None or not _status(http)):
        out.skipped["not an HTTP response"] += 1
        return False
    stamp = h.get_header("WARC-Takedown-Round")
    round_at = parse_stamp(stamp)
    if stamp is not None and round_at is None:
        out.skipped["bad WARC-Takedown-Round"] += 1
        return False
    out.entries.append(Entry(
        source=index, offset=offset, number=out.records, seq=seq, kind=kind, uri=uri,
        url=_watched(record, url), at=at,
        status=_status(http) if http is not None else None,
        location=http.get_header("Location") if http is not None else None,
        digest=h.get_header("WARC-Payload-Digest"), record_id=h.get_header("WARC-Record-ID"),
        refers_id=h.get_header("WARC-Refers-To"),
        refers_uri=(h.get_header("WARC-Refers-To-Target-URI") or "").strip("<>") or None,
        refers_at=parse_stamp(h.get_header("WARC-Refers-To-Date")), round_at=round_at,
        truncated=h.get_header("WARC-Truncated"), concurrent=_concurrent(record),
        **_ours(record)))
    return True


def _ours(record: ArcWarcRecord) -> dict[str, object]:
    """What our own export wrote of the capture: target, role, capture id, via, depth."""
    h = record.rec_headers
    depth = h.get_header("WARC-Takedown-Depth") or ""
    via = h.get_header("WARC-Takedown-Via")
    return {"target": h.get_header("WARC-Takedown-Target"),
            "role": h.get_header("WARC-Takedown-Role"),
            "capture": h.get_header("WARC-Takedown-Capture"),
            "via": via if via in VIAS else None,
            "depth": int(depth) if depth.isascii() and depth.isdecimal() and len(depth) < 4
            else None}


def _watched(record: ArcWarcRecord, url: str) -> str:
    """The URL as watched that our own export names (``WARC-Takedown-Url``: before
    redirects and learned session parameters), normalised; else *url*."""
    named = record.rec_headers.get_header("WARC-Takedown-Url")
    try:
        return normalize_url(named.strip()) if named else url
    except ValueError:
        return url


def _failure(record: ArcWarcRecord, out: Scan, index: int, offset: int, seq: int) -> bool:
    """Our own export's record of a failed fetch (a ``metadata`` record holding JSON with
    ``"fetch": "failed"``) as a failed capture of the URL it names; any other metadata
    record is skipped and counted."""
    h = record.rec_headers
    try:
        facts = json.loads(record.content_stream().read(READ))
        url = (_watched(record, normalize_url(facts["url"]))
               if facts.get("fetch") == "failed" else None)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        url = None
    at, stamp = parse_stamp(h.get_header("WARC-Date")), h.get_header("WARC-Takedown-Round")
    round_at = parse_stamp(stamp)
    if url is None or at is None or round_at is None:
        out.skipped["metadata record"] += 1
        return False
    out.entries.append(Entry(
        source=index, offset=offset, number=out.records, seq=seq, kind="failed",
        uri=facts["url"], url=url, at=at, status=None, location=None, digest=None,
        record_id=h.get_header("WARC-Record-ID"), round_at=round_at, **_ours(record),
        failure={k: facts.get(k) for k in ("error_kind", "error", "attempts", "redirects")}))
    return True


def _status(http: StatusAndHeaders) -> int | None:
    try:
        status = int(http.get_statuscode() or "")
    except ValueError:
        return None
    return status if 100 <= status <= 999 else None


def _concurrent(record: ArcWarcRecord) -> tuple[str, ...]:
    return tuple(v for k, v in record.rec_headers.headers
                 if k.lower() == "warc-concurrent-to")


def _method(record: ArcWarcRecord, out: Scan, number: int) -> None:
    http = record.http_headers
    line = (http.protocol if http is not None else "") or ""
    method = line.split(" ", 1)[0].upper() if line else ""
    if not method:
        return
    h = record.rec_headers
    uri = (h.get_header("WARC-Target-URI") or "").strip().strip("<>")
    keys = [rid for rid in (h.get_header("WARC-Record-ID"), *_concurrent(record)) if rid]
    for key in (*keys, (uri, parse_stamp(h.get_header("WARC-Date")))):
        out.methods.setdefault(key, []).append((number, method))


def method_of(e: Entry, out: Scan) -> str | None:
    """The method of the request *e* answered, where a request record of its archive tells
    it: one concurrent to it (or it to them), else one of the same URI and date."""
    for key in ((e.record_id, *e.concurrent), ((e.uri, e.at),)):
        found = [hit for k in key if k for hit in out.methods.get(k, ())]
        if found:
            return min(found, key=lambda hit: abs(hit[0] - e.number))[1]
    return None


def load(fh: IO[bytes], offset: int, cap: int) -> tuple[ArcWarcRecord, bytes, bool]:
    """The record at *offset* of the open archive *fh*: the record, its payload (chunked
    transfer coding undone, content codings left on), at most *cap* bytes (0: no cap), and
    whether the payload was longer than that."""
    fh.seek(offset)
    record = next(iter(ArchiveIterator(fh, arc2warc=True)), None)
    if record is None:   # the archive breaks before the record (a damaged member)
        raise ValueError(f"no record readable at offset {offset}")
    stream = record.raw_stream
    http = record.http_headers
    if http is not None and "chunked" in (http.get_header("Transfer-Encoding") or "").lower():
        # a body that is not really chunked is read as it is (raise_exceptions=False)
        stream = ChunkedDataReader(stream)
    parts, size = [], 0
    while not cap or size <= cap:
        chunk = stream.read(READ if not cap else min(READ, cap + 1 - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    body = b"".join(parts)
    if cap and len(body) > cap:
        return record, body[:cap], True
    return record, body, False
