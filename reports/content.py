"""What a takedown's last seen content said: title, main text, publication time, items.

Each distinct page (text key, items selector) is extracted once with ``diffing.extract``;
many pages go to a process pool, since extraction is CPU-bound Python and a report of a
large store extracts thousands of pages.  Imports the standard library and ``diffing``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from diffing.extract import extract

log = logging.getLogger(__name__)

POOL_THRESHOLD = 300  # fewer pages than this: a pool's start-up costs more than it saves
CHUNKSIZE = 64
MAX_TEXT = 20_000  # characters of main text kept per page (keyword matching, excerpts)


@dataclass(frozen=True)
class Content:
    """A page as the report reads it; ``published`` is UTC (a page's local time, when it
    states no offset, is read as UTC: the age it gives may be off by the site's offset)."""

    title: str = ""
    text: str = ""
    published: datetime | None = None
    items: dict[str, str] = field(default_factory=dict)


# (key, html, url, items selector, item id) → one page to read
Page = tuple[str, str, str, str | None, str | None]


def read_page(page: Page) -> tuple[str, Content]:
    """Extract one page; a page extraction cannot read gives empty content, logged."""
    key, html, url, items, item_id = page
    try:
        p = extract(html, url, items, item_id)
    except ValueError as exc:  # a bad items selector stored with the target
        log.warning("cannot extract %s (%s): %s", url, key[:12], exc)
        return key, Content()
    published = p.published
    if published is not None:
        published = published.replace(tzinfo=UTC) if published.tzinfo is None \
            else published.astimezone(UTC)
    return key, Content(p.title, p.main_text[:MAX_TEXT], published,
                        {i.id: i.text[:MAX_TEXT] for i in p.items})


def read_pages(pages: Iterable[Page], total: int,
               progress: Callable[[int], None] | None = None,
               workers: int | None = None) -> Iterator[tuple[str, Content]]:
    """(key, Content) for every page; *progress* is told how many pages are done."""
    workers = workers or os.cpu_count() or 1
    if total < POOL_THRESHOLD or workers < 2:
        results: Iterable[tuple[str, Content]] = map(read_page, pages)
        yield from _counted(results, progress)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from _counted(pool.map(read_page, pages, chunksize=CHUNKSIZE), progress)


def _counted(results: Iterable[tuple[str, Content]],
             progress: Callable[[int], None] | None) -> Iterator[tuple[str, Content]]:
    for done, result in enumerate(results, start=1):
        if progress is not None and (done % CHUNKSIZE == 0):
            progress(done)
        yield result
