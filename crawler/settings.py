"""Scrapy settings for takedown's crawls (loaded by ``crawler.run``, never from the cwd).

Per-watchlist values (concurrency, delay, timeout, retries, autothrottle, size cap, user
agent) are applied on top by ``crawler.run.crawl_settings`` every round; the values below
for those are the watchlist's own defaults (``snapshots.defaults``), so a crawl without a
``[crawl]`` table and a tool that reads this module alone (``scrapy list``) agree.
``TAKEDOWN_*`` settings are ours.
"""

from __future__ import annotations

import os

from snapshots.defaults import default

BOT_NAME = "takedown"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

USER_AGENT = ("takedown/0.1 (+https://github.com/takedown-project/takedown; "
              "archival monitor of public pages)")
ROBOTSTXT_OBEY = True

# Off: nothing of a crawl should listen on a port.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# Every status is a signal (404, 410, 451 above all): let all reach the spider.
HTTPERROR_ALLOW_ALL = True
# A cut-off body is kept (flagged "dataloss") and retried by our retry middleware.
DOWNLOAD_FAIL_ON_DATALOSS = False
# The size cap is ours (TAKEDOWN_MAX_SIZE): it keeps the head of a large body, on the wire
# and once decoded (Scrapy's limits drop the response instead).
DOWNLOAD_MAXSIZE = 0
DOWNLOAD_WARNSIZE = 0
DOWNLOAD_TIMEOUT = default("crawl.timeout")
# Scrapy's default resolver asks for IPv4 only: a target at http://[::1]:8080/ or on an
# IPv6-only host failed every fetch with "DNS lookup failed".  This one resolves both.
TWISTED_DNS_RESOLVER = "scrapy.resolver.CachingHostnameResolver"
CONCURRENT_REQUESTS = CONCURRENT_REQUESTS_PER_DOMAIN = default("crawl.concurrency")
# Items are stored one at a time anyway (one database connection): Scrapy's default of 100
# parallel workers per response only costs 100 tasks a page.
CONCURRENT_ITEMS = 4
DOWNLOAD_DELAY = default("crawl.delay")

AUTOTHROTTLE_ENABLED = default("crawl.autothrottle")
AUTOTHROTTLE_START_DELAY = 0.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = float(default("crawl.concurrency"))

RETRY_ENABLED = True
RETRY_TIMES = default("crawl.retries")
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    # decodes no more than TAKEDOWN_MAX_SIZE bytes of a gzip/deflate/br/zstd body
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "crawler.middlewares.CappedDecompressionMiddleware": 590,
    "crawler.middlewares.LoopbackOnlyMiddleware": 50,
    # before robots.txt is asked: a URL too long is a failed capture, never a request
    "crawler.middlewares.UrlLengthFailMiddleware": 60,
    # where Scrapy's cookie middleware sits (it is off: a crawl keeps no cookie jar)
    "crawler.middlewares.CookieFileMiddleware": 700,
    # after the retry middleware (process_exception runs from the downloader outwards)
    "crawler.middlewares.BrowserErrorMiddleware": 540,
}
# Scrapy's URL length check drops requests silently; ours (above) fails them instead.
URLLENGTH_LIMIT = 2083
SPIDER_MIDDLEWARES = {"scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None}
ITEM_PIPELINES = {"crawler.pipelines.SnapshotPipeline": 300}
EXTENSIONS = {"crawler.middlewares.SizeCapExtension": 0}

LOG_LEVEL = "INFO"
# Logs go to the handlers of whoever runs the crawl (the CLI sets them up).
LOG_INSTALL_ROOT_HANDLER = False
COOKIES_ENABLED = False
# A <meta http-equiv=refresh> is part of the page as served (a refresh to the home page is
# evidence for the diff engine); following it would store another page in its place.
METAREFRESH_ENABLED = False
DEPTH_LIMIT = 0

# Ours.
TAKEDOWN_MAX_SIZE = default("crawl.max_size")
TAKEDOWN_RETRY_BACKOFF = 0.5          # seconds; doubles with each retry
TAKEDOWN_RETRY_BACKOFF_MAX = 30.0
TAKEDOWN_RETRY_AFTER_MAX = 120.0      # the most a Retry-After header may make us wait
# Refuse every host that is not loopback (tests and benchmarks set it).
TAKEDOWN_LOOPBACK_ONLY = os.environ.get("TAKEDOWN_LOOPBACK_ONLY", "") == "1"
