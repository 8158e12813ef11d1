"""Full-text search (``snapshots.search``, ``takedown search``) on SQLite and PostgreSQL:
Chinese terms of two and more characters, ASCII ignoring case, a term split by markup, the
incremental index (a text is indexed once, however many rounds hold it), the backfill of an
older store by migration 0005, and agreement with the report's keyword tags on the demo."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import lxml.html
import pytest
from click.testing import CliRunner, Result
from serving import serving
from sqlalchemy import select
from test_migrations import old_store

from diffing.detect import detect
from reports.viewer import create_app
from snapshots import open_store, search
from snapshots.models import SearchTakedown, SearchText
from snapshots.records import NewCapture
from snapshots.repo import Store
from snapshots.search import search_captures, search_takedowns
from takedown.cli import cli

DAY0 = datetime(2021, 3, 15, tzinfo=UTC)
SITE = "http://127.0.0.1:9"
HTML = "text/html; charset=utf-8"


def page(title: str, body: str) -> str:
    return (f"<html><head><title>{title}</title><style>p{{color:red}}</style></head><body>"
            f"<nav><a href='/'>首页</a></nav><article><h1>{title}</h1>{body}</article>"
            "<script>var hidden = '脚本里的军民融合';</script></body></html>")


ECONOMY = page("经济报告", "<p>本市<b>军民</b>融合产业发展迅速。</p><p>The People's ARMY grew.</p>")
WEATHER = page("天气预报", "<p>明天晴，气温二十度。</p>")
GONE = "<html><head><title>Not Found</title></head><body><h1>Not Found</h1></body></html>"


def crawl(store: Store, day: int, pages: dict[str, tuple[int, str]], target: str = "news"
          ) -> None:
    """One round of *pages* (path → status, HTML) for *target*, recorded through the
    store's API as the crawler records them."""
    tid = store.ensure_targets([(target, f"{SITE}/{target}/", {"depth": 1})])[target]
    at = DAY0 + timedelta(days=day)
    rid = store.begin_round(at)
    for path, (status, html) in pages.items():
        url = f"{SITE}/{target}/{path}"
        store.record_capture(rid, tid, at, NewCapture(
            target, url, 1, "revisit", at, status=status, final_url=url,
            headers={"content-type": HTML}, body=html.encode(), text=html, encoding="utf-8"))
    store.finish_round(rid, {"captures": len(pages)})


def hits(store: Store, term: str, target: str | None = None) -> list[tuple[str, int]]:
    return sorted((h.url.rsplit("/", 1)[1], h.captures)
                  for h in search_captures(store, term, target))


def test_terms_of_every_length_ignoring_case_and_markup(store: Store) -> None:
    crawl(store, 0, {"economy.html": (200, ECONOMY), "weather.html": (200, WEATHER)})
    crawl(store, 0, {"other.html": (200, page("军民", "<p>两字的标题</p>"))}, target="blog")
    detect(store)
    # 军民<b>融合</b>: one run of text; the term in the script is not text
    assert hits(store, "军民融合") == [("economy.html", 1)]
    assert hits(store, "军民") == [("economy.html", 1), ("other.html", 1)]
    assert hits(store, "军民", target="blog") == [("other.html", 1)]
    assert hits(store, "people's army") == [("economy.html", 1)]
    assert hits(store, "晴") == [("weather.html", 1)]            # one character
    assert hits(store, "首页") == [("economy.html", 1), ("other.html", 1), ("weather.html", 1)]
    assert hits(store, "脚本") == hits(store, "color") == hits(store, "融合产业发展缓慢") == []
    assert hits(store, "100%") == hits(store, "_") == []          # LIKE's wildcards are text
    (hit,) = search_captures(store, "融合产业")
    assert str(hit.snippet) == ("经济报告 首页 经济报告 本市军民【融合产业】发展迅速。 "
                                "The People's ARMY grew.")
    assert hit.path == f"/captures/{hit.capture_id}/raw"


def test_a_text_is_indexed_once_and_detect_adds_only_new_texts(store: Store) -> None:
    crawl(store, 0, {"economy.html": (200, ECONOMY), "weather.html": (200, WEATHER)})
    detect(store)
    assert store.count(SearchText) == 2
    changed = WEATHER.replace("二十度", "二十五度")
    crawl(store, 1, {"economy.html": (200, ECONOMY), "weather.html": (200, changed)})
    crawl(store, 2, {"economy.html": (200, ECONOMY), "weather.html": (200, changed)})
    assert hits(store, "二十五度") == []        # not indexed before detect
    detect(store)
    assert store.count(SearchText) == 3         # one new text, however many rounds hold it
    assert hits(store, "军民融合") == [("economy.html", 3)]
    assert hits(store, "气温二十") == [("weather.html", 1), ("weather.html", 2)]
    assert detect(store).jobs == 0 and store.count(SearchText) == 3
    # SQLite keeps no copy of a page's text (the text blob is read again for a snippet);
    # PostgreSQL's trigram index is over the kept text
    with store.session() as s:
        kept = s.scalars(select(SearchText.body)).all()
    if store.engine.dialect.name == "sqlite":
        assert kept == [None] * 3
    else:
        assert all("军民融合" in body or "气温" in body for body in kept)


