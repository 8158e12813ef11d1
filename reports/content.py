"""What a takedown's last seen content said: title, main text, publication time, items,
and the listed terms each holds.

A publication time is kept in UTC; one UTC cannot hold (a page's year 1 or 9999 with an
offset) is unknown, so its age is too.

Each distinct page (text key, items selector) is extracted once with ``diffing.extract``
and searched for the terms there and then; many pages go to a process pool, since both are
CPU-bound Python and a report of a large store reads thousands of pages.  Imports the
standard library, ``diffing``, ``reports.keywords`` and ``snapshots.zones``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import partial

from diffing.extract import extract
from reports.keywords import Matcher
from snapshots.zones import parse_zone

log = logging.getLogger(__name__)

POOL_THRESHOLD = 300  # fewer pages than this: a pool's start-up costs more than it saves
CHUNKSIZE = 128
MAX_TEXT = 20_000  # characters of main text kept per page (keyword matching, excerpts)


# where a publication time's offset came from
ZONE_PAGE = "page"            # the page stated it, or the time is relative to the capture
ZONE_WATCHLIST = "watchlist"  # the target's timezone (the page stated none)
ZONE_ASSUMED = "assumed UTC"  # nobody stated one: read as UTC, its age only bounded


@dataclass
class Content:
    """A page as the report reads it; ``published`` is UTC, and ``published_zone`` says
    where its offset came from (``ZONE_*``): a local time that states no offset is read in
    the target's ``timezone``, else as UTC, which the report marks."""

    title: str = ""
    text: str = ""
    published: datetime | None = None
    published_zone: str = ""
    items: dict[str, str] = field(default_factory=dict)
    item_published: dict[str, tuple[datetime | None, str]] = field(default_factory=dict)
    hits: frozenset[str] = frozenset()  # terms in the title and main text
    item_hits: dict[str, frozenset[str]] = field(default_factory=dict)  # … in title + item


# (key, html, url, items selector, item id, capture time, target's timezone) → one page to
# read; the time resolves relative times ("3小时前"), the zone offset-less ones
Page = tuple[str, str, str, str | None, str | None, datetime | None, str | None]


def read_page(page: Page, matcher: Matcher | None = None) -> tuple[str, Content]:
    """Extract one page and search it; a page extraction cannot read is empty, logged."""
    key, html, url, items, item_id, at, zone_name = page
    zone = _zone(zone_name)
    try:
        p = extract(html, url, items, item_id, item_times=True, at=at, zone=zone)
    except ValueError as exc:  # a bad items selector stored with the target
        log.warning("cannot extract %s (%s): %s", url, key[:12], exc)
        return key, Content()
    text = p.main_text[:MAX_TEXT]
    found = {i.id: i.text[:MAX_TEXT] for i in p.items}
    content = Content(p.title, text, *published(p.published, zone), items=found,
                      item_published={i.id: published(i.published, zone) for i in p.items})
    if matcher:
        content.hits = _search(matcher, p.title, text)
        content.item_hits = {i: _search(matcher, p.title, t) for i, t in found.items()}
    return key, content


def published(when: datetime | None, zone: tzinfo | None) -> tuple[datetime | None, str]:
    """A publication time in UTC, and where its offset came from (``ZONE_*``).

    >>> from datetime import timedelta, timezone
    >>> published(datetime(2021, 3, 15, 8, 0), None)
    (datetime.datetime(2021, 3, 15, 8, 0, tzinfo=datetime.timezone.utc), 'assumed UTC')
    >>> eight = timezone(timedelta(hours=8))
    >>> published(datetime(2021, 3, 15, 8, 0, tzinfo=eight), eight)[1]
    'watchlist'
    """
    if when is None:
        return None, ""
    source = (ZONE_ASSUMED if when.tzinfo is None
              else ZONE_WATCHLIST if zone is not None and when.tzinfo is zone else ZONE_PAGE)
    utc = as_utc(when)
    return utc, source if utc is not None else ""


def _zone(name: str | None) -> tzinfo | None:
    """The target's stored ``timezone`` (checked when its watchlist was read)."""
    if not name:
        return None
    try:
        return parse_zone(name)
    except ValueError:   # a store written by hand: read as if none were named
        return None


def as_utc(when: datetime | None) -> datetime | None:
    """*when* in UTC (naive read as UTC); None where UTC has no such time, as for
    0001-01-01 at +08:00 or 9999-12-31 at -08:00: an unknown time, not a failed report.

    >>> as_utc(datetime.fromisoformat("2021-03-15T08:00:00+08:00"))
    datetime.datetime(2021, 3, 15, 0, 0, tzinfo=datetime.timezone.utc)
    >>> as_utc(datetime.fromisoformat("0001-01-01T00:00:00+08:00")) is None
    True
    """
    if when is None:
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:
        return None


def _search(matcher: Matcher, title: str, text: str) -> frozenset[str]:
    return frozenset(matcher.match(f"{title}\n{text}"))


def read_pages(pages: Iterable[Page], total: int,
               progress: Callable[[int], None] | None = None,
               workers: int | None = None,
               matcher: Matcher | None = None) -> Iterator[tuple[str, Content]]:
    """(key, Content) for every page; *progress* is told how many pages are done."""
    workers = workers or os.cpu_count() or 1
    read = partial(read_page, matcher=matcher)
    if total < POOL_THRESHOLD or workers < 2:
        yield from _counted(map(read, pages), progress)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from _counted(pool.map(read, pages, chunksize=CHUNKSIZE), progress)


def _counted(results: Iterable[tuple[str, Content]],
             progress: Callable[[int], None] | None) -> Iterator[tuple[str, Content]]:
    for done, result in enumerate(results, start=1):
        if progress is not None and (done % CHUNKSIZE == 0):
            progress(done)
        yield result
