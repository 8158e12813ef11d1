"""The notification outbox: which takedown events each notification URL is owed, and what
went out.

A *destination* is one notification URL, stored by its SHA-256 only (the URL may carry a
token; the command line or the watchlist gives it again each run).  An *event* is one row
of ``notify_outbox`` per (destination, takedown, event), the unique key that makes queuing
idempotent: ``opened`` (the first time a destination hears of a takedown, with its kind
then), ``kind:<kind>`` (stronger evidence named it anew) and ``restored``.

Which takedowns to look at: those whose ``updated_at`` (wall clock, set by every change the
detector makes) is at or after the destination's ``scanned_at`` less `SCAN_OVERLAP` (the
overlap catches a detection that committed late; reading a takedown twice queues nothing
twice).  A destination used for the first time must not be sent the store's history: its
registration marks the ``opened`` event of every open takedown ``known`` (never sent), and a
takedown without rows is only looked at when it changed after the registration.  Closed
takedowns need no mark: the detector never changes a takedown once it is restored.

Imports ``snapshots`` only; ``reports.notify`` composes and delivers the messages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, literal, select, update

from snapshots.db import UTCDateTime, as_utc
from snapshots.models import NotifyDestination, NotifyEvent, Takedown, Target, Url
from snapshots.repo import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from snapshots.repo import Store

PENDING, SENT, KNOWN = "pending", "sent", "known"
OPENED, RESTORED, KIND = "opened", "restored", "kind:"
SCAN_OVERLAP = timedelta(hours=1)
ERROR_CHARS = 1000


def destination_key(url: str) -> str:
    """The key a notification URL is stored under: its SHA-256, never the URL itself.

    >>> destination_key("json://127.0.0.1/")[:12]
    '6aa6fac15204'
    """
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class OutboxItem:
    """One pending event with what a message about it says."""

    id: int
    takedown_id: int
    event: str                  # opened | restored | kind:<kind>
    kind: str
    at: datetime                # the event's round stamp
    url: str
    item: str
    targets: tuple[str, ...]
    last_seen: datetime
    detected_at: datetime
    restored_at: datetime | None
    evidence: dict
    attempts: int

    @property
    def previous_kind(self) -> str | None:
        """The kind a ``kind:`` event replaced (the evidence keeps the history)."""
        history = self.evidence.get("history") or [{}]
        return history[-1].get("kind")


@dataclass(frozen=True)
class Filters:
    """Which takedowns a destination hears of: these kinds and targets (empty: all)."""

    kinds: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()

    def admit(self, kind: str, targets: Iterable[str]) -> bool:
        return (not self.kinds or kind in self.kinds) and \
            (not self.targets or bool(set(targets) & set(self.targets)))


class Outbox:
    """The outbox of one store, for the destinations named by their keys."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def register(self, keys: Iterable[str]) -> None:
        """Make a destination of every new key: what the store holds now counts as known."""
        now = utcnow()
        with self.store.writing() as s:
            for key in keys:
                if s.scalar(select(NotifyDestination.id).where(NotifyDestination.key == key)):
                    continue
                dest = NotifyDestination(key=key, created_at=now, scanned_at=now)
                s.add(dest)
                s.flush()
                s.execute(_baseline(dest.id, now))

    def enqueue(self, keys: Iterable[str], filters: Filters) -> int:
        """Queue the events of takedowns changed since the last scan; how many were new."""
        now = utcnow()
        queued = 0
        with self.store.writing() as s:
            dests = list(s.scalars(select(NotifyDestination)
                                   .where(NotifyDestination.key.in_(list(keys)))))
            if not dests:
                return 0
            since = min(as_utc(d.scanned_at) for d in dests) - SCAN_OVERLAP
            changed = _changed(s, since, filters)
            have = _existing(s, [d.id for d in dests], [t.id for t, _ in changed])
            for dest in dests:
                for td, _names in changed:
                    rows = have.get((dest.id, td.id), [])
                    if rows or as_utc(td.updated_at) >= as_utc(dest.created_at):
                        queued += _queue(s, dest.id, td, rows, now)
                dest.scanned_at = now
        return queued

    def pending(self, key: str) -> list[OutboxItem]:
        """The destination's pending events, oldest first."""
        q = (select(NotifyEvent, Takedown, Url.url, Target.name)
             .join(NotifyDestination, NotifyEvent.destination_id == NotifyDestination.id)
             .join(Takedown, NotifyEvent.takedown_id == Takedown.id)
             .join(Url, Takedown.url_id == Url.id).join(Target, Takedown.target_id == Target.id)
             .where(NotifyDestination.key == key, NotifyEvent.status == PENDING)
             .order_by(NotifyEvent.at, NotifyEvent.id))
        with self.store.session() as s:
            return [_item(e, td, url, name) for e, td, url, name in s.execute(q)]

    def digest_at(self, key: str) -> datetime | None:
        """Round stamp of the destination's last digest, None before the first."""
        with self.store.session() as s:
            at = s.scalar(select(NotifyDestination.digest_at)
                          .where(NotifyDestination.key == key))
        return None if at is None else as_utc(at)

    def clock(self) -> datetime | None:
        """The store's time: the newest round's stamp (digests follow it, not the wall)."""
        latest = self.store.latest_round()
        return None if latest is None else latest[1]

    def sent(self, key: str, ids: list[int], digest_at: datetime | None = None) -> None:
        """The events *ids* went out (as a digest at round stamp *digest_at*, if given)."""
        with self.store.writing() as s:
            s.execute(update(NotifyEvent).where(NotifyEvent.id.in_(ids)).values(
                status=SENT, sent_at=utcnow(), attempts=NotifyEvent.attempts + 1,
                last_error=None))
            if digest_at is not None:
                s.execute(update(NotifyDestination).where(NotifyDestination.key == key)
                          .values(digest_at=digest_at))

    def failed(self, ids: list[int], error: str) -> None:
        """A delivery of *ids* failed: they stay pending, the error and attempt counted."""
        with self.store.writing() as s:
            s.execute(update(NotifyEvent).where(NotifyEvent.id.in_(ids)).values(
                attempts=NotifyEvent.attempts + 1, last_error=error[:ERROR_CHARS]))

    def counts(self, key: str) -> dict[str, int]:
        """Events of the destination by status (pending, sent, known)."""
        q = (select(NotifyEvent.status, func.count())
             .join(NotifyDestination, NotifyEvent.destination_id == NotifyDestination.id)
             .where(NotifyDestination.key == key).group_by(NotifyEvent.status))
        with self.store.session() as s:
            return {status: n for status, n in s.execute(q)}


