"""The classifier on real data: every real notice string on a page of its platform, the
EDGI labelled responses (CDN walls, bot challenges, rate limits vs genuine pages and 404s),
and the ordering rules that keep a failed fetch from ever reading as a takedown."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pytest
from conftest import REALDATA
from notice_truth import (
    DISCUZ,
    EXPECTED,
    FILLED,
    NOTICE_STRINGS,
    WECHATSCOPE_EXPECTED,
    realdata_params,
)

from diffing.classify import Fetch, classify
from diffing.extract import extract
from diffing.phrases import load_phrasebook
from snapshots.records import NewCapture
from snapshots.repo import first_state

QUALITY = REALDATA / "edgi-web-monitoring-processing" / "snapshot_quality"
AT = datetime(2021, 3, 22, tzinfo=UTC)
PHPBB_404 = ("NO_TOPIC", "NO_FORUM", "NO_USER")   # phpBB's msg_handler answers these with 404
# what a capture showing a phrase of each phrasebook state is
CAPTURE_STATE = {"notice": "notice", "gone": "gone", "moved": "moved",
                 "restricted": "restricted", "failed": "failed", "benign": "ok"}


@pytest.fixture(scope="module")
def book():
    return load_phrasebook()


def notice_page(text: str, title: str = "提示信息") -> str:
    """A platform page with its chrome: navigation, the message, a footer."""
    return (f"<html><head><title>{escape(title)}</title></head><body>"
            "<div id='nav' class='nav'><a href='/'>首页</a> <a href='/forum.php'>论坛</a>"
            " <a href='/search'>搜索</a></div>"
            f"<div id='messagetext' class='alert_info'><p>{text}</p></div>"
            "<div id='ft' class='footer'>Powered by Discuz! © 2001-2013 Comsenz Inc. "
            "联系我们 | 手机版</div></body></html>")


def run(book, html: str | None, status: int = 200, headers: dict | None = None,
        url: str = "http://127.0.0.1:8/thread-1.html"):
    page = extract(html, url) if html is not None else None
    return classify(Fetch(1, url, AT, status, url, headers=headers or {}), page, book)


def expected_capture(phrase_state: tuple[str, str]) -> tuple[str, str | None]:
    state, kind = phrase_state
    capture = CAPTURE_STATE[state]
    return capture, (kind or None) if capture in ("notice", "gone") else None


@pytest.mark.parametrize("row", realdata_params(NOTICE_STRINGS, "text", "source_path_key"))
def test_real_notice_string_on_its_platform_page(book, row: dict) -> None:
    text = row["text"]
    key = row["source_path_key"].rsplit("#", 1)[-1]
    status = 404 if row["platform"] == "phpBB" and key in PHPBB_404 else 200
    v = run(book, notice_page(FILLED.get(text, text)), status)
    assert (v.state, v.kind) == expected_capture(EXPECTED[text]), v


@pytest.mark.parametrize("row", realdata_params(DISCUZ, "text_zh_CN", "key"))
def test_real_discuz_notice_on_a_discuz_page(book, row: dict) -> None:
    text = row["text_zh_CN"]
    v = run(book, notice_page(FILLED.get(text, text)))
    assert (v.state, v.kind) == expected_capture(EXPECTED[text]), v


@pytest.mark.parametrize("message", list(WECHATSCOPE_EXPECTED))
def test_real_wechat_notice_page(book, message: str) -> None:
    html = ("<html><head><title></title></head><body><div class='weui-msg'>"
            f"<div class='weui-msg__text-area'><h2 class='weui-msg__title'>{message}</h2>"
            "</div></div></body></html>")
    v = run(book, html, url="http://127.0.0.1:8/s/abc")
    assert (v.state, v.kind) == expected_capture(WECHATSCOPE_EXPECTED[message]), v


def quality_cases() -> list:
    if not QUALITY.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"realdata absent: {QUALITY}"))]
    out = []
    for path in sorted(QUALITY.glob("*/*.json")):
        out.append(pytest.param(path, id=f"{path.parent.name}/{path.stem[:8]}"))
    return out


@pytest.mark.parametrize("path", quality_cases())
def test_edgi_labelled_response(book, path: Path) -> None:
    """EDGI's analysts: quality 1.0 is the genuine server answer (ok, or a genuine 404 that
    is a removal); anything less (CDN wall, bot challenge, rate limit, ISP filter, gateway
    error) is a failed fetch and never a takedown."""
    rec = json.loads(path.read_text())["data"]
    body_file = path.with_suffix(".body")
    if body_file.exists():
        html = body_file.read_text(errors="replace")
    else:   # the fixture keeps the title, not the body
        html = f"<html><head><title>{escape(rec.get('title') or '')}</title></head>" \
               "<body></body></html>"
    headers = {k.lower(): v for k, v in (rec.get("headers") or {}).items()}
    v = run(book, html, rec["status"], headers, url=rec["url"])
    genuine = path.parent.name.endswith("-1.0")
    if not genuine:
        assert v.state == "failed", v
    elif rec["status"] == 404:
        assert (v.state, v.kind) == ("gone", "removed"), v
    else:
        assert v.state == "ok", v


@pytest.mark.parametrize(("status", "html", "headers", "state"), [
    (503, notice_page("此内容因违规无法查看"), {}, "failed"),
    (429, notice_page("该内容已被发布者删除"), {"retry-after": "5"}, "failed"),
    (200, notice_page("当前环境异常，完成验证后即可继续访问。此内容因违规无法查看"), {}, "failed"),
    (403, "<html><head><title>Access Denied</title></head><body>Access Denied. You don't "
          "have permission to access this server. Reference #18</body></html>", {}, "failed"),
    (200, notice_page("此内容因违规无法查看"), {"cf-mitigated": "challenge"}, "failed"),
    (202, "<html><body></body></html>", {}, "failed"),
    (None, None, {}, "failed"),
], ids=["5xx-with-notice", "429-with-notice", "antibot-beats-notice", "cdn-403",
        "challenge-header", "202-waf", "no-response"])
def test_failed_is_never_a_takedown(book, status, html, headers, state) -> None:
    v = run(book, html, status, headers)
    assert v.state == state and v.kind is None, v


@pytest.mark.parametrize("status", range(100, 600))
def test_the_store_and_the_classifier_read_a_status_alike(book, status: int) -> None:
    """A bare answer (no page to read) is what the crawler first stored for it: the two
    readings of a status come from one rule, and every status a server may send is one of
    the readings a bare status can have."""
    verdict = run(book, None, status)
    stored = first_state(NewCapture("t", "http://127.0.0.1:8/", 0, "seed", AT, status=status))
    assert verdict.state == stored
    assert stored in {"ok", "gone", "notice", "restricted", "failed"}
    if status in (202, 403, 400, 405, 301, 408, 425, 429) or status >= 500:
        assert stored == "failed"   # refusals, challenges, redirects: no evidence of a takedown


def test_article_quoting_a_notice_is_not_a_notice(book) -> None:
    para = "<p>" + "网友发现，多篇关于军民融合的文章打开后显示“此内容因违规无法查看”。" * 3 + "</p>"
    body = para + "<p>" + "记者对此进行了调查，相关部门没有回应。" * 40 + "</p>"
    v = run(book, f"<html><head><title>报道</title></head><body><article>{body}</article>"
                  "</body></html>")
    assert v.state == "ok", v


def test_status_451_is_censored(book) -> None:
    v = run(book, "<html><body><h1>Unavailable For Legal Reasons</h1></body></html>", 451)
    assert (v.state, v.kind, v.rule) == ("notice", "censored", "http:451")


def test_soft_404_by_the_sites_own_not_found_page(book) -> None:
    # a site's own wording, in no phrasebook: only the probe can tell
    nf = ("<html><head><title>市政门户</title></head><body><div class='nav'>首页</div>"
          "<div class='main'><p>这里空空如也，换个栏目{}吧。</p></div></body></html>")
    probe = extract(nf.format("看看"), "http://127.0.0.1:8/news/takedown-probe-x.html")
    page = extract(nf.format("看看"), "http://127.0.0.1:8/news/a.html")
    v = classify(Fetch(1, "http://127.0.0.1:8/news/a.html", AT, 200,
                       "http://127.0.0.1:8/news/a.html"), page, book, notfound=probe,
                 notfound_status=200)
    assert (v.state, v.kind, v.rule) == ("gone", "removed", "soft404:probe")
    live = extract("<html><body><article><p>" + "一篇正常的新闻稿件。" * 30 +
                   "</p></article></body></html>", "http://127.0.0.1:8/news/b.html")
    v2 = classify(Fetch(2, "http://127.0.0.1:8/news/b.html", AT, 200,
                        "http://127.0.0.1:8/news/b.html"), live, book, notfound=probe,
                  notfound_status=200)
    assert v2.state == "ok"


def test_redirects_home_is_gone_same_content_is_moved(book) -> None:
    art = ("<html><head><title>通知</title></head><body><article><p>" +
           "关于开展军民融合宣传工作的通知，各单位认真落实。" * 10 + "</p></article></body></html>")
    old = extract(art, "http://127.0.0.1:8/a/1.html")
    home = extract("<html><head><title>门户首页</title></head><body><ul>" +
                   "".join(f"<li><a href='/a/{i}.html'>新闻 {i}</a></li>" for i in range(20)) +
                   "</ul></body></html>", "http://127.0.0.1:8/index.html")
    to_home = classify(Fetch(1, "http://127.0.0.1:8/a/1.html", AT, 200,
                             "http://127.0.0.1:8/index.html"), home, book, last_ok=old)
    assert (to_home.state, to_home.kind, to_home.rule) == ("gone", "removed", "redirect:home")
    moved = classify(Fetch(2, "http://127.0.0.1:8/a/1.html", AT, 200,
                           "http://127.0.0.1:8/b/1.html"),
                     extract(art, "http://127.0.0.1:8/b/1.html"), book, last_ok=old)
    assert (moved.state, moved.rule) == ("moved", "redirect:same-content")
