"""Browser-rendered targets (``render = "browser"``): scrapy-playwright driving Chromium.

Only a request whose meta holds ``playwright=True`` goes through the browser; scrapy-playwright's
download handler hands every other request to Scrapy's own, so plain targets fetch as before.
The handler is registered only for a round that has a browser target (`browser_settings`),
and the browser itself starts on the first browser request: a round without one starts none.

A browser request (`browser_meta`) gets its target's cookies added to its page's context
(for the page's own subrequests; the navigation carries them in its ``Cookie`` header, set by
``crawler.middlewares.CookieFileMiddleware`` as for a plain request), then, after the page
loaded, waits for the network to settle (or for ``wait_for``'s selector), keeps the HTTP
response's own body and, with ``screenshot``, takes a full-page PNG.  The response the
spider sees is the rendered DOM (``page.content()``), so detection reads it unchanged;
`rendered` hands the spider the raw body and the screenshot.  A wait that times out is not
a failure: the page is kept as it rendered by then (a page whose awaited element was taken
down must still be captured).  Playwright's navigation errors get the failure kinds of
Scrapy's (`failure_exception`).  Imports ``crawler`` (cookies, watchlist) and
``snapshots.urls``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from snapshots.urls import is_loopback

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.settings import Settings

    from crawler.cookies import Cookie
    from crawler.watchlist import CrawlSpec, TargetSpec

log = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
HANDLER = "crawler.browser_handler.BoundedPlaywrightHandler"  # a deadline per fetch
VIEWPORT = {"width": 1280, "height": 900}
# a full-page screenshot stops this far down: a page hundreds of thousands of pixels tall
# (an endless feed, a hostile page) would cost the browser gigabytes and time out anyway
MAX_SHOT_HEIGHT = 16384
SHOT_CLIP = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": MAX_SHOT_HEIGHT}
SETTLE_MS = 10_000   # the most a page without wait_for is given to go quiet after loading
STATE = "takedown_browser"   # the meta key of a browser fetch's `BrowserFetch`

# Playwright's navigation errors (net::… in the message) → a Twisted error of the same kind,
# so a browser fetch fails with the failure kinds of a plain one (``error_kind``)
_NET_ERRORS = (
    (("ERR_NAME_NOT_RESOLVED", "ERR_NAME_RESOLUTION_FAILED"), "DNSLookupError"),
    (("ERR_CONNECTION_REFUSED",), "ConnectionRefusedError"),
    (("ERR_CONNECTION_RESET", "ERR_EMPTY_RESPONSE", "ERR_CONNECTION_CLOSED",
      "ERR_CONTENT_LENGTH_MISMATCH", "ERR_INCOMPLETE_CHUNKED_ENCODING"), "ConnectionLost"),
    (("ERR_TIMED_OUT", "ERR_CONNECTION_TIMED_OUT", "Timeout "), "TCPTimedOutError"),
)


def launch_options() -> dict[str, Any]:
    """How Chromium is started: Debian's, headless (Playwright cannot download one here)."""
    return {"executable_path": CHROMIUM, "headless": True, "args": list(CHROMIUM_ARGS)}


class _NoTraceback(logging.Filter):
    """scrapy-playwright logs a failed page with its traceback; the failure is recorded with
    its reason (the capture's error), so one line says it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            record.msg, record.args = record.getMessage().splitlines()[0], None
            record.exc_info, record.exc_text = None, None
        return True


def browser_settings(settings: Settings, crawl: CrawlSpec) -> None:
    """Route http(s) through scrapy-playwright's handler (which passes every request without
    ``playwright`` in its meta to Scrapy's own) and set its browser up."""
    quiet = logging.getLogger("scrapy-playwright")
    if not any(isinstance(f, _NoTraceback) for f in quiet.filters):
        quiet.addFilter(_NoTraceback())
    prio = "cmdline"
    settings.set("DOWNLOAD_HANDLERS", {"http": HANDLER, "https": HANDLER}, priority=prio)
    settings.set("PLAYWRIGHT_BROWSER_TYPE", "chromium", priority=prio)
    settings.set("PLAYWRIGHT_LAUNCH_OPTIONS", launch_options(), priority=prio)
    settings.set("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT", crawl.timeout * 1000, priority=prio)
    # one page at a time per context is what a polite crawl does anyway
    settings.set("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT", max(1, crawl.concurrency), priority=prio)
    if settings.getbool("TAKEDOWN_LOOPBACK_ONLY"):
        settings.set("PLAYWRIGHT_ABORT_REQUEST", abort_foreign, priority=prio)


def abort_foreign(request: Any) -> bool:
    """With ``TAKEDOWN_LOOPBACK_ONLY``, a page's subrequest to another host is dropped."""
    parts = urlsplit(request.url)
    return parts.scheme in ("http", "https", "ws", "wss") and not is_loopback(parts.hostname)


def needs_browser(specs: Any) -> bool:
    """Whether any of *specs* (``TargetSpec``s) renders in the browser."""
    return any(s.render == "browser" for s in specs)


@dataclass
class BrowserFetch:
    """What one browser fetch kept besides the rendered DOM (never its cookies' values)."""

    wait_for: str | None
    screenshot: bool
    timeout_ms: float
    cookies: tuple[Cookie, ...] = ()
    navigations: list[Any] = field(default_factory=list)   # main-frame responses, in order
    page: Any = None   # the Playwright page, for closing it past the fetch's deadline
    raw: bytes | None = None
    png: bytes | None = None

    def __repr__(self) -> str:   # meta is printed in some debug lines: no cookie in it
        return f"BrowserFetch(wait_for={self.wait_for!r}, screenshot={self.screenshot})"


