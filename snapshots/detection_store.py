"""Reads and writes of the diff engine: captures of a round, verdicts, takedowns, and the
detector's memory between runs.

``DetectionStore.job(round_id, target_id)`` opens one transaction for one (round, target):
everything the detector writes for it lands together, with the mark that it was done, so a
killed ``takedown detect`` leaves nothing half-done and the next run simply redoes it.

The seam is typed: the detector reads frozen records (`CaptureRef`, `StateRef`,
`TakedownRef`) and writes through explicit calls (`put_state`, `put_verdict`,
`add_takedown`, `restore`, `rekind`, `set_evidence`, `mark_done`); it never holds a live
row.  Imports only ``snapshots``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypedDict

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from snapshots.models import (
    Capture,
    DetectedRound,
    DetectState,
    Round,
    Takedown,
    Target,
    Url,
    Verdict,
)
from snapshots.repo import Store, as_utc, utcnow

# -- the shapes of what detection keeps (JSON columns), shared with the reports -------------
# "version" is written with each; a value without one was written before versions, in the
# same shape as version 1.
EVIDENCE_VERSION = 1
MEMORY_VERSION = 1


class CaptureFacts(TypedDict):
    """One capture named as evidence (`JobSession.capture_facts`)."""

    capture_id: int
    sha256: str | None
    captured_at: str          # ISO 8601, UTC
    status: int | None
    final_url: str | None


class Evidence(TypedDict, total=False):
    """``takedowns.evidence``: why a takedown was opened, and what it was seen as since."""

    version: int
    rule: str                 # the rule that decided (``http:404``, ``listing:…``, …)
    targets: list[str]        # every target that reaches the URL, the first one first
    last_ok: CaptureFacts | None    # the last capture showing the content
    first: CaptureFacts | None      # the first capture showing it gone
    history: list[dict]       # earlier kinds: {"kind", "rule", "detected_at"}
    kind_changed_at: str
    # a notice (the verdict's detail)
    phrase: str
    pattern: str
    platform: str
    source: str
    # gone by other means
    similarity: float
    probe_status: int | None
    final_url: str
    refresh_url: str
    # edited: the text cut, and its keys (to see it come back)
    removed_text: list[str]
    removed_keys: list[str]
    # delisted: the listing it left ({"url", "page", "position", "pages"})
    listing: dict[str, Any]
    page_still_serving: CaptureFacts
    confirmed: CaptureFacts
    # an item gone from the middle of its list
    position: int


class RoundMemory(TypedDict, total=False):
    """``detected_rounds.memory``: what detection kept of one (round, target) for the next."""

    version: int
    listings: dict[str, Any]         # listing URL → the entries it listed
    items: dict[str, Any]            # page URL → {"capture_id", "at", "items": [[id, key, links]]}
    list_paths: list[str]            # block paths learned to hold lists
    volatile_lists: list[str]
    bumped: list[str]                # lists seen to bump (ordered by last reply)
    rotating: list[str]              # lists seen to rotate (widgets)
    pending_delisted: dict[str, Any]  # URL → a delisting waiting for confirmation


class UrlMemory(TypedDict, total=False):
    """``detect_state.memory``: what detection keeps of one URL between its captures."""

    ok_sha: str                      # body of the last ok capture
    listing: str                     # "pagination" once a later page of a list went
    oks: int                         # ok captures read
    keys: dict[str, int]             # block key → captures it was in
    vpaths: dict[str, int]           # block path → times its text changed
    edited_open: list[int]           # open ``edited`` takedowns of the URL


@dataclass(frozen=True)
class TakedownRef:
    """One takedown as the detector reads it: a frozen copy (its evidence a read-only
    view).  The detector changes a takedown only through `JobSession`'s calls
    (`restore`, `rekind`, `set_evidence`), never by editing a row it was handed."""

    id: int
    target_id: int
    url_id: int
    item: str
    kind: str
    last_seen: datetime
    detected_at: datetime
    restored_at: datetime | None
    evidence: Mapping[str, Any]


@dataclass(frozen=True)
class StateRef:
    """What the detector remembers of one URL (``detect_state``), read-only; written back
    whole with `JobSession.put_state`."""

    url_id: int
    state: str
    last_capture_id: int
    last_ok_capture_id: int | None
    last_ok_at: datetime | None
    open_takedown_id: int | None
    memory: Mapping[str, Any]


def _takedown_ref(row: Takedown) -> TakedownRef:
    return TakedownRef(row.id, row.target_id, row.url_id, row.item or "", row.kind,
                       as_utc(row.last_seen), as_utc(row.detected_at),
                       as_utc(row.restored_at) if row.restored_at is not None else None,
                       MappingProxyType(row.evidence or {}))


def _state_ref(row: DetectState) -> StateRef:
    return StateRef(row.url_id, row.state, row.last_capture_id, row.last_ok_capture_id,
                    as_utc(row.last_ok_at) if row.last_ok_at is not None else None,
                    row.open_takedown_id, MappingProxyType(row.memory or {}))


@dataclass(frozen=True)
class Job:
    round_id: int
    at: datetime
    target_id: int
    target: str
    spec: dict
    # the round fetched only what was due for this target (adaptive recheck): a page it
    # did not capture was left alone, not lost
    partial: bool = False


@dataclass(frozen=True)
class CaptureRef:
    id: int
    url_id: int
    url: str
    role: str
    depth: int
    at: datetime
    status: int | None
    final_url: str | None
    error_kind: str | None
    redirects: tuple
    body_sha256: str | None
    text_sha256: str | None
    headers: dict


class DetectionStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def pending(self) -> list[Job]:
        """(round, target) pairs with captures the detector has not processed, in time order
        (rounds still running are left for later)."""
        q = (select(Round.id, Round.at, Target.id, Target.name, Target.spec, Round.stats)
             .join(Capture, Capture.round_id == Round.id)
             .join(Target, Target.id == Capture.target_id)
             .where(Round.status != "running")
             .where(~select(DetectedRound.round_id).where(
                 DetectedRound.round_id == Round.id, DetectedRound.target_id == Target.id)
                 .exists())
             # by the primary keys alone: the other columns follow from them, and
             # PostgreSQL cannot group by a JSON column (spec) at all
             .group_by(Round.id, Target.id)
             .order_by(Round.at, Round.id, Target.name))
        with self.store.session() as s:
            return [Job(r, as_utc(at), t, name, spec or {},
                        name in ((stats or {}).get("adaptive") or ()))
                    for r, at, t, name, spec, stats in s.execute(q)]

    @contextmanager
    def job(self) -> Iterator[JobSession]:
        with self.store.writing() as s:
            yield JobSession(s, self.store)


class JobSession:
    """The detector's view of the store inside one job's transaction."""

    def __init__(self, session: Session, store: Store) -> None:
        self.s = session
        self.store = store

    def captures(self, round_id: int, target_id: int) -> list[CaptureRef]:
        q = (select(Capture, Url.url, Url.role, Url.depth).join(Url, Capture.url_id == Url.id)
             .where(Capture.round_id == round_id, Capture.target_id == target_id)
             .order_by(Capture.id))
        return [CaptureRef(c.id, c.url_id, url, role, depth, as_utc(c.captured_at), c.status,
                           c.final_url, c.error_kind, tuple(tuple(r) for r in c.redirects or ()),
                           c.body_sha256, c.text_sha256, c.headers or {})
                for c, url, role, depth in self.s.execute(q)]

    def text(self, sha256: str | None) -> str | None:
        if sha256 is None:
            return None
        try:    # through the store, which keeps deltas' keyframes decoded
            return self.store.read_blob(self.s, sha256).decode("utf-8", "replace")
        except KeyError:
            return None

    def capture_text(self, capture_id: int) -> str | None:
        sha = self.s.scalar(select(Capture.text_sha256).where(Capture.id == capture_id))
        return self.text(sha)

    def capture_facts(self, capture_id: int | None) -> CaptureFacts | None:
        """The evidence of one capture: id, SHA-256, time, status, final URL."""
        if capture_id is None:
            return None
        c = self.s.get(Capture, capture_id)
        return {"capture_id": c.id, "sha256": c.body_sha256,
                "captured_at": as_utc(c.captured_at).isoformat(), "status": c.status,
                "final_url": c.final_url}

    def savepoint(self) -> AbstractContextManager[Any]:
        """A nested transaction: what one capture's reading writes is undone together
        when that reading raises."""
        return self.s.begin_nested()

    def states(self, url_ids: list[int]) -> dict[int, StateRef]:
        if not url_ids:
            return {}
        rows = self.s.scalars(select(DetectState).where(DetectState.url_id.in_(url_ids)))
        return {r.url_id: _state_ref(r) for r in rows}

    def put_state(self, url_id: int, **fields: Any) -> None:
        row = self.s.get(DetectState, url_id)
        if row is None:
            self.s.add(DetectState(url_id=url_id, **fields))
        else:
            for k, v in fields.items():
                setattr(row, k, v)

    def note_pages(self, facts: dict[int, tuple[datetime | None, bool]]) -> None:
        """Per URL id: its publication time (None: keep what is known) and whether it is a
        listing, for the adaptive recheck (``snapshots.recheck``)."""
        dated = [{"id": u, "listing": listing, "published_at": published}
                 for u, (published, listing) in facts.items() if published is not None]
        undated = [{"id": u, "listing": listing}
                   for u, (published, listing) in facts.items() if published is None]
        for rows in (dated, undated):   # one statement each, by primary key
            if rows:
                self.s.execute(update(Url), rows)

    def target_urls(self, target_id: int) -> set[str]:
        """Every page URL the target knows (an adaptive round fetches only some)."""
        return set(self.s.scalars(select(Url.url).where(Url.target_id == target_id,
                                                        Url.role == "page")))

    def put_verdict(self, capture_id: int, state: str, kind: str | None, rule: str,
                    detail: dict) -> None:
        self.s.merge(Verdict(capture_id=capture_id, state=state, kind=kind, rule=rule,
                             detail=detail))

    def takedown(self, takedown_id: int | None) -> TakedownRef | None:
        row = None if takedown_id is None else self.s.get(Takedown, takedown_id)
        return None if row is None else _takedown_ref(row)

    def restore(self, takedown_id: int, at: datetime) -> None:
        """The takedown's content is back (seen at *at*): it is closed."""
        self._edit(takedown_id, restored_at=at)

    def rekind(self, takedown_id: int, kind: str, evidence: Mapping[str, Any]) -> None:
        """Stronger evidence names the takedown's kind anew; *evidence* keeps the history."""
        self._edit(takedown_id, kind=kind, evidence=dict(evidence))

    def set_evidence(self, takedown_id: int, evidence: Mapping[str, Any]) -> None:
        self._edit(takedown_id, evidence=dict(evidence))

    def _edit(self, takedown_id: int, **fields: Any) -> None:
        row = self.s.get(Takedown, takedown_id)
        if row is None:
            raise LookupError(f"no takedown {takedown_id}")
        for k, v in fields.items():
            setattr(row, k, v)
        row.updated_at = utcnow()

    def open_takedowns(self, target_id: int, kind: str | None = None,
                       item: bool | None = None) -> list[TakedownRef]:
        q = select(Takedown).where(Takedown.target_id == target_id,
                                   Takedown.restored_at.is_(None))
        if kind is not None:
            q = q.where(Takedown.kind == kind)
        if item is not None:
            q = q.where(Takedown.item != "") if item else q.where(Takedown.item == "")
        return [_takedown_ref(r) for r in self.s.scalars(q)]

    def url_of(self, url_id: int) -> str:
        return self.s.scalar(select(Url.url).where(Url.id == url_id)) or ""

    def open_takedown_of(self, url: str, item: str = "") -> TakedownRef | None:
        """The open takedown of *url* (and *item*) under any target, if there is one: a URL
        reached by several targets has one record."""
        q = (select(Takedown).join(Url, Takedown.url_id == Url.id)
             .where(Url.url == url, Takedown.item == item, Takedown.restored_at.is_(None))
             .order_by(Takedown.id).limit(1))
        row = self.s.scalars(q).first()
        return None if row is None else _takedown_ref(row)

    def add_takedown(self, **fields: Any) -> TakedownRef:
        row = Takedown(updated_at=utcnow(), **fields)
        self.s.add(row)
        self.s.flush()
        return _takedown_ref(row)

    def round_memory(self, target_id: int, before: datetime) -> RoundMemory:
        """What the detector kept of the target's last processed round before *before*."""
        q = (select(DetectedRound.memory).join(Round, Round.id == DetectedRound.round_id)
             .where(DetectedRound.target_id == target_id, Round.at < before)
             .order_by(Round.at.desc(), Round.id.desc()).limit(1))
        return self.s.scalar(q) or {}

    def other_memories(self, target_id: int, since: datetime, until: datetime) -> list[dict]:
        """What the detector kept of the other targets' rounds from *since* to *until*
        (both included): the lists they read there."""
        q = (select(DetectedRound.memory).join(Round, Round.id == DetectedRound.round_id)
             .where(DetectedRound.target_id != target_id, Round.at >= since,
                    Round.at <= until))
        return [m or {} for m in self.s.scalars(q)]

    def mark_done(self, round_id: int, target_id: int, memory: RoundMemory) -> None:
        self.s.add(DetectedRound(round_id=round_id, target_id=target_id, detected_at=utcnow(),
                                 memory={**memory, "version": MEMORY_VERSION}))


