"""Every default the tool has, once, with the words that explain it (in the manner of
Scrapy's ``default_settings.py`` and Datasette's ``SETTINGS``).

The watchlist's ``[crawl]`` table (`crawler.watchlist.CrawlSpec`), the Scrapy settings a
round starts from (`crawler.settings`), the command line's options and their help, the
report's event window and the distributed crawl's Redis prefix and lease all read their
defaults here; ``docs/formats.md`` and ``docs/cli.md`` show them (a test compares).

>>> default("crawl.concurrency"), default("report.before_days"), default("viewer.url")
(8, 7, 'http://127.0.0.1:8080')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    default: Any
    help: str


_HOST, _PORT = "127.0.0.1", 8080

SETTINGS: dict[str, Setting] = {
    # the watchlist's [crawl] table
    "crawl.concurrency": Setting(8, "parallel requests, in all and to one host (1 to 1024)"),
    "crawl.delay": Setting(0.0, "seconds between two requests to one host"),
    "crawl.timeout": Setting(30.0, "seconds one request may take"),
    "crawl.retries": Setting(2, "retries of a 5xx, 429, timeout or reset, with a growing pause"),
    "crawl.user_agent": Setting(None, "the User-Agent header (default: takedown's own)"),
    "crawl.max_size": Setting(10 * 1024 * 1024,
                              "bytes kept of one body, once decoded; 0 means no limit"),
    "crawl.autothrottle": Setting(True, "slow down when a site answers slowly"),
    "crawl.retention_days": Setting(90, "a URL seen alive within this many days is revisited "
                                        "every round"),
    "crawl.every": Setting(None, "schedule interval of targets without their own"),
    "crawl.timezone": Setting(None, "time zone of the times pages write without an offset "
                                    "(targets without their own); unset: read as UTC, and "
                                    "the report says so"),
    # the data folder every command reads and writes
    "data": Setting("takedown-data", "Folder of the SQLite store and other data."),
    # reports and the viewer
    "report.before_days": Setting(7, "Days before an event its window opens."),
    "report.after_days": Setting(30, "Days after an event its window closes."),
    "serve.host": Setting(_HOST, "Address to bind."),
    "serve.port": Setting(_PORT, "Port to bind."),
    "viewer.url": Setting(f"http://{_HOST}:{_PORT}",
                          "Base URL of `takedown serve`, for the side-by-side links."),
    # distributed rounds
    "redis.prefix": Setting("takedown", "Prefix of the deployment's Redis keys."),
    "worker.lease": Setting(30.0, "Seconds this worker's requests stay its own without a "
                                  "heartbeat; if it dies, other workers take them over "
                                  "after that."),
}


def default(name: str) -> Any:
    """The default of setting *name* (KeyError for a name that is not one)."""
    return SETTINGS[name].default


def help_of(name: str) -> str:
    """What setting *name* does, in the words the command line's help uses."""
    return SETTINGS[name].help
