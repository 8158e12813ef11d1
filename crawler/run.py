"""``run_round``: one capture round of every target of a watchlist.

Opens the round in the store, plans what to fetch (seeds, URLs seen alive within the
retention window, links up to each target's depth), runs the Scrapy crawl in this process,
learns session parameters from the links it saw, and closes the round.  A process can run
one round only (Twisted's reactor does not restart): the scheduler runs ``takedown crawl``
as a subprocess.

A round is ``done`` only when every capture it fetched is stored.  A capture the store
refuses (a full disk) stops the crawl (``crawler.pipelines``); the round is then closed
``interrupted`` with what it did store (whole captures, counted; the failure in its stats
as ``error``) and ``run_round`` raises ``StoreError``, which the command line prints as
``error: could not store capture of URL: WHY; …`` with exit code 2, as for any condition
the user can fix (free some space, crawl again); so does a store that refuses to begin
the round.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from sqlalchemy.exc import DBAPIError

from crawler.browser import browser_settings, needs_browser
from crawler.plan import RoundPlan, RoundTally, TargetPlan
from crawler.progress import RoundProgress
from crawler.recheck import AUTO, is_adaptive, plan_revisits, schedule_round
from crawler.spiders.watchlist import WatchlistSpider
from snapshots.errors import StoreError
from snapshots.urls import normalize_url, param_changes, volatile_params

if TYPE_CHECKING:
    from collections.abc import Iterable

    from crawler.watchlist import CrawlSpec, TargetSpec, Watchlist
    from snapshots.repo import Store

log = logging.getLogger(__name__)

# the tally's counts of captures, recounted from the store once the round is merged
STORED_KEYS = ("captures", "ok", "gone", "notice", "restricted", "failed", "bytes", "probes")


@dataclass(frozen=True)
class RoundResult:
    round_id: int
    at: datetime
    status: str                      # done | interrupted
    tally: RoundTally
    learned: dict[str, set[str]]     # host → session parameters learned this round
    notes: tuple[str, ...] = ()      # what the user should act on (expired cookies)


class _OneLine(logging.Filter):
    """Keeps a record's message, drops its traceback: Scrapy's robots.txt middleware logs
    a site it cannot reach with two tracebacks, though the page's own fetch then fails and
    is stored with its reason."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            record.msg = f"{record.getMessage()} (robots.txt unread: the page is fetched anyway)"
            record.args, record.exc_info, record.exc_text = None, None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_ROBOTS_LOG = logging.getLogger("scrapy.downloadermiddlewares.robotstxt")


def crawl_settings(crawl: CrawlSpec) -> Settings:
    """Scrapy settings: ``crawler.settings`` plus the watchlist's ``[crawl]`` table."""
    if not any(isinstance(f, _OneLine) for f in _ROBOTS_LOG.filters):
        _ROBOTS_LOG.addFilter(_OneLine())
    s = Settings()
    s.setmodule("crawler.settings", priority="project")
    s.set("CONCURRENT_REQUESTS", crawl.concurrency, priority="cmdline")
    s.set("CONCURRENT_REQUESTS_PER_DOMAIN", crawl.concurrency, priority="cmdline")
    s.set("DOWNLOAD_DELAY", crawl.delay, priority="cmdline")
    s.set("DOWNLOAD_TIMEOUT", crawl.timeout, priority="cmdline")
    s.set("RETRY_TIMES", crawl.retries, priority="cmdline")
    s.set("AUTOTHROTTLE_ENABLED", crawl.autothrottle, priority="cmdline")
    s.set("AUTOTHROTTLE_TARGET_CONCURRENCY", float(crawl.concurrency), priority="cmdline")
    s.set("TAKEDOWN_MAX_SIZE", crawl.max_size, priority="cmdline")
    if crawl.user_agent:
        s.set("USER_AGENT", crawl.user_agent, priority="cmdline")
    return s


