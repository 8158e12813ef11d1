"""The baseline: a bare Scrapy spider, ``python -m bench.bare_spider BASE_URL``.

It crawls ``BASE_URL/index.html`` and every same-host link to depth 2 with a stock
``LinkExtractor``, with takedown's concurrency and politeness settings, and does nothing
with a response but count it; the count is printed as JSON on stdout.  Imports only Scrapy.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from scrapy.linkextractors import LinkExtractor

SETTINGS = {
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    "DOWNLOAD_DELAY": 0,
    "DEPTH_LIMIT": 2,
    "ROBOTSTXT_OBEY": True,
    "TELNETCONSOLE_ENABLED": False,
    "REMOTE_CONTROL_ENABLED": False,
    "LOG_LEVEL": "WARNING",
}


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        parts = urlsplit(base_url)
        self.seed = f"{base_url}/index.html"
        self.allowed_domains = [parts.hostname or ""]
        # LinkExtractor matches allow_domains against host:port.
        self.links = LinkExtractor(allow_domains=[parts.netloc])
        self.count = 0

    async def start(self) -> AsyncIterator[scrapy.Request]:
        # Filtered like any link (start_urls are not), so /index.html is fetched once.
        yield scrapy.Request(self.seed, callback=self.parse)

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        self.count += 1
        for link in self.links.extract_links(response):
            yield response.follow(link, callback=self.parse)


def main(base_url: str) -> None:
    process = CrawlerProcess(SETTINGS)
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, base_url=base_url)
    process.start()
    print(json.dumps({"responses": crawler.spider.count}))


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
