"""Import benchmark: ``takedown import-warc`` of a WARC against warcio's bare reading of it.

The WARC is generated with warcio: ``PAGES`` HTML pages of a site (about 8 KB each, with
links) captured on ``DAYS`` days, every page a response on its first day and, on later
days, a response when it changed (every third page) or a revisit otherwise, each with its
request record: a few thousand records.  Ours: ``import_archives`` into a fresh SQLite
store (scan, revisit resolution, the crawler's decoding and link extraction, the store's
writes).  Baseline: one pass of warcio's ``ArchiveIterator`` reading every record's payload
(``content_stream().read()``).  Reported: records/s and MB/s of each, and the ratio of
their times (import / bare).  Imports ``crawler``, ``snapshots`` and the standard library.
"""

from __future__ import annotations

import io
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.warc_import import import_archives
from snapshots import open_store

PAGES, DAYS = 400, 4
START = datetime(2021, 3, 15, 10, tzinfo=UTC)
REVISIT = "http://netpreserve.org/warc/1.0/revisit/identical-payload-digest"


def _page(i: int, day: int) -> bytes:
    version = day if i % 3 == 0 else 0
    links = "".join(f'<li><a href="/p/{(i + k) % PAGES}.html">Page {(i + k) % PAGES}</a></li>'
                    for k in range(1, 30))
    text = f"<p>Page {i}, version {version}: " + "lorem ipsum dolor sit amet " * 200 + "</p>"
    return f"<html><body><h1>Page {i}</h1><ul>{links}</ul>{text}</body></html>".encode()


def write_warc(path: Path) -> int:
    """The benchmark's WARC at *path*; returns its number of records."""
    n = 0
    with path.open("wb") as fh:
        w = WARCWriter(fh, gzip=True)
        first: dict[int, tuple[str, str, bytes]] = {}
        for day in range(DAYS):
            for i in range(PAGES):
                url = f"http://site.test/p/{i}.html"
                at = (START + timedelta(days=day, seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
                body = _page(i, day)
                http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")],
                                        protocol="HTTP/1.1")
                same = i in first and first[i][2] == body
                if same:   # unchanged since its first capture: a revisit of it
                    rec = w.create_warc_record(url, "revisit", http_headers=http,
                                               warc_headers_dict={
                                                   "WARC-Date": at,
                                                   "WARC-Refers-To-Target-URI": url,
                                                   "WARC-Refers-To-Date": first[i][0],
                                                   "WARC-Payload-Digest": first[i][1],
                                                   "WARC-Profile": REVISIT})
                else:
                    rec = w.create_warc_record(url, "response", payload=io.BytesIO(body),
                                               http_headers=http,
                                               warc_headers_dict={"WARC-Date": at})
                    first[i] = (at, rec.rec_headers.get_header("WARC-Payload-Digest"), body)
                w.write_record(rec)
                req = w.create_warc_record(url, "request", payload=io.BytesIO(b""),
                                           http_headers=StatusAndHeaders(
                                               f"GET /p/{i}.html HTTP/1.1",
                                               [("Host", "site.test")], is_http_request=True),
                                           warc_headers_dict={"WARC-Date": at})
                w.write_record(req)
                n += 2
    return n


def bare(path: Path) -> float:
    """Seconds of warcio's pass reading every payload."""
    t0 = time.perf_counter()
    with path.open("rb") as fh:
        for record in ArchiveIterator(fh):
            record.content_stream().read()
    return time.perf_counter() - t0


def ours(path: Path, tmp: Path) -> tuple[float, int]:
    store = open_store(tmp / "d", None, create=True)
    t0 = time.perf_counter()
    result = import_archives([path], store, timedelta(days=1))
    took = time.perf_counter() - t0
    store.close()
    return took, result.captures


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.warc.gz"
        records = write_warc(path)
        size = path.stat().st_size / 1e6
        base = min(bare(path) for _ in range(3))
        took, imported = ours(path, Path(tmp))
    out = {"records": records, "megabytes": round(size, 2), "captures": imported,
           "bare_seconds": round(base, 3), "import_seconds": round(took, 3),
           "bare_records_per_s": round(records / base), "import_records_per_s":
           round(records / took), "bare_mb_per_s": round(size / base, 2),
           "import_mb_per_s": round(size / took, 2), "ratio": round(took / base, 1)}
    print(f"import: {records} records ({size:.1f} MB gzipped), {imported} captures: "
          f"{out['import_records_per_s']} records/s ({out['import_mb_per_s']} MB/s) against "
          f"warcio's bare pass {out['bare_records_per_s']} records/s "
          f"({out['bare_mb_per_s']} MB/s): import takes {out['ratio']}x its time")
    return out
