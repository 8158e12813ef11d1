"""The store's side of adaptive recheck: which URLs a round could fetch, what a target
spent of its budget, and each fetched URL's next check.

The policy itself is :mod:`snapshots.recheck` (pure); ``crawler.run`` calls these when it
plans and closes a round.  Imports ``snapshots`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import aliased

from snapshots.db import as_utc
from snapshots.models import Capture, Url
from snapshots.recheck import Bounds, Candidate, next_check
from snapshots.repo import revisitable

if TYPE_CHECKING:
    from snapshots.repo import Store

DAY = timedelta(days=1)


def candidates(store: Store, target_id: int, at: datetime, days: int) -> list[Candidate]:
    """The URLs of a target a round at *at* could revisit (seen alive within *days*, as
    ``Store.urls_to_revisit``), with their next check, birth and listing flag."""
    q = (select(Url.url, Url.depth, Url.next_check, Url.first_seen, Url.published_at,
                Url.listing)
         .where(*revisitable(target_id, at, days)).order_by(Url.id))
    with store.session() as s:
        return [Candidate(url, depth, as_utc(nxt) if nxt else None, _born(first, pub),
                          bool(listing))
                for url, depth, nxt, first, pub, listing in s.execute(q)]


def _born(first_seen: datetime, published: datetime | None) -> datetime:
    """A URL's birth: its publication time when known (and not after its first
    sighting, which a page's own date cannot be), else its first sighting."""
    first = as_utc(first_seen)
    return first if published is None else min(as_utc(published), first)


def requests_since(store: Store, target_id: int, since: datetime, until: datetime) -> int:
    """A target's page fetches in rounds stamped after *since* up to *until*."""
    q = (select(func.count(Capture.id)).join(Url, Url.id == Capture.url_id)
         .where(Capture.target_id == target_id, Url.role == "page",
                Capture.captured_at > since, Capture.captured_at <= until))
    with store.session() as s:
        return int(s.scalar(q) or 0)


def previous_round(store: Store, target_id: int, before: datetime) -> datetime | None:
    """The stamp of the latest round before *before* that captured the target."""
    q = (select(func.max(Capture.captured_at))
         .where(Capture.target_id == target_id, Capture.captured_at < before))
    with store.session() as s:
        last = s.scalar(q)
    return as_utc(last) if last is not None else None


@dataclass(frozen=True)
class Checked:
    """A page URL a round fetched, with what its next check is computed from."""

    url_id: int
    target_id: int
    url: str
    at: datetime
    born: datetime
    changed_at: datetime | None
    listing: bool
    changed: bool      # its content differs from its previous capture's


def checked(store: Store, round_id: int) -> list[Checked]:
    """The page URLs round *round_id* captured."""
    digest = func.coalesce(Capture.text_sha256, Capture.body_sha256)
    prev = aliased(Capture)
    before = (select(func.coalesce(prev.text_sha256, prev.body_sha256))
              .where(prev.url_id == Capture.url_id, prev.round_id != round_id,
                     prev.captured_at <= Capture.captured_at)
              .order_by(prev.captured_at.desc(), prev.id.desc()).limit(1)
              .correlate(Capture).scalar_subquery())
    q = (select(Url.id, Url.target_id, Url.url, Capture.captured_at, Url.first_seen,
                Url.published_at, Url.changed_at, Url.listing, digest, before)
         .join(Url, Url.id == Capture.url_id)
         .where(Capture.round_id == round_id, Url.role == "page"))
    with store.session() as s:
        return [Checked(uid, tid, url, as_utc(at), _born(first, pub),
                        as_utc(ch) if ch else None, bool(listing),
                        now is not None and old is not None and now != old)
                for uid, tid, url, at, first, pub, ch, listing, now, old in s.execute(q)]


def schedule_checks(store: Store, rows: Iterable[Checked],
                    policy: Callable[[Checked], tuple[Bounds, bool] | None]) -> int:
    """Write each fetched URL's ``changed_at`` and ``next_check``; *policy* gives a row's
    target bounds and whether the URL is a listing (a seed is one whatever the detector
    said), or None to leave the row as it is.  Returns the rows written."""
    values = []
    for r in rows:
        rule = policy(r)
        if rule is None:
            continue
        bounds, listing = rule
        changed_at = r.at if r.changed else r.changed_at
        values.append({"uid": r.url_id, "b_changed": changed_at,
                       "b_next": next_check(r.at, r.born, changed_at, listing, bounds)})
    if values:
        stmt = (update(Url).where(Url.id == bindparam("uid"))
                .values(next_check=bindparam("b_next"), changed_at=bindparam("b_changed")))
        with store.writing() as s:
            s.connection().execute(stmt, values)
    return len(values)