def plan_round(watchlist: Watchlist, store: Store, at: datetime,
               recheck: str = AUTO) -> RoundPlan:
    """Begin the round stamped *at* and plan its requests; StoreError, before anything is
    written, when *at* is earlier than the store's latest round (detection reads rounds in
    time order: a back-dated round would be compared against its own future).  *recheck*
    (``auto``, ``adaptive``, ``fixed``) says which targets fetch only what is due
    (``crawler.recheck``)."""
    latest = store.latest_round()
    if latest is not None and at < latest[1]:
        raise StoreError(f"round stamp {at.isoformat()} is earlier than round {latest[0]} at "
                         f"{latest[1].isoformat()}: rounds are stamped in time order (give a "
                         "later --at, or leave it out for now)")
    ids = store.ensure_targets((t.name, t.url, asdict(t)) for t in watchlist.targets)
    round_id = store.begin_round(at, watchlist.path)
    targets = []
    tally = RoundTally()
    drop = store.volatile_params()
    for t in watchlist.targets:
        days = (watchlist.crawl.retention_days if t.retention_days is None
                else t.retention_days)
        if is_adaptive(t, recheck):
            targets.append(_adaptive_plan(store, t, ids[t.name], at, days, tally, drop))
            continue
        revisit = tuple(store.urls_to_revisit(ids[t.name], at, days))
        targets.append(TargetPlan(spec=t, target_id=ids[t.name], revisit=revisit))
    store.preload(ids.values())
    return RoundPlan(round_id=round_id, at=at, crawl=watchlist.crawl, targets=targets,
                     store=store, drop=drop, tally=tally)


def _adaptive_plan(store: Store, t: TargetSpec, target_id: int, at: datetime, days: int,
                   tally: RoundTally, drop: dict[str, set[str]]) -> TargetPlan:
    """An adaptive target's plan: its due revisits, what it leaves alone, its budget
    (*drop*: the session parameters learned per host)."""
    try:
        seed = normalize_url(t.url, drop=drop.get(urlsplit(t.url).hostname or "", ()))
    except ValueError:
        seed = t.url
    r = plan_revisits(store, t, target_id, at, days, seed)
    tally.add(t.name, not_due=r.not_due, deferred=r.deferred)
    return TargetPlan(spec=t, target_id=target_id, revisit=r.fetch, adaptive=True,
                      skip=r.skip, budget_left=r.budget_left)


