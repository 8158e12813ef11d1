"""The command line's side of notifications: ``--notify`` URLs and a watchlist's
``[notify]`` table made into one `reports.notify.NotifyOptions`, and detection wrapped so
that it registers the URLs before and delivers after (`notifying`).

The ``--notify`` URLs join the table's ``urls`` and follow its ``kinds``, ``targets``,
``digest`` and ``viewer_url``.  ``takedown schedule`` hands its ``--notify`` URLs to each
``takedown detect`` child in ``TAKEDOWN_NOTIFY`` (space-separated), not on its command
line, where ``ps`` would show their tokens, and not in the job store.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from crawler.notify_table import accepted
from crawler.watchlist import load_watchlist, parse_interval
from reports.notify import NotifyOptions, deliver, prepare, shown

if TYPE_CHECKING:
    from collections.abc import Iterator

    from snapshots.repo import Store

def check_urls(_ctx: click.Context, _param: click.Parameter,
               value: tuple[str, ...]) -> tuple[str, ...]:
    """The ``--notify`` callback: each URL is one Apprise knows."""
    for url in value:
        if not accepted(url):
            raise click.BadParameter(f"{shown(url)!r} is not a URL Apprise knows (see "
                                     "https://github.com/caronc/apprise/wiki)")
    return value


def notify_options(watchlist: str | None, urls: tuple[str, ...]) -> NotifyOptions | None:
    """What to send where, from *watchlist*'s ``[notify]`` and *urls*; None: nowhere."""
    spec = load_watchlist(watchlist).notify if watchlist else None
    every = tuple(dict.fromkeys((*(spec.urls if spec else ()), *urls)))
    if not every:
        return None
    if spec is None:
        return NotifyOptions(every)
    return NotifyOptions(every, spec.kinds, spec.targets,
                         parse_interval(spec.digest) if spec.digest else None, spec.viewer_url)


@contextmanager
def notifying(store: Store, opts: NotifyOptions | None) -> Iterator[None]:
    """Register the URLs, run the block (the detection), then deliver and warn on stderr
    about each URL that refused; an exception in the block delivers nothing."""
    if opts is None:
        yield
        return
    prepare(store, opts)
    yield
    for failure in deliver(store, opts):
        click.echo(f"warning: notify {failure.url}: {failure.error} ({failure.waiting} "
                   "events kept for the next run)", err=True)
