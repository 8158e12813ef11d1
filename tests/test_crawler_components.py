"""The crawler's Scrapy components in process, the way Scrapy tests its own: a crawler from
``get_crawler`` with takedown's settings, hand-made requests and responses, no network.
Each one is also run end to end by the crawl tests; here a regression names the component.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib

import pytest
import scrapy
from scrapy.exceptions import IgnoreRequest, NotConfigured, StopDownload
from scrapy.http import HtmlResponse, Request, Response
from scrapy.utils.test import get_crawler
from twisted.internet.error import ConnectionRefusedError, DNSLookupError, TimeoutError
from twisted.python.failure import Failure

from crawler.middlewares import (
    BackoffRetryMiddleware,
    CappedDecompressionMiddleware,
    LoopbackOnlyMiddleware,
    SizeCapExtension,
    UrlLengthFailMiddleware,
    UrlTooLong,
)
from crawler.run import crawl_settings
from crawler.spiders.watchlist import error_kind
from crawler.watchlist import CrawlSpec

URL = "http://127.0.0.1:9/page.html"


def crawler_with(**overrides: object):
    """A crawler on takedown's settings for a watchlist's [crawl] defaults, *overrides*
    applied (no pauses between retries unless asked), with its spider made."""
    settings = crawl_settings(CrawlSpec()).copy_to_dict()
    settings.update({"TAKEDOWN_RETRY_BACKOFF": 0.0, "TWISTED_REACTOR_ENABLED": False,
                     **overrides})
    crawler = get_crawler(scrapy.Spider, settings)
    crawler.spider = crawler._create_spider("components")
    return crawler


# -- retries ---------------------------------------------------------------------------------

def test_a_5xx_is_retried_until_the_retries_run_out() -> None:
    mw = BackoffRetryMiddleware.from_crawler(crawler_with(RETRY_TIMES=2))
    request = Request(URL)
    for attempt in (1, 2):
        retried = asyncio.run(mw.process_response(request, Response(URL, status=503)))
        assert isinstance(retried, Request) and retried.meta["retry_times"] == attempt
        request = retried
    last = Response(URL, status=503)
    assert asyncio.run(mw.process_response(request, last)) is last   # kept as the capture


@pytest.mark.parametrize("status", [200, 404, 410, 451, 403])
def test_an_answer_about_the_page_is_never_retried(status: int) -> None:
    mw = BackoffRetryMiddleware.from_crawler(crawler_with())
    response = Response(URL, status=status)
    assert asyncio.run(mw.process_response(Request(URL), response)) is response


def test_a_cut_off_body_is_retried_and_a_refused_connection_too() -> None:
    mw = BackoffRetryMiddleware.from_crawler(crawler_with())
    cut = Response(URL, status=200, flags=["dataloss"])
    assert isinstance(asyncio.run(mw.process_response(Request(URL), cut)), Request)
    again = asyncio.run(mw.process_exception(Request(URL), ConnectionRefusedError()))
    assert isinstance(again, Request) and again.meta["retry_times"] == 1
    assert asyncio.run(mw.process_exception(Request(URL), ValueError("ours"))) is None


# -- size caps -------------------------------------------------------------------------------

def test_the_wire_cap_stops_a_download_past_it_keeping_its_head() -> None:
    ext = SizeCapExtension.from_crawler(crawler_with(TAKEDOWN_MAX_SIZE=1000))
    request = Request(URL)
    ext.bytes_received(b"x" * 600, request, None)
    with pytest.raises(StopDownload) as stop:
        ext.bytes_received(b"x" * 600, request, None)
    assert stop.value.fail is False and request.meta["takedown_size_capped"] is True


def test_no_wire_cap_when_max_size_is_zero() -> None:
    with pytest.raises(NotConfigured):
        SizeCapExtension.from_crawler(crawler_with(TAKEDOWN_MAX_SIZE=0))


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_decompression_keeps_at_most_the_cap_of_decoded_bytes(coding: str) -> None:
    mw = CappedDecompressionMiddleware.from_crawler(crawler_with(TAKEDOWN_MAX_SIZE=4096))
    decoded = b"<html><body>" + b"<p>bomb</p>" * 100_000 + b"</body></html>"
    body = gzip.compress(decoded) if coding == "gzip" else zlib.compress(decoded)
    response = HtmlResponse(URL, body=body, headers={"Content-Encoding": coding,
                                                      "Content-Type": "text/html"})
    out = mw.process_response(Request(URL), response)
    assert len(out.body) == 4096 and decoded.startswith(out.body)
    assert "decoded_capped" in out.flags and b"Content-Encoding" not in out.headers


def test_a_small_body_is_decoded_whole_and_unflagged() -> None:
    mw = CappedDecompressionMiddleware.from_crawler(crawler_with())
    response = HtmlResponse(URL, body=gzip.compress(b"<p>x</p>"),
                            headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})
    out = mw.process_response(Request(URL), response)
    assert (out.body, out.flags) == (b"<p>x</p>", [])


# -- refusals and their names ------------------------------------------------------------------

def test_a_url_past_the_length_limit_fails_as_too_long() -> None:
    mw = UrlLengthFailMiddleware.from_crawler(crawler_with(URLLENGTH_LIMIT=100))
    assert mw.process_request(Request(URL)) is None
    with pytest.raises(UrlTooLong):
        mw.process_request(Request(URL + "?q=" + "x" * 200))


def test_loopback_only_refuses_other_hosts_and_proxies() -> None:
    mw = LoopbackOnlyMiddleware.from_crawler(crawler_with(TAKEDOWN_LOOPBACK_ONLY=True))
    assert mw.process_request(Request("http://[::1]:8/")) is None
    with pytest.raises(IgnoreRequest, match="non-loopback"):
        mw.process_request(Request("http://example.org/"))
    with pytest.raises(IgnoreRequest, match="proxy"):
        mw.process_request(Request(URL, meta={"proxy": "http://proxy.example:3128"}))
    with pytest.raises(NotConfigured):
        LoopbackOnlyMiddleware.from_crawler(crawler_with(TAKEDOWN_LOOPBACK_ONLY=False))


@pytest.mark.parametrize(("exc", "kind"), [
    (TimeoutError(), "timeout"),
    (DNSLookupError(), "dns"),
    (ConnectionRefusedError(), "refused"),
    (UrlTooLong("URL of 3000 characters"), "url_too_long"),
])
def test_a_failed_fetch_is_named(exc: Exception, kind: str) -> None:
    assert error_kind(Failure(exc)) == kind


# -- the pipeline ----------------------------------------------------------------------------

def test_the_pipeline_stores_each_capture_and_counts_it(tmp_path) -> None:
    from datetime import UTC, datetime

    from crawler.pipelines import SnapshotPipeline
    from crawler.run import plan_round
    from crawler.watchlist import parse_watchlist
    from snapshots import open_store
    from snapshots.records import NewCapture

    at = datetime(2021, 3, 15, tzinfo=UTC)
    store = open_store(tmp_path / "data")
    try:
        watchlist = parse_watchlist(f'[[target]]\nname = "t"\nurl = "{URL}"\n')
        crawler = crawler_with()
        crawler.spider.plan = plan_round(watchlist, store, at)
        crawler.spider.store_failure = None
        pipeline = SnapshotPipeline.from_crawler(crawler)
        page = NewCapture("t", URL, 0, "seed", at, status=200, final_url=URL,
                          body=b"<p>x</p>", text="<p>x</p>")
        gone = NewCapture("t", URL + "?gone", 0, "seed", at, status=404, final_url=URL,
                          body=b"", text="")
        assert pipeline.process_item(page) is page and pipeline.process_item(gone) is gone
        counts = crawler.spider.plan.tally.per_target["t"]
        assert (counts["captures"], counts["ok"], counts["gone"]) == (2, 1, 1)
        assert [r.state for r in store.history(URL)] == ["ok"]
        # once the round has failed, what is still in flight is dropped, not stored
        crawler.spider.store_failure = "could not store capture of …: disk full"
        with pytest.raises(scrapy.exceptions.DropItem):
            pipeline.process_item(NewCapture("t", URL + "?late", 0, "seed", at, status=200))
        assert store.history(URL + "?late") == []
    finally:
        store.close()
