"""Real page pairs through real crawls and detection.

- EDGI's six labelled pairs of real federal pages: the three real removals/rewrites become
  ``edited`` takedowns carrying the removed text; the rotating widget, the view counter and
  the small nav edit become nothing.
- web-monitoring-diff's real energy.gov listing whose two oldest items fell off the end
  while their pages stayed live: no ``delisted`` (nor anything else).

Both on the SQLite store and on the real PostgreSQL server (``TAKEDOWN_TEST_PG_URL``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from conftest import REALDATA, pg_schema
from sitesim import RouteSite, crawl, serve, watchlist

from takedown.demo.server import Reply

ARCHIVES = REALDATA / "edgi-web-monitoring-processing" / "archives"
VERSIONS = REALDATA / "web-monitoring-diff" / "versions"
LISTING = ("9d4de183-a186-456c-bffb-55d82989877d", "775a8b04-9bac-4d0d-8db0-a8e133c4a964")
PAIRS = {"truepos-dataset-removal": "View this Dataset",
         "truepos-image-removal": None, "truepos-major-changes": None,
         "falsepos-footer": None, "falsepos-num-views": None, "falsepos-small-changes": None}
HTML = {"Content-Type": "text/html; charset=utf-8"}

pytestmark = pytest.mark.skipif(not (ARCHIVES.is_dir() and VERSIONS.is_dir()),
                                reason=f"realdata absent under {REALDATA}")


def routes(version: int) -> dict:
    r: dict[str, Reply] = {"/robots.txt": Reply(headers={"Content-Type": "text/plain"},
                                                body=b"User-agent: *\n")}
    for name in PAIRS:
        body = (ARCHIVES / f"{name}-{'ab'[version]}.html").read_bytes()
        r[f"/edgi/{name}.html"] = Reply(headers=HTML, body=body)
    listing = (VERSIONS / f"{LISTING[version]}.html").read_text(encoding="utf-8",
                                                                errors="replace")
    r["/"] = Reply(headers=HTML, body=listing.encode("utf-8"))
    for v in LISTING:   # every article of either version still serves
        for path in _articles((VERSIONS / f"{v}.html").read_text(errors="replace")):
            r[path] = Reply(headers=HTML, body=f"<html><body><article><h1>{path}</h1><p>"
                            f"{'Press release text. ' * 40}</p></article></body></html>"
                            .encode())
    return r


def _articles(html: str) -> set[str]:
    import re

    return {m for m in re.findall(r'href="(/articles/[^"#?]+)"', html)}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The store of the crawls: None for the SQLite file in the data folder, or a URL of a
    PostgreSQL schema of this module's own (dropped after)."""
    if request.param == "sqlite":
        yield None
        return
    with pg_schema() as url:
        yield url


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, backend: str | None) -> dict:
    tmp = tmp_path_factory.mktemp("realpairs")
    site = RouteSite(routes(0))
    server = serve(site)
    base = server.base_url
    targets = "".join(f'[[target]]\nname = "{n}"\nurl = "{base}/edgi/{n}.html"\n\n'
                      for n in PAIRS)
    targets += (f'[[target]]\nname = "energy-news"\nurl = "{base}/"\ndepth = 1\n'
                'allow = ["/articles/"]\n')
    wl = watchlist(tmp / "wl.toml", targets)
    data = tmp / "data"
    try:
        for version, at in ((0, "2017-09-25T00:00:00Z"), (1, "2017-09-27T00:00:00Z")):
            site.swap(routes(version))
            run = crawl(wl, data, at, db=backend)
            assert run.returncode == 0, run.stderr
    finally:
        server.stop()
    cmd = [sys.executable, "-m", "takedown", "--data", str(data)]
    cmd += ["--db", backend] if backend else []
    subprocess.run(cmd + ["detect"], check=True, capture_output=True)
    out = subprocess.run(cmd + ["export"], check=True, capture_output=True, text=True).stdout
    records = [json.loads(line) for line in out.splitlines()]
    return {"base": base, "by_target": {r["target"]: r for r in records}, "records": records}


@pytest.mark.parametrize("name", [n for n in PAIRS if n.startswith("truepos")])
def test_real_removal_is_edited_with_its_text(exported: dict, name: str) -> None:
    rec = exported["by_target"].get(name)
    assert rec is not None, f"{name}: not found; got {sorted(exported['by_target'])}"
    assert rec["kind"] == "edited"
    assert rec["evidence"]["removed_text"]
    if PAIRS[name]:
        assert any(PAIRS[name] in t for t in rec["evidence"]["removed_text"])


@pytest.mark.parametrize("name", [n for n in PAIRS if n.startswith("falsepos")])
def test_real_noise_is_not_a_takedown(exported: dict, name: str) -> None:
    assert name not in exported["by_target"], exported["by_target"].get(name)


def test_listing_whose_oldest_items_fell_off_the_end_is_no_takedown(exported: dict) -> None:
    assert [r for r in exported["records"] if r["target"] == "energy-news"] == []
