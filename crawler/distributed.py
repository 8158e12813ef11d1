"""A round crawled by many workers over Redis: the coordinator's side.

``coordinate`` is what ``takedown crawl WATCHLIST --redis URL`` runs instead of
``crawler.run.run_round``: it plans the round exactly as a local round does (seeds, URLs
seen alive lately, not-found probes), publishes the round's context in Redis, pushes the
first requests to the shared ``Frontier``, then waits until every request is captured or
failed (workers push the links they find to the same frontier) while requeueing the
requests of workers whose lease expired.  The post-round steps are the local ones
(``crawler.run.close_round``).  The worker's side is ``crawler.worker``.

Both sides share ``round_context``/``plan_from_context`` (the round as JSON in Redis) and
``FrontierRequests``, the spider mixin that claims URLs in the frontier instead of handing
requests to Scrapy's own scheduler.  Imports ``crawler`` and ``snapshots``.

A worker that gives up a request because the store refused its captures (a full disk)
reports it under ``{prefix}:failed:{round}`` (``report_store_failure``; the first report
stands): the coordinator stops waiting, closes the round ``interrupted`` with what the
store holds of it and raises ``StoreError`` with the worker's message (``crawler.run``'s
``fail_round``, as a local round does), so ``takedown crawl --redis`` exits 2 saying which
capture could not be stored.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crawler.fetches import Claim, fetch_key
from crawler.frontier import Frontier
from crawler.plan import RoundPlan, RoundTally, TargetPlan
from crawler.progress import RoundProgress
from crawler.recheck import FIXED
from crawler.run import close_round, fail_round, plan_round
from crawler.spiders.watchlist import WatchlistSpider
from crawler.watchlist import CrawlSpec, TargetSpec

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crawler.run import RoundResult
    from crawler.watchlist import Watchlist
    from snapshots.repo import Store

log = logging.getLogger(__name__)

NOTE_EVERY = 30.0     # seconds between two "still waiting" notes of the coordinator
FAILED_TTL = 7 * 24 * 3600   # seconds a store failure report outlives a dead coordinator
REAP_EVERY = 0.5      # seconds between two looks for workers whose lease expired


class RedisTally(RoundTally):
    """A worker's tally: counts wait here until the request they belong to is acknowledged
    (``take``), and go to the round's hash in Redis with the acknowledgement, where the
    coordinator sums what all workers did."""

    def __init__(self) -> None:
        super().__init__()
        self.unsent: dict[str, Counter] = {}

    def add(self, target: str, **counts: int) -> None:
        super().add(target, **counts)
        self.unsent.setdefault(target, Counter()).update(counts)

    def take(self) -> dict[str, Counter]:
        out, self.unsent = self.unsent, {}
        return out


class FrontierRequests:
    """Mixin for ``WatchlistSpider``: a target reaching a URL claims it in the shared
    frontier (one fetch per URL and round across all workers, recorded for every target
    that claims it) instead of handing a request to Scrapy."""

    frontier: Frontier
    plan: RoundPlan
    profiles: dict[str, str]
    claimed: dict[tuple[str, str], int]

    def _request(self, t: TargetPlan, url: str, depth: int, via: str,
                 discovered: bool = False) -> Iterator[Any]:
        name = t.spec.name
        # the local memory spares Redis the navigation links every page repeats
        known = self.claimed.get((name, url))
        if known is None or depth < known:
            self.claimed[(name, url)] = depth
            key = fetch_key(self.profiles[name], url)
            self.frontier.claim(self.plan.round_id, key, url,
                                Claim(name, depth, via, discovered))
        return iter(())


class Seeder(FrontierRequests, WatchlistSpider):
    """Pushes a round's first requests (the coordinator never runs Scrapy)."""

    def __init__(self, plan: RoundPlan, frontier: Frontier, **kwargs: Any) -> None:
        super().__init__(plan=plan, **kwargs)
        self.frontier = frontier
        self.claimed = {}

    def seed(self) -> None:
        for _ in self.planned():
            pass   # FrontierRequests pushed each request as it was planned


def round_context(plan: RoundPlan) -> dict:
    """What a worker needs of a round, as JSON: id, stamp, crawl settings, targets (with
    their store ids) and the session parameters dropped from URLs."""
    return {"round_id": plan.round_id, "at": plan.at.isoformat(),
            "crawl": asdict(plan.crawl),
            "targets": [{"id": t.target_id, "spec": asdict(t.spec)} for t in plan.targets],
            "drop": {host: sorted(names) for host, names in plan.drop.items()}}


