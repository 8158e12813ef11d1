"""Errors raised by the crawler package.

Exception tree::

    snapshots.errors.TakedownError   every error a user can cause
     └── TakedownCrawlError         base of every error the crawler raises on purpose
          ├── WatchlistError        the watchlist file is unreadable or invalid
          ├── WarcImportError       an archive import that would break the store's order
          └── crawler.frontier.FrontierError   Redis unreachable, or a round already runs

A fetch that fails is not an error here: it is recorded as a failed capture. These
exceptions are for problems that stop a round before it starts. The command line catches
them and prints ``error: FILE:LINE: message`` without a traceback.

Imports only ``snapshots.errors``.
"""

from __future__ import annotations

from snapshots.errors import LocatedError, TakedownError

__all__ = ["TakedownCrawlError", "WarcImportError", "WatchlistError"]


class TakedownCrawlError(TakedownError):
    """Base class of the crawler's own errors."""


class WatchlistError(LocatedError, TakedownCrawlError):
    """An invalid watchlist, located by file, line and key.

    >>> e = WatchlistError("wl.toml", 7, "colour", "unknown key 'colour'")
    >>> str(e)
    "wl.toml:7: unknown key 'colour'"
    >>> str(WatchlistError("wl.toml", None, None, "no [[target]] tables"))
    'wl.toml: no [[target]] tables'
    """


class WarcImportError(TakedownCrawlError):
    """``takedown import-warc`` cannot import: no file could be read as an archive, or the
    import would add captures behind rounds the detector already read."""
