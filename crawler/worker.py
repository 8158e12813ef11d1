"""A distributed round's worker: ``takedown worker --redis URL [--db URL]``.

One long-running Scrapy process (Twisted's reactor runs once) with one idle spider,
``FrontierSpider``: scrapy-redis's ``RedisMixin`` keeps it open when idle
(``spider_idle`` -> ``DontCloseSpider``) and turns frontier entries into requests, but
its lossy pop is replaced by a lease (``Frontier.lease``: the entry moves to this worker's
own list).  A ticker renews the worker's lease, requeues the requests of dead workers,
follows the round published by the coordinator (a new round id means a new plan: new
targets, settings, store caches) and tops up the work in hand to the round's concurrency.

A fetch is recorded for every target that claimed the URL (``Frontier.take_claims``); its
request is acknowledged only once those captures are committed (``LeasedSnapshotPipeline``
counts them down) and the claims that came meanwhile are served from the response in hand
(``Frontier.finish_claims``, which then marks the fetch done), or at once when it yields no
capture (a link robots.txt forbids).  A ``reuse``/``follow`` request (a claim on a done
fetch) is served without fetching, from the cache or the store.  The links of a page are
claimed before its captures are stored, so the round can never look finished while they
are on their way.  SIGTERM: take no more work, finish and acknowledge what is in hand, exit.
SIGINT: requeue what is in hand at once and exit.  Imports ``crawler`` and ``snapshots``.

A fetch whose captures the store refused is fetched again (``MAX_TRIES`` in all: a lock
or a connection may come back); given up, it would leave a hole in the round, so the round
fails: the worker reports ``could not store capture of URL: WHY`` to the coordinator
(``crawler.distributed.report_store_failure``), which stops waiting and closes the round
``interrupted``, as a local round ends when its store is full.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import scrapy
from redis import RedisError
from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis.spiders import RedisMixin
from twisted.internet import task

from crawler.browser import browser_settings
from crawler.distributed import (
    FrontierRequests,
    plan_from_context,
    report_store_failure,
    serves,
)
from crawler.fetches import Claim, fetch_key, fetch_profile
from crawler.frontier import PREFIX, Entry, Frontier
from crawler.pipelines import (
    SnapshotPipeline,
    as_capture,
    not_stored,
    store_capture,
    store_reason,
)
from crawler.run import crawl_settings
from crawler.spiders.watchlist import WatchlistSpider
from snapshots import check_place, open_store
from snapshots.defaults import default
from snapshots.records import NewCapture
from snapshots.repo import Store

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

    from crawler.plan import RoundPlan, TargetPlan

log = logging.getLogger(__name__)
LEASE = default("worker.lease")   # seconds; see snapshots.defaults

MAX_TRIES = 3          # a capture the store refused this often is given up: the round fails
AHEAD = 2              # requests leased per unit of the round's concurrency: the
                       # downloader never waits for an acknowledgement to get work
ROUND_EVERY = 0.5      # seconds between two looks at the round id


class FrontierSpider(RedisMixin, FrontierRequests, WatchlistSpider):
    """``WatchlistSpider`` fed by the shared frontier, one round after another."""

    name = "watchlist-worker"

    def __init__(self, plan: RoundPlan, frontier: Frontier, worker_id: str,
                 lease: float = LEASE, poll: float = 0.05, **kwargs: Any) -> None:
        super().__init__(plan=plan, **kwargs)
        self.frontier, self.worker_id = frontier, worker_id
        self.lease_s, self.poll = lease, poll
        self.redis_key = frontier.key("frontier")
        self.leases: dict[str, bytes] = {}     # fetch key (or raw entry) -> raw entry
        self.unstored: Counter[str] = Counter()   # fetch key -> captures not yet stored
        self.spoiled: dict[str, str] = {}      # fetch -> why the store refused a capture
        self.tries: Counter[str] = Counter()
        self.claimed: dict[tuple[str, str], int] = {}
        self.draining = False
        self.serving = serves(plan.store, plan.round_id, plan.at)
        self.done = 0
        self._beat_at = self._round_at = 0.0
        self._ticker: task.LoopingCall | None = None   # made once the reactor runs

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> FrontierSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.setup_redis(crawler)
        # scrapy-redis pops with LRANGE+LTRIM: a request is lost if the worker dies
        spider.fetch_data = spider._take
        spider.count_size = lambda _key: spider.frontier.waiting()
        crawler.signals.connect(spider._opened, signal=signals.spider_opened)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        crawler.signals.connect(spider._spider_error, signal=signals.spider_error)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for req in ():   # the work comes from the frontier (see _tick)
            yield req

    # -- taking work -----------------------------------------------------------------------
    def _take(self, _key: str, _batch: int) -> list[bytes]:
        if self.draining or not self.serving:
            return []
        room = AHEAD * self.plan.crawl.concurrency - len(self.leases)
        return self.frontier.lease(self.worker_id, room)

    def make_request_from_data(self, data: bytes) -> scrapy.Request | list:
        e = Entry.decode(data)
        if e.round_id != self.plan.round_id:
            self._follow_round()
        if not self.serving:   # the round is another database's: leave it to its workers
            self.frontier.nack(self.worker_id, data)
            return []
        t = self.by_name.get(e.target)
        if e.round_id != self.plan.round_id or t is None:
            log.info("dropping %s of round %s: round %s runs", e.url, e.round_id,
                     self.plan.round_id)
            self.frontier.ack(self.worker_id, data)
            return []
        if e.kind != "fetch":
            self._reuse_entry(e, data)
            return []
        self.leases[e.key] = data
        return self.build_request(t, e.url, e.key)

    def build_request(self, t: TargetPlan, url: str, key: str) -> scrapy.Request:
        req = super().build_request(t, url, key)
        req.meta["max_retry_times"] = self.plan.crawl.retries   # the round's, not the first
        return req

    # -- finishing work ----------------------------------------------------------------------
    def claims_of(self, key: str) -> list[Claim]:
        if not self.current(key):   # the response of an earlier round's request
            return []
        return self.frontier.take_claims(self.plan.round_id, key)

    def parse(self, response: Response) -> Iterator[Any]:
        # run it whole first: its links reach the frontier before the captures are acked
        yield from self._tracked(response.meta["fetch"], list(super().parse(response)))

    def failed(self, failure: Failure) -> Iterator[Any]:
        yield from self._tracked(failure.request.meta["fetch"], list(super().failed(failure)))

    def _tracked(self, key: str, out: list[Any]) -> list[Any]:
        """The captures of fetch *key* about to go to the pipeline (``stored`` counts them
        down); none (a link robots.txt forbids): the fetch is settled at once."""
        n = sum(isinstance(o, NewCapture) for o in out)
        self.unstored[key] += n
        if n == 0:
            self._settle(key)
        return out

    def stored(self, c: NewCapture, error: str | None = None) -> None:
        """The pipeline is done with *c* (*error*: why the store refused it); the last
        capture of its fetch settles it."""
        key = fetch_key(self.profiles.get(c.target, ""), c.url)
        if error is not None:
            self.spoiled[key] = error
        self.unstored[key] -= 1
        if self.unstored[key] <= 0:
            del self.unstored[key]
            self._settle(key)

    def _settle(self, key: str) -> None:
        """Every taken claim of fetch *key* is recorded: serve those that came meanwhile,
        then mark the fetch done and acknowledge it (or requeue it, if a capture failed)."""
        if key in self.spoiled:
            self._not_stored(key, self.spoiled.pop(key))
        elif self.current(key):
            try:
                self._finish(key)
            except Exception as exc:   # the store refused a capture: try the fetch again
                log.warning("fetch %s: %r", key, exc, exc_info=True)
                self._not_stored(key, store_reason(exc))
                return
            self.ack(key)
        else:
            self.ack(key)   # a request of an earlier round is dropped

    def _finish(self, key: str) -> None:
        url = Entry.decode(self.leases[key]).url
        while extra := self.frontier.finish_claims(self.plan.round_id, key):
            for claim, recorded in extra:
                for c in self.reuse(key, url, claim, record=not recorded):
                    store_capture(self.plan, c)   # its links were claimed by serve()

    def _reuse_entry(self, e: Entry, raw: bytes) -> None:
        """A claim on a fetch done (by any worker): record it for its target from the
        cache or the store, claim the target's links, acknowledge."""
        self.leases[raw.decode("utf-8")] = raw
        try:
            for c in self.reuse(e.key, e.url, e.claim, record=e.kind == "reuse"):
                store_capture(self.plan, c)
        except Exception as exc:   # the store refused it: try again later
            log.warning("reuse of %s for %s: %r", e.url, e.target, exc, exc_info=True)
            self._not_stored(raw.decode("utf-8"), store_reason(exc))
            return
        self.ack(raw.decode("utf-8"))

    def current(self, key: str) -> bool:
        """Whether fetch *key* is a request of the running round leased here."""
        raw = self.leases.get(key)
        return raw is not None and Entry.decode(raw).round_id == self.plan.round_id

    def ack(self, key: str) -> None:
        raw = self.leases.pop(key, None)
        if raw is None:
            return
        self.frontier.ack(self.worker_id, raw, self.plan.tally.take())  # type: ignore[attr-defined]
        self.done += 1
        if len(self.leases) == self.plan.crawl.concurrency:   # half the work in hand: more
            self.schedule_next_requests()

    def _not_stored(self, key: str, reason: str) -> None:
        """The store refused a capture of the request of *key* for *reason*: requeue it,
        or, given up, fail its round (its captures would be missing from it)."""
        raw = self.leases.get(key)
        if self._retry_or_drop(key, f"not stored ({reason})") and raw is not None:
            e = Entry.decode(raw)
            report_store_failure(self.frontier, e.round_id, not_stored(e.url, reason))

    def _retry_or_drop(self, key: str, why: str) -> bool:
        """Requeue the request of *key*, or give it up after ``MAX_TRIES`` (True)."""
        raw = self.leases.pop(key, None)
        if raw is None:
            return False
        self.tries[key] += 1
        if self.tries[key] < MAX_TRIES:
            log.warning("%s: %s; requeued", key, why)
            self.frontier.nack(self.worker_id, raw)
            return False
        log.error("%s: %s, %d times; given up", key, why, self.tries[key])
        self.frontier.ack(self.worker_id, raw)
        return True

    def _spider_error(self, failure: Failure, response: Response, spider: object) -> None:
        self._retry_or_drop(response.meta["fetch"], f"not parsed ({failure.value!r})")

    # -- rounds, lease, shutdown -----------------------------------------------------------
    def _follow_round(self) -> None:
        context = self.frontier.context()
        if context is None or self._planned(context):
            return
        plan = plan_from_context(context, Store(self.plan.store.engine))
        self.plan, self.max_size = plan, plan.crawl.max_size
        self.by_name = {t.spec.name: t for t in plan.targets}
        self.profiles = {t.spec.name: fetch_profile(t.spec) for t in plan.targets}
        self.claimed = {}
        self.cache.clear()
        self.serving = serves(plan.store, plan.round_id, plan.at)
        self._forget_robots()
        log.info("worker %s: round %s", self.worker_id, plan.round_id)

    def _planned(self, context: dict) -> bool:
        """Whether *context* is the round this worker planned.  The stamp counts as well as
        the id: a round another database published (which this worker does not serve) may
        be followed by this database's round of the same id."""
        return (context["round_id"] == self.plan.round_id
                and context["at"] == self.plan.at.isoformat())

    def _forget_robots(self) -> None:
        # a local round reads robots.txt afresh; Scrapy's middleware keeps it for the
        # process's life, which is many rounds here
        for mw in self.crawler.engine.downloader.middleware.middlewares:
            if isinstance(mw, RobotsTxtMiddleware):
                mw._parsers.clear()

    def _tick(self) -> None:
        try:
            now = time.monotonic()
            if now >= self._beat_at:
                self.frontier.heartbeat(self.worker_id, self.lease_s)
                self.frontier.reap()
                self._beat_at = now + self.lease_s / 3
            if self.draining:
                if not self.leases:
                    self._stop("finished")
                return
            if now >= self._round_at:
                # not serving, the published context is read whole: the next round of
                # this database may carry the id of the round refused
                if not self.serving or self.frontier.round_id() not in (
                        None, self.plan.round_id):
                    self._follow_round()
                self._round_at = now + ROUND_EVERY
            if len(self.leases) < AHEAD * self.plan.crawl.concurrency:
                self.schedule_next_requests()
        except RedisError as exc:
            log.warning("worker %s: Redis: %s", self.worker_id, exc)

    def spider_idle(self) -> None:
        if not self.draining:
            super().spider_idle()   # raises DontCloseSpider

    def _opened(self, spider: object) -> None:
        self._ticker = task.LoopingCall(self._tick)
        self._ticker.start(self.poll, now=True)

    def _closed(self, spider: object, reason: str) -> None:
        if self._ticker is not None and self._ticker.running:
            self._ticker.stop()

    def drain(self) -> None:
        """SIGTERM: no more work; exit once what is in hand is acknowledged."""
        log.warning("worker %s: finishing %d requests, then exiting", self.worker_id,
                    len(self.leases))
        self.draining = True

    def abort(self) -> None:
        """SIGINT: requeue what is in hand now and exit."""
        self.draining = True
        moved = self.frontier.retire(self.worker_id)
        log.warning("worker %s: interrupted, %d requests requeued", self.worker_id, moved)
        self.leases.clear()
        self._stop("shutdown")

    def _stop(self, reason: str) -> None:
        if self._ticker is not None and self._ticker.running:
            self._ticker.stop()
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=reason))


