"""Round after round through real crawls, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sitesim import RouteSite, crawl, page, serve, watchlist

from snapshots import open_store
from snapshots.models import Blob, Capture


def test_ten_rounds_of_an_unchanged_page_store_one_blob(tmp_path: Path, db_url: str) -> None:
    site = RouteSite({"/robots.txt": page("", headers={"Content-Type": "text/plain"}),
                      "/p.html": page("<p>一篇不变的文章 unchanged article</p>")})
    server = serve(site)
    url = server.base_url + "/p.html"
    wl = watchlist(tmp_path / "wl.toml", f'[[target]]\nname = "p"\nurl = "{url}"\n')
    try:
        for day in range(10):
            run = crawl(wl, tmp_path / "data", f"2021-03-{10 + day}T00:00:00Z", db=db_url)
            assert run.returncode == 0, run.stderr
    finally:
        server.stop()
    store = open_store(db_url=db_url)
    try:
        rows = store.history(url)
        assert len(rows) == 10 and {r.state for r in rows} == {"ok"}
        assert len({r.body_sha256 for r in rows}) == 1
        # one blob for the page; one more for the site's not-found page (the probe)
        assert store.count(Blob) == 2 and store.count(Capture) == 20
        assert [r["new_blobs"] for r in store.rounds()] == [2] + [0] * 9
        assert not (tmp_path / "data" / "takedown.sqlite").exists() or db_url.startswith(
            "sqlite")
    finally:
        store.close()