def plan_from_context(context: dict, store: Store) -> RoundPlan:
    """A worker's plan of the round published as *context*, writing to *store*."""
    targets = [TargetPlan(spec=TargetSpec(**{k: _frozen(v) for k, v in t["spec"].items()}),
                          target_id=t["id"]) for t in context["targets"]]
    store.preload(t.target_id for t in targets)
    round_id = context["round_id"]
    return RoundPlan(round_id=round_id, at=datetime.fromisoformat(context["at"]),
                     crawl=CrawlSpec(**context["crawl"]), targets=targets, store=store,
                     drop={h: set(n) for h, n in context["drop"].items()},
                     tally=RedisTally())


def serves(store: Store, round_id: int, at: datetime) -> bool:
    """Whether *store* is the coordinator's: it holds round *round_id* stamped *at* (a
    worker pointed at another database must not write the round there)."""
    if store.round_at(round_id) == at:
        return True
    log.error("round %s at %s is not in this worker's database %s: is --db the "
              "coordinator's?  Not serving it.", round_id, at.isoformat(),
              store.engine.url.render_as_string(hide_password=True))
    return False


def _frozen(value: Any) -> Any:
    """JSON lists back to the tuples of the frozen specs (``headers`` nests them)."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def coordinate(watchlist: Watchlist, store: Store, at: datetime, frontier: Frontier,
               progress: bool = False, poll: float = 0.05) -> RoundResult:
    """Run one round of *watchlist* on the workers of *frontier*, stamped *at*.  Every
    target fetches every URL it knows (``--fixed``): the workers follow every link, so an
    adaptive plan would not hold there (docs/recheck.md)."""
    token = frontier.lock()
    try:
        plan = plan_round(watchlist, store, at, FIXED)
        take_store_failure(frontier, plan.round_id)   # a report of another store's round
        frontier.open_round(plan.round_id, round_context(plan))
        status = "done"
        try:
            with RoundProgress(plan, enabled=progress):
                Seeder(plan, frontier).seed()
                _wait(frontier, plan, token, poll)
        except KeyboardInterrupt:
            status = "interrupted"
            log.warning("round %s interrupted; its waiting requests are dropped",
                        plan.round_id)
        plan.tally.per_target = frontier.tally(plan.round_id)
        frontier.close_round(plan.round_id)
        failure = take_store_failure(frontier, plan.round_id)
        if failure is not None:
            fail_round(plan, failure)
        return close_round(plan, status)
    finally:
        frontier.unlock(token)


def report_store_failure(frontier: Frontier, round_id: int, message: str) -> None:
    """A worker lost captures of round *round_id*: the store refused them (*message*)."""
    frontier.server.set(frontier.key("failed", round_id), message, nx=True, ex=FAILED_TTL)


def store_failure(frontier: Frontier, round_id: int) -> str | None:
    """The first store failure a worker reported in round *round_id*, if any."""
    raw = frontier.server.get(frontier.key("failed", round_id))
    return raw.decode("utf-8") if raw else None


def take_store_failure(frontier: Frontier, round_id: int) -> str | None:
    """``store_failure``, forgotten in Redis (the round is being closed)."""
    failure = store_failure(frontier, round_id)
    frontier.server.delete(frontier.key("failed", round_id))
    return failure


def _wait(frontier: Frontier, plan: RoundPlan, token: str, poll: float) -> None:
    """Until no request of the round is waiting or leased, or a worker reported a store
    failure: requeue the requests of dead workers, keep the lock, refresh the tally the
    progress display reads."""
    rid = plan.round_id
    last_reap = time.monotonic()
    next_note = last_reap + 5.0
    while (pending := frontier.pending(rid)) > 0 and store_failure(frontier, rid) is None:
        now = time.monotonic()
        if now - last_reap >= REAP_EVERY:
            frontier.reap()
            frontier.renew(token)
            plan.tally.per_target = frontier.tally(rid)
            last_reap = now
        if now >= next_note:
            workers = frontier.workers()
            log.warning("round %s: %d requests pending (%d waiting), %d workers%s", rid,
                        pending, frontier.waiting(), len(workers),
                        "" if workers else ": start one with `takedown worker --redis URL`")
            next_note = now + NOTE_EVERY
        time.sleep(poll)
    log.info("round %s: every request captured or failed, or a capture not stored", rid)