class LeasedSnapshotPipeline(SnapshotPipeline):
    """``SnapshotPipeline``'s writes; the fetch of the capture is settled (its late claims
    served, its request acknowledged) once its last capture is stored.  A capture the
    store refuses does not stop the worker: its fetch is requeued, or given up and its
    round failed (see the module docstring)."""

    def process_item(self, item: Any) -> Any:
        spider: FrontierSpider = self.crawler.spider  # type: ignore[assignment]
        c = as_capture(item)
        key = fetch_key(spider.profiles.get(c.target, ""), c.url)
        if spider.current(key):   # a capture of an earlier round's request is dropped
            try:
                store_capture(self.plan, c)
            except Exception as exc:   # the fetch is requeued, or its round fails
                spider.stored(c, error=store_reason(exc))
                raise DropItem(f"not stored: {c.url}", log_level="DEBUG") from exc
        spider.stored(c)
        return item


def run_worker(redis_url: str, data: str, db: str | None, prefix: str = PREFIX,
               lease: float = LEASE, poll: float = 0.05) -> int:
    """Serve rounds until SIGTERM or SIGINT; returns the requests this worker finished."""
    frontier = Frontier.from_url(redis_url, prefix)
    # a place that cannot hold the store is said now, not at the first round; the store is
    # opened (made, migrated) by the coordinator's round first
    check_place(data, db)
    worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    stop = _Signals()
    context = _wait_for_round(frontier, stop, poll=max(poll, 0.2))
    if context is None:
        return 0
    store = open_store(data, db)
    plan = plan_from_context(context, store)
    settings = crawl_settings(plan.crawl)
    # a worker serves round after round: any may have a browser target (the browser itself
    # starts with the first browser request)
    browser_settings(settings, plan.crawl)
    settings.set("ITEM_PIPELINES", {"crawler.worker.LeasedSnapshotPipeline": 300},
                 priority="cmdline")
    settings.set("REDIS_URL", redis_url, priority="cmdline")
    settings.set("MAX_IDLE_TIME_BEFORE_CLOSE", 0, priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(FrontierSpider)
    process.crawl(crawler, plan=plan, frontier=frontier, worker_id=worker_id, lease=lease,
                  poll=poll)
    stop.attach(crawler)
    log.warning("worker %s serving %s (prefix %r)", worker_id, redis_url, prefix)
    process.start(install_signal_handlers=False)
    frontier.retire(worker_id)
    done = crawler.spider.done if crawler.spider is not None else 0
    log.warning("worker %s: %d requests done, exiting", worker_id, done)
    return done


def _wait_for_round(frontier: Frontier, stop: _Signals, poll: float) -> dict | None:
    """The running round's context, once there is one (None if stopped first)."""
    while not stop.received:
        context = frontier.context()
        if context is not None:
            return context
        time.sleep(poll)
    return None


class _Signals:
    """SIGTERM drains the worker, SIGINT aborts it; before Scrapy runs, both just stop."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.crawler: Crawler | None = None
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def attach(self, crawler: Crawler) -> None:
        self.crawler = crawler

    def _handle(self, signum: int, _frame: object) -> None:
        self.received = signum
        spider = self.crawler.spider if self.crawler is not None else None
        if spider is None:
            return
        from twisted.internet import reactor

        act = spider.drain if signum == signal.SIGTERM else spider.abort
        reactor.callFromThread(act)