def takedown_rows(store: Store, *, kinds: tuple[str, ...] = (),
                  targets: tuple[str, ...] = (), ids: Iterable[int] | None = None) -> list[dict]:
    """Every takedown as a plain record (the export's source), oldest first; with *ids*,
    only those takedowns."""
    q = (select(Takedown, Url.url, Target.name).join(Url, Takedown.url_id == Url.id)
         .join(Target, Takedown.target_id == Target.id)
         .order_by(Takedown.detected_at, Url.url, Takedown.item))
    if kinds:
        q = q.where(Takedown.kind.in_(kinds))
    if ids is not None:
        q = q.where(Takedown.id.in_(sorted(set(ids))))
    with store.session() as s:
        rows = [_record(t, url, target) for t, url, target in s.execute(q)]
    if targets:     # a record names every target that reaches its URL
        rows = [r for r in rows if set(r["targets"]) & set(targets)]
    return rows


def _record(t: Takedown, url: str, target: str) -> dict:
    named = (t.evidence or {}).get("targets") or [target]
    rec = {"id": t.id, "url": url, "kind": t.kind, "target": target,
           "targets": [target, *(n for n in named if n != target)],
           "last_seen": as_utc(t.last_seen).isoformat(),
           "detected_at": as_utc(t.detected_at).isoformat(), "evidence": t.evidence}
    if t.item:
        rec["item"] = t.item
    if t.restored_at is not None:
        rec["restored_at"] = as_utc(t.restored_at).isoformat()
    return rec