# -- queuing ------------------------------------------------------------------------------


def _baseline(dest_id: int, now: datetime) -> Any:
    """Every open takedown's opening, marked known for a new destination."""
    cols = ["destination_id", "takedown_id", "event", "kind", "at", "status", "attempts",
            "created_at"]
    source = select(literal(dest_id), Takedown.id, literal(OPENED), Takedown.kind,
                    Takedown.detected_at, literal(KNOWN), literal(0),
                    literal(now, UTCDateTime())).where(Takedown.restored_at.is_(None))
    return insert(NotifyEvent).from_select(cols, source)


def _changed(s: Session, since: datetime, filters: Filters) -> list[tuple[Takedown, list]]:
    """Takedowns changed since *since* that pass *filters*, with the targets reaching them."""
    q = (select(Takedown, Target.name).join(Target, Takedown.target_id == Target.id)
         .where(Takedown.updated_at >= since).order_by(Takedown.id))
    out = []
    for td, owner in s.execute(q):
        names = [owner, *((td.evidence or {}).get("targets") or ())]
        if filters.admit(td.kind, names):
            out.append((td, names))
    return out


def _existing(s: Session, dest_ids: list[int],
              takedown_ids: list[int]) -> dict[tuple[int, int], list[tuple[str, str]]]:
    """(destination, takedown) → its rows' (event, kind), oldest first."""
    have: dict[tuple[int, int], list[tuple[str, str]]] = {}
    if not takedown_ids:
        return have
    q = (select(NotifyEvent.destination_id, NotifyEvent.takedown_id, NotifyEvent.event,
                NotifyEvent.kind)
         .where(NotifyEvent.destination_id.in_(dest_ids),
                NotifyEvent.takedown_id.in_(takedown_ids))
         .order_by(NotifyEvent.id))
    for dest_id, td_id, event, kind in s.execute(q):
        have.setdefault((dest_id, td_id), []).append((event, kind))
    return have


def _queue(s: Session, dest_id: int, td: Takedown, rows: list[tuple[str, str]],
           now: datetime) -> int:
    events = _events(td, rows)
    for event, at in events:
        s.add(NotifyEvent(destination_id=dest_id, takedown_id=td.id, event=event, kind=td.kind,
                          at=at, status=PENDING, attempts=0, created_at=now))
    return len(events)


def _events(td: Takedown, rows: list[tuple[str, str]]) -> list[tuple[str, datetime]]:
    """The events of *td* its destination has no row for yet (given its *rows*)."""
    have = {event for event, _kind in rows}
    told = [kind for event, kind in rows if event == OPENED or event.startswith(KIND)]
    out = []
    if OPENED not in have:
        out.append((OPENED, td.detected_at))
    elif td.kind != told[-1] and KIND + td.kind not in have:
        changed = (td.evidence or {}).get("kind_changed_at")
        out.append((KIND + td.kind,
                    datetime.fromisoformat(changed) if changed else td.detected_at))
    if td.restored_at is not None and RESTORED not in have:
        out.append((RESTORED, td.restored_at))
    return out


def _item(e: NotifyEvent, td: Takedown, url: str, owner: str) -> OutboxItem:
    named = (td.evidence or {}).get("targets") or ()
    return OutboxItem(
        id=e.id, takedown_id=td.id, event=e.event, kind=e.kind, at=as_utc(e.at), url=url,
        item=td.item, targets=(owner, *(n for n in named if n != owner)),
        last_seen=as_utc(td.last_seen), detected_at=as_utc(td.detected_at),
        restored_at=None if td.restored_at is None else as_utc(td.restored_at),
        evidence=dict(td.evidence or {}), attempts=e.attempts)
