"""The viewer in real headless Chromium (Playwright, sync API).

1. On the demo store: the takedown list → an ``edited`` takedown → its side-by-side view;
   the export's removed text is highlighted (``<del>`` in the text diff, outlined in the
   inert snapshot), Chinese text renders in the CJK font; a screenshot lands in
   ``test-artifacts/viewer-side-by-side.png``.
2. A hostile page (tests/test_sanitize.py's) crawled from a loopback site in two real
   rounds, shown in every viewer page: no script runs (no console output, no window
   property, no title change, no dialog), and no request leaves the viewer's origin: a
   loopback beacon server receives nothing and ``evil.example`` is never asked for.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hostile_markup import hostile_page
from serving import serving
from sitesim import HTML, RouteSite, crawl, serve, watchlist

from reports.viewer import create_app
from snapshots import open_store
from snapshots.browse import target_urls
from takedown.demo.server import Reply

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (make test installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Watch:
    """Every request, console message and dialog of a browser context."""

    def __init__(self, context) -> None:  # type: ignore[no-untyped-def]
        self.requests: list[str] = []
        self.console: list[str] = []
        self.dialogs: list[str] = []
        context.on("request", lambda r: self.requests.append(r.url))
        context.on("console", lambda m: self.console.append(m.text))
        context.route("**/evil.example/**", lambda route: route.abort())
        context.route("http://evil.example/**", lambda route: route.abort())

    def attach(self, pg) -> None:  # type: ignore[no-untyped-def]
        pg.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def foreign(self, base: str) -> list[str]:
        origin = urlsplit(base).netloc
        return [u for u in self.requests
                if urlsplit(u).netloc != origin and not u.startswith(("about:", "data:"))]


def test_edited_takedown_side_by_side_in_chromium(browser, demo_store) -> None:
    edited = {r["url"]: r for r in demo_store["records"] if r["kind"] == "edited"}
    chinese = {u for u, r in edited.items()
               if any(re.search("[\u4e00-\u9fff]", t) for t in r["evidence"]["removed_text"])}
    assert chinese, "the demo site edits a Chinese page"
    store = open_store(demo_store["data"])
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    watch = Watch(context)
    try:
        with serving(create_app(store)) as base:
            pg = context.new_page()
            watch.attach(pg)
            pg.goto(base + "/takedowns")
            # a Chinese page, so the screenshot shows CJK text drawn in the installed font
            rows = pg.locator("#takedowns tr", has=pg.locator(".kind-edited"))
            row = next(rows.nth(i) for i in range(rows.count())
                       if rows.nth(i).locator("td.url a").inner_text() in chinese)
            url = row.locator("td.url a").inner_text()
            row.locator("a[href^='/takedowns/']").click()
            pg.wait_for_url("**/takedowns/*")
            for text in edited[url]["evidence"]["removed_text"]:
                assert pg.locator("#text-diff del", has_text=text).count() >= 1
                frame = pg.frame_locator("iframe[title=before]")
                assert text in frame.locator("[data-td=removed]").first.inner_text()
            assert pg.evaluate("document.fonts.check('16px \"WenQuanYi Zen Hei\"', '军民融合')")
            del_box = pg.locator("#text-diff del").first.bounding_box()
            assert del_box is not None and del_box["width"] > 40 and del_box["height"] > 8
            ARTIFACTS.mkdir(exist_ok=True)
            pg.screenshot(path=str(ARTIFACTS / "viewer-side-by-side.png"), full_page=True)
    finally:
        context.close()
        store.close()
    assert watch.foreign(base) == [] and watch.dialogs == []


@pytest.fixture
def hostile_store(tmp_path: Path) -> Iterator[tuple[object, RouteSite]]:
    """Two real rounds of a hostile page; the beacon (another loopback port) is what its
    sub-resources point at."""
    beacon = RouteSite({})
    beacon_server = serve(beacon)
    site = RouteSite({})
    server = serve(site)
    try:
        b_origin = f"http://127.0.0.1:{beacon_server.port}"
        site.swap({"/hostile.html": page_raw(hostile_page(b_origin))})
        wl = watchlist(tmp_path / "wl.toml", f'[[target]]\nname = "hostile"\n'
                       f'url = "http://127.0.0.1:{server.port}/hostile.html"\n')
        data = tmp_path / "data"
        assert crawl(wl, data, "2021-03-15T00:00:00Z").returncode == 0
        site.swap({"/hostile.html": page_raw(hostile_page(b_origin, paragraph=False))})
        assert crawl(wl, data, "2021-03-16T00:00:00Z").returncode == 0
        assert beacon.requests == []        # the crawl itself never went there
        store = open_store(data)
        yield store, beacon
        store.close()
    finally:
        server.stop()
        beacon_server.stop()
        shutil.rmtree(tmp_path / "data", ignore_errors=True)


def page_raw(html: str) -> Reply:
    return Reply(status=200, headers=dict(HTML), body=html.encode("utf-8"))


def test_hostile_capture_runs_nothing_and_fetches_nothing(browser, hostile_store) -> None:
    store, beacon = hostile_store
    url_id = next(u["id"] for u in target_urls(store, "hostile")["urls"] if u["role"] == "page")
    context = browser.new_context()
    watch = Watch(context)
    try:
        with serving(create_app(store)) as base:
            pg = context.new_page()
            watch.attach(pg)
            for path in ("/", "/targets/hostile", f"/urls/{url_id}", f"/compare/{url_id}"):
                pg.goto(base + path, wait_until="load")
                pg.wait_for_timeout(300)     # let any timer or late handler fire
                assert pg.evaluate("window.__pwned") is None
                assert "pwned" not in pg.title()
            for title in ("before", "after"):
                frame = pg.frame_locator(f"iframe[title={title}]")
                assert "军民融合专题" in frame.locator("h1").inner_text()
            assert pg.frame_locator("iframe[title=before]").locator("#gone").count() == 1
            assert pg.locator("#text-diff del", has_text="要删除的段落").count() == 1
            for frame in pg.frames[1:]:
                assert frame.url in ("about:srcdoc", "about:blank")
    finally:
        context.close()
    assert sum(u.startswith(base + "/") for u in watch.requests) == 4   # recording works
    assert [m for m in watch.console if "pwned" in m] == []
    assert watch.dialogs == []
    assert watch.foreign(base) == [], watch.foreign(base)
    assert not any("evil.example" in u for u in watch.requests)
    assert beacon.requests == []
