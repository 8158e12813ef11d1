"""Data flows one way: crawler → snapshots → diffing → reports.

Checked on the source with ``ast``: a back-edge fails here before it tangles anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from crawler.run import crawl_settings
from crawler.watchlist import CrawlSpec

ROOT = Path(__file__).resolve().parents[1]
OURS = {"crawler", "snapshots", "diffing", "reports", "takedown", "bench"}
ALLOWED = {
    "snapshots": {"snapshots"},
    "crawler": {"crawler", "snapshots"},
    "diffing": {"diffing", "snapshots"},
    "reports": {"reports", "snapshots", "diffing"},
}


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_back_edges(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    bad = {str(f.relative_to(ROOT)): sorted(imported_packages(f) - ALLOWED[package])
           for f in files}
    assert {f: b for f, b in bad.items() if b} == {}


def test_crawl_settings_keep_the_signal_and_listen_on_nothing() -> None:
    s = crawl_settings(CrawlSpec(concurrency=3, delay=1.5, timeout=7, retries=4))
    assert s.getbool("TELNETCONSOLE_ENABLED") is False
    assert s.getbool("REMOTE_CONTROL_ENABLED") is False
    assert s.getbool("HTTPERROR_ALLOW_ALL") is True
    assert s.getbool("ROBOTSTXT_OBEY") is True
    assert s.getbool("METAREFRESH_ENABLED") is False
    assert s.getbool("AUTOTHROTTLE_ENABLED") is True
    assert (s.getint("CONCURRENT_REQUESTS"), s.getfloat("DOWNLOAD_DELAY"),
            s.getfloat("DOWNLOAD_TIMEOUT"), s.getint("RETRY_TIMES")) == (3, 1.5, 7.0, 4)
    assert s.get("USER_AGENT").startswith("takedown/")
