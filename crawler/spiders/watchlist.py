"""The one spider: every target of a watchlist in one crawl round.

For each target it fetches the seed URL, every URL of that target seen alive lately (so a
page that vanished from its listing is still checked), and, up to the target's depth, the
same-host links its pages carry that pass ``allow``/``deny``.  Every response, whatever
its status, and every failure becomes a ``NewCapture`` item.  Imports ``crawler`` and
``snapshots.records``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from twisted.python.failure import Failure

from crawler.plan import RoundPlan, TargetPlan
from snapshots.records import NewCapture

log = logging.getLogger(__name__)

_links = LinkExtractor(unique=False, canonicalize=False, tags=("a", "area"), attrs=("href",),
                       deny_extensions=())


_ERROR_KINDS = (   # (exception class names, words in the message) → kind; first match wins
    (("CannotResolveHostError", "DNSLookupError"), ("DNS lookup failed",), "dns"),
    (("DownloadConnectionRefusedError", "ConnectionRefusedError"), ("refused",), "refused"),
    (("DownloadTimeoutError", "TimeoutError", "TCPTimedOutError"), ("took longer than",),
     "timeout"),
    (("ResponseDataLossError",), ("_DataLoss",), "dataloss"),
    (("ConnectionLost", "ConnectionDone", "ResponseFailed"),
     ("ConnectionLost", "ConnectionDone", "Connection was closed", "reset by peer"), "reset"),
)


def error_kind(failure: Failure) -> str:
    """A short name for why a fetch failed (Scrapy wraps Twisted's errors; look inside)."""
    if failure.check(IgnoreRequest):
        return "refused_host" if "LOOPBACK_ONLY" in str(failure.value) else "robots"
    name, message = type(failure.value).__name__, repr(failure.value)
    for names, words, kind in _ERROR_KINDS:
        if name in names or any(w in message for w in words):
            return kind
    return "other"


def _headers(response: Response) -> dict[str, str]:
    return {k.decode("latin-1").lower(): b", ".join(v).decode("latin-1")
            for k, v in response.headers.items()}


def _redirects(meta: dict) -> tuple[tuple[int, str], ...]:
    urls = meta.get("redirect_urls") or []
    reasons = meta.get("redirect_reasons") or []
    # a reason is the status code, or a string such as "meta refresh"
    return tuple((r if isinstance(r, int) else 0, u)
                 for u, r in zip(urls, reasons, strict=False))


def _is_html(response: Response) -> bool:
    if not isinstance(response, TextResponse):
        return False
    ctype = response.headers.get(b"Content-Type", b"").lower()
    return b"html" in ctype or (not ctype and b"<html" in response.body[:2048].lower())


PROBE_DEPTH = 99   # deeper than any target: a probe's links are never followed


def probe_url(seed: str, target: str) -> str:
    """A URL beside *seed* that cannot exist: what the site answers there is its not-found
    page (a soft 404 when it answers 200).  Stable per target, so it is one URL row.

    >>> probe_url("http://127.0.0.1:8/gov/news/list.html?p=2", "gov")
    'http://127.0.0.1:8/gov/news/takedown-probe-65d0a36c13.html'
    """
    parts = urlsplit(seed)
    folder, _, last = parts.path.rpartition("/")
    ext = last[last.rfind("."):] if "." in last else ""
    token = hashlib.sha256(f"takedown-probe:{target}".encode()).hexdigest()[:10]
    return urlunsplit((parts.scheme, parts.netloc, f"{folder}/takedown-probe-{token}{ext}",
                       "", ""))


class WatchlistSpider(scrapy.Spider):
    name = "watchlist"
    custom_settings: dict[str, Any] = {}

    def __init__(self, plan: RoundPlan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.max_size = plan.crawl.max_size
        self.by_name = {t.spec.name: t for t in plan.targets}
        self.seen: dict[str, set[str]] = {t.spec.name: set() for t in plan.targets}

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for req in self.planned():
            yield req

    def planned(self) -> Iterator[scrapy.Request]:
        """The round's first requests: per target its seed, its revisits, its probe."""
        for t in self.plan.targets:
            seed = self.plan.normalize(t.spec.url)
            req = self._request(t, seed, 0, "seed")
            if req is not None:
                yield req
            for url, depth in t.revisit:
                req = self._request(t, self.plan.normalize(url), depth, "revisit")
                if req is not None:
                    yield req
            # robots.txt may forbid the probe: then skip it (discovered)
            probe = self._request(t, probe_url(seed, t.spec.name), PROBE_DEPTH, "probe",
                                  discovered=True)
            if probe is not None:
                yield probe

    def _request(self, t: TargetPlan, url: str, depth: int, via: str,
                 discovered: bool = False) -> scrapy.Request | None:
        name = t.spec.name
        if url in self.seen[name]:
            return None
        self.seen[name].add(url)
        self.plan.tally.add(name, queued=1)
        return self.build_request(t, url, depth, via, discovered)

    def build_request(self, t: TargetPlan, url: str, depth: int, via: str,
                      discovered: bool = False) -> scrapy.Request:
        """The request fetching *url* for target *t* (no bookkeeping)."""
        meta = {"target": t.spec.name, "watched": url, "depth": depth, "via": via,
                "download_timeout": self.plan.crawl.timeout}
        if discovered:
            meta["discovered"] = True
        if not t.spec.robots:
            meta["dont_obey_robotstxt"] = True
        if t.spec.proxy:
            meta["proxy"] = t.spec.proxy
        return scrapy.Request(url, callback=self.parse, errback=self.failed, meta=meta,
                              headers=dict(t.spec.headers) or None, dont_filter=True)

    def parse(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        t = self.by_name[meta["target"]]
        body = response.body
        truncated = bool({"download_stopped", "dataloss"} & set(response.flags)) or (
            len(body) > self.max_size)
        text = encoding = None
        links: list[tuple[str, str]] = []
        if isinstance(response, TextResponse):
            body = body[: self.max_size]
            text, encoding = response.text, response.encoding
            if _is_html(response):
                links = self._extract(response)
        yield NewCapture(
            target=t.spec.name, url=meta["watched"], depth=meta["depth"], via=meta["via"],
            fetched_at=datetime.now(UTC), status=response.status, final_url=response.url,
            redirects=_redirects(meta), headers=_headers(response), body=body, text=text,
            encoding=encoding,
            content_type=response.headers.get(b"Content-Type", b"").decode("latin-1") or None,
            truncated=truncated,
            error="body cut off before its end" if "dataloss" in response.flags else None,
            error_kind="dataloss" if "dataloss" in response.flags else None,
            attempts=meta.get("retry_times", 0) + 1,
            elapsed_ms=int(meta.get("download_latency", 0) * 1000), links=tuple(links))
        if 200 <= response.status < 300 and meta["depth"] < t.spec.depth:
            yield from self._follow(t, links, meta["depth"] + 1)

    def _extract(self, response: TextResponse) -> list[tuple[str, str]]:
        out = []
        for link in _links.extract_links(response):
            try:
                out.append((self.plan.normalize(link.url), " ".join(link.text.split())))
            except ValueError:
                continue  # mailto:, javascript:, ftp: … are not pages we watch
        return out

    def _follow(self, t: TargetPlan, links: list[tuple[str, str]], depth: int) -> Iterator[Any]:
        for url, _text in links:
            if t.spec.allows(url):
                req = self._request(t, url, depth, "link", discovered=True)
                if req is not None:
                    yield req

    def failed(self, failure: Failure) -> Iterator[NewCapture]:
        request = failure.request
        meta = request.meta
        kind = error_kind(failure)
        if kind == "robots" and meta.get("discovered"):
            self.plan.tally.add(meta["target"], queued=-1)
            return  # a link robots.txt forbids was never ours to watch
        yield NewCapture(
            target=meta["target"], url=meta["watched"], depth=meta["depth"], via=meta["via"],
            fetched_at=datetime.now(UTC), final_url=request.url, redirects=_redirects(meta),
            error=f"{type(failure.value).__name__}: {failure.getErrorMessage()}"[:2000],
            error_kind=kind, attempts=meta.get("retry_times", 0) + 1)
