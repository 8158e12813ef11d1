"""Benchmarks of takedown, run by ``make bench`` (``python -m bench [NAME ...]``).

Each benchmark is a module with a ``run() -> dict`` that prints its own report and returns
its figures; ``bench.__main__`` lists them in ``BENCHMARKS`` and merges the figures into
``bench-out/bench.json``.  Only loopback is ever contacted.

- ``bench.pages``: the generated 1,011-page site (pure).
- ``bench.site``: serves it on 127.0.0.1 from a thread, counting hits per path.
- ``bench.bare_spider``: the baseline, a bare Scrapy spider run as a subprocess.
- ``bench.crawl_ratio``: wall time of ``takedown crawl`` against that baseline.
- ``bench.detect_growth``: detect time per round at round 5 vs round 50 of one site.
- ``bench.diff_speed``: our diff of a 1 MB page pair against ``difflib.HtmlDiff``.
- ``bench.report_speed``: ``takedown report`` over 1,000,000 captures, 10,000 takedowns.
- ``bench.workers``: a distributed round on 1 and 2 workers (Redis + PostgreSQL) against
  the bare spider and a local crawl.
"""
