"""The watchlist's optional ``[notify]`` table: where `takedown detect` sends what it finds.

::

    [notify]
    urls       = ["mailtos://user:pass@mail.example.org", "ntfy://ntfy.sh/takedowns"]
    kinds      = ["censored", "removed"]   # only these kinds (default: every kind)
    targets    = ["gov-news"]              # only takedowns these targets reach (default: all)
    digest     = "1d"                      # one message a period instead of one an event
    viewer_url = "https://takedown.example.org"   # each message links to the viewer there

``urls`` are Apprise URLs (one scheme a service: ``mailto://``, ``matrix://``,
``slack://``, ``tgram://``, ``ntfy://``, ``json://`` …).  This module holds the spec and
the checks of the keys' values; ``crawler.watchlist`` runs them (and checks ``targets``
against the file's targets), so every problem names file, line and key.  Apprise is
imported only to check ``urls``, so a watchlist without the table never loads it.

Imports ``snapshots`` only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from snapshots.errors import without_passwords
from snapshots.tomllines import Invalid
from snapshots.vocab import Kind

__all__ = ["NotifySpec", "apprise_urls", "kinds", "names"]


@dataclass(frozen=True)
class NotifySpec:
    """The ``[notify]`` table; *digest* is an interval (``1d``) or None: a message each."""

    urls: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    digest: str | None = None
    viewer_url: str | None = None


def accepted(url: str) -> bool:
    """Whether Apprise knows *url* (its scheme, and the parts that scheme needs).

    >>> accepted("json://127.0.0.1:8000/hook"), accepted("http://example.org/")
    (True, False)
    """
    import apprise

    # Apprise logs an error for each URL it cannot read; the caller reports it, located.
    logger = logging.getLogger("apprise")
    before, logger.propagate = logger.propagate, False
    try:
        return bool(url.strip()) and apprise.Apprise().add(url)
    finally:
        logger.propagate = before


def apprise_urls(value: Any) -> tuple[str, ...]:
    """A non-empty list of URLs Apprise accepts; an error shows a URL's password masked."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise Invalid(f"must be a non-empty list of Apprise URL strings, got "
                      f"{without_passwords(repr(value))}")
    for url in value:
        if not accepted(url):
            raise Invalid(f"has {without_passwords(repr(url))}, which is not a URL Apprise "
                          "knows (see https://github.com/caronc/apprise/wiki)")
    return tuple(value)


def kinds(value: Any) -> tuple[str, ...]:
    """Known takedown kinds.

    >>> kinds(["censored"])
    ('censored',)
    >>> kinds(["gone"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    snapshots.tomllines.Invalid: has unknown kind 'gone' (kinds: account_suspended, ...)
    """
    known = sorted(k.value for k in Kind)
    for kind in _strings(value, "kind names"):
        if kind not in known:
            raise Invalid(f"has unknown kind {kind!r} (kinds: {', '.join(known)})")
    return tuple(value)


def names(value: Any) -> tuple[str, ...]:
    """Target names; whether the watchlist has them is checked once its targets are read."""
    return _strings(value, "target names")


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise Invalid(f"must be a non-empty list of {what}, got {value!r}")
    return tuple(value)
