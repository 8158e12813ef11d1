"""Downloader components: retries with backoff, the size cap, the loopback guard.

- ``BackoffRetryMiddleware``: Scrapy's retry, plus a growing pause before each retry, the
  server's ``Retry-After`` honoured (capped), and cut-off bodies ("dataloss") retried.
- ``SizeCapExtension``: stops a download at ``TAKEDOWN_MAX_SIZE`` and keeps its head (the
  response arrives flagged ``download_stopped``; the spider marks it truncated).
- ``LoopbackOnlyMiddleware``: with ``TAKEDOWN_LOOPBACK_ONLY`` every non-loopback host is
  refused (tests and benchmarks must never reach the internet).

Imports nothing of ours.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured, StopDownload

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

log = logging.getLogger(__name__)


def retry_after_seconds(value: str | bytes | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta or HTTP date), or None.

    >>> retry_after_seconds(b"3")
    3.0
    >>> retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT",
    ...                     datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC))
    10.0
    >>> retry_after_seconds("soon") is None
    True
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class BackoffRetryMiddleware(RetryMiddleware):
    """Retry 5xx/429/timeouts/resets/cut-off bodies after an exponential pause."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        mw = super().from_crawler(crawler)
        s = crawler.settings
        mw.backoff = s.getfloat("TAKEDOWN_RETRY_BACKOFF")
        mw.backoff_max = s.getfloat("TAKEDOWN_RETRY_BACKOFF_MAX")
        mw.retry_after_max = s.getfloat("TAKEDOWN_RETRY_AFTER_MAX")
        return mw

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry", False):
            return response
        if response.status in self.retry_http_codes:
            reason = f"HTTP {response.status}"
        elif "dataloss" in response.flags:
            reason = "truncated body"
        else:
            return response
        retry = self._retry(request, reason)
        if retry is None:
            return response
        wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        await self._pause(request, wait)
        return retry

    async def process_exception(self, request: Request, exception: Exception):
        if request.meta.get("dont_retry", False) or not isinstance(
                exception, self.exceptions_to_retry):
            return None
        retry = self._retry(request, exception)
        if retry is not None:
            await self._pause(request, None)
        return retry

    async def _pause(self, request: Request, retry_after: float | None) -> None:
        n = request.meta.get("retry_times", 0)
        wait = min(self.backoff * (2 ** n), self.backoff_max)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.retry_after_max))
        if wait > 0:
            await asyncio.sleep(wait)


class SizeCapExtension:
    """Keep only the first ``TAKEDOWN_MAX_SIZE`` bytes of a body."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.received: dict[int, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SizeCapExtension:
        cap = crawler.settings.getint("TAKEDOWN_MAX_SIZE")
        if cap <= 0:
            raise NotConfigured
        ext = cls(cap)
        crawler.signals.connect(ext.bytes_received, signal=signals.bytes_received)
        crawler.signals.connect(ext.forget, signal=signals.response_downloaded)
        return ext

    def bytes_received(self, data: bytes, request: Request, spider: object) -> None:
        key = id(request)
        total = self.received.get(key, 0) + len(data)
        self.received[key] = total
        if total > self.cap:
            self.received.pop(key, None)
            request.meta["takedown_size_capped"] = True
            raise StopDownload(fail=False)

    def forget(self, response: Response, request: Request, spider: object) -> None:
        self.received.pop(id(request), None)


def is_loopback(host: str | None) -> bool:
    """
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("example.org")
    (True, True, False)
    """
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class LoopbackOnlyMiddleware:
    """Refuse any request to a non-loopback host (``TAKEDOWN_LOOPBACK_ONLY``)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LoopbackOnlyMiddleware:
        if not crawler.settings.getbool("TAKEDOWN_LOOPBACK_ONLY"):
            raise NotConfigured
        return cls()

    def process_request(self, request: Request) -> None:
        host = urlsplit(request.url).hostname
        if not is_loopback(host):
            raise IgnoreRequest(f"refused non-loopback host {host!r} (TAKEDOWN_LOOPBACK_ONLY)")
