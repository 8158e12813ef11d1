"""The city government news portal of the demo site (`/gov/...`).

Pages: portal home `/gov/index.html`, a listing `/gov/news/list.html`, `list_2.html`, ...
(newest first, 10 a page, every page linked from every page) and articles
`/gov/news/art_N.html`. Articles with N divisible by 5 are GBK with only
`<meta charset="gbk">`; article 103 is labelled gb2312 in a `http-equiv` meta but encoded
GB18030 and contains 镕 (GBK, not GB2312) and 䶮 (GB18030 only). Their Content-Type header
carries no charset. Every link in the section carries `_vt=`, a session value that changes
daily and is on no well-known list.

Timeline: day 3 article 114 answers 404 and is back on day 5 (`removed`, restored); the
purge day 4 (军民融合 items) -> 112, 117, 121 answer 404 and 119 redirects (302) to the
portal home (`removed`); 122 and 124 drop out of the middle of the listing but still serve
(`delisted`); 125 loses its paragraph on 军民融合 output (`edited`).
Noise: visit counters, the date/clock bar, a rotating banner, `_vt`, new articles pushing
old ones to later pages, 108 moving (301) to `/gov/xxgk/art_108.html` on day 3, 110 answering
500 on day 5, 106 answering 429 (Retry-After: 1) to the first request of day 6.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from takedown.demo import texts
from takedown.demo.layout import (
    clock,
    date_of,
    esc,
    html_reply,
    link,
    paragraphs,
    redirect,
    seeded,
    token,
    zh_date,
)
from takedown.demo.server import Reply
from takedown.demo.truth import Expected, Noise, TargetSpec, absolute

SITE = "云海市人民政府门户网站"
TARGET = "gov-news"
PER_PAGE = 10
HOME = "/gov/index.html"
PURGE_DAY = 4
PURGED_404 = (112, 117, 121)
PURGED_HOME = 119
DELISTED = (122, 124)
EDITED = 125
RESTORED, GONE_DAY, BACK_DAY = 114, 3, 5
MOVED, MOVED_DAY = 108, 3
ERROR_500, ERROR_DAY = 110, 5
THROTTLED, THROTTLE_DAY = 106, 6
LABELLED_GB2312 = 103
MJRH = (112, 117, 119, 121, 122, 124)  # 军民融合 items
NEW_ARTICLE_DAYS = {129: 1, 130: 3, 131: 5, 132: 7, 133: 9}

SPECIAL_PARAGRAPHS = {
    103: [
        "本次展览共展出馆藏历史文献、图片和实物300余件，其中包括朱镕基同志上世纪九十年代"
        "视察我市时的题词复制件。",
        "展览还专题介绍了南汉开国皇帝刘䶮在岭南建都的史迹，以及历代地方志中有关我市的记载。",
    ],
    EDITED: [
        "1—5月，全市军民融合产业实现产值36.8亿元，同比增长15.2%，高于全市规模以上工业增速"
        "6.1个百分点；新增军民两用技术项目12项。",
    ],
}
SCRUBBED = SPECIAL_PARAGRAPHS[EDITED][0]

_LIST = re.compile(r"/gov/news/list(?:_(\d+))?\.html")
_ART = re.compile(r"/gov/(news|xxgk)/art_(\d+)\.html")


@dataclass(frozen=True)
class Article:
    aid: int
    title: str
    posted: int

    @property
    def encoding(self) -> str:
        if self.aid == LABELLED_GB2312:
            return "gb18030"
        return "gbk" if self.aid % 5 == 0 else "utf-8"


ARTICLES = {
    aid: Article(aid, title, NEW_ARTICLE_DAYS.get(aid, aid - 129))
    for aid, title in texts.GOV_TITLES.items()
}


def article_path(aid: int, day: int) -> str:
    """Where the listing points for *aid* on *day* (the moved article changes address)."""
    if aid == MOVED and day >= MOVED_DAY:
        return f"/gov/xxgk/art_{aid}.html"
    return f"/gov/news/art_{aid}.html"


def listed(day: int) -> list[Article]:
    """Articles in the listing on *day*, newest first."""
    hidden = set(PURGED_404 + DELISTED) | {PURGED_HOME} if day >= PURGE_DAY else set()
    shown = [a for a in ARTICLES.values() if a.posted <= day and a.aid not in hidden]
    return sorted(shown, key=lambda a: (a.posted, a.aid), reverse=True)


def body_paragraphs(aid: int, day: int) -> list[str]:
    art = ARTICLES[aid]
    rng = seeded("gov-body", aid)
    pool = list(texts.GOV_SENTENCES)
    rng.shuffle(pool)
    posted = date_of(art.posted)
    paras = [f"本网讯 {posted.month}月{posted.day}日，{pool[0]}{pool[1]}"]
    if aid in MJRH:
        paras.append("".join(rng.sample(texts.GOV_MJRH_SENTENCES, 3)))
    paras += SPECIAL_PARAGRAPHS.get(aid, [])
    paras += ["".join(pool[i:i + 2]) for i in range(2, 8, 2)]
    if aid == EDITED and day >= PURGE_DAY:
        paras.remove(SCRUBBED)
    return paras


class GovSection:
    """Responder and self-description of the government portal section."""

    prefix = "/gov/"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answered: set[tuple[int, str]] = set()

    def reply(self, day: int, path: str, query: Mapping[str, str]) -> Reply | None:
        if path in {"/gov/", HOME}:
            return _Pages(day).home()
        if m := _LIST.fullmatch(path):
            return _Pages(day).listing(int(m.group(1) or 1))
        if m := _ART.fullmatch(path):
            return self._article(day, path, int(m.group(2)))
        return None

    def _article(self, day: int, path: str, aid: int) -> Reply | None:
        art = ARTICLES.get(aid)
        if art is None or art.posted > day or path != article_path(aid, day):
            if aid == MOVED and day >= MOVED_DAY and path == f"/gov/news/art_{aid}.html":
                return redirect(article_path(aid, day), 301)
            return None
        purged = day >= PURGE_DAY and aid in PURGED_404
        if purged or (aid == RESTORED and GONE_DAY <= day < BACK_DAY):
            return None
        if aid == PURGED_HOME and day >= PURGE_DAY:
            return redirect(HOME, 302)
        if aid == ERROR_500 and day == ERROR_DAY:
            return _server_error()
        if aid == THROTTLED and day == THROTTLE_DAY and self._first_today(day, path):
            return _too_many()
        return _Pages(day).article(art)

    def _first_today(self, day: int, path: str) -> bool:
        with self._lock:
            first = (day, path) not in self._answered
            self._answered.add((day, path))
        return first

    def targets(self) -> list[TargetSpec]:
        return [TargetSpec(TARGET, "/gov/news/list.html", depth=2, allow=(r"/gov/",))]

    def expected(self, base: str) -> list[Expected]:
        def art(aid: int) -> str:
            return absolute(base, f"/gov/news/art_{aid}.html")

        purge = "军民融合 purge"
        return [
            Expected(art(RESTORED), "removed", GONE_DAY, TARGET, restored_day=BACK_DAY,
                     note="404 for two days, then back"),
            *(Expected(art(a), "removed", PURGE_DAY, TARGET, note=f"{purge}: 404")
              for a in PURGED_404),
            Expected(art(PURGED_HOME), "removed", PURGE_DAY, TARGET,
                     note=f"{purge}: 302 to the portal home"),
            *(Expected(art(a), "delisted", PURGE_DAY, TARGET,
                       note=f"{purge}: dropped from the middle of list.html, page still 200")
              for a in DELISTED),
            Expected(art(EDITED), "edited", PURGE_DAY, TARGET,
                     note=f"{purge}: paragraph on 军民融合 output scrubbed (GBK page)"),
        ]

    def noise(self, base: str, days: int) -> list[Noise]:
        every = tuple(range(days))
        first = absolute(base, "/gov/news/list.html")
        moves = tuple(sorted({d for d in NEW_ARTICLE_DAYS.values() if d < days} | {PURGE_DAY}))
        pages = [absolute(base, f"/gov/news/list_{k}.html") for k in (2, 3)]
        return [
            Noise(first, "session-param", every, "_vt= on every link, new value daily"),
            Noise(first, "counter", every, "visitor counter in the footer"),
            Noise(first, "clock", every, "today's date and time in the top bar"),
            Noise(first, "ad", every, "rotating banner"),
            Noise(first, "pagination", moves, "new articles push old ones to later pages"),
            *(Noise(p, "pagination", moves, "items shift between listing pages") for p in pages),
            Noise(absolute(base, f"/gov/news/art_{MOVED}.html"), "moved",
                  tuple(range(MOVED_DAY, days)), "301 to /gov/xxgk/art_108.html, same content"),
            Noise(absolute(base, f"/gov/news/art_{ERROR_500}.html"), "500", (ERROR_DAY,)),
            Noise(absolute(base, f"/gov/news/art_{THROTTLED}.html"), "429", (THROTTLE_DAY,),
                  "first request of the day only; Retry-After: 1"),
            Noise(absolute(base, "/gov/news/art_101.html"), "counter", every, "浏览次数"),
        ]


def _server_error() -> Reply:
    page = ("<html><head><title>500 Internal Server Error</title></head><body>"
            "<center><h1>500 Internal Server Error</h1></center><hr><center>nginx</center>"
            "</body></html>")
    return html_reply(page, 500)


def _too_many() -> Reply:
    page = ("<html><head><title>429 Too Many Requests</title></head><body>"
            "<center><h1>429 Too Many Requests</h1></center><hr><center>nginx</center>"
            "</body></html>")
    return html_reply(page, 429, headers={"Retry-After": "1"})


class _Pages:
    """Renders the portal pages of one simulated day."""

    def __init__(self, day: int) -> None:
        self.day = day
        self.vt = token(10, "vt", day).lower()

    def url(self, path: str) -> str:
        return esc(link(path, {"_vt": self.vt}))

    def home(self) -> Reply:
        main = (
            '<div class="home-focus"><h2>政务要闻</h2>'
            '<p>聚焦市委市政府重要会议、重大活动和重点工作。</p>'
            f'<p class="more"><a href="{self.url("/gov/news/list.html")}">更多&gt;&gt;</a></p>'
            '</div><div class="home-service"><h2>政务服务</h2><p>办事指南　在线办理　办件查询'
            "　便民热线</p></div>"
        )
        return html_reply(self.layout("首页", main))

    def listing(self, page: int) -> Reply | None:
        arts = listed(self.day)
        pages = max(1, -(-len(arts) // PER_PAGE))
        if not 1 <= page <= pages:
            return None
        rows = "\n".join(
            f'<li><a href="{self.url(article_path(a.aid, self.day))}" target="_blank" '
            f'title="{esc(a.title)}">{esc(a.title)}</a><span class="date">'
            f"{date_of(a.posted).isoformat()}</span></li>"
            for a in arts[(page - 1) * PER_PAGE: page * PER_PAGE]
        )
        main = (
            f'<div class="list-box"><div class="list-title"><h2>政务要闻</h2></div>'
            f'<ul class="news-list">\n{rows}\n</ul>{self._pager(page, pages, len(arts))}</div>'
        )
        return html_reply(self.layout("政务要闻", main))

    def _pager(self, page: int, pages: int, total: int) -> str:
        def href(k: int) -> str:
            return self.url("/gov/news/list.html" if k == 1 else f"/gov/news/list_{k}.html")

        numbers = " ".join(
            f"<span>{k}</span>" if k == page else f'<a href="{href(k)}">{k}</a>'
            for k in range(1, pages + 1)
        )
        prev_ = f'<a href="{href(page - 1)}">上一页</a>' if page > 1 else "上一页"
        next_ = f'<a href="{href(page + 1)}">下一页</a>' if page < pages else "下一页"
        return (f'<div class="page">共 {total} 条　页次 {page}/{pages}　<a href="{href(1)}">首页'
                f'</a> {prev_} {numbers} {next_} <a href="{href(pages)}">尾页</a></div>')

    def article(self, art: Article) -> Reply:
        hits = 200 + seeded("gov-hits", art.aid, self.day).randrange(50, 3000) + 97 * self.day
        source = seeded("gov-dept", art.aid).choice(texts.GOV_DEPARTMENTS)
        main = (
            f'<div class="article"><h1 class="title">{esc(art.title)}</h1><div class="info">'
            f"发布时间：{date_of(art.posted).isoformat()}　来源：{esc(source)}　"
            f'浏览次数：<span id="hits">{hits}</span>　【字体：大 中 小】</div>'
            f'<div class="content" id="zoom">\n{paragraphs(body_paragraphs(art.aid, self.day))}\n'
            '</div><div class="print"><a href="javascript:window.print()">打印本页</a>　'
            '<a href="javascript:window.close()">关闭窗口</a></div></div>'
        )
        page = self.layout(art.title, main, encoding=art.encoding)
        return html_reply(page, encoding=art.encoding, content_type="text/html")

    def layout(self, title: str, main: str, encoding: str = "utf-8") -> str:
        banner = texts.GOV_BANNERS[self.day % len(texts.GOV_BANNERS)]
        visitors = 12_345_678 + 4_321 * self.day + seeded("gov-visitors", self.day).randrange(999)
        return (
            f"<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n{_meta_charset(encoding)}\n"
            f"<title>{esc(title)}_{SITE}</title>\n"
            f'<meta name="SiteName" content="{SITE}">\n'
            '<meta name="ColumnName" content="政务要闻">\n'
            "</head>\n<body>\n"
            f'<div class="top-bar"><span class="today">今天是{zh_date(self.day)} '
            f"{clock('gov-top', self.day)}</span> <a href=\"{HOME}\">网站首页</a> "
            '<a href="javascript:void(0)">无障碍浏览</a></div>\n'
            f'<div class="header"><div class="logo"><a href="{HOME}">云海市人民政府</a></div>'
            f'<ul class="nav"><li><a href="{HOME}">首页</a></li><li><a href="'
            f'{self.url("/gov/news/list.html")}">政务要闻</a></li></ul></div>\n'
            f'<div class="ad-banner"><a href="{HOME}">{esc(banner)}</a></div>\n'
            f'<div class="main">\n{main}\n</div>\n'
            '<div class="footer"><p>主办：云海市人民政府办公室　承办：云海市大数据管理中心</p>'
            "<p>网站标识码：4499000001　云ICP备05012345号</p>"
            f'<p>您是第 <span class="counter">{visitors}</span> 位访问者</p>'
            '<p><a href="/private/secret.html">内部办公</a></p></div>\n</body>\n</html>\n'
        )


def _meta_charset(encoding: str) -> str:
    if encoding == "gb18030":
        return '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
    return f'<meta charset="{encoding}">'
