"""``SnapshotPipeline``: the only edge from the crawler to the snapshot store.

Each ``NewCapture`` is written in its own transaction, so a crawl killed at any moment
leaves whole captures only (``store_capture`` also serves the distributed worker, which
records captures of a completed fetch outside Scrapy's item flow).  It also keeps the
round's running tallies (per target: captures, failures, new blobs, bytes) that the
progress display and the summary read.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter

from snapshots.records import NewCapture

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.plan import RoundPlan

log = logging.getLogger(__name__)


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
        c = item if isinstance(item, NewCapture) else NewCapture(**ItemAdapter(item).asdict())
        store_capture(self.plan, c)
        return item


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
