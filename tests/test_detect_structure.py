"""Page structure the detector learns from history, on small loopback sites crawled round
by round through the real command line:

- post pages whose comment box shows a different number of comments every round, and a
  hot-topics box drawn at random, yield nothing; a post whose text the platform replaced by
  its notice inside the full page (header, hot topics, comments around it) is ``censored``;
- article pages carrying a "more from this account" box of articles drawn at random never
  yield ``delisted``; an article taken out of the middle of the time-ordered news list
  while its page serves is ``delisted`` once the next round shows it still missing (dated
  from the round that first showed it), and when it is censored later the same record
  becomes ``censored``, the earlier kind kept in its history;
- a URL reached by two targets is one record naming both;
- a thread whose page shows the forum's "thread does not exist" notice is ``removed``, not
  a closed section, though its page listed other threads;
- a page compared for the first time that lost the advert other pages of the site carry is
  not edited, while a paragraph scrubbed on its first comparison is;
- a thread that leaves the forum home's box of latest threads while its own board, read by
  another target, still lists it is not delisted: a delisting leaves every target's lists.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from sitesim import crawl_days, page

DAY = "2024-05-{:02d}T08:00:00Z"
NOTICE = "此内容因违规无法查看"
WORDS = ("今天天气不错", "支持一下", "说得很有道理", "这个问题值得关注", "转发了这条微博",
         "楼主辛苦了", "我也是这么想的", "希望有关部门重视", "已经分享给朋友", "路过看看")


def _comments(rng: random.Random, n: int) -> str:
    rows = "".join(
        f"<div class='cmt'><a href='/u/{rng.randrange(10_000)}'>网友{rng.randrange(10_000)}</a>"
        f"<p>{rng.choice(WORDS)}，{rng.choice(WORDS)}，{rng.choice(WORDS)}。</p>"
        f"<span class='t'>{rng.randrange(1, 59)}分钟前</span></div>" for _ in range(n))
    return f"<div class='cmts'><h3>评论 {n}</h3>{rows}</div>"


def _topics(rng: random.Random) -> str:
    picked = rng.sample(range(40), 5)
    return "<ul class='topics'>" + "".join(
        f"<li><a href='/t/{i}'>#话题{i}：{WORDS[i % len(WORDS)]}#</a></li>" for i in picked) + \
        "</ul>"


def _post(i: int, day: int, rng: random.Random, censored: bool = False) -> object:
    text = NOTICE if censored else \
        f"第{i}条微博：{'关于社区活动安排的说明和后续的详细报道，' * 3}完。"
    return page(f"<div class='top'><a href='/'>微博首页</a> 用户{i % 3}</div>"
                f"<div class='wrap'><div class='feed'><div class='txt'>{text}</div>"
                f"<div class='act'>转发 {rng.randrange(99)} 评论 {rng.randrange(99)}</div>"
                f"</div>{_topics(rng)}{_comments(rng, rng.choice((0, 1, 2, 6, 10)))}</div>")


def microblog(day: int) -> dict:
    rng = random.Random(day)
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"})}
    r["/u/home.html"] = page("<ul class='feed'>" + "".join(
        f"<li><a href='/p/{i}.html'>第{i}条微博 关于社区活动安排</a></li>"
        for i in range(1, 9)) + "</ul>")
    for i in range(1, 9):
        r[f"/p/{i}.html"] = _post(i, day, rng, censored=(i == 3 and day >= 2))
    return r


def test_comment_boxes_and_widgets_are_not_edits(tmp_path: Path) -> None:
    got = _run(tmp_path, microblog, 5, '[[target]]\nname = "weibo"\n'
               'url = "{base}/u/home.html"\ndepth = 1\nallow = ["/p/", "/u/"]\n')
    assert {(r["url"], r["kind"]) for r in got} == {("/p/3.html", "censored")}
    rec = got[0]
    assert rec["detected_at"].startswith("2024-05-03") and rec["evidence"]["phrase"]


def _article(i: int, rng: random.Random, notice: bool = False) -> object:
    more = "".join(f"<li><a href='/a/{j}.html'>推荐阅读：第{j}篇 公众号文章标题</a></li>"
                   for j in rng.sample(range(1, 31), 6))
    body = f"<p>{NOTICE}</p>" if notice else \
        f"<p>第{i}篇文章的正文，{'讲述了本地新闻和各方面的情况，' * 4}</p>"
    return page(f"<div class='art'><h1>第{i}篇</h1>{body}</div>"
                f"<div class='more'><h3>更多文章</h3><ul>{more}</ul></div>")


def news(day: int) -> dict:
    """Thirty articles, newest first, eight a page; one new a day; a26 leaves the list on
    day 2 (its page serves) and shows a notice from day 4; a27 goes 404 on day 3."""
    rng = random.Random(100 + day)
    ids = [i for i in range(30 + day, 0, -1) if not (i == 26 and day >= 2)]
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"})}
    for n in range(4):
        chunk = ids[n * 8:(n + 1) * 8]
        name = "/n/list.html" if n == 0 else f"/n/list_{n + 1}.html"
        pager = "".join(f"<a href='/n/list_{k}.html'>{k}</a>" for k in (2, 3, 4))
        r[name] = page("<ul class='news'>" + "".join(
            f"<li><a href='/a/{i}.html'>第{i}篇 公众号文章标题</a><span>05-{i:02d}</span></li>"
            for i in chunk) + f"</ul><div class='pg'>{pager}</div>")
    r["/n/latest.html"] = page("<ul class='news'>" + "".join(
        f"<li><a href='/a/{i}.html'>第{i}篇 公众号文章标题</a></li>" for i in ids[:8]) + "</ul>")
    for i in range(1, 31 + day):
        r[f"/a/{i}.html"] = _article(i, rng, notice=(i == 26 and day >= 4))
    if day >= 3:
        r["/a/27.html"] = page("<h1>404 Not Found</h1>", status=404)
    return r


def test_widgets_never_delist_and_kinds_follow_evidence(tmp_path: Path) -> None:
    got = _run(tmp_path, news, 6,
               '[[target]]\nname = "news"\nurl = "{base}/n/list.html"\ndepth = 1\n\n'
               '[[target]]\nname = "latest"\nurl = "{base}/n/latest.html"\ndepth = 1\n')
    by_url = {r["url"]: r for r in got}
    assert sorted((r["url"], r["kind"]) for r in got) == [
        ("/a/26.html", "censored"), ("/a/27.html", "removed")]
    a26 = by_url["/a/26.html"]
    assert a26["detected_at"].startswith("2024-05-03")   # the round that first missed it
    assert [h["kind"] for h in a26["evidence"]["history"]] == ["delisted"]
    assert a26["evidence"]["listing"]["url"].endswith(("/n/list.html", "/n/latest.html"))
    assert sorted(by_url["/a/27.html"]["targets"]) == ["latest", "news"]


def forum(day: int) -> dict:
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"})}
    r["/bbs/forum-1.html"] = page("<table class='threads'>" + "".join(
        f"<tr><td><a href='/bbs/thread-{i}.html'>主题{i}：关于装备的讨论</a></td><td>{i}</td></tr>"
        for i in range(1, 10)) + "</table>")
    for i in range(1, 10):
        related = "".join(f"<li><a href='/bbs/thread-{j}.html'>相关主题{j}：装备讨论</a></li>"
                          for j in range(1, 10) if j != i)
        r[f"/bbs/thread-{i}.html"] = page(
            f"<div class='post'><h1>主题{i}</h1><p>{'楼主的发言内容，讨论装备。' * 5}</p></div>"
            f"<ul class='rel'>{related}</ul>")
    if day >= 2:
        r["/bbs/thread-4.html"] = page(
            "<div class='alert_error'>抱歉，指定的主题不存在或已被删除或正在被审核</div>"
            "<ul class='rel'>" + "".join(
                f"<li><a href='/bbs/thread-{j}.html'>相关主题{j}：装备讨论</a></li>"
                for j in range(5, 10)) + "</ul>")
    return r


def test_thread_notice_is_removed_not_section_closed(tmp_path: Path) -> None:
    got = _run(tmp_path, forum, 3, '[[target]]\nname = "bbs"\n'
               'url = "{base}/bbs/forum-1.html"\ndepth = 1\n')
    assert [(r["url"], r["kind"]) for r in got] == [("/bbs/thread-4.html", "removed")]


TOPICS = ("", "修路", "供水", "学校", "医院", "公交", "绿化", "菜场", "停车场")


def portal(day: int) -> dict:
    """Articles with an advert of a random number; articles 7 and 8 appear on day 1; on
    day 2 article 7 shows no advert and article 8 lost its second paragraph."""
    rng = random.Random(day)
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"})}
    shown = range(1, 9) if day else range(1, 7)
    r["/g/list.html"] = page("<ul class='news'>" + "".join(
        f"<li><a href='/g/{i}.html'>第{i}篇 政务公开栏目的文章</a></li>" for i in shown)
        + "</ul>")
    for i in shown:
        ads = 0 if (i == 7 and day == 2) else 1
        box = "".join(f"<div class='promo'><a href='http://ads.invalid/c?id={rng.randrange(10**6)}'>"
                      f"推广：合作伙伴商城限时优惠 #{rng.randrange(10**6)}</a></div>"
                      for _ in range(ads))
        second = "" if (i == 8 and day == 2) else \
            f"<p>第二段：{TOPICS[i]}一事，有关部门作出了说明，并公布了调查的进展情况。</p>"
        r[f"/g/{i}.html"] = page(f"<div class='art'><h1>第{i}篇</h1>"
                                 f"<p>第一段：本地新闻报道了{TOPICS[i]}的内容和安排。</p>{second}"
                                 f"</div>{box}")
    return r


def test_a_template_advert_is_no_edit_on_a_first_comparison(tmp_path: Path) -> None:
    got = _run(tmp_path, portal, 3, '[[target]]\nname = "gov"\n'
               'url = "{base}/g/list.html"\ndepth = 1\n')
    assert [(r["url"], r["kind"]) for r in got] == [("/g/8.html", "edited")]
    assert got[0]["evidence"]["removed_text"][0].startswith("第二段")


def boards(day: int) -> dict:
    """Home /f/ with a box of the five latest threads (newest first); boards 1 and 2 list
    their own threads.  Thread 7 (board 2) leaves the box on day 2: thread 10 is newer."""
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"})}
    threads = {1: [1, 3, 5, 9], 2: [2, 4, 6, 7, 8] + ([10] if day >= 2 else [])}
    latest = [10, 9, 5, 3, 1] if day >= 2 else [9, 7, 5, 3, 1]
    row = "<li><a href='/f/t{0}.html'>第{0}个主题：关于社区的讨论帖</a></li>"
    r["/f/"] = page("<ul class='boards'><li><a href='/f/b1.html'>版块一</a></li>"
                    "<li><a href='/f/b2.html'>版块二</a></li></ul>"
                    "<ol class='latest'>" + "".join(row.format(t) for t in latest) + "</ol>")
    for board, ids in threads.items():
        r[f"/f/b{board}.html"] = page("<ol class='threads'>" + "".join(
            row.format(t) for t in sorted(ids, reverse=True)) + "</ol>")
        for t in ids:
            r[f"/f/t{t}.html"] = page(
                f"<h1>主题{t}</h1><p>{'帖子的正文内容，讨论社区的事情。' * 4}</p>")
    return r


def test_a_delisting_leaves_every_targets_lists(tmp_path: Path) -> None:
    got = _run(tmp_path, boards, 4, '[[target]]\nname = "home"\nurl = "{base}/f/"\n'
               'depth = 1\ndeny = ["/f/b2.html"]\n\n'
               '[[target]]\nname = "board2"\nurl = "{base}/f/b2.html"\ndepth = 1\n')
    assert got == []


def short_list(day: int) -> dict:
    """A small portal section: three entries a page over three pages, the pager in a
    ``pagination`` box (boilerplate to the extractor), one new article a day.  Article
    51010 leaves the middle of the list (and every related box) on day 2 while its page
    serves.  Each article has a box of four related articles whose second one changes
    every day; article URLs end in a long number (``content_51010.htm``), no page number."""
    ids = [i for i in range(51012 + day, 51000, -1) if not (i == 51010 and day >= 2)][:9]
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"})}
    for n in range(3):
        name = "/s/list.html" if n == 0 else f"/s/list_{n + 1}.html"
        pager = "".join(f"<a href='/s/{'list' if k == 1 else f'list_{k}'}.html'>{k}</a>"
                        for k in (1, 2, 3))
        r[name] = page("<ul class='items'>" + "".join(
            f"<li><a href='/s/content_{i}.htm'>第{i}号 通知公告的标题</a><span>05-{i % 28:02d}"
            f"</span></li>" for i in ids[n * 3:(n + 1) * 3]) + "</ul>"
            f"<div class='pagination'>{pager}</div>")
    for i in range(51001, 51013 + day):
        related = [j for j in (i - 1, 51000 + (i + day) % 12, i - 3, i - 4)
                   if not (j == 51010 and day >= 2)]   # delisted everywhere
        r[f"/s/content_{i}.htm"] = page(
            f"<div class='art'><h1>第{i}号</h1><p>{'通知公告的正文，说明了有关事项。' * 4}</p>"
            "<ul class='rel'>" + "".join(f"<li><a href='/s/content_{j}.htm'>相关：第{j}号</a></li>"
                                         for j in related) + "</ul></div>")
    return r


def test_a_short_paged_list_delists_and_article_ids_are_no_pages(tmp_path: Path) -> None:
    """Three entries a page is a list because it is paged (its pager is not main content);
    the related boxes of articles whose URLs end in numbers are no paged list."""
    got = _run(tmp_path, short_list, 4, '[[target]]\nname = "s"\n'
               'url = "{base}/s/list.html"\ndepth = 2\n')
    assert [(r["url"], r["kind"]) for r in got] == [("/s/content_51010.htm", "delisted")]
    assert got[0]["evidence"]["listing"]["url"].endswith("/s/list.html")


PHRASES = ("reviewed street lighting upgrades", "approved the spring budget",
           "postponed the ferry timetable", "debated a river clean-up plan",
           "outlined flood defence works", "unveiled a new bus corridor")


def phrase_site(day: int) -> dict:
    """Six articles; the side box of each shows three others' titles, drawn anew each day.
    Titles and paragraphs share phrases (as the news of one town does): article 3 loses
    its second paragraph on day 2 while a title holding the same phrase leaves its box."""
    rng = random.Random(day)
    title = {i: f"The council {PHRASES[i % 6]} (item {i})" for i in range(1, 7)}
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"})}
    r["/p/list.html"] = page("<ul class='news'>" + "".join(
        f"<li><a href='/p/{i}.html'>{title[i]}</a></li>" for i in range(6, 0, -1)) + "</ul>")
    for i in range(1, 7):
        paras = [f"Residents said the office {PHRASES[(i + k) % 6]} after a long meeting "
                 f"on the {k + 1}th of the month, in article {i}." for k in range(3)]
        if i == 3 and day >= 2:
            del paras[1]
        picks = rng.sample([j for j in range(1, 7) if j != i], 3)
        if i == 3:   # the title sharing the cut paragraph's phrase leaves with it
            picks = [1, 2, 5] if day >= 2 else [4, 5, 6]
        side = "".join(f"<li><a href='/p/{j}.html'>{title[j]}</a></li>" for j in picks)
        r[f"/p/{i}.html"] = page(f"<div class='art'><h1>{title[i]}</h1>"
                                 + "".join(f"<p>{t}</p>" for t in paras)
                                 + f"</div><div class='mod'><h4>Most read</h4><ul>{side}</ul>"
                                 "</div>")
    return r


def test_a_paragraph_cut_is_an_edit_though_a_sidebar_title_shares_its_words(
        tmp_path: Path) -> None:
    """Text that leaves with an entry (its card's title, its excerpt) is the listing's
    business, not an edit; a paragraph of the article body is not such text because a
    title leaving a box elsewhere on the page shares a phrase with it."""
    got = _run(tmp_path, phrase_site, 4, '[[target]]\nname = "p"\n'
               'url = "{base}/p/list.html"\ndepth = 1\n')
    assert [(r["url"], r["kind"]) for r in got] == [("/p/3.html", "edited")]
    assert "after a long meeting on the 2th" in got[0]["evidence"]["removed_text"][0]


def _detected(data: Path, done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, done.stderr[-3000:]
    det = subprocess.run([sys.executable, "-m", "takedown", "--data", str(data), "detect"],
                         capture_output=True, text=True)
    assert det.returncode == 0, det.stderr[-3000:]


def _run(tmp: Path, routes, days: int, targets: str) -> list[dict]:
    # a loaded machine must not turn a slow answer into a failed fetch here
    data, base, _runs = crawl_days(
        tmp, routes, days, targets,
        "[crawl]\ntimeout = 20\nretries = 2\ndelay = 0\nconcurrency = 8\n", DAY, _detected)
    out = subprocess.run([sys.executable, "-m", "takedown", "--data", str(data), "export"],
                         check=True, capture_output=True, text=True).stdout
    records = [json.loads(line) for line in out.splitlines()]
    return [{**r, "url": r["url"].removeprefix(base)} for r in records]


def session_site(day: int) -> dict:
    sid = f"{day * 7919 + 1234:08x}"
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"})}
    r["/s/list.html"] = page("<ul class='l'>" + "".join(
        f"<li><a href='/s/a{i}.html?vk={sid}'>第{i}篇 会话参数的文章标题</a></li>"
        for i in range(1, 7)) + "</ul>")
    for i in range(1, 7):   # served with any session id handed out so far, or with none
        body = page(f"<p>第{i}篇正文，{'内容完整，没有变化。' * 6}</p>")
        r[f"/s/a{i}.html"] = body
        for d in range(day + 1):
            r[f"/s/a{i}.html?vk={d * 7919 + 1234:08x}"] = body
    return r


def test_a_learned_session_parameter_is_not_a_redirect(tmp_path: Path) -> None:
    """The round that learns a session parameter fetched pages whose final URL still carries
    it: they are read as the pages watched (ok), not as moved."""
    got = _run(tmp_path, session_site, 3, '[[target]]\nname = "s"\n'
               'url = "{base}/s/list.html"\ndepth = 1\n')
    assert got == []
    rows = subprocess.run([sys.executable, "-m", "takedown", "--data", str(tmp_path / "data"),
                           "history", str(json.loads(subprocess.run(
                               [sys.executable, "-m", "takedown", "--data",
                                str(tmp_path / "data"), "targets", "--json"],
                               capture_output=True, text=True, check=True).stdout)[0]["url"])
                           .replace("list.html", "a1.html"), "--json"],
                          capture_output=True, text=True, check=True).stdout
    states = [r["state"] for r in json.loads(rows)]
    assert len(states) == 3 and set(states) == {"ok"}, states


def ab_layouts(day: int) -> dict:
    """A news section of three pages, eight entries a page, one new entry a day, served
    in two layouts that put the list at different places (an A/B test): on day 0 the
    first two pages come in layout B and the third in layout A, from day 1 every page in
    layout B.  Nothing is taken down."""
    ids = list(range(400 + day, 400 + day - 24, -1))
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"})}
    for n in range(3):
        name = "/n/" if n == 0 else f"/n/?page={n + 1}"
        rows = "".join(f"<dt><a href='/n/a{i}.html'>第{i}条 本市新闻的标题</a></dt><dd>"
                       f"05-{i % 28 + 1:02d}</dd>" for i in ids[n * 8:(n + 1) * 8])
        pager = "".join(f"<a href='/n/?page={k}'>{k}</a>" for k in (1, 2, 3))
        if day == 0 and n == 2:
            body = f"<div class='ct'><dl class='tl'>{rows}</dl></div><p>{pager}</p>"
        else:
            body = (f"<div class='main-0'><dl class='news-list'>{rows}</dl></div>"
                    f"<p>{pager}</p>")
        r[name] = page(body)
    for i in range(370, 401 + day):
        r[f"/n/a{i}.html"] = page(f"<h1>第{i}条</h1><p>{'本市新闻的正文内容。' * 5}</p>")
    return r


def test_a_list_that_changes_layout_on_some_pages_is_no_delisting(tmp_path: Path) -> None:
    got = _run(tmp_path, ab_layouts, 4, "".join(
        f'[[target]]\nname = "p{n}"\nurl = "{{base}}/n/{q}"\ndepth = 1\n\n'
        for n, q in ((1, ""), (2, "?page=2"), (3, "?page=3"))))
    assert got == []


def side_box(day: int) -> dict:
    """A forum index whose main list is empty (its boards hidden to guests) and whose only
    content is a side box of "hot topics" in time order; the middle ones leave the box on
    day 2 while their threads serve.  With nothing else on the page, the extractor reads
    the box as the page's content, but the box's own names say what it is: no delisting."""
    r = {"/robots.txt": page("", headers={"Content-Type": "text/plain"})}
    hot = [9, 8, 7, 6, 5, 4] if day < 2 else [9, 5, 4, 3, 2, 1]
    r["/b/"] = page(
        "<div class='main'><ul class='tl'> </ul></div>"
        "<div class='side-x'><div class='widget-y'><h4>热门主题</h4><ul>" + "".join(
            f"<li><a href='/b/t{i}.html'>帖子{i}的标题文字</a></li>" for i in hot)
        + "</ul></div></div>")
    for i in range(1, 10):
        r[f"/b/t{i}.html"] = page(f"<h1>帖子{i}</h1><p>{'论坛帖子的正文内容。' * 5}</p>")
    return r


def test_a_box_named_as_a_widget_never_delists(tmp_path: Path) -> None:
    got = _run(tmp_path, side_box, 4, '[[target]]\nname = "b"\nurl = "{base}/b/"\ndepth = 1\n')
    assert got == []
