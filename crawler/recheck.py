"""Adaptive recheck in a round: which known URLs a target fetches, and their next checks.

``plan_revisits`` picks, for an adaptive target, the revisits that are due (the policy and
the budget are :mod:`snapshots.recheck`; the store's queries :mod:`snapshots.due`);
``schedule_round`` writes the next check of every URL a round fetched.  A target is
adaptive in a round when the round is (``takedown crawl --adaptive``, the scheduler's
default) or, by default, when it sets ``min_every``, ``max_every`` or ``budget``; with
``--fixed`` no target is, and every URL seen alive is fetched every round, as before.
Imports ``crawler`` and ``snapshots``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from snapshots.due import (
    DAY,
    candidates,
    checked,
    previous_round,
    requests_since,
    schedule_checks,
)
from snapshots.recheck import Bounds, Candidate, allowance, choose

if TYPE_CHECKING:
    from crawler.plan import RoundPlan
    from crawler.watchlist import TargetSpec
    from snapshots.due import Checked
    from snapshots.repo import Store

AUTO, ADAPTIVE, FIXED = "auto", "adaptive", "fixed"
MODES = (AUTO, ADAPTIVE, FIXED)


def is_adaptive(spec: TargetSpec, mode: str) -> bool:
    """Whether *spec* fetches only what is due in a round of *mode*.

    >>> from crawler.watchlist import TargetSpec
    >>> t, b = TargetSpec("a", "http://x.test/"), TargetSpec("b", "http://x.test/", budget=9)
    >>> [is_adaptive(t, m) for m in MODES], [is_adaptive(b, m) for m in MODES]
    ([False, True, False], [True, True, False])
    """
    if mode == AUTO:
        return (spec.min_every, spec.max_every, spec.budget) != (None, None, None)
    return mode == ADAPTIVE


def bounds_of(spec: TargetSpec) -> Bounds:
    """The target's bounds (its ``min_every``, ``max_every`` and ``every``)."""
    from crawler.watchlist import parse_interval

    def get(text: str | None) -> timedelta | None:
        return None if text is None else parse_interval(text)

    return Bounds.of(get(spec.min_every), get(spec.max_every), get(spec.every))


@dataclass(frozen=True)
class Revisits:
    """An adaptive target's share of a round."""

    fetch: tuple[tuple[str, int], ...]   # (url, depth), most urgent first
    skip: frozenset[str]                 # known URLs left alone: not due, or deferred
    not_due: int
    deferred: int
    budget_left: int | None              # for the seed and new links, after the revisits


def plan_revisits(store: Store, spec: TargetSpec, target_id: int, at: datetime,
                  days: int, seed: str) -> Revisits:
    """What an adaptive target fetches of what it knows, at *at*.  The seed is always a
    listing; it is fetched unless it is not due (or the budget defers it)."""
    bounds = bounds_of(spec)
    cands = [c if c.url != seed else _as_listing(c)
             for c in candidates(store, target_id, at, days)]
    left = allowance(spec.budget, requests_since(store, target_id, at - DAY, at),
                     _since(previous_round(store, target_id, at), at))
    fetch, waiting, deferred = choose(cands, at, bounds, left)
    known = {c.url for c in cands}
    fetch_seed = seed not in known or any(c.url == seed for c in fetch)
    rest = None if left is None else left - len(fetch) - (fetch_seed and seed not in known)
    return Revisits(
        fetch=tuple((c.url, c.depth) for c in fetch if c.url != seed),
        skip=frozenset(c.url for c in (*waiting, *deferred)),
        not_due=len(waiting), deferred=len(deferred),
        budget_left=None if rest is None else max(0, rest))


def _as_listing(c: Candidate) -> Candidate:
    return replace(c, listing=True)


def _since(previous: datetime | None, at: datetime) -> timedelta | None:
    return None if previous is None else at - previous


def schedule_round(plan: RoundPlan) -> int:
    """Write the next check of every page URL the round fetched, by its target's bounds
    (every target's, adaptive or not, so that a later adaptive round starts informed)."""
    by_id = {t.target_id: t for t in plan.targets}
    bounds = {t.target_id: bounds_of(t.spec) for t in plan.targets}
    seeds = {t.target_id: plan.seed(t) for t in plan.targets}

    def policy(row: Checked) -> tuple[Bounds, bool] | None:
        if row.target_id not in by_id:
            return None
        return bounds[row.target_id], row.listing or row.url == seeds[row.target_id]

    return schedule_checks(plan.store, checked(plan.store, plan.round_id), policy)
