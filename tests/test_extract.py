"""Extraction (diffing/extract.py) and volatile-content masking (diffing/volatile.py).

Hand-written cases for each rule, then real pages from ``../shared/realdata`` (read in place,
skipped when absent): web-monitoring-diff's odd encodings and contrived pairs must extract
without exceptions, and its energy.gov listing must yield its news links in order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import REALDATA

from diffing.dates import find_date
from diffing.extract import Block, Page, extract
from diffing.volatile import fix_mojibake, mask

WMD = REALDATA / "web-monitoring-diff"
URL = "http://example.org/news/a.html"


def page(body: str, head: str = "", url: str = URL, **kw: str) -> Page:
    return extract(f"<html><head>{head}</head><body>{body}</body></html>", url, **kw)


def main_texts(p: Page) -> list[str]:
    return [b.text for b in p.blocks]


def boiler_texts(p: Page) -> list[str]:
    return [b.text for b in p.boilerplate]


# --- blocks ---------------------------------------------------------------------------------

def test_blocks_follow_block_elements_br_runs_and_loose_div_text() -> None:
    p = page("<div id='main'>Intro text <span>inline</span><p>First <b>para</b></p>"
             "tail text<ul><li>one</li><li>two</li></ul>"
             "<p>line 1<br>line 2<br/><br>line 3</p><table><tr><td>cell</td><th>head</th>"
             "</tr></table></div>")
    assert main_texts(p) == ["Intro text inline", "First para", "tail text", "one", "two",
                             "line 1", "line 2", "line 3", "cell", "head"]
    assert p.main_text == "\n".join(main_texts(p))


def test_script_style_template_svg_and_hidden_elements_are_dropped() -> None:
    p = page("<script>var x = 'script text';</script><style>p{}</style>"
             "<noscript>enable js</noscript><template><p>tpl</p></template>"
             "<svg><text>svg text</text></svg><p hidden>hidden attr</p>"
             "<p style='display: none'>display none</p><p style='visibility:hidden'>vis</p>"
             "<span class='element-hidden'>drupal hidden</span><p>visible</p>")
    assert main_texts(p) == ["visible"]


@pytest.mark.parametrize("void", ["embed src='/a.swf'", "wbr", "source src='/v.mp4'",
                                  "track src='/t.vtt'", "keygen"])
def test_text_after_void_elements_libxml2_does_not_know_is_kept(void: str) -> None:
    # libxml2 nests what follows these inside them; dropping <embed> dropped the article
    p = page(f"<div><p>Before it.</p><{void}><p>After it, the paragraph.</p>"
             f"<a href='/next'>next</a></div>")
    assert main_texts(p) == ["Before it.", "After it, the paragraph.", "next"]
    assert [lk.url for lk in p.links] == ["http://example.org/next"]


def test_wbr_joins_the_word_it_breaks() -> None:
    assert main_texts(page("<p>super<wbr>cali<wbr>fragilistic</p>")) == ["supercalifragilistic"]


def test_hidden_attribute_in_any_case_hides() -> None:
    # the parser lowers attribute names; the page's source need not
    p = page("<p HIDDEN>upper</p><div Hidden=''><p>mixed</p></div><p>visible</p>")
    assert main_texts(p) == ["visible"]


def test_mojibake_in_a_page_is_undone_before_parsing() -> None:
    spoiled = "Español, 简体中文".encode().decode("latin-1")
    assert main_texts(page(f"<p>{spoiled}</p>")) == ["Español, 简体中文"]


def test_hidden_text_is_kept_when_it_is_all_there_is() -> None:
    p = page("<div style='display:none'><p>revealed by script</p></div>")
    assert main_texts(p) == ["revealed by script"]


def test_paths_mask_digits_hashes_and_state_classes() -> None:
    p = page("<div id='post_1234' class='item odd view-dom-id-3399ffe0c94f2184'>"
             "<p class='col-sm-9'>text</p></div>")
    assert p.blocks[0].path == "body>div#post_0.item.view-dom-id-#>p.col-sm-0"


def test_link_share_heading_hrefs_and_repeated_flags() -> None:
    p = page("<h2>Title</h2><p>Read <a href='/x'>the report here</a></p>"
             "<ul class='cards'><li><p>card one</p></li><li><p>card two</p></li></ul>"
             "<div><p>lone paragraph</p><p>second paragraph</p></div>")
    by_text = {b.text: b for b in p.blocks}
    assert by_text["Title"].heading and not by_text["Read the report here"].heading
    assert by_text["Read the report here"].link_share == pytest.approx(13 / 17, abs=0.01)
    assert by_text["Read the report here"].hrefs == ("http://example.org/x",)
    assert by_text["card one"].repeated and by_text["card two"].repeated
    assert by_text["card one"].slot != by_text["card two"].slot
    # paragraphs of an article are siblings, but a <p> is prose, not a slot
    assert not by_text["lone paragraph"].repeated


# --- boilerplate ----------------------------------------------------------------------------

BOILERPLATE_CASES = {
    "nav-tag": "<nav><a href='/'>Home</a></nav>",
    "aside-tag": "<aside>Related reading</aside>",
    "header-tag": "<header>Site masthead</header>",
    "footer-tag": "<footer>Contact us</footer>",
    "search-form": "<form action='/s'>Search the site <input name=q></form>",
    "role-navigation": "<div role='navigation'>Menu items</div>",
    "role-banner": "<div role='banner'>Banner text</div>",
    "role-contentinfo": "<div role='contentinfo'>Footer info</div>",
    "role-complementary": "<div role='complementary'>Side info</div>",
    "class-menu": "<div class='menu'>Menu</div>",
    "class-site-header": "<div class='site-header'>Header</div>",
    "id-footer": "<div id='footer'>Footer</div>",
    "class-sidebar": "<div class='sidebar'>Sidebar</div>",
    "class-side-bar": "<div class='side-bar'>Side bar</div>",
    "class-breadcrumb": "<div class='breadcrumb'>Home &gt; News</div>",
    "class-crumb": "<ol class='crumb'><li>Home</li></ol>",
    "class-ad": "<div class='ad'>Buy now</div>",
    "class-ads-top": "<div class='ads-top'>Buy now</div>",
    "class-advert": "<div class='advert'>Buy now</div>",
    "class-banner": "<div class='banner'>Banner</div>",
    "class-share": "<div class='share'>Share on Weibo</div>",
    "class-social-links": "<div class='social-links'>Twitter</div>",
    "class-copyright": "<p class='copyright'>(c) 2021 Portal</p>",
    "class-toolbar": "<div class='toolbar'>Print</div>",
    "class-hot-news": "<div class='hot-news'>Hot story</div>",
    "class-recommend": "<div class='recommend'>You may like</div>",
    "class-related-posts": "<div class='related_posts'>Related</div>",
    "camel-mainNav": "<div class='mainNav'>Home</div>",
    "cjk-热门": "<div class='热门'>热门文章</div>",
    "cjk-推荐": "<div id='推荐'>推荐阅读</div>",
}


@pytest.mark.parametrize("markup", BOILERPLATE_CASES.values(), ids=BOILERPLATE_CASES.keys())
def test_boilerplate_by_tag_role_and_class_token(markup: str) -> None:
    body = "<div id='content'><p>The article text that is the page's reason to exist.</p></div>"
    p = page(markup + body)
    assert main_texts(p) == ["The article text that is the page's reason to exist."]
    assert boiler_texts(p), "the boilerplate block should be kept apart, not lost"


NOT_BOILERPLATE_CASES = {
    "shadow-is-not-ad": "<div class='shadow'>kept</div>",
    "upload-is-not-ad": "<div class='upload'>kept</div>",
    "loading-is-not-ad": "<div class='loading'>kept</div>",
    "navy-is-not-nav": "<div class='navy'>kept</div>",
    "header-title-in-article": "<article><h1 class='header-title'>kept</h1></article>",
    "entry-header": "<div class='entry-header'>kept</div>",
    "header-tag-inside-article": "<article><header><h1>kept</h1></header></article>",
    "no-sidebar-layout-flag": "<div class='no-sidebar'><p>kept</p></div>",
    "hotel-is-not-hot": "<div class='hotel'>kept</div>",
    "sideways-is-not-side": "<div class='sideways'>kept</div>",
}


@pytest.mark.parametrize("markup", NOT_BOILERPLATE_CASES.values(),
                         ids=NOT_BOILERPLATE_CASES.keys())
def test_tokens_not_substrings(markup: str) -> None:
    p = page("<nav>Home</nav>" + markup + "<p>Body text of the page.</p>")
    assert "kept" in main_texts(p)
    assert boiler_texts(p) == ["Home"]


def test_page_wide_form_wrapper_is_not_boilerplate() -> None:
    # ASP.NET / DotNetNuke wrap the whole page in one <form>
    p = page("<form id='Form'><nav>Menu</nav><div class='content'>"
             "<p>Long article paragraph one with enough words to be most of the page.</p>"
             "<p>Long article paragraph two with enough words to be most of the page.</p>"
             "</div></form>")
    assert len(p.blocks) == 2 and boiler_texts(p) == ["Menu"]


def test_element_holding_main_is_not_boilerplate() -> None:
    p = page("<div class='has-sidebar layout-side'><main><p>Main story</p></main>"
             "<div class='sidebar'>Side</div></div>")
    assert main_texts(p) == ["Main story"] and boiler_texts(p) == ["Side"]


NOTICE_PAGES = {
    "censored-msg": ('<div class="msg">此内容因违规无法查看</div>', "此内容因违规无法查看"),
    "discuz-messagetext": (
        '<div id="hd"><div class="hdc">Discuz! Board</div></div><div id="nv"><ul>'
        '<li><a href="forum.php">论坛</a></li></ul></div><div id="wp" class="wp">'
        '<div id="ct" class="wp cl w"><div class="nfl"><div class="f_c altw">'
        '<div id="messagetext" class="alert_error">'
        '<p>抱歉，指定的主题不存在或已被删除或正在被审核</p>'
        '<script type="text/javascript">if(history.length > (BROWSER.ie ? 0 : 1)) {}</script>'
        '<p class="alert_btnleft"><a href="javascript:history.back()">[点击这里返回上一页]</a>'
        '</p></div></div></div></div></div><div id="ft" class="wp cl">Powered by Discuz!</div>',
        "抱歉，指定的主题不存在或已被删除或正在被审核"),
    "only-text-in-header": ('<div class="header">页面不存在</div>', "页面不存在"),
    "only-text-in-footer-tag": ("<footer>This article has been removed.</footer>",
                                "This article has been removed."),
    "english-withheld": ("<nav><a href='/'>Home</a></nav><div class='notice'>"
                         "This Tweet is withheld in your country</div>",
                         "This Tweet is withheld in your country"),
}


@pytest.mark.parametrize(("body", "notice"), NOTICE_PAGES.values(), ids=NOTICE_PAGES.keys())
def test_notice_only_pages_keep_their_text(body: str, notice: str) -> None:
    p = page(body, head="<title>提示信息</title>")
    assert notice in main_texts(p)


# --- links, items, refresh, published ----------------------------------------------------------

def test_links_are_absolute_in_order_with_base_and_area() -> None:
    p = page("<nav><a href='/home'>Home</a></nav><p><a href='a.html'>A</a> and "
             "<a href=' http://other.org/b#frag '>B</a></p><map><area href='c.html' alt='C'>"
             "</map><div style='display:none'><a href='/hidden'>H</a></div>",
             head="<base href='http://cdn.example.org/base/'>")
    assert [(lk.url, lk.text, lk.position, lk.in_main) for lk in p.links] == [
        ("http://cdn.example.org/home", "Home", 0, False),
        ("http://cdn.example.org/base/a.html", "A", 1, True),
        ("http://other.org/b#frag", "B", 2, True),
        ("http://cdn.example.org/base/c.html", "C", 3, True),
        ("http://cdn.example.org/hidden", "H", 4, False),
    ]


LIST = ("<ul class='posts'>"
        "<li data-pid='101'><a class='t' href='/p/101.html'>First post</a> 阅读 12</li>"
        "<li data-pid='102'><a class='t' href='/p/102.html'>Second post</a> 阅读 40</li>"
        "<li><a class='t' href='/p/103.html'>Third post</a></li>"
        "<li><span>No link</span></li><li><span>No link</span></li></ul>")


def test_items_with_attribute_ids() -> None:
    items = page(LIST, items="ul.posts > li", item_id="data-pid").items
    assert [it.id for it in items[:2]] == ["101", "102"]
    assert items[0].links == ("http://example.org/p/101.html",)
    assert items[0].key == mask("First post 阅读 99")  # the counter is masked
    assert [it.position for it in items] == [0, 1, 2, 3, 4]
    # no attribute: a stable hash of the masked text, twins told apart by rank
    assert items[2].id.startswith("h:") and items[3].id.startswith("h:")
    assert items[4].id == items[3].id + "~2"
    again = page(LIST.replace("阅读 12", "阅读 13"), items="ul.posts > li",
                 item_id="data-pid").items
    assert [it.id for it in again] == [it.id for it in items]


def test_items_with_css_ids() -> None:
    items = page(LIST, items="ul.posts > li", item_id="a.t").items
    assert [it.id for it in items[:3]] == [f"http://example.org/p/{n}.html"
                                           for n in (101, 102, 103)]
    by_text = page(LIST, items="ul.posts > li", item_id="span").items
    assert by_text[3].id == "No link"


def test_bad_item_selector_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="bad CSS selector"):
        page(LIST, items="ul[[")


REFRESH = {
    "zero-url": ("<meta http-equiv='refresh' content='0; url=/moved.html'>",
                 "http://example.org/moved.html"),
    "quoted-upper": ("<meta http-equiv='Refresh' content=\"5;URL='http://x.org/n'\">",
                     "http://x.org/n"),
    "upper-case": ("<META HTTP-EQUIV='REFRESH' CONTENT='0;url=/up'>", "http://example.org/up"),
    "no-url": ("<meta http-equiv='refresh' content='30'>", None),
    "no-content": ("<meta http-equiv='refresh'><meta http-equiv='refresh' content='0;url=/2'>",
                   "http://example.org/2"),
    "none": ("<meta charset='utf-8'>", None),
    "noscript-fallback": ("<noscript><meta http-equiv='refresh' content='0;url=/nojs'>"
                          "</noscript>", None),
}


@pytest.mark.parametrize(("head", "expected"), REFRESH.values(), ids=REFRESH.keys())
def test_meta_refresh(head: str, expected: str | None) -> None:
    assert page("<p>x</p>", head=head).refresh_url == expected


CST = timezone(timedelta(hours=8))
PUBLISHED = {
    "og-meta": ("<meta property='article:published_time' content='2021-03-15T08:30:00+08:00'>",
                "<p>x</p>", datetime(2021, 3, 15, 8, 30, tzinfo=CST)),
    "gov-pubdate-meta": ("<meta name='PubDate' content='2018-06-20 10:00'>", "<p>x</p>",
                         datetime(2018, 6, 20, 10, 0)),
    "time-element": ("", "<h1>T</h1><time datetime='2021-03-15T00:00:00Z'>Mar 15</time>",
                     datetime(2021, 3, 15, tzinfo=UTC)),
    "cn-labelled": ("", "<h1>关于军民融合的通知</h1><div class='info'>发布时间：2018-06-20 10:00"
                    " 来源：市网信办 浏览次数：123</div><p>正文</p>",
                    datetime(2018, 6, 20, 10, 0)),
    "cn-date-line": ("", "<h1>标题</h1><p>2018年06月20日</p><p>正文内容</p>",
                     datetime(2018, 6, 20)),
    "en-posted": ("", "<h1>Title</h1><p>Posted on March 15, 2021 at 3:05 pm</p>",
                  datetime(2021, 3, 15, 15, 5)),
    "en-byline-opening-date": ("", "<h1>T</h1><p>Body text.</p><p>Friday, October 09, 2015/"
                               "Categories: Modeling</p>", datetime(2015, 10, 9)),
    "time-itemprop-first": ("", "<h1>T</h1><time datetime='2020-01-01'>x</time><time "
                            "itemprop='datePublished' datetime='2021-03-15'>y</time>",
                            datetime(2021, 3, 15)),
    "time-in-sidebar-skipped": ("", "<aside><time datetime='2020-01-01'>old</time></aside>"
                                "<h1>T</h1><time datetime='2021-03-15'>Mar 15</time>",
                                datetime(2021, 3, 15)),
    "cn-update-time-is-not-publication": ("", "<h1>标题</h1><p>更新时间：2021-03-16</p>"
                                          "<p>发布时间：2021-03-15</p>", datetime(2021, 3, 15)),
    "en-last-updated-is-not-publication": ("", "<h1>T</h1><p>Last updated on January 20, "
                                           "2017</p>", None),
    "none": ("", "<h1>T</h1><p>No date at all here.</p>", None),
}


@pytest.mark.parametrize(("head", "body", "expected"), PUBLISHED.values(),
                         ids=PUBLISHED.keys())
def test_published_time(head: str, body: str, expected: datetime | None) -> None:
    assert page(body, head=head).published == expected


def test_title_from_title_element_else_first_heading() -> None:
    assert page("<h1>H</h1>", head="<title> The  title </title>").title == "The title"
    assert page("<h2>Heading</h2><p>x</p>").title == "Heading"
    # an SVG's <title> names the drawing, not the page
    assert page("<svg><title>icon</title></svg><h1>Heading</h1>").title == "Heading"


# --- mask, mojibake, dates ------------------------------------------------------------------

MASK_EQUAL = {
    "counter-cn": ("阅读 1234", "阅读 99999"),
    "counter-cn-colon-wan": ("阅读数：1.2万", "阅读数：3456"),
    "counter-views-parens": ("Number of views (4099)", "Number of views (4116)"),
    "counter-views-colon": ("views: 12", "views: 1,024"),
    "counter-suffix": ("1,234 views", "87 views"),
    "counter-comments": ("Comments (0)", "Comments (12)"),
    "clock": ("updated 15:04:05", "updated 9:00"),
    "clock-ampm": ("at 3:05 pm", "at 11:40 AM"),
    "iso-date": ("2021-03-15", "2019-12-01"),
    "iso-datetime": ("2021-03-15T10:00:00Z", "2021-03-16 11:00"),
    "cn-date": ("2021年3月15日", "2020年12月1日"),
    "cn-date-weekday": ("2018年06月20日 星期三", "2018年06月21日 星期四"),
    "en-date": ("Mar 15, 2021", "December 1, 2020"),
    "en-weekday-date": ("Wednesday, February 01, 2017", "Thursday, February 02, 2017"),
    "relative-cn": ("3分钟前", "5小时前"),
    "yesterday-cn": ("昨天 12:00", "前天 08:30"),
    "relative-en": ("5 minutes ago", "an hour ago"),
    "uuid": ("id 0f8a9c2e-1b7d-4a6f-9e3c-2b1d0a9f8e7c", "id 9e8d7c6b-5a4f-3e2d-1c0b-a9f8e7d6c5b4"),
    "hex-token": ("csrf 3f9a0c2e1b7d4a6f9e3c", "csrf 0b1c2d3e4f5a6b7c8d9e"),
    "base64-token": ("session aGVsbG8gd29ybGQ1MjM0", "session Zm9vYmFyYmF6cXV4OTk5"),
    "numbers": ("Chapter 12", "Chapter 7"),
    "fullwidth-nfkc": ("阅读　１２３", "阅读 456"),
    "whitespace": ("  a \n\t b ", "a b"),
}


@pytest.mark.parametrize(("a", "b"), MASK_EQUAL.values(), ids=MASK_EQUAL.keys())
def test_mask_equates_volatile_spans(a: str, b: str) -> None:
    assert mask(a) == mask(b)


MASK_KEEPS = {
    "long-word": "Internationalization",
    "long-words-phrase": "Counterrevolutionaries misunderstood",
    "month-names-alone": "May the march go on",
    "today-in-prose": "Today we announce a plan",
    "yesterday-in-cn-prose": "昨天发生了一件事",
    "views-word-no-number": "Views of the river",
    "share-word": "Share your thoughts",
    "cjk-text": "军民融合",
}


@pytest.mark.parametrize("text", MASK_KEEPS.values(), ids=MASK_KEEPS.keys())
def test_mask_does_not_mask_words(text: str) -> None:
    assert mask(text) == text


def test_mask_placeholders() -> None:
    assert mask("发布时间：2018-06-20 10:00  阅读 1234") == "发布时间:# 阅读 #"
    assert mask("Chapter 12: the 2 shadows") == "Chapter 0: the 0 shadows"
    assert mask("") == ""


MOJIBAKE = {
    "latin1-double": ("Español – “quoted” Niño 简体中文",
                      lambda s: s.encode("utf-8").decode("latin-1")),
    "cp1252-double": ("Español – it’s Niño €5", lambda s: s.encode("utf-8").decode("cp1252")),
    "triple": ("Español", lambda s: s.encode("utf-8").decode("latin-1").encode("utf-8")
               .decode("latin-1")),
}


@pytest.mark.parametrize(("good", "spoil"), MOJIBAKE.values(), ids=MOJIBAKE.keys())
def test_fix_mojibake_undoes_double_encoding(good: str, spoil) -> None:
    assert spoil(good) != good
    assert fix_mojibake(spoil(good)) == good


@pytest.mark.parametrize("text", ["café, déjà vu, 1€", "Ã is a letter", "plain ascii", "",
                                  "简体中文"])
def test_fix_mojibake_leaves_clean_text_alone(text: str) -> None:
    assert fix_mojibake(text) == text


def test_find_date_forms() -> None:
    assert find_date("2021/3/15") == datetime(2021, 3, 15)
    assert find_date("15 March 2021") == datetime(2021, 3, 15)
    assert find_date("2021-02-30") is None  # not a date


def test_block_of_builds_the_key() -> None:
    assert Block.of("阅读 12").key == "阅读 #"


# --- real pages -------------------------------------------------------------------------------

ODD_FILES = sorted((WMD / "encoding").glob("*")) + sorted((WMD / "example_data").glob("*"))


@pytest.mark.skipif(not WMD.is_dir(), reason=f"realdata not found at {WMD}")
@pytest.mark.parametrize("path", ODD_FILES, ids=[p.name for p in ODD_FILES])
@pytest.mark.parametrize("codec", ["utf-8", "latin-1"])
def test_odd_files_extract_without_exceptions(path: Path, codec: str) -> None:
    html = path.read_bytes().decode(codec, "replace")
    p = extract(html, "http://example.org/x")
    assert isinstance(p, Page)
    if html.strip():
        assert p.main_text  # something survives: text, NUL bytes, PDF bytes alike


def test_extract_survives_hostile_input() -> None:
    for html in ["", "   ", "\x00\x00", "<div>" * 3000 + "deep" + "</div>" * 3000,
                 "<p>lone \udcff surrogate</p>", "<?xml version='1.0' encoding='gbk'?><p>x</p>",
                 "<a href='http://[bad'>x</a>", "<frameset><frame src='a.html'></frameset>"]:
        assert isinstance(extract(html, URL), Page)


LISTING = WMD / "versions"
BEFORE, AFTER = "9d4de183-a186-456c-bffb-55d82989877d", "775a8b04-9bac-4d0d-8db0-a8e133c4a964"


def _news_links(name: str) -> list[str]:
    html = (LISTING / f"{name}.html").read_text(encoding="utf-8")
    p = extract(html, "https://energy.gov/")
    return list(dict.fromkeys(lk.url for lk in p.links
                              if lk.in_main and "energy-listing-item" in lk.path))


@pytest.mark.skipif(not LISTING.is_dir(), reason=f"realdata not found at {LISTING}")
def test_energy_gov_listing_news_links_in_order() -> None:
    # pair B: two new items pushed in at the top, the two oldest fell off the bottom
    # (the news listing of 10 comes first, a second listing of 14 articles follows, unchanged)
    old, new = _news_links(BEFORE), _news_links(AFTER)
    assert len(old) == len(new) == 24
    assert old[0].endswith("/articles/secretary-energy-rick-perry-announces-36-million-"
                           "projects-advance-carbon-capture")
    assert new == new[:2] + old[:8] + old[10:]
    fell_off = [u.rsplit("/", 1)[1][:40] for u in old[8:10]]
    assert fell_off == ["energy-department-invests-50-million-imp",
                        "us-department-energy-proposes-expedited-"]
    assert not set(old[8:10]) & set(new)


@pytest.mark.skipif(not LISTING.is_dir(), reason=f"realdata not found at {LISTING}")
def test_energy_gov_listing_items_by_css_id() -> None:
    html = (LISTING / f"{BEFORE}.html").read_text(encoding="utf-8")
    items = extract(html, "https://energy.gov/", items="div.energy-listing-item",
                    item_id="a.title-link").items
    assert [it.id for it in items] == _news_links(BEFORE)
    assert len(items) == 24
    assert all(it.links and it.text for it in items)


def test_items_carry_their_own_time_only_when_asked() -> None:
    """The report asks for each item's time; detection, which reads every page every
    round, does not pay for the date search."""
    html = ("<html><body><h1>帖子</h1><div class='post' data-pid='1'>楼主 发表于 2021-02-27 "
            "20:00 正文</div><div class='post' data-pid='2'>回复 发表于 2021-02-28 08:15 "
            "正文</div></body></html>")
    plain = extract(html, "http://127.0.0.1:1/t", ".post", "data-pid")
    dated = extract(html, "http://127.0.0.1:1/t", ".post", "data-pid", item_times=True)
    assert [i.published for i in plain.items] == [None, None]
    assert [i.published.isoformat() for i in dated.items] == ["2021-02-27T20:00:00",
                                                              "2021-02-28T08:15:00"]