def browser_meta(spec: TargetSpec, cookies: tuple[Cookie, ...], context: str,
                 timeout: float) -> dict[str, Any]:
    """The meta of a request of browser target *spec*: its page in *context* (one per
    fetch profile, so targets with other cookies never share one)."""
    from scrapy_playwright.page import PageMethod

    state = BrowserFetch(spec.wait_for, spec.screenshot, timeout * 1000, cookies)
    methods = [PageMethod(_settle, state), PageMethod(_keep_raw, state)]
    if spec.screenshot:
        methods.append(PageMethod(_shoot, state))
    return {"playwright": True, "playwright_context": context or "plain",
            "playwright_context_kwargs": {"viewport": VIEWPORT},
            # the navigation ends with the document; `_settle` then waits for the rest, so a
            # subresource that never finishes (a stalled image) does not fail the page
            "playwright_page_goto_kwargs": {"wait_until": "domcontentloaded"},
            "playwright_page_init_callback": _init_page, "playwright_page_methods": methods,
            STATE: state}


async def _init_page(page: Any, request: Request) -> None:
    state: BrowserFetch = request.meta[STATE]
    state.navigations.clear()
    state.page = page

    def seen(response: Any) -> None:
        if response.frame == page.main_frame and response.request.is_navigation_request():
            state.navigations.append(response)

    page.on("response", seen)
    if state.cookies:
        await page.context.add_cookies([c.as_playwright() for c in state.cookies])


async def _settle(page: Any, state: BrowserFetch) -> None:
    """Wait for ``wait_for``'s element, else for the network to go quiet; a wait that
    times out keeps the page as it is."""
    from playwright.async_api import Error as PlaywrightError

    try:
        if state.wait_for:
            await page.wait_for_selector(state.wait_for, timeout=state.timeout_ms)
        else:   # a page that polls forever never goes quiet: it is kept as it is by then
            await page.wait_for_load_state("networkidle",
                                           timeout=min(state.timeout_ms, SETTLE_MS))
    except PlaywrightError as exc:
        log.info("%s: kept as rendered after waiting for %s (%s)", page.url,
                 state.wait_for or "the network to settle", type(exc).__name__)


async def _keep_raw(page: Any, state: BrowserFetch) -> None:
    from playwright.async_api import Error as PlaywrightError

    if not state.navigations:
        return
    try:
        state.raw = await state.navigations[-1].body()
    except PlaywrightError as exc:   # a redirect's body, a body the browser dropped
        log.info("%s: the response's own body is not kept (%s)", page.url, exc.message)


async def _shoot(page: Any, state: BrowserFetch) -> None:
    from playwright.async_api import Error as PlaywrightError

    try:
        state.png = await page.screenshot(full_page=True, type="png", timeout=state.timeout_ms,
                                          clip=SHOT_CLIP)
    except PlaywrightError as exc:
        log.warning("%s: no screenshot (%s)", page.url, exc.message.splitlines()[0])


def rendered(meta: dict) -> tuple[bytes | None, bytes | None]:
    """(the HTTP response's own body, the screenshot) of a browser fetch, else (None, None)."""
    state = meta.get(STATE)
    if not isinstance(state, BrowserFetch):
        return None, None
    return state.raw, state.png


def browser_error(exception: BaseException) -> str | None:
    """The name of the Twisted error a Playwright navigation error stands for, or None
    (not a Playwright error, or not one of a network failure)."""
    if type(exception).__module__.split(".")[0] != "playwright":
        return None
    message = str(exception)
    if type(exception).__name__ == "TimeoutError":
        return "TCPTimedOutError"
    return next((name for words, name in _NET_ERRORS if any(w in message for w in words)),
                None)


def failure_exception(exception: BaseException) -> Exception | None:
    """*exception* as the Twisted error of its kind, when it is a Playwright network error."""
    from twisted.internet import error

    name = browser_error(exception)
    if name is None:
        return None
    first = str(exception).splitlines()[0] if str(exception) else type(exception).__name__
    return getattr(error, name)(first)


_JARS: dict[tuple[int, str], tuple[Cookie, ...]] = {}


def round_cookies(path: str, round_id: int) -> tuple[Cookie, ...]:
    """The cookies of the file at *path*, read once a round (a renewed file counts from the
    next round on); none, said in a line without a value, when it cannot be read."""
    from crawler.cookies import CookieFileError, read_cookie_file

    key = (round_id, path)
    if key not in _JARS:
        if len(_JARS) > 64:
            _JARS.clear()
        try:
            _JARS[key] = read_cookie_file(path)
        except CookieFileError as exc:
            log.warning("cookies not sent this round: %s", exc)
            _JARS[key] = ()
    return _JARS[key]


def target_meta(spec: TargetSpec, profile: str, round_id: int,
                timeout: float) -> dict[str, Any]:
    """The meta a request of *spec* adds for its cookies and its browser (none for a plain
    target without cookies)."""
    meta: dict[str, Any] = {}
    cookies = round_cookies(spec.cookies, round_id) if spec.cookies else ()
    if spec.cookies:
        meta["takedown_cookies"] = cookies
    if spec.render == "browser":
        meta.update(browser_meta(spec, cookies, profile, timeout))
    return meta
