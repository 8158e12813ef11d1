"""Adaptive recheck: when each URL is next fetched, and which due URLs a budget allows.

Pure functions over times and a few facts of a URL; the crawler (``crawler.run``) applies
them after every round and when it plans the next, the benchmark (``bench/recheck.py``)
drives the same functions in a simulation.  docs/recheck.md tells the policy in prose.
Imports nothing of ours.

The policy.  Removals cluster early (on Weibo about a third of deletions come within half
an hour of posting, nine in ten within a day), so a page is read often while it is young
and ever less often as it ages: its interval is a quarter of its age (``AGE_FACTOR``),
halved when its content changed at its latest check (an active page), and clamped to the
target's ``min_every`` and ``max_every`` (defaults ``DEFAULT_MIN_EVERY`` = 5 minutes,
``DEFAULT_MAX_EVERY`` = 1 day).  A URL's age runs from its publication time when the
detector read one, else from its first sighting.  Listings (a target's seed, and pages the
detector read as listings or that carry the target's items) keep their own interval:
``min_every``, else the target's ``every``, else 5 minutes, so that new items are found
quickly.

The budget.  A target's ``budget`` caps its requests over any 24 hours.  A round may spend
what is left of it, and no more than ``BURST`` times its share of the time since the
target's previous round, so that a busy morning does not leave the evening dark.  When
more is due, the most urgent go first: listings, then the youngest, then the most overdue;
the rest wait for a later round and are counted as deferred.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_MIN_EVERY = timedelta(minutes=5)
DEFAULT_MAX_EVERY = timedelta(days=1)
AGE_FACTOR = 0.25     # interval = age × AGE_FACTOR, clamped
CHANGE_FACTOR = 0.5   # a page whose content changed at its latest check: interval × this
BURST = 2             # a round may spend this many times its share of the daily budget
DAY = timedelta(days=1)
MAX_EARLY = timedelta(seconds=30)   # a round this early (or min_every/10) still takes a URL


@dataclass(frozen=True)
class Bounds:
    """A target's recheck bounds (``min_every``, ``max_every``, the listing interval)."""

    min_every: timedelta = DEFAULT_MIN_EVERY
    max_every: timedelta = DEFAULT_MAX_EVERY
    listing_every: timedelta = DEFAULT_MIN_EVERY

    @classmethod
    def of(cls, min_every: timedelta | None, max_every: timedelta | None,
           every: timedelta | None = None) -> Bounds:
        """The bounds of a target from its keys (None: unset).

        >>> b = Bounds.of(None, None)
        >>> [str(x) for x in (b.min_every, b.max_every, b.listing_every)]
        ['0:05:00', '1 day, 0:00:00', '0:05:00']
        >>> Bounds.of(None, None, timedelta(hours=1)).listing_every
        datetime.timedelta(seconds=3600)
        >>> Bounds.of(timedelta(minutes=2), timedelta(minutes=1)).min_every   # max wins
        datetime.timedelta(seconds=60)
        """
        high = max_every or DEFAULT_MAX_EVERY
        low = min(min_every or DEFAULT_MIN_EVERY, high)
        listing = min_every or every or DEFAULT_MIN_EVERY
        return cls(low, high, listing)

    @property
    def early(self) -> timedelta:
        """How much before its time a URL is still taken (rounds start a little late or
        early; missing one by a second would cost a whole round)."""
        return min(MAX_EARLY, self.min_every / 10)


def recheck_interval(age: timedelta, listing: bool, changed: bool, bounds: Bounds) -> timedelta:
    """How long after a check the URL is next due.

    *age*: since its publication (else its first sighting); *changed*: its content
    changed at this check.

    >>> b = Bounds()
    >>> [str(recheck_interval(timedelta(minutes=m), False, False, b)) for m in (0, 40, 240)]
    ['0:05:00', '0:10:00', '1:00:00']
    >>> str(recheck_interval(timedelta(days=30), False, False, b))
    '1 day, 0:00:00'
    >>> str(recheck_interval(timedelta(hours=4), False, True, b))    # active: halved
    '0:30:00'
    >>> str(recheck_interval(timedelta(days=30), True, False, b))    # a listing
    '0:05:00'
    """
    if listing:
        return bounds.listing_every
    interval = max(age, timedelta(0)) * AGE_FACTOR
    if changed:
        interval *= CHANGE_FACTOR
    return min(max(interval, bounds.min_every), bounds.max_every)


