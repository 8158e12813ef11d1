"""Downloader components: retries with backoff, the size caps, URL length, loopback guard.

- ``BackoffRetryMiddleware``: Scrapy's retry, plus a growing pause before each retry, the
  server's ``Retry-After`` honoured (capped), and cut-off bodies ("dataloss") retried.
- ``SizeCapExtension``: stops a download once more than ``TAKEDOWN_MAX_SIZE`` bytes came
  over the wire and keeps its head (the response arrives flagged ``download_stopped``).
- ``CappedDecompressionMiddleware``: in place of Scrapy's ``HttpCompressionMiddleware``,
  undoes gzip, deflate, br and zstd a chunk at a time and keeps the first
  ``TAKEDOWN_MAX_SIZE`` *decoded* bytes (flag ``decoded_capped``), so a decompression bomb
  costs at most the cap (``crawler.decoding``).  Scrapy's own would drop the response
  (``IgnoreRequest``) past ``DOWNLOAD_MAXSIZE``, and with no limit inflate it whole.
  The spider marks a response carrying either flag truncated.  0 means no cap.
- ``UrlLengthFailMiddleware``: a URL longer than ``URLLENGTH_LIMIT`` is failed with
  ``UrlTooLong`` before any request, so it is recorded (``url_too_long``); Scrapy's spider
  middleware of the same setting would drop it without a trace.
- ``LoopbackOnlyMiddleware``: with ``TAKEDOWN_LOOPBACK_ONLY`` every non-loopback host is
  refused (tests and benchmarks must never reach the internet).
- ``CookieFileMiddleware``: a target's ``cookies`` file (its cookies, read at the start of
  the round, in ``meta["takedown_cookies"]``) becomes the ``Cookie`` header of each of its
  requests, redirects included, for the cookies that match the URL; request headers are
  never stored.
- ``BrowserErrorMiddleware``: a browser fetch's Playwright network error, once retries are
  spent, fails as the Twisted error of its kind (``crawler.browser``), so it is recorded
  with the failure kinds of a plain fetch.

Imports ``crawler.browser``, ``crawler.cookies``, ``crawler.decoding`` and ``snapshots.urls``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured, StopDownload
from scrapy.http import TextResponse
from scrapy.responsetypes import responsetypes

from crawler.browser import browser_error, failure_exception
from crawler.cookies import cookie_header
from crawler.decoding import ACCEPTED, decoded_head
from snapshots.urls import is_loopback

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
        if request.meta.get("dont_retry", False) or not (isinstance(
                exception, self.exceptions_to_retry) or browser_error(exception)):
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
    """Stop a download past ``TAKEDOWN_MAX_SIZE`` bytes on the wire, keeping its head."""

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


class CappedDecompressionMiddleware:
    """Undo content codings, keeping at most ``TAKEDOWN_MAX_SIZE`` decoded bytes."""

    def __init__(self, cap: int) -> None:
        self.cap = max(cap, 0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CappedDecompressionMiddleware:
        if not crawler.settings.getbool("COMPRESSION_ENABLED"):
            raise NotConfigured
        return cls(crawler.settings.getint("TAKEDOWN_MAX_SIZE"))

    def process_request(self, request: Request) -> None:
        request.headers.setdefault("Accept-Encoding", ACCEPTED)

    def process_response(self, request: Request, response: Response) -> Response:
        values = response.headers.getlist("Content-Encoding")
        if request.method == "HEAD" or not values:
            return response
        body, capped, left = decoded_head(response.body, values, self.cap)
        if body is response.body:   # nothing undone (unknown coding, or not decodable)
            return response
        if capped:
            log.warning("%s decodes to more than %d bytes: its head is kept", response,
                        self.cap)
        return _decoded(response, body, left, ["decoded_capped"] if capped else [])


def _decoded(response: Response, body: bytes, left: list[bytes],
             flags: list[str]) -> Response:
    """*response* with its decoded *body*, the codings *left* on it, *flags* added, and the
    class its headers and new body call for (as Scrapy's middleware does)."""
    headers = response.headers.copy()
    if left:
        headers["Content-Encoding"] = b", ".join(left)
    else:
        del headers["Content-Encoding"]
    cls = responsetypes.from_args(headers=headers, url=response.url, body=body)
    # the encoding is read again from the new headers and body
    extra = {"encoding": None} if issubclass(cls, TextResponse) else {}
    return response.replace(cls=cls, body=body, headers=headers,
                            flags=[*response.flags, *flags], **extra)


class UrlTooLong(IgnoreRequest):
    """The URL is longer than ``URLLENGTH_LIMIT``: it is never requested."""


class UrlLengthFailMiddleware:
    """Fail, never drop, a request whose URL is longer than ``URLLENGTH_LIMIT``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> UrlLengthFailMiddleware:
        limit = crawler.settings.getint("URLLENGTH_LIMIT")
        if not limit:
            raise NotConfigured
        return cls(limit)

    def process_request(self, request: Request) -> None:
        if len(request.url) > self.limit:
            raise UrlTooLong(f"URL of {len(request.url)} characters, longer than "
                             f"URLLENGTH_LIMIT ({self.limit})")


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
        proxy = request.meta.get("proxy")
        if proxy and not is_loopback(urlsplit(proxy).hostname):  # the request would go there
            raise IgnoreRequest(f"refused non-loopback host {urlsplit(proxy).hostname!r} "
                                "(a proxy; TAKEDOWN_LOOPBACK_ONLY)")


class CookieFileMiddleware:
    """The ``Cookie`` header of a request of a target with a ``cookies`` file."""

    def process_request(self, request: Request) -> None:
        cookies = request.meta.get("takedown_cookies")
        if not cookies:
            return
        header = cookie_header(cookies, request.url)
        if header is None:
            request.headers.pop(b"Cookie", None)
        else:
            request.headers[b"Cookie"] = header.encode("latin-1")


class BrowserErrorMiddleware:
    """A browser fetch's Playwright network error as the Twisted error of its kind."""

    def process_exception(self, request: Request, exception: Exception) -> None:
        mapped = failure_exception(exception)
        if mapped is not None:
            raise mapped from exception