@pytest.mark.parametrize("blank", [
    "", "<html><body><script>only()</script></body></html>", "<p> \n\t </p>", "\x00\x01"])
def test_a_round_whose_only_new_texts_are_blank_is_indexed(store: Store, blank: str) -> None:
    # a page with no visible text is a document without lines: it must not stop detect
    crawl(store, 0, {"blank.html": (200, blank)})
    assert detect(store).jobs == 1
    assert store.count(SearchText) == 1 and hits(store, "only") == []
    crawl(store, 1, {"blank.html": (200, blank), "weather.html": (200, WEATHER)})
    detect(store)
    assert hits(store, "气温") == [("weather.html", 1)]


def test_a_term_many_texts_hold_reads_captures_newest_first(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``JOIN_TEXTS`` matching texts the captures are read newest first, a chunk at a
    time: the same hits, newest first, as from the texts to their captures."""
    for day in range(3):
        crawl(store, day, {f"p{n}.html": (200, page(f"第{n}页", f"<p>发展第{day}天</p>"))
                           for n in range(4)})
    detect(store)
    grouped = [(h.capture_id, h.captures) for h in search_captures(store, "发展", limit=5)]
    monkeypatch.setattr(search, "JOIN_TEXTS", 0)
    monkeypatch.setattr(search, "SCAN_CHUNK", 3)
    scanned = [(h.capture_id, h.captures) for h in search_captures(store, "发展", limit=5)]
    assert scanned == grouped == [(12, 1), (11, 1), (10, 1), (9, 1), (8, 1)]
    assert [h.url for h in search_captures(store, "第1天", limit=9)] == [
        f"{SITE}/news/p{n}.html" for n in (3, 2, 1, 0)]


def test_removed_text_finds_the_takedown(store: Store) -> None:
    crawl(store, 0, {"economy.html": (200, ECONOMY), "weather.html": (200, WEATHER)})
    crawl(store, 1, {"economy.html": (404, GONE), "weather.html": (200, WEATHER)})
    detect(store)
    (td,) = search_takedowns(store, "军民融合")
    assert (td.url, td.kind, td.path) == (f"{SITE}/news/economy.html", "removed",
                                          f"/takedowns/{td.takedown_id}")
    assert td.capture_id is not None and "【军民融合】" in str(td.snippet)
    assert search_takedowns(store, "气温") == []                  # still online
    assert search_takedowns(store, "军民", target="blog") == []


def test_migration_backfills_an_older_store(db_url: str) -> None:
    """A store at the revision before the index (0004) gets every capture's text indexed
    by the upgrade itself; takedowns detected later are mapped by detect."""
    old_store(db_url, "0004").dispose()
    store = open_store(db_url=db_url)
    try:
        assert store.count(SearchText) == 2       # the article and the 404 page
        assert [h.capture_id for h in search_captures(store, "正常的文章")] == [1]
        assert [h.capture_id for h in search_captures(store, "正文")] == [1]
        detect(store)
        assert store.count(SearchTakedown) == 1
        assert [t.kind for t in search_takedowns(store, "正常的文章")] == ["removed"]
    finally:
        store.close()


def test_sqlite_indexes_each_distinct_line_once(store: Store) -> None:
    """Versions of a page that differ in one line (a counter) add that line, not the page:
    the lines are indexed once and each version is posted under them."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("the line index is SQLite's; PostgreSQL indexes its kept texts")
    for day in range(4):
        crawl(store, day, {"economy.html": (200, ECONOMY.replace(
            "</article>", f"<p>阅读 {1000 + day} 次</p></article>"))})
    detect(store)
    with store.engine.connect() as conn:
        lines = conn.exec_driver_sql("SELECT count(*) FROM search_lines").scalar()
        postings = conn.exec_driver_sql("SELECT count(*) FROM search_postings").scalar()
    # 经济报告 / 首页 / 本市军民融合产业发展迅速。 / The People's ARMY grew. / 阅读 N 次 ×4
    assert (store.count(SearchText), lines, postings) == (4, 8, 4 * 5)
    assert hits(store, "军民融合") == [("economy.html", 1)] * 4
    assert [h.captured_at.day for h in search_captures(store, "阅读 1002")] == [17]
    assert hits(store, "阅读 1009") == []


def test_migration_rebuilds_a_whole_text_index_as_lines(tmp_path: Path) -> None:
    """A SQLite store indexed by whole texts (before 0010) is indexed again by lines on
    upgrade, finding what it found."""
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old_store(url, "0009").dispose()
    from sqlalchemy import create_engine
    engine = create_engine(url)
    with engine.begin() as conn:   # the index as 0005 made it before lines
        for name in ("search_fts", "search_bigrams", "search_lines", "search_postings"):
            conn.exec_driver_sql(f"DROP TABLE {name}")
        conn.exec_driver_sql("CREATE VIRTUAL TABLE search_fts USING fts5(body, content='', "
                             "tokenize='trigram', columnsize=0)")
        conn.exec_driver_sql("CREATE VIRTUAL TABLE search_bigrams USING fts5(grams, "
                             "content='', tokenize='ascii', detail='none')")
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0009'")
    engine.dispose()
    store = open_store(db_url=url)
    try:
        assert store.count(SearchText) == 2
        assert [h.capture_id for h in search_captures(store, "正常的文章")] == [1]
        assert [h.capture_id for h in search_captures(store, "正文")] == [1]
    finally:
        store.close()


def test_viewer_q_finds_removed_text_with_marked_snippets(store: Store) -> None:
    hostile = page("恶意", "<p>军民融合 &lt;script&gt;alert(1)&lt;/script&gt;</p>")
    crawl(store, 0, {"economy.html": (200, ECONOMY), "hostile.html": (200, hostile)})
    crawl(store, 1, {"economy.html": (404, GONE), "hostile.html": (404, GONE)})
    detect(store)
    with serving(create_app(store)) as base:
        doc = lxml.html.fromstring(httpx.get(f"{base}/takedowns", params={"q": "军民融合"},
                                             timeout=30).text)
        missing = httpx.get(f"{base}/takedowns", params={"q": "不存在的词"}, timeout=30)
    links = doc.xpath('//tr[@class="snippet"]//a')
    assert sorted(a.xpath("string(mark)") for a in links) == ["军民融合", "军民融合"]
    assert all(a.get("href").startswith("/captures/") for a in links)
    assert not doc.xpath("//script") and "<script>alert(1)</script>" in doc.text_content()
    assert not lxml.html.fromstring(missing.text).xpath('//table[@id="takedowns"]//td')


def takedown(*args: str) -> Result:
    """``takedown ARGS`` in this process (the error boundary included)."""
    return CliRunner().invoke(cli, list(args))


def test_cli_json_and_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    missing = takedown("--data", str(data), "search", "军民")
    assert missing.exit_code == 2
    assert missing.output.startswith(f"error: no store at {data} ")
    store = open_store(data)
    try:
        crawl(store, 0, {"economy.html": (200, ECONOMY)})
        detect(store)
    finally:
        store.close()
    doc = json.loads(takedown("--data", str(data), "search", "军民融合", "--json").output)
    assert (doc["query"], doc["removed"], len(doc["hits"])) == ("军民融合", False, 1)
    hit = doc["hits"][0]
    assert (hit["url"], hit["target"], hit["path"]) == (
        f"{SITE}/news/economy.html", "news", f"/captures/{hit['capture_id']}/raw")
    assert "【军民融合】" in hit["snippet"] and hit["captured_at"].startswith("2021-03-15")
    plain = takedown("--data", str(data), "search", "army")
    assert plain.exit_code == 0 and "【ARMY】" in plain.output and "1 captures" in plain.output
    unknown = takedown("--data", str(data), "search", "x", "--target", "nope")
    assert unknown.exit_code == 2 and "error: unknown target 'nope'" in unknown.output
    empty = takedown("--data", str(data), "search", " ")
    assert empty.exit_code == 2 and "error: empty search query" in empty.output


@pytest.mark.slow
def test_search_finds_every_takedown_the_report_tags(demo_db_url: str, tmp_path: Path) -> None:
    """The acceptance test: on the demo, ``takedown search --removed TERM`` finds every
    takedown ``takedown report --keywords`` tags with TERM, and ``takedown search TERM``
    leads to each of them (a hit's URL's takedowns)."""
    terms = ["军民融合", "武器装备", "军民"]
    keywords = tmp_path / "terms.txt"
    keywords.write_text("\n".join(terms) + "\n", encoding="utf-8")
    out = tmp_path / "report"
    run = takedown("--db", demo_db_url, "report", "--keywords", str(keywords), "--out",
                   str(out), "--format", "json")
    assert run.exit_code == 0, run.output
    rows = json.loads((out / "report.json").read_text())["takedowns"]
    for term in terms:
        tagged = {r["id"] for r in rows if term in r["terms"]}
        found = takedown("--db", demo_db_url, "search", term, "--removed", "--json",
                         "--limit", "100000")
        ids = {h["takedown_id"] for h in json.loads(found.stdout)["hits"]}
        assert tagged and tagged <= ids, term
        # without --removed: the captures holding the term, each with its URL's takedowns
        found = takedown("--db", demo_db_url, "search", term, "--json", "--limit", "100000")
        led_to = {t for h in json.loads(found.stdout)["hits"] for t in h["takedowns"]}
        assert tagged <= led_to, (term, tagged - led_to)
    assert len({r["id"] for r in rows if "军民融合" in r["terms"]}) >= 10
