"""``SnapshotPipeline``: the only edge from the crawler to the snapshot store.

Each ``NewCapture`` is written in its own transaction, so a crawl killed at any moment
leaves whole captures only (``store_capture`` also serves the distributed worker, which
records captures of a completed fetch outside Scrapy's item flow).  It also keeps the
round's running tallies (per target: captures, failures, new blobs, bytes) that the
progress display and the summary read.

A capture the store cannot take (a full disk: "database or disk is full") is never
skipped quietly, as Scrapy does with an exception raised in a pipeline: the first one is
recorded on the spider (``store_failure``, the message ``could not store capture of URL:
WHY``, logged once) and closes it (reason ``store_failed``), and the captures still in
flight are dropped unstored (Scrapy logs the drops, whole items, at DEBUG only);
``crawler.run`` then closes the round ``interrupted`` and fails it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_from_coro

from snapshots.records import NewCapture

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.plan import RoundPlan

log = logging.getLogger(__name__)

STORE_FAILED = "store_failed"   # the close reason of a crawl stopped by the store


class SnapshotPipeline:
    """Writes every capture the spider yields; the store and plan come from the spider."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SnapshotPipeline:
        return cls(crawler)

    @property
    def plan(self) -> RoundPlan:
        return self.crawler.spider.plan  # type: ignore[union-attr]

    def process_item(self, item: Any) -> Any:
        c = as_capture(item)
        spider = self.crawler.spider
        if spider.store_failure is not None:   # type: ignore[union-attr]
            raise DropItem(f"not stored, the round has failed: {c.url}", log_level="DEBUG")
        try:
            store_capture(self.plan, c)
        except Exception as exc:
            self.fail(not_stored(c.url, store_reason(exc)))
            raise DropItem(f"not stored: {c.url}", log_level="DEBUG") from exc
        return item

    def fail(self, message: str) -> None:
        """The store refused a capture: remember why and stop the crawl (not awaited: the
        engine waits for the items in progress, this one among them)."""
        log.error("%s; stopping the crawl", message)
        self.crawler.spider.store_failure = message   # type: ignore[union-attr]
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=STORE_FAILED))


def as_capture(item: Any) -> NewCapture:
    return item if isinstance(item, NewCapture) else NewCapture(**ItemAdapter(item).asdict())


def store_reason(exc: BaseException) -> str:
    """Why the store refused a capture: a database error in its driver's words (without
    the SQL statement and its parameters), else the exception's message or name.

    >>> store_reason(OSError(28, "No space left on device"))
    '[Errno 28] No space left on device'
    """
    why = getattr(exc, "orig", None) or exc
    return str(why) or type(why).__name__


def not_stored(url: str, reason: str) -> str:
    """The message of a capture of *url* the store refused for *reason*."""
    return f"could not store capture of {url}: {reason}"


def store_capture(plan: RoundPlan, c: NewCapture) -> None:
    """Record *c* in the round of *plan* and count it in the round's tally."""
    stored = plan.store.record_capture(plan.round_id, plan.target_id(c.target), plan.at, c)
    if stored is None:
        plan.tally.add(c.target, duplicates=1)
        return
    if c.via == "probe":   # the site's not-found page: evidence, not a watched page
        plan.tally.add(c.target, probes=1, new_blobs=stored.new_blobs)
        return
    # one dict: for a failed capture the state's counter *is* "failed" (as two keyword
    # sets, failed=… and **{state: 1}, it raised TypeError after every failed fetch)
    plan.tally.add(c.target, **{"captures": 1, "new_blobs": stored.new_blobs,
                                "bytes": stored.size, "failed": 0, stored.state: 1})