def next_check(checked: datetime, born: datetime, changed_at: datetime | None,
               listing: bool, bounds: Bounds) -> datetime:
    """When a URL checked at *checked* is due again; *born*: its publication time, else
    its first sighting; *changed_at*: when its content was last seen to change.

    >>> t0 = datetime(2026, 1, 1)
    >>> next_check(t0 + timedelta(hours=2), t0, None, False, Bounds())
    datetime.datetime(2026, 1, 1, 2, 30)
    >>> next_check(t0 + timedelta(hours=2), t0, t0 + timedelta(hours=2), False, Bounds())
    datetime.datetime(2026, 1, 1, 2, 15)
    """
    changed = changed_at is not None and changed_at >= checked
    return checked + recheck_interval(checked - born, listing, changed, bounds)


def is_due(next_at: datetime | None, at: datetime, bounds: Bounds) -> bool:
    """Whether a URL whose next check is *next_at* is fetched by a round at *at* (a URL
    never scheduled is due).

    >>> t0 = datetime(2026, 1, 1)
    >>> is_due(None, t0, Bounds()), is_due(t0 + timedelta(seconds=20), t0, Bounds())
    (True, True)
    >>> is_due(t0 + timedelta(minutes=1), t0, Bounds())
    False
    """
    return next_at is None or next_at - bounds.early <= at


def allowance(budget: int | None, used: int, since_last: timedelta | None) -> int | None:
    """Requests a round may make for a target: None without a budget; else what the last
    24 hours (*used*) left of it, and at most ``BURST`` times its share of the time since
    the target's previous round (*since_last*; None: no previous round).

    >>> allowance(None, 10, None) is None
    True
    >>> allowance(288, 0, timedelta(minutes=5)), allowance(288, 0, None)
    (2, 288)
    >>> allowance(288, 287, timedelta(hours=1)), allowance(288, 300, timedelta(hours=1))
    (1, 0)
    """
    if budget is None:
        return None
    gap = DAY if since_last is None else min(since_last, DAY)
    share = math.ceil(budget * BURST * gap / DAY)
    return max(0, min(budget - used, share))


@dataclass(frozen=True)
class Candidate:
    """A URL a round could fetch: when it is due, when it was born, whether a listing."""

    url: str
    depth: int
    next_at: datetime | None
    born: datetime
    listing: bool = False


def urgency(c: Candidate, at: datetime) -> tuple:
    """Sort key, most urgent first: listings, then the youngest, then the most overdue.

    >>> t0 = datetime(2026, 1, 1)
    >>> old = Candidate("o", 1, t0, t0 - timedelta(days=3))
    >>> young = Candidate("y", 1, t0, t0 - timedelta(minutes=20))
    >>> seed = Candidate("s", 0, t0, t0 - timedelta(days=9), listing=True)
    >>> [c.url for c in sorted([old, young, seed], key=lambda c: urgency(c, t0))]
    ['s', 'y', 'o']
    """
    overdue = -math.inf if c.next_at is None else -(at - c.next_at).total_seconds()
    return (not c.listing, at - c.born, overdue)


def choose(candidates: list[Candidate], at: datetime, bounds: Bounds,
           budget_left: int | None) -> tuple[list[Candidate], list[Candidate], list[Candidate]]:
    """(fetched, not due, deferred): the due candidates, most urgent first, as many as
    *budget_left* allows (None: all); the rest of the due ones are deferred.

    >>> t0 = datetime(2026, 1, 1)
    >>> cs = [Candidate(str(i), 1, t0 - timedelta(minutes=i), t0 - timedelta(hours=i))
    ...       for i in range(1, 5)] + [Candidate("later", 1, t0 + timedelta(hours=1), t0)]
    >>> fetched, waiting, deferred = choose(cs, t0, Bounds(), 2)
    >>> [c.url for c in fetched], [c.url for c in waiting], [c.url for c in deferred]
    (['1', '2'], ['later'], ['3', '4'])
    """
    due: list[Candidate] = []
    waiting: list[Candidate] = []
    for c in candidates:
        (due if is_due(c.next_at, at, bounds) else waiting).append(c)
    due.sort(key=lambda c: urgency(c, at))
    if budget_left is None:
        return due, waiting, []
    return due[:budget_left], waiting, due[budget_left:]
