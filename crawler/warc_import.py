"""``import_archives``: capture history from WARC/ARC files and WACZ packages.

Each HTTP response of an archive becomes the ``NewCapture`` a crawl would have made of it:
the record is turned into a Scrapy response and read by the crawler's own code (content
codings undone by ``CappedDecompressionMiddleware``, then ``WatchlistSpider.capture``:
decoding, text, links, headers, size cap), so an imported capture is read like a crawled
one.  The policy (``docs/import.md`` tells it for users):

- **Records.** ``response`` records are captures, whatever their status (a 4xx/5xx is a
  capture with that status).  A ``revisit`` is the payload of the record it refers to
  (``WARC-Refers-To``, else ``WARC-Refers-To-Target-URI`` + ``-Date``, else the same
  ``WARC-Payload-Digest``, among the responses of every archive of the import) under the
  revisit's own HTTP headers (the original's when it has none, or a 304); a revisit whose
  original is not there is skipped.  A response whose request record says another method
  than GET (a POST's answer is not the page) is skipped.  ``request`` records are used for
  that only; other record types are skipped and counted.
- **Rounds.** One round per ``every`` window, windows aligned to the Unix epoch in UTC,
  stamped with the window's start; a record with a ``WARC-Takedown-Round`` header (our own
  ``export-warc``) goes into the round of exactly that stamp instead.  A capture keeps its
  WARC-Date as ``fetched_at``.  Of a URL's usable records in one round the latest is
  recorded; the others are skipped ("earlier in window").  A round of that stamp already in
  the store is reused, else one is made (``watchlist`` = ``import-warc: FILES``) and closed
  ``done`` with its counts.  A URL a target already has in that round is skipped, so a
  second import of the same files adds nothing.
- **Redirects.** A 3xx whose ``Location`` leads (in hops, at most 20) to a non-3xx capture
  recorded in the same round is recorded as the crawler records a followed redirect: that
  capture's content, ``final_url`` and the hops in ``redirects``; otherwise the 3xx is
  recorded as it is.
- **Targets.** With a watchlist, a URL goes to every target whose seed it is or whose scope
  (``TargetSpec.allows``: same host, ``allow``/``deny``) it is in; URLs of no target are
  skipped.  Without, each host is a target named after it (``url`` ``scheme://host/``,
  https when the archives hold any https URL of it; depth 1: the site's pages are its
  pages).
- **Truncation.** ``WARC-Truncated: disconnect`` reads as a lost connection (``dataloss``,
  a failed capture); any other reason, or a payload above ``max_size``, as a body cut at
  the size cap (``truncated``).
- **Order.** Detection reads rounds in time order, so an import that would add a capture
  to a target at or before a round the detector already read for it is refused before
  anything is written (``WarcImportError``).

Each capture is written in its own transaction (``Store.record_capture``).  Imports
``crawler`` and ``snapshots``.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes
from sqlalchemy import func, select

from crawler.errors import WarcImportError
from crawler.middlewares import CappedDecompressionMiddleware
from crawler.plan import RoundPlan
from crawler.run import learn_session_params
from crawler.spiders.watchlist import WatchlistSpider
from crawler.warc_scan import (
    Entry,
    Scan,
    Source,
    load,
    method_of,
    scan,
    sources,
    warcio_warnings,
)
from crawler.watchlist import CrawlSpec, TargetSpec
from snapshots.models import Capture, DetectedRound, Round, Url
from snapshots.patterns import RunawayPattern
from snapshots.records import NewCapture

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from crawler.watchlist import Watchlist
    from snapshots.repo import Store

__all__ = ["Archives", "FileReport", "ImportResult", "import_archives", "read_archives",
           "window_start"]

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_HOPS = 20                 # Scrapy's REDIRECT_MAX_TIMES
MAX_NAME = 100                # targets.name is a String(100)
BODY_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})
VIA = "import"
LABEL = "import-warc: "   # what a round made by an import holds as its watchlist
ORIG_PREFIX = "x-takedown-orig-"   # our own export's names of the wire's headers


def window_start(at: datetime, every: timedelta) -> datetime:
    """The start of the *every*-long window, aligned to the Unix epoch in UTC, holding *at*.

    >>> window_start(datetime(2014, 1, 26, 20, 6, tzinfo=UTC), timedelta(days=1))
    datetime.datetime(2014, 1, 26, 0, 0, tzinfo=datetime.timezone.utc)
    >>> window_start(datetime(2014, 1, 26, 20, 6, tzinfo=UTC), timedelta(hours=6)).hour
    18
    """
    return EPOCH + ((at - EPOCH) // every) * every


@dataclass
class FileReport:
    """What the import did with one file given."""

    name: str
    records: int = 0
    captures: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    broken: list[tuple[str, int, str]] = field(default_factory=list)  # (archive, offset, why)
    notes: list[str] = field(default_factory=list)
    unreadable: str | None = None

    def lines(self) -> list[str]:
        """The report for a terminal: the counts, then each skip reason and break."""
        if self.unreadable:
            return [f"{self.name}: skipped, {self.unreadable}"]
        out = [f"{self.name}: {self.records} records, {self.captures} captures imported"]
        out += [f"  skipped {n}: {why}" for why, n in sorted(self.skipped.items())]
        out += [f"  broken: {a} at offset {o}: {why} (the records before it were read)"
                for a, o, why in self.broken]
        out += [f"  note: {n}" for n in self.notes]
        return out

    def as_dict(self) -> dict:
        return {"file": self.name, "records": self.records, "captures": self.captures,
                "skipped": dict(sorted(self.skipped.items())),
                "broken": [{"archive": a, "offset": o, "reason": r} for a, o, r in self.broken],
                "notes": self.notes, "unreadable": self.unreadable}


@dataclass
class ImportResult:
    files: list[FileReport]
    rounds: dict[int, bool] = field(default_factory=dict)   # round id → made by this import
    targets: list[str] = field(default_factory=list)
    duplicates: int = 0    # captures the store already held

    @property
    def captures(self) -> int:
        return sum(f.captures for f in self.files)

    def as_dict(self) -> dict:
        return {"captures": self.captures, "duplicates": self.duplicates,
                "rounds": sorted(self.rounds), "new_rounds": sorted(
                    r for r, new in self.rounds.items() if new),
                "targets": self.targets, "files": [f.as_dict() for f in self.files]}


@dataclass(frozen=True)
class _Planned:
    """One capture to record: *entry* (its payload through *hops*' final record) for a
    target, in the round stamped *at*."""

    at: datetime
    target: str
    depth: int
    entry: Entry
    final: Entry
    hops: tuple[Entry, ...] = ()


# -- reading ---------------------------------------------------------------------------------


@dataclass
class Archives:
    """The files given, read once (`read_archives`): a report per file, every archive in
    them, its scan, and the report each archive belongs to."""

    reports: list[FileReport]
    srcs: list[Source]
    scans: list[Scan]
    owner: list[int]

    def unreadable(self) -> list[str]:
        """``FILE: why`` of each file that is no archive at all."""
        return [f"{r.name}: {r.unreadable}" for r in self.reports if r.unreadable]


def read_archives(paths: Sequence[Path]) -> Archives:
    """Index every archive of the files at *paths* (nothing is written)."""
    reports: list[FileReport] = []
    srcs: list[Source] = []
    scans: list[Scan] = []
    owner: list[int] = []
    for path in paths:
        report = FileReport(str(path))
        reports.append(report)
        found = sources(path)
        if isinstance(found, str):
            report.unreadable = found
            continue
        for src in found:
            result = scan(src, len(srcs), sum(len(s.entries) for s in scans))
            srcs.append(result.source)
            scans.append(result)
            owner.append(len(reports) - 1)
            report.records += result.records
            report.skipped.update(result.skipped)
            report.notes += result.notes
            if result.broken is not None:
                report.broken.append((src.name, *result.broken))
            if result.unreadable is not None and len(found) == 1:
                report.unreadable = result.unreadable
            elif result.unreadable is not None:
                report.broken.append((src.name, 0, result.unreadable))
    return Archives(reports, srcs, scans, owner)


class _Originals:
    """The response records a revisit may refer to, across every archive of the import."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.by_id: dict[str, Entry] = {}
        self.by_uri: dict[tuple[str, datetime], Entry] = {}
        self.by_digest: dict[str, Entry] = {}
        for e in entries:
            if e.kind != "response":
                continue
            if e.record_id:
                self.by_id[e.record_id] = e
            self.by_uri[(e.uri, e.at)] = e
            self.by_uri.setdefault((e.url, e.at), e)
            if e.digest:
                self.by_digest.setdefault(e.digest.strip(), e)

    def of(self, r: Entry) -> Entry | None:
        if r.refers_id and r.refers_id in self.by_id:
            return self.by_id[r.refers_id]
        if r.refers_uri and r.refers_at:
            hit = self.by_uri.get((r.refers_uri, r.refers_at))
            if hit is not None:
                return hit
        return self.by_digest.get(r.digest.strip()) if r.digest else None


# -- the plan --------------------------------------------------------------------------------


class _Planner:
    """Which records become which captures, in which round, for which target."""

    def __init__(self, scans: list[Scan], reports: list[FileReport], owner: list[int],
                 every: timedelta, watchlist: Watchlist | None,
                 normalize: Callable[[str], str]) -> None:
        self.scans, self.reports, self.owner = scans, reports, owner
        self.every, self.watchlist, self.normalize = every, watchlist, normalize
        self.entries = [e for s in scans for e in s.entries]
        self.originals: dict[int, Entry] = {}    # revisit seq → its original
        self.status: dict[int, int | None] = {}  # seq → the status the capture has
        # our own export: the first record of a capture's records → (hops, final record)
        self.chains: dict[int, tuple[tuple[Entry, ...], Entry]] = {}
        self.names = {t.name for t in watchlist.targets} if watchlist is not None else set()

    def skip(self, e: Entry, reason: str, n: int = 1) -> None:
        self.reports[self.owner[e.source]].skipped[reason] += n

    def usable(self) -> list[Entry]:
        """The records that can be captures: GET answers, revisits with their original,
        our own export's failed fetches; a record of our own export that is a redirect hop
        of a capture, or its response, is read with that capture (`chains`), not alone."""
        gets = []
        for e in self.entries:
            method = method_of(e, self.scans[e.source])
            if method is not None and method != "GET":
                self.skip(e, f"{method[:20]} request")
            else:
                gets.append(e)
        found = _Originals(gets)
        out = []
        for e in gets:
            status = e.status
            if e.kind == "revisit":
                original = found.of(e)
                if original is None:
                    self.skip(e, "revisit without original")
                    continue
                self.originals[e.seq] = original
                if status is None or status == 304:
                    status = original.status
            self.status[e.seq] = status
            out.append(e)
        return self._chained(out)

    def _chained(self, usable: list[Entry]) -> list[Entry]:
        """*usable* less the later records of a capture our own export wrote as several
        (its redirect hops, then its response: they share ``WARC-Takedown-Capture``); a
        capture one of whose records is not usable is not."""
        groups: dict[tuple[int, str], list[Entry]] = defaultdict(list)
        for e in self.entries:
            if e.capture is not None:
                groups[(e.source, e.capture)].append(e)
        ok = {e.seq for e in usable}
        later = set()
        for records in groups.values():
            if len(records) > 1:
                records.sort(key=lambda e: e.seq)
                later.update(e.seq for e in records[1:])
                if all(e.seq in ok for e in records):
                    self.chains[records[0].seq] = (tuple(records[:-1]), records[-1])
                else:
                    later.add(records[0].seq)
        return [e for e in usable if e.seq not in later]

    def own_target(self, e: Entry) -> str | None:
        """The watchlist target our own export says *e* was captured for, if it is one."""
        return e.target if e.target in self.names else None

    def round_of(self, e: Entry) -> datetime:
        return e.round_at or window_start(e.at, self.every)

    def latest(self, usable: list[Entry]) -> dict[tuple[datetime, str, str | None], Entry]:
        """The record of each (round, URL, target our export named): the latest (ties: the
        one read last)."""
        chosen: dict[tuple[datetime, str, str | None], Entry] = {}
        for e in usable:
            key = (self.round_of(e), e.url, self.own_target(e))
            old = chosen.get(key)
            if old is None:
                chosen[key] = e
            elif (e.at, e.seq) > (old.at, old.seq):
                chosen[key] = e
                self.skip(old, "earlier in window")
            else:
                self.skip(e, "earlier in window")
        return chosen

    def hops(self, e: Entry, at: datetime, chosen: dict) -> tuple[tuple[Entry, ...], Entry]:
        """The redirect hops from *e* and the record they end at (*e* itself, no hops, when
        the chain does not end at a non-3xx capture of the same round)."""
        if e.seq in self.chains:
            return self.chains[e.seq]
        path, cur = [e], e
        while 300 <= (self.status[cur.seq] or 0) < 400 and cur.location:
            try:
                to = self.normalize(urljoin(cur.uri, cur.location.strip()))
                nxt = chosen.get((at, to, self.own_target(cur)))
            except ValueError:
                nxt = None
            if nxt is None or nxt in path or len(path) > MAX_HOPS:
                return (), e
            path.append(nxt)
            cur = nxt
        return tuple(path[:-1]), cur

    def targets_of(self, url: str, own: str | None = None) -> list[tuple[str, int]]:
        """(target name, depth) of every target *url* belongs to: the one our own export
        named (*own*), else every target whose scope holds it."""
        if self.watchlist is None:
            return [(_host_name(url), 0 if urlsplit(url).path == "/" else 1)]
        out = []
        for t in self.watchlist.targets:
            if own is not None and t.name != own:
                continue
            seed = self.normalize(t.url)
            if url == seed:
                out.append((t.name, 0))
            elif _allows(t, url):
                out.append((t.name, 1))
        return out

    def plan(self) -> list[_Planned]:
        chosen = self.latest(self.usable())
        out = []
        for (at, url, own), e in sorted(chosen.items(), key=lambda kv: (kv[0][0], kv[1].seq)):
            names = self.targets_of(url, own)
            if own is not None and not names:   # the watchlist moved its scope: as a seed
                names = [(own, 1)]
            if not names:
                self.skip(e, "out of scope")
                continue
            if self.watchlist is None and len(names[0][0]) > MAX_NAME:
                self.skip(e, "host name too long")
                continue
            hops, final = self.hops(e, at, chosen)
            out += [_Planned(at, name, depth if e.depth is None else e.depth, e, final, hops)
                    for name, depth in names]
        return out


def _allows(t: TargetSpec, url: str) -> bool:
    try:
        return t.allows(url)
    except RunawayPattern as exc:
        log.warning("%s; %s not imported for %s", exc, url, t.name)
        return False


def _host_name(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host


def _host_targets(planned: list[_Planned]) -> list[tuple[str, str, dict]]:
    """One target per host of *planned*: https when any of its URLs is."""
    schemes: dict[str, set[str]] = defaultdict(set)
    for p in planned:
        schemes[p.target].add(urlsplit(p.entry.url).scheme)
    out = []
    for name, seen in sorted(schemes.items()):
        url = f"{'https' if 'https' in seen else 'http'}://{name}/"
        out.append((name, url, asdict(TargetSpec(name, url, depth=1))))
    return out


# -- turning records into captures -------------------------------------------------------------


class _CaptureMaker:
    """Records → ``NewCapture``s, through the crawler's decoding and reading."""

    def __init__(self, srcs: list[Source], store: Store, crawl: CrawlSpec,
                 originals: dict[int, Entry], stack: contextlib.ExitStack) -> None:
        self.srcs, self.originals, self.stack = srcs, originals, stack
        self.cap = crawl.max_size
        plan = RoundPlan(round_id=0, at=datetime.now(UTC), crawl=crawl, targets=[],
                         store=store, drop=store.volatile_params())
        self.spider = WatchlistSpider(plan)
        self.decoder = CappedDecompressionMiddleware(self.cap)
        self.files: dict[int, IO[bytes]] = {}

    def _load(self, e: Entry) -> tuple[object, bytes, bool]:
        fh = self.files.get(e.source)
        if fh is None:
            fh = self.files[e.source] = self.stack.enter_context(self.srcs[e.source].open())
        with warcio_warnings():   # the scan kept them as notes already
            return load(fh, e.offset, self.cap)

    def content(self, e: Entry) -> tuple[list[tuple[str, str]], int, bytes, bool, str | None]:
        """(HTTP headers, status, payload, whether cut at the cap, WARC-Truncated) of *e*:
        a revisit's payload (and the headers that describe it) are its original's."""
        record, body, cut = self._load(e)
        if e.kind == "response":
            return record.http_headers.headers, e.status, body, cut, e.truncated
        original = self.originals[e.seq]
        orig, body, cut = self._load(original)
        own = record.http_headers
        if own is None or e.status in (None, 304):
            return orig.http_headers.headers, original.status, body, cut, original.truncated
        headers = [(k, v) for k, v in own.headers if k.lower() not in BODY_HEADERS]
        headers += [(k, v) for k, v in orig.http_headers.headers if k.lower() in BODY_HEADERS]
        return headers, e.status, body, cut, original.truncated

    def capture(self, p: _Planned) -> NewCapture:
        via = p.entry.via or ("probe" if p.entry.role == "probe" else VIA)
        if p.final.failure is not None:
            return failed_capture(p, via)
        headers, status, body, cut, truncated = self.content(p.final)
        flags = ["download_stopped"] if cut else []
        if truncated:
            lost = truncated.strip().lower() == "disconnect"
            flags.append("dataloss" if lost else "download_stopped")
        hdrs = Headers()
        for k, v in headers:
            if k.lower() != "transfer-encoding":   # the chunks are undone
                hdrs.appendlist(k, _header_bytes(v))
        meta = {"watched": p.entry.url, "redirect_urls": [h.uri for h in p.hops],
                "redirect_reasons": [self._status(h) for h in p.hops]}
        request = Request(p.final.uri, meta=meta)
        cls = responsetypes.from_args(headers=hdrs, url=request.url, body=body)
        response = cls(url=request.url, status=status, headers=hdrs, body=body,
                       request=request, flags=flags)
        response = self.decoder.process_response(request, response)
        try:
            template = self.spider.capture(response)
        except Exception as exc:   # as the spider's parse: whatever the page does, it is kept
            template = self.spider.unreadable(response, exc)
        return replace(template, target=p.target, depth=p.depth, via=via,
                       fetched_at=p.entry.at, elapsed_ms=None,
                       headers=_wire_headers(template.headers) if p.final.capture
                       else template.headers)

    def _status(self, e: Entry) -> int:
        return e.status if e.status is not None else self.originals[e.seq].status


def _wire_headers(headers: dict[str, str]) -> dict[str, str]:
    """The headers our own export rewrote for the stored body (its length, codings) back
    as the server sent them (``X-Takedown-Orig-…``).

    >>> _wire_headers({"content-length": "9", "x-takedown-orig-content-encoding": "gzip"})
    {'content-encoding': 'gzip'}
    """
    out = {k: v for k, v in headers.items() if k not in BODY_HEADERS}
    for k in list(out):
        if k.startswith(ORIG_PREFIX):
            out[k[len(ORIG_PREFIX):]] = out.pop(k)
    return out


def failed_capture(p: _Planned, via: str) -> NewCapture:
    """Our own export's record of a failed fetch back as the failed capture it was."""
    facts = p.final.failure or {}
    hops = facts.get("redirects") or []
    attempts = facts.get("attempts")
    return NewCapture(
        target=p.target, url=p.entry.url, depth=p.depth, via=via, fetched_at=p.final.at,
        error=str(facts.get("error") or "")[:2000] or None,
        error_kind=str(facts.get("error_kind") or "other")[:40],
        attempts=attempts if isinstance(attempts, int) and 0 < attempts < 1000 else 1,
        redirects=tuple((int(h[0]), str(h[1])) for h in hops
                        if isinstance(h, list) and len(h) == 2 and isinstance(h[0], int)))


def _header_bytes(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


# -- the store -------------------------------------------------------------------------------


class _Rounds:
    """The store's rounds as the import sees them: by stamp, with what they hold."""

    def __init__(self, store: Store, label: str) -> None:
        self.store, self.label = store, label
        self.ids: dict[datetime, int] = {}
        self.made: dict[int, bool] = {}
        self.held: dict[int, set[tuple[int, str]]] = {}

    def existing(self, at: datetime) -> int | None:
        if at not in self.ids:
            with self.store.session() as s:
                row = s.execute(select(Round.id, Round.status, Round.watchlist)
                                .where(Round.at == at).order_by(Round.id).limit(1)).first()
            if row is None:
                return None
            rid, status, label = row
            self.ids[at] = rid
            # a round an import made and never closed (it was killed) is this import's to
            # close, as if made now; a crawl's round is left to the crawl
            self.made.setdefault(rid, status == "running" and label.startswith(LABEL))
        return self.ids[at]

    def holds(self, at: datetime, target_id: int, url: str) -> bool:
        rid = self.existing(at)
        if rid is None:
            return False
        if rid not in self.held:
            with self.store.session() as s:
                self.held[rid] = {(t, u) for t, u in s.execute(
                    select(Url.target_id, Url.url).join(Capture, Capture.url_id == Url.id)
                    .where(Capture.round_id == rid))}
        return (target_id, url) in self.held[rid]

    def round_id(self, at: datetime) -> int:
        rid = self.existing(at)
        if rid is not None:
            return rid
        now = datetime.now(UTC)
        with self.store.writing() as s:   # not begin_round: a crawl running now goes on
            row = Round(at=at, started_at=now, status="running", watchlist=self.label,
                        stats={})
            s.add(row)
            s.flush()
            rid = row.id
        self.ids[at], self.made[rid], self.held[rid] = rid, True, set()
        return rid


def _detected_until(store: Store) -> dict[int, datetime]:
    """target id → stamp of the latest round the detector read for it."""
    with store.session() as s:
        rows = s.execute(select(DetectedRound.target_id, func.max(Round.at))
                         .join(Round, Round.id == DetectedRound.round_id)
                         .group_by(DetectedRound.target_id)).all()
    return {t: (at if at.tzinfo else at.replace(tzinfo=UTC)) for t, at in rows}


def _check_order(todo: list[tuple[_Planned, int]], store: Store) -> None:
    until = _detected_until(store)
    for p, tid in todo:
        last = until.get(tid)
        if last is not None and p.at <= last:
            raise WarcImportError(
                f"{p.entry.url} would be imported into round {p.at.isoformat()} of target "
                f"{p.target}, but `takedown detect` already read that target up to "
                f"{last.isoformat()}: detection reads rounds in time order, so import "
                "history into a new store (--data) or before running detect")


def _finish(store: Store, rounds: _Rounds, files: list[str], status: str) -> None:
    for rid, made in rounds.made.items():
        if not made:
            continue
        per = store.round_counts(rid)
        stats = {"status": status, "captures": sum(c["captures"] for c in per.values()),
                 "new_blobs": None, "failed": sum(c["failed"] for c in per.values()),
                 "bytes": sum(c["bytes"] for c in per.values()), "requests": 0,
                 "probe_requests": 0, "per_target": per, "learned_params": {},
                 "import": {"files": files}}
        store.finish_round(rid, stats, status)


def import_archives(paths: Sequence[Path] | Archives, store: Store, every: timedelta,
                    watchlist: Watchlist | None = None) -> ImportResult:
    """Import the archives at *paths* (or read already) into *store* (see the module's
    docstring)."""
    read = paths if isinstance(paths, Archives) else read_archives(paths)
    reports, srcs, scans, owner = read.reports, read.srcs, read.scans, read.owner
    names = [Path(r.name).name for r in reports]
    crawl = watchlist.crawl if watchlist is not None else CrawlSpec()
    drop = store.volatile_params()
    maker_plan = RoundPlan(round_id=0, at=EPOCH, crawl=crawl, targets=[], store=store,
                           drop=drop)
    if drop:   # parameters learned to carry session state go, as in a crawl
        for s in scans:
            for e in s.entries:
                e.url = maker_plan.normalize(e.url)
    planner = _Planner(scans, reports, owner, every, watchlist, maker_plan.normalize)
    planned = planner.plan()
    if watchlist is not None:
        specs = [(t.name, t.url, asdict(t)) for t in watchlist.targets]
    else:
        specs = _host_targets(planned)
    result = ImportResult(reports, targets=[name for name, _u, _s in specs])
    if not planned:
        return result
    ids = store.ensure_targets(specs)
    label = LABEL + ", ".join(names)
    rounds = _Rounds(store, label[:2000])
    todo = []
    for p in planned:
        if rounds.holds(p.at, ids[p.target], p.entry.url):
            planner.skip(p.entry, "duplicate in round")
            result.duplicates += 1
        else:
            todo.append((p, ids[p.target]))
    _check_order(todo, store)
    with contextlib.ExitStack() as stack:
        maker = _CaptureMaker(srcs, store, crawl, planner.originals, stack)
        status = "interrupted"
        try:
            for p, tid in todo:
                _record(store, rounds, maker, p, tid, reports[owner[p.entry.source]])
            # as a crawl does at the end of each round: query parameters that change on
            # the same link round after round carry session state (learned in stamp order)
            for rid in sorted(r for r, made in rounds.made.items() if made):
                learn_session_params(store, rid)
            status = "done"
        finally:   # an import stopped early leaves whole captures in a closed round
            _finish(store, rounds, names, status)
    result.rounds = dict(rounds.made)
    return result


def _record(store: Store, rounds: _Rounds, maker: _CaptureMaker, p: _Planned, tid: int,
            report: FileReport) -> None:
    try:
        capture = maker.capture(p)
    except Exception as exc:   # a record indexed whole that cannot be read
        # again (a member whose decompression breaks on a second pass): skipped, named
        log.debug("record %s of %s: %r", p.entry.number, report.name, exc, exc_info=True)
        report.skipped[f"unreadable when imported ({type(exc).__name__})"] += 1
        return
    rid = rounds.round_id(p.at)
    if store.record_capture(rid, tid, p.at, capture) is None:
        report.skipped["duplicate in round"] += 1
        return
    rounds.held[rid].add((tid, p.entry.url))
    report.captures += 1
