"""scrapy-playwright's download handler with a deadline on the whole browser fetch, and no
wait for the ``load`` event between our page methods.

Each Playwright call the handler makes has a timeout of its own but one: reading the
rendered DOM (``page.content()``), which runs in the page and never returns from a page
whose script spins forever (``for (;;) {}`` once loaded).  One such page would hang the
round.  Here a browser fetch gets ``BROWSER_DEADLINE_FACTOR`` times the crawl's timeout in
all (navigation, settling, screenshot, reading: each bounded by that timeout) plus a
margin; past it the page is closed (its renderer with it) and the fetch fails as a timeout,
which the crawl records, and retries, like any other.  Loaded through the
``DOWNLOAD_HANDLERS`` setting only, so a round without a browser target never imports
Playwright.  Imports ``crawler.browser``.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Any

from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler
from scrapy_playwright.page import PageMethod
from twisted.internet import error

from crawler.browser import STATE, BrowserFetch

log = logging.getLogger(__name__)

BROWSER_DEADLINE_FACTOR = 4     # navigation, settling, screenshot, reading
DEADLINE_MARGIN = 5.0           # seconds: the browser's own start, a context's creation
CLOSE_WAIT = 5.0                # seconds a hung page may take to close


class BoundedPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
    """`ScrapyPlaywrightDownloadHandler` whose browser fetches end by a deadline."""

    async def _download_request(self, request: Any, spider: Any = None) -> Any:
        deadline = self._deadline(request)
        try:
            return await asyncio.wait_for(super()._download_request(request, spider), deadline)
        except TimeoutError:
            await _close(request.meta.get(STATE))
            log.info("%s: the browser fetch did not end within %.0f s; its page is closed",
                     request.url, deadline)
            raise error.TimeoutError(f"the browser fetch took longer than {deadline:.0f} s "
                                     "(the page's scripts kept it busy)") from None

    async def _apply_page_methods(self, page: Any, request: Any, spider: Any) -> None:
        """Our page methods (``crawler.browser``), in order, and nothing else: the base class
        waits for the page's ``load`` event after each, which a subresource that never
        arrives (a stalled image) never fires, and fails the page; ``_settle`` is our wait."""
        for method in request.meta.get("playwright_page_methods") or ():
            if isinstance(method, PageMethod) and callable(method.method):
                method.result = await method.method(page, *method.args, **method.kwargs)

    def _deadline(self, request: Any) -> float:
        timeout = (self.config.navigation_timeout_ms or 30_000) / 1000
        return BROWSER_DEADLINE_FACTOR * timeout + DEADLINE_MARGIN


async def _close(state: Any) -> None:
    page = state.page if isinstance(state, BrowserFetch) else None
    if page is None:
        return
    with suppress(Exception):   # a page already closed, a browser gone: nothing left to do
        await asyncio.wait_for(page.close(run_before_unload=False), CLOSE_WAIT)
