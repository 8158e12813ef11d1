"""The one spider: every target of a watchlist in one crawl round.

For each target it fetches the seed URL, every URL of that target seen alive lately (so a
page that vanished from its listing is still checked), and, up to the target's depth, the
same-host links its pages carry that pass ``allow``/``deny``; and one not-found probe per
site.  A URL is fetched once per round whatever number of targets reach it
(``crawler.fetches``): the response, whatever its status, or the failure becomes one
``NewCapture`` item per target that reaches it, and each of them follows the page's links
by its own depth, ``allow`` and ``deny``.  Imports ``crawler`` and ``snapshots`` (records,
patterns, vocab).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from twisted.python.failure import Failure

from crawler.browser import target_meta
from crawler.decoding import head_bytes, head_text
from crawler.fetches import (
    FIRST,
    NEW,
    REFOLLOW,
    REUSE,
    Claim,
    FetchBook,
    FetchCache,
    dropped,
    fetch_key,
    fetch_profile,
    for_claim,
)
from crawler.logins import with_extras
from crawler.middlewares import UrlTooLong
from crawler.plan import ROUND, RoundPlan, TargetPlan
from crawler.probes import PROBE_DEPTH, probe_url
from snapshots.patterns import RunawayPattern
from snapshots.records import NewCapture
from snapshots.vocab import is_html

__all__ = ["PROBE_DEPTH", "WatchlistSpider", "error_kind", "probe_url"]

log = logging.getLogger(__name__)
RUNAWAY_LINKS = 5  # links a target's runaway allow/deny regex may cost a round (each ≤ 0.5 s)

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


_IGNORED_KINDS = (   # IgnoreRequest: words of its message → kind; first match wins
    ("LOOPBACK_ONLY", "refused_host"),
    ("robots.txt", "robots"),
    ("max redirections", "redirect_loop"),   # Scrapy's REDIRECT_MAX_TIMES (a loop, mostly)
)


def error_kind(failure: Failure) -> str:
    """A short name for why a fetch failed (Scrapy wraps Twisted's errors; look inside).

    A request a component refused (``IgnoreRequest``) says which: ``robots``,
    ``refused_host``, ``redirect_loop``, ``url_too_long``, else ``ignored``.
    """
    if failure.check(UrlTooLong):
        return "url_too_long"
    if failure.check(IgnoreRequest):
        message = str(failure.value)
        return next((k for w, k in _IGNORED_KINDS if w in message), "ignored")
    name, message = type(failure.value).__name__, repr(failure.value)
    for names, words, kind in _ERROR_KINDS:
        if name in names or any(w in message for w in words):
            return kind
    return "other"


# failures that never reached the site
NOT_SENT = frozenset({"robots", "refused_host", "url_too_long"})


# the download stopped at the size cap, or the decoding did, or the connection was lost
TRUNCATED_FLAGS = frozenset({"download_stopped", "decoded_capped", "dataloss"})


def _content_type(response: Response) -> str:
    return response.headers.get(b"Content-Type", b"").decode("latin-1")


def _headers(response: Response) -> dict[str, str]:
    return {k.decode("latin-1").lower(): b", ".join(v).decode("latin-1")
            for k, v in response.headers.items()}


def _redirects(meta: dict) -> tuple[tuple[int, str], ...]:
    urls = meta.get("redirect_urls") or []
    reasons = meta.get("redirect_reasons") or []
    # a reason is the status code, or a string such as "meta refresh"
    return tuple((r if isinstance(r, int) else 0, u)
                 for u, r in zip(urls, reasons, strict=False))


class WatchlistSpider(scrapy.Spider):
    name = "watchlist"
    custom_settings: dict[str, Any] = {}

    def __init__(self, plan: RoundPlan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.max_size = plan.crawl.max_size
        self.by_name = {t.spec.name: t for t in plan.targets}
        self.profiles = {t.spec.name: fetch_profile(t.spec) for t in plan.targets}
        self.book = FetchBook()
        self.cache = FetchCache()
        # why the round failed: set by the pipeline when the store refuses a capture
        self.store_failure: str | None = None
        # per target, links on which its allow/deny regex ran away (see `_follow`)
        self.runaway: Counter[str] = Counter()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for req in self.planned():
            yield req

    def planned(self) -> Iterator[Any]:
        """The round's first requests: per target its seed and its revisits, then one
        not-found probe per site (robots.txt may forbid a probe: then it is skipped)."""
        for t in self.plan.targets:
            seed = self.plan.normalize(t.spec.url)
            if seed not in t.skip:   # an adaptive target's seed waits until it is due
                yield from self._request(t, seed, 0, "seed")
            for url, depth in t.revisit:
                yield from self._request(t, self.plan.normalize(url), depth, "revisit")
        for site in self.plan.probes():
            for name in site.targets:
                yield from self._request(self.by_name[name], site.url, PROBE_DEPTH, "probe",
                                         discovered=True)

    def _request(self, t: TargetPlan, url: str, depth: int, via: str,
                 discovered: bool = False) -> Iterator[Any]:
        """*t* reaches *url*: a request when nobody fetches it yet, the captures and link
        requests of its completed fetch when it is done, else nothing (it is under way)."""
        claim = Claim(t.spec.name, depth, via, discovered)
        key = fetch_key(self.profiles[claim.target], url)
        action = self.book.claim(key, claim)
        if action in FIRST:
            self.plan.tally.add(claim.target, queued=1)
        if action == NEW:
            yield self.build_request(t, url, key)
        elif action in (REUSE, REFOLLOW):
            yield from self.reuse(key, url, claim, record=action == REUSE)

    def build_request(self, t: TargetPlan, url: str, key: str) -> scrapy.Request:
        """The request fetching *url* with *t*'s headers, proxy and robots rule."""
        meta = {"target": t.spec.name, "watched": url, "fetch": key,
                "download_timeout": self.plan.crawl.timeout}
        if not t.spec.robots:
            meta["dont_obey_robotstxt"] = True
        if t.spec.proxy:
            meta["proxy"] = t.spec.proxy
        # its cookies and, for render = "browser", its page in Chromium (crawler.browser)
        meta.update(target_meta(t.spec, self.profiles[t.spec.name], self.plan.round_id,
                                self.plan.crawl.timeout))
        return scrapy.Request(url, callback=self.parse, errback=self.failed, meta=meta,
                              headers=dict(t.spec.headers) or None, dont_filter=True)

    def claims_of(self, key: str) -> list[Claim]:
        """The fetch *key* completed: the claims to record it for."""
        return self.book.take(key)

    def reuse(self, key: str, url: str, claim: Claim, record: bool) -> Iterator[Any]:
        """A claim on a completed fetch: its template from the cache, else the store."""
        template = self.cache.get(key)
        if template is None:
            template = self.plan.store.round_fetch(self.plan.round_id, url)
        if template is None:   # nothing was recorded: a link robots.txt forbids
            log.debug("no fetch of %s to reuse for %s", url, claim.target)
            if record:
                self.plan.tally.add(claim.target, queued=-1)
            return
        yield from self.serve(template, claim, record)

    def serve(self, template: NewCapture, claim: Claim, record: bool = True) -> Iterator[Any]:
        """*claim*'s capture of a fetch (when *record*), then its target's link requests."""
        if dropped(template, claim):
            if record:
                self.plan.tally.add(claim.target, queued=-1)
            return
        if record:
            yield for_claim(template, claim)
        t = self.by_name[claim.target]
        ok = template.status is not None and 200 <= template.status < 300
        if ok and claim.depth < t.spec.depth:
            yield from self._follow(t, template.links, claim.depth + 1)

    def completed(self, key: str, template: NewCapture) -> Iterator[Any]:
        """Fetch *key* ended (*template*): recorded for each claim, links followed."""
        self.cache.put(key, template)
        claims = self.claims_of(key)
        if template.error_kind not in NOT_SENT:
            probe = any(c.via == "probe" for c in claims)
            self.plan.tally.add(ROUND, requests=1, probe_requests=int(probe))
        for claim in claims:
            yield from self.serve(template, claim)

    def parse(self, response: Response) -> Iterator[Any]:
        try:
            template = self.capture(response)
        except Exception as exc:   # whatever the page does to reading it, it is recorded
            log.warning("%s: its body could not be read (%s: %s); kept unread",
                        response.url, type(exc).__name__, exc)
            template = self.unreadable(response, exc)
        # a browser fetch's raw body and screenshot; a cookie target's values kept out
        template = with_extras(template, response, self.max_size)
        yield from self.completed(response.meta["fetch"], template)

    def unreadable(self, response: Response, exc: Exception) -> NewCapture:
        """A response whose reading (decoding, link extraction) raised: its raw body head,
        no text, no links, and the exception as the error (kind ``unreadable``)."""
        meta = response.meta
        body, cut = head_bytes(response.body, self.max_size)
        return NewCapture(
            target="", url=meta["watched"], depth=0, via="", fetched_at=datetime.now(UTC),
            status=response.status, final_url=response.url, redirects=_redirects(meta),
            headers=_headers(response), body=body,
            content_type=_content_type(response) or None,
            truncated=cut or bool(TRUNCATED_FLAGS & set(response.flags)),
            error=f"{type(exc).__name__}: {exc}"[:2000], error_kind="unreadable",
            attempts=meta.get("retry_times", 0) + 1,
            elapsed_ms=int(meta.get("download_latency", 0) * 1000))

    def capture(self, response: Response) -> NewCapture:
        """The fetch as a capture template (``for_claim`` makes each target's)."""
        meta = response.meta
        body, text, encoding, links, cut = self._content(response)
        truncated = cut or bool(TRUNCATED_FLAGS & set(response.flags))
        dataloss = "dataloss" in response.flags
        return NewCapture(
            target="", url=meta["watched"], depth=0, via="",
            fetched_at=datetime.now(UTC), status=response.status, final_url=response.url,
            redirects=_redirects(meta), headers=_headers(response), body=body, text=text,
            encoding=encoding,
            content_type=_content_type(response) or None,
            truncated=truncated, error="body cut off before its end" if dataloss else None,
            error_kind="dataloss" if dataloss else None,
            attempts=meta.get("retry_times", 0) + 1,
            elapsed_ms=int(meta.get("download_latency", 0) * 1000), links=tuple(links))

    def _content(self, response: Response) -> tuple[bytes, str | None, str | None,
                                                    list[tuple[str, str]], bool]:
        """(body, text, encoding, links, whether body or text was cut): body and text
        (as UTF-8) at most ``max_size`` bytes each, the text decoded from the kept body."""
        body, cut = head_bytes(response.body, self.max_size)
        if not isinstance(response, TextResponse):
            return body, None, None, [], cut
        if cut:
            response = response.replace(body=body)
        text, text_cut = head_text(response.text, self.max_size)
        markup = is_html(_content_type(response), response.body)
        links = self._extract(response) if markup else []
        return body, text, response.encoding, links, cut or text_cut

    def _extract(self, response: TextResponse) -> list[tuple[str, str]]:
        out = []
        for link in _links.extract_links(response):
            try:
                out.append((self.plan.normalize(link.url), " ".join(link.text.split())))
            except ValueError:
                continue  # mailto:, javascript:, ftp: … are not pages we watch
        return out

    def _follow(self, t: TargetPlan, links: tuple[tuple[str, str], ...],
                depth: int) -> Iterator[Any]:
        name = t.spec.name
        for url, _text in links:
            if self.runaway[name] >= RUNAWAY_LINKS:
                return
            try:
                allowed = t.spec.allows(url)
            except RunawayPattern as exc:
                # a page cannot hang the round through a user's regex: that link is not
                # followed; past RUNAWAY_LINKS such links the target follows none this round
                self.runaway[name] += 1
                last = self.runaway[name] == RUNAWAY_LINKS
                log.warning("%s; link not followed%s", exc,
                            f"; {name} follows no more links this round" if last else "")
                continue
            # an adaptive target leaves a known page alone until it is due (crawler.recheck)
            if allowed and self.plan.may_follow(name, url):
                yield from self._request(t, url, depth, "link", discovered=True)

    def failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request
        meta = request.meta
        template = NewCapture(
            target="", url=meta["watched"], depth=0, via="", fetched_at=datetime.now(UTC),
            final_url=request.url, redirects=_redirects(meta),
            error=f"{type(failure.value).__name__}: {failure.getErrorMessage()}"[:2000],
            error_kind=error_kind(failure), attempts=meta.get("retry_times", 0) + 1)
        yield from self.completed(meta["fetch"], template)
