"""Data flows one way: crawler → snapshots → diffing → reports.

Checked on the source with ``ast``: a back-edge fails here before it tangles anything.
"""

from __future__ import annotations

import ast
import re
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


# -- what module docstrings say they import ----------------------------------------------------

_CLAIM = re.compile(r"(?:^|(?<=[.;:])\s+)(?:Pure; )?[Ii]mports ((?:[^.]|\.(?=[\w`]))*)\.",
                    re.MULTILINE)
_NAMED = re.compile(r"\b((?:crawler|snapshots|diffing|reports|takedown)(?:\.\w+)*)")


def _our_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in OURS}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] in OURS:
            found.add(node.module)
    return found


def _claims() -> list[Path]:
    return [p for p in sorted(ROOT.glob("*/**/*.py"))
            if p.relative_to(ROOT).parts[0] in OURS - {"bench"} and "migrations" not in p.parts
            and _CLAIM.search(ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))
                              or "")]


@pytest.mark.parametrize("path", _claims(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_docstrings_import_line_is_true(path: Path) -> None:
    """"Imports only the standard library", "Imports ``crawler`` and ``snapshots.urls``":
    every package of ours the module imports is named there (a module of a named package
    counts as named)."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    claim = " ".join(_CLAIM.search(doc).group(1).split())
    named = set(_NAMED.findall(claim))
    own = path.relative_to(ROOT).parts[0]
    if re.search(r"outside (?:this package|``\w+``)", claim):
        named.add(own)
    imported = _our_imports(path)
    unnamed = sorted(m for m in imported if not any(m == n or m.startswith(n + ".")
                                                    for n in named))
    assert unnamed == [], f"its docstring says: Imports {claim}"
