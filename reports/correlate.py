"""Takedowns laid against documented events: windows, counts, keyword matches, lifetimes.

For every event, the takedowns detected in a window around it (default 7 days before its
start to 30 days after its end) that fall in its scope, counted by kind and by target, and
those whose last seen content holds the event's keywords.  For every takedown, the bounds
on when it happened (alive at ``last_seen``, gone at ``detected_at``) and, where its page
shows a publication time, its age at removal, bounded the same way.  No takedowns is a
valid input everywhere (empty tallies, a lifetime summary of None bounds), and a window
that would leave the calendar stops at its first or last day.

Pure: works on `TakedownRow`s the report builds.  Imports the standard library,
``reports``, ``snapshots.defaults`` and ``snapshots.detection_store`` (the evidence's shape).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from reports.content import ZONE_ASSUMED
from reports.events import Event
from reports.keywords import Matcher, Term
from snapshots.defaults import default
from snapshots.detection_store import CaptureFacts, Evidence

BEFORE_DAYS, AFTER_DAYS = default("report.before_days"), default("report.after_days")
# a local time read as UTC is off by the site's offset: -12:00 to +14:00
UNSTATED_EARLY, UNSTATED_LATE = timedelta(hours=12), timedelta(hours=14)

__all__ = ["EventResult", "TakedownRow", "correlate", "daily_counts", "event_window",
           "lifetime_summary", "shift"]


@dataclass
class TakedownRow:
    """One takedown with what the report says of it (``content``: its last seen text)."""

    id: int
    url: str
    url_id: int
    target: str
    kind: str
    item: str
    last_seen: datetime
    detected_at: datetime
    restored_at: datetime | None
    evidence: Evidence   # as detection wrote it (snapshots.detection_store declares the shape)
    last_ok: CaptureFacts | None
    first: CaptureFacts
    title: str = ""
    content: str = ""
    published: datetime | None = None
    published_zone: str = ""   # where its offset came from (reports.content.ZONE_*)
    terms: tuple[str, ...] = ()
    events: list[str] = field(default_factory=list)
    hits: frozenset[str] | None = None  # every listed or event term its content holds

    @property
    def offset_assumed(self) -> bool:
        """Whether its publication time states no offset and nobody named the site's zone:
        it was read as UTC."""
        return self.published_zone == ZONE_ASSUMED

    @property
    def age_bounds(self) -> tuple[timedelta, timedelta] | None:
        """(at least, at most) how long the content had been up when it went, when its
        publication time is known and not after the last sighting.  A local time whose
        offset nobody stated was read as UTC: its true instant lies up to 14 hours before
        or 12 after, and the bounds widen by as much (never below zero)."""
        if self.published is None or self.published > self.last_seen:
            return None
        low, high = self.last_seen - self.published, self.detected_at - self.published
        if self.offset_assumed:
            low, high = max(timedelta(0), low - UNSTATED_EARLY), high + UNSTATED_LATE
        return low, high

    @property
    def day(self) -> date:
        """The day the takedown was first seen (its detection round's date, UTC)."""
        return self.detected_at.date()


@dataclass
class EventResult:
    event: Event
    window: tuple[date, date]
    takedowns: list[TakedownRow]
    matching: list[tuple[TakedownRow, list[str]]]
    matching_anywhere: int

    @property
    def by_kind(self) -> dict[str, int]:
        return tally(self.takedowns, "kind")

    @property
    def by_target(self) -> dict[str, int]:
        return tally(self.takedowns, "target")


def tally(rows: Iterable[TakedownRow], field: str) -> dict[str, int]:
    """How many *rows* hold each value of *field* (``kind``, ``target``), most first."""
    return dict(Counter(getattr(r, field) for r in rows).most_common())


def event_window(event: Event, before_days: int = BEFORE_DAYS,
                 after_days: int = AFTER_DAYS) -> tuple[date, date]:
    """The days (inclusive) around *event* whose takedowns are laid against it.

    >>> e = Event("e", "t", date(2021, 3, 22), date(2021, 3, 22), "day")
    >>> event_window(e)
    (datetime.date(2021, 3, 15), datetime.date(2021, 4, 21))
    """
    return shift(event.start, -before_days), shift(event.end, after_days)


def shift(day: date, days: int) -> date:
    """*day* moved by *days*, held at the calendar's ends rather than overflowing.

    >>> shift(date(1, 1, 3), -7), shift(date(9999, 12, 30), 30)
    (datetime.date(1, 1, 1), datetime.date(9999, 12, 31))
    """
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def correlate(events: Sequence[Event], rows: Sequence[TakedownRow],
              before_days: int = BEFORE_DAYS, after_days: int = AFTER_DAYS) -> list[EventResult]:
    """Every event's window, its takedowns, and those matching its keywords.

    Also records on each row the ids of the events whose window and scope hold it."""
    results = []
    for event in events:
        start, end = event_window(event, before_days, after_days)
        matcher = Matcher(Term.parse(k) for k in event.keywords)
        scoped = [r for r in rows if event.applies_to(r.target, r.url)]
        inside = [r for r in scoped if start <= r.day <= end]
        for r in inside:
            r.events.append(event.id)
        hits = {r.id: _event_hits(r, event, matcher) for r in scoped} if matcher else {}
        results.append(EventResult(
            event, (start, end), inside,
            [(r, hits[r.id]) for r in inside if hits.get(r.id)],
            sum(1 for found in hits.values() if found)))
    return results


def _event_hits(row: TakedownRow, event: Event, matcher: Matcher) -> list[str]:
    """The event's terms in the row's content: from the terms found once for all events
    when the report did that, else searched now."""
    if row.hits is None:
        return matcher.match(row.content)
    return [k for k in event.keywords if k in row.hits]


def daily_counts(rows: Iterable[TakedownRow]) -> dict[date, Counter]:
    """Day → takedowns first seen that day, counted by kind (days in order)."""
    days: dict[date, Counter] = {}
    for r in rows:
        days.setdefault(r.day, Counter())[r.kind] += 1
    return dict(sorted(days.items()))


def lifetime_summary(rows: Iterable[TakedownRow]) -> dict:
    """How long content lived before it went: count with a known age, and the median and
    quartiles of the lower and upper bounds, in hours (None for a bound when no takedown
    has an age: the keys are always there).

    >>> lifetime_summary([])
    {'with_age': 0, 'at_least': None, 'at_most': None}
    """
    bounds = [b for r in rows if (b := r.age_bounds) is not None]
    return {"with_age": len(bounds),
            "at_least": _quartiles([b[0].total_seconds() / 3600 for b in bounds]),
            "at_most": _quartiles([b[1].total_seconds() / 3600 for b in bounds])}


def _quartiles(hours: list[float]) -> dict[str, float] | None:
    if not hours:
        return None
    if len(hours) >= 2:
        q1, median, q3 = statistics.quantiles(sorted(hours), n=4, method="inclusive")
    else:
        q1 = median = q3 = hours[0]
    return {"q1_hours": round(q1, 1), "median_hours": round(median, 1),
            "q3_hours": round(q3, 1)}