def run_round(watchlist: Watchlist, store: Store, at: datetime,
              progress: bool = False, extra_settings: dict | None = None,
              recheck: str = AUTO) -> RoundResult:
    """Capture every target of *watchlist* once, stamped *at*; ``StoreError`` (the
    round closed ``interrupted``) when the store refused a capture."""
    try:
        plan = plan_round(watchlist, store, at, recheck)
    except DBAPIError as exc:   # a full disk, mostly: said in a line, like a failed capture
        raise StoreError(f"could not begin the round: {exc.orig}") from exc
    settings = crawl_settings(watchlist.crawl)
    if needs_browser(watchlist.targets):   # no browser, not even its driver, otherwise
        browser_settings(settings, watchlist.crawl)
    for key, value in (extra_settings or {}).items():
        settings.set(key, value, priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(WatchlistSpider)
    reasons: list[str] = []

    def closed(spider: object, reason: str) -> None:
        reasons.append(reason)

    crawler.signals.connect(closed, signal=signals.spider_closed)
    with RoundProgress(plan, enabled=progress):
        process.crawl(crawler, plan=plan)
        process.start()
    failure = crawler.spider.store_failure if crawler.spider is not None else None
    if failure is not None:
        fail_round(plan, failure)   # whatever reason the engine closed with
    status = "done" if reasons == ["finished"] else "interrupted"
    if status != "done":
        log.warning("round %s ended early: %s", plan.round_id, reasons or "no close signal")
    return close_round(plan, status)


def close_round(plan: RoundPlan, status: str) -> RoundResult:
    """The steps after the fetching: learn session parameters, count what the store holds
    of the round (merged URLs keep one capture), close the round in the store with its
    stats (a local round and a distributed one end alike)."""
    learned = learn_session_params(plan.store, plan.round_id)
    schedule_round(plan)
    recount(plan, plan.store.round_counts(plan.round_id))
    stats = _stats(plan.tally, status, learned, _adaptive(plan))
    plan.store.finish_round(plan.round_id, stats, status)
    return RoundResult(plan.round_id, plan.at, status, plan.tally, learned,
                       login_notes(plan))


def login_notes(plan: RoundPlan) -> tuple[str, ...]:
    """A line per target with a cookies file whose pages answered with a login wall: its
    cookies have likely expired (the captures are restricted, never takedowns)."""
    notes = []
    for t in plan.targets:
        n = plan.tally.per_target.get(t.spec.name, Counter())["restricted"]
        if t.spec.cookies and n:
            notes.append(f"{t.spec.name}: {n} page(s) answered with a login page or refusal: "
                         f"its cookies ({t.spec.cookies}) may have expired; recorded as "
                         "restricted, not as takedowns; export fresh cookies to that file")
    return tuple(notes)


def fail_round(plan: RoundPlan, failure: str) -> NoReturn:
    """Close the round ``interrupted`` with what the store holds of it, learning nothing
    (a store that refused a capture may refuse those writes too), and raise
    ``StoreError(failure)``, saying how much of the round was kept.  When the store
    refuses even to close the round, it stays ``running`` until the next round begins,
    which marks it ``interrupted``."""
    recount(plan, plan.store.round_counts(plan.round_id))
    stats = _stats(plan.tally, "interrupted", {}, _adaptive(plan)) | {"error": failure}
    try:
        plan.store.finish_round(plan.round_id, stats, "interrupted")
    except DBAPIError as exc:
        log.error("round %s could not be closed either (%s): the next round will mark it "
                  "interrupted", plan.round_id, exc.orig)
    raise StoreError(f"{failure}; round {plan.round_id} interrupted "
                     f"(captures stored: {plan.tally.total('captures')})")


def recount(plan: RoundPlan, stored: dict[str, dict[str, int]]) -> None:
    """Replace the tally's capture counts (counted as captures were written, before URLs
    were merged) by what the store holds; queued, new blobs and requests stay."""
    for t in plan.targets:
        counts = plan.tally.per_target.setdefault(t.spec.name, Counter())
        for key in STORED_KEYS:
            counts.pop(key, None)
        counts.update({k: n for k, n in stored.get(t.spec.name, {}).items() if n})


def learn_session_params(store: Store, round_id: int) -> dict[str, set[str]]:
    """Find query parameters whose value changes round after round on the same link, mark
    them volatile for their host and merge the URLs they had split."""
    changed: dict[str, Counter] = defaultdict(Counter)
    seen: dict[str, Counter] = defaultdict(Counter)
    for _page, old, new in store.link_pairs(round_id):
        old_by_host, new_by_host = _by_host(old), _by_host(new)
        for host, links in new_by_host.items():
            ch, sn = param_changes(old_by_host.get(host, []), links)
            changed[host].update(ch)
            seen[host].update(sn)
    learned: dict[str, set[str]] = {}
    known = store.volatile_params()
    for host in seen:
        names = volatile_params(changed[host], seen[host]) - known.get(host, set())
        if names:
            learned[host] = names
            evidence = {n: {"changed": changed[host][n], "seen": seen[host][n]} for n in names}
            store.add_volatile_params(host, names, evidence)
            log.info("learned session parameters on %s: %s", host, sorted(names))
    if learned:
        drop = store.volatile_params()
        store.renormalise_urls(
            lambda u: normalize_url(u, drop=drop.get(urlsplit(u).hostname or "", ())))
    return learned


def _by_host(links: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for text, url in links:
        out[urlsplit(url).hostname or ""].append((text, url))
    return out


def _adaptive(plan: RoundPlan) -> list[str]:
    return [t.spec.name for t in plan.targets if t.adaptive]


def _stats(tally: RoundTally, status: str, learned: dict[str, set[str]],
           adaptive: Iterable[str] = ()) -> dict:
    per = {name: dict(c) for name, c in tally.targets().items()}
    return {"status": status, "captures": tally.total("captures"),
            "new_blobs": tally.total("new_blobs"), "failed": tally.total("failed"),
            "bytes": tally.total("bytes"), "requests": tally.round["requests"],
            "probe_requests": tally.round["probe_requests"], "per_target": per,
            "learned_params": {h: sorted(n) for h, n in learned.items()},
            # targets that fetched only what was due: detection reads a page they left
            # alone as not due, never as gone (diffing.detect)
            "adaptive": sorted(adaptive)}
