"""Notifications: the takedowns and restorations a detection found, pushed through Apprise.

``takedown detect --notify URL`` (or a watchlist's ``[notify]`` table) calls `prepare`
before detecting (a URL used for the first time is registered, so that only what this and
later detections find is sent) and `deliver` after: the events are queued in the store's
outbox (:mod:`snapshots.outbox`), then sent, one message each (or one message for a burst
of more than `SINGLE_MAX`), or one digest a period.  A failed delivery is returned to the
caller, which warns; its events stay pending and go with the next detection.  Delivery
never raises and is bounded in time: every service's socket timeouts are capped, each
message has `SEND_TIMEOUT` seconds, a URL that fails is not tried again in the same run,
and a run stops sending after `BUDGET` seconds.  See docs/notify.md.

Imports ``snapshots`` only.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from snapshots.errors import TakedownError, without_passwords
from snapshots.outbox import KIND, RESTORED, Filters, Outbox, OutboxItem, destination_key

if TYPE_CHECKING:
    from collections.abc import Iterator

    from snapshots.repo import Store

log = logging.getLogger(__name__)

SOCKET_TIMEOUT = 10.0  # seconds to connect, and to read, for any service (mail's are 15)
SEND_TIMEOUT = 20.0    # seconds one message may take, all told (Apprise's call timeout)
BUDGET = 60.0          # seconds one run may spend sending; the rest waits for the next run
SINGLE_MAX = 10        # more pending events than this for one URL go as one message
LIST_MAX = 50          # events one message lists; the rest are counted
FIELD_CHARS = 300      # a URL, item or notice quoted in a message is cut to this


class NotifyError(TakedownError):
    """``takedown notify --test``: a test message was not delivered."""


@dataclass(frozen=True)
class NotifyOptions:
    """Where and what to send: Apprise *urls*, filters, a *digest* period, a viewer."""

    urls: tuple[str, ...]
    kinds: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    digest: timedelta | None = None
    viewer_url: str | None = None

    @property
    def filters(self) -> Filters:
        return Filters(self.kinds, self.targets)


@dataclass(frozen=True)
class Failure:
    """A URL (password and tokens masked) that refused a delivery, why, and what waits."""

    url: str
    error: str
    waiting: int


def shown(url: str) -> str:
    """*url* fit for a log line: Apprise's private form (tokens and passwords elided),
    without its query, else the URL with its password masked.

    >>> shown("json://ana:s3cret@127.0.0.1:9/hook?x=1")
    'json://ana:***@127.0.0.1:9/hook'
    >>> shown("not-a-url://ana:s3cret@x/")
    'not-a-url://ana:***@x/'
    """
    import apprise

    with _quiet_apprise():
        servers = apprise.Apprise.instantiate(url)
    if not servers:
        return without_passwords(url)
    return without_passwords(servers.url(privacy=True).split("?", 1)[0])


def prepare(store: Store, opts: NotifyOptions) -> None:
    """Register the URLs (before detection): a new one is owed only what comes next."""
    Outbox(store).register(destination_key(u) for u in opts.urls)


def deliver(store: Store, opts: NotifyOptions, budget: float = BUDGET) -> list[Failure]:
    """Queue the new events and send what each URL is owed; the URLs that failed.

    Never raises: a store error while queuing is a failure of every URL (nothing is lost:
    the next run queues the same events)."""
    outbox = Outbox(store)
    try:
        outbox.enqueue([destination_key(u) for u in opts.urls], opts.filters)
    except Exception as exc:  # a constraint race with another detect; the store's trouble
        error = f"could not queue: {type(exc).__name__}: {exc}"
        return [Failure(shown(u), error, 0) for u in opts.urls]
    deadline, clock = time.monotonic() + budget, outbox.clock()
    failures = []
    for url in opts.urls:
        failure = _deliver_to(outbox, url, opts, clock, deadline)
        if failure is not None:
            failures.append(failure)
    return failures


def send_test(urls: tuple[str, ...]) -> None:
    """One test message to each URL; NotifyError naming the URLs that did not take it."""
    failed = [f"{shown(u)} ({error})" for u in urls
              if (error := send(u, "takedown: test message",
                                "A test message from `takedown notify --test`.")) is not None]
    if failed:
        raise NotifyError(f"not delivered to {len(failed)} of {len(urls)} URLs: "
                          + "; ".join(failed))


def _deliver_to(outbox: Outbox, url: str, opts: NotifyOptions, clock: datetime | None,
                deadline: float) -> Failure | None:
    key = destination_key(url)
    items = outbox.pending(key)
    digest_at = None
    if opts.digest is not None:
        if not items or clock is None or clock < _digest_start(outbox, key, items) + opts.digest:
            return None
        batches, digest_at = [items], clock
    else:
        batches = [items] if len(items) > SINGLE_MAX else [[i] for i in items]
    for n, batch in enumerate(batches):
        if time.monotonic() > deadline:
            log.warning("notify %s: time budget spent; %d events wait for the next run",
                        shown(url), sum(len(b) for b in batches[n:]))
            return None
        ids = [i.id for i in batch]
        error = send(url, *message(batch, opts.viewer_url))
        if error is not None:
            outbox.failed(ids, error)
            return Failure(shown(url), error, sum(len(b) for b in batches[n:]))
        outbox.sent(key, ids, digest_at)
    return None


def _digest_start(outbox: Outbox, key: str, items: list[OutboxItem]) -> datetime:
    """A digest period starts at the last digest, or later at the oldest event waiting."""
    last = outbox.digest_at(key)
    return items[0].at if last is None else max(last, items[0].at)


# -- sending --------------------------------------------------------------------------------


def send(url: str, title: str, body: str) -> str | None:
    """Send one plain-text message to *url*: None when delivered, else why not (masked)."""
    import apprise

    with _quiet_apprise():
        server = apprise.Apprise.instantiate(url)
        if not server:
            return "not a URL Apprise knows"
        server.socket_connect_timeout = min(server.socket_connect_timeout, SOCKET_TIMEOUT)
        server.socket_read_timeout = min(server.socket_read_timeout, SOCKET_TIMEOUT)
        sender = apprise.Apprise()
        sender.add(server)
        try:
            result = sender.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT,
                                   timeout=SEND_TIMEOUT, log_level=logging.WARNING)
        except Exception as exc:  # a plugin's bug must not end the round
            return without_passwords(f"{type(exc).__name__}: {exc}")
    if result:
        return None
    said = [e.message for e in result.logs()]   # warnings and errors (log_level)
    return without_passwords(said[-1] if said else f"delivery failed ({result.status.name})")


@contextmanager
def _quiet_apprise() -> Iterator[None]:
    """Apprise's own warnings stay out of the log (the caller reports the failure once),
    unless this module logs at DEBUG."""
    logger = logging.getLogger("apprise")
    before = logger.propagate
    logger.propagate = log.isEnabledFor(logging.DEBUG)
    try:
        yield
    finally:
        logger.propagate = before


# -- messages -------------------------------------------------------------------------------


def message(items: list[OutboxItem], viewer_url: str | None = None) -> tuple[str, str]:
    """(title, plain-text body) of a message about *items*: one event, or a list."""
    if len(items) == 1:
        return _title(items[0]), _block(items[0], viewer_url)
    blocks = [_block(i, viewer_url) for i in items[:LIST_MAX]]
    if len(items) > LIST_MAX:
        blocks.append(f"… and {len(items) - LIST_MAX} more (see `takedown export`)")
    return f"takedown: {_tally(items)}", "\n\n".join(blocks)


def _title(item: OutboxItem) -> str:
    where = _field(item.url)
    if item.event == RESTORED:
        return f"Restored: {where}"
    if item.event.startswith(KIND):
        return f"Takedown now {item.kind}: {where}"
    return f"Takedown ({item.kind}): {where}"


def _block(item: OutboxItem, viewer_url: str | None) -> str:
    """One event: what, where, which target, when, the notice, the viewer page."""
    where = _field(item.url) + (f" (item {_field(item.item)})" if item.item else "")
    if item.event == RESTORED:
        head = f"restored ({item.kind}): {where}"
    elif item.event.startswith(KIND):
        head = f"{item.previous_kind or '?'} → {item.kind}: {where}"
    else:
        head = f"{item.kind}: {where}"
    times = f"last seen {_time(item.last_seen)}; detected {_time(item.detected_at)}"
    if item.restored_at is not None:
        times += f"; restored {_time(item.restored_at)}"
    lines = [head, f"target: {', '.join(item.targets)}", times, _notice(item.evidence)]
    if viewer_url:
        lines.append(f"viewer: {viewer_url.rstrip('/')}/takedowns/{item.takedown_id}")
    return "\n".join(lines)


def _notice(evidence: dict) -> str:
    """The matched notice phrase, else the rule that read the takedown (``http:404``)."""
    if evidence.get("phrase"):
        return f"notice: “{_field(str(evidence['phrase']))}”"
    return f"rule: {_field(str(evidence.get('rule') or '?'))}"


def _tally(items: list[OutboxItem]) -> str:
    """'3 takedowns, 1 kind changed, 2 restored', of the events listed."""
    opened = sum(1 for i in items if i.event != RESTORED and not i.event.startswith(KIND))
    changed = sum(1 for i in items if i.event.startswith(KIND))
    restored = len(items) - opened - changed
    parts = [(opened, "takedown", "takedowns"), (changed, "kind changed", "kinds changed"),
             (restored, "restored", "restored")]
    return ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in parts if n)


def _time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _field(text: str) -> str:
    """Page-given text on one line and cut short: a hostile item or URL cannot forge lines
    of the message.

    >>> _field("a\\nviewer: http://evil/")
    'a viewer: http://evil/'
    """
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= FIELD_CHARS else flat[: FIELD_CHARS - 1] + "…"
