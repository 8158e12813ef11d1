"""The benchmark site: ``/index.html``, 10 listings of 100 articles each (1,011 pages).

Articles are 3-8 KB of news-like markup mixing Chinese and English, with about 20 links
(navigation back to the index and listings, related articles, and a few links no crawler
may follow: other hosts, ``mailto:``, ``javascript:``), so link extraction does real work.
Pages are built once, deterministically.  Pure: imports only the standard library.

>>> site = build_pages()
>>> len(site), sorted(site)[:2]
(1011, ['/article/0/0.html', '/article/0/1.html'])
>>> all(3000 <= len(body) <= 8500 for path, body in site.items() if "/article/" in path)
True
"""

from __future__ import annotations

import random
from html import escape

LISTINGS = 10
PER_LISTING = 100

_ZH = ("网信办发布通知，要求各平台加强对相关内容的审核。",
       "记者从有关部门获悉，此事仍在调查之中。",
       "多名网友表示，原帖已于昨晚被删除，截图在社交媒体上广泛流传。",
       "专家认为，这一做法缺乏透明度。",
       "该文章发布后不到两小时即无法访问，页面显示“根据相关法律法规，该内容无法显示”。",
       "据报道，当地政府已召开新闻发布会回应公众关切。",
       "本报评论员指出，信息公开是社会治理的基础。")
_EN = ("The article was removed less than two hours after publication.",
       "Several users reported that the original post now returns an error page.",
       "Officials declined to comment on the deletion when contacted by reporters.",
       "Archived copies show the headline was edited twice before the page disappeared.",
       "Researchers have documented similar patterns across dozens of news portals.",
       "The notice cites unspecified laws and regulations as the reason for removal.")
_OFFSITE = ("https://weibo.example.invalid/share?u=", "https://twitter.example.invalid/intent?u=")


def build_pages() -> dict[str, bytes]:
    """Every page of the site: path → UTF-8 HTML body."""
    pages = {"/index.html": _index()}
    for i in range(LISTINGS):
        pages[f"/list/{i}.html"] = _listing(i)
        for j in range(PER_LISTING):
            pages[f"/article/{i}/{j}.html"] = _article(i, j)
    return pages


def _page(title: str, main: str) -> bytes:
    nav = "".join(f'<li><a href="/list/{i}.html">栏目 {i} · Section {i}</a></li>'
                  for i in range(LISTINGS))
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
            f'<title>{escape(title)}</title><link rel="stylesheet" href="/static/site.css">'
            f'</head><body><header><a class="logo" href="/index.html">新闻网 News</a>'
            f'<nav><ul>{nav}</ul></nav></header><main>{main}</main>'
            f'<footer><p>© 2021 新闻网 · <a href="mailto:tips@news.example.invalid">Contact</a>'
            f' · <a href="javascript:void(0)">Top</a></p></footer></body></html>\n'
            ).encode()


def _index() -> bytes:
    items = "".join(f'<li><a href="list/{i}.html">第 {i} 栏目 / Section {i}</a></li>'
                    for i in range(LISTINGS))
    return _page("首页 · Home", f"<h1>最新新闻 Latest news</h1><ul>{items}</ul>")


def _listing(i: int) -> bytes:
    rng = random.Random(f"list{i}")
    items = "".join(
        f'<li class="item" data-id="{i}-{j}"><a href="../article/{i}/{j}.html">'
        f'{escape(_headline(rng, i, j))}</a> <span class="date">{_date(j)}</span></li>'
        for j in range(PER_LISTING))
    return _page(f"栏目 {i} · Section {i}", f'<h1>栏目 {i}</h1><ul class="list">{items}</ul>')


def _article(i: int, j: int) -> bytes:
    rng = random.Random(f"article{i}/{j}")
    title = _headline(rng, i, j)
    paras = "".join(f"<p>{escape(_paragraph(rng))}</p>" for _ in range(rng.randint(5, 20)))
    related = "".join(f'<li><a href="/article/{i}/{k}.html">相关 Related {i}-{k}</a></li>'
                      for k in rng.sample(range(PER_LISTING), 5))
    share = "".join(f'<a href="{base}/article/{i}/{j}">Share</a> ' for base in _OFFSITE)
    main = (f'<article><p class="crumbs"><a href="/index.html">首页</a> › '
            f'<a href="../../list/{i}.html">栏目 {i}</a></p><h1>{escape(title)}</h1>'
            f'<p class="meta">{_date(j)} · 本报记者 Staff reporter</p>'
            f'{paras}<div class="share">{share}</div>'
            f'<aside><h2>相关阅读 Related</h2><ul>{related}</ul></aside></article>')
    return _page(title, main)


def _headline(rng: random.Random, i: int, j: int) -> str:
    return f"{rng.choice(_ZH)[:14]} — {rng.choice(_EN)[:40]} ({i}-{j})"


def _date(j: int) -> str:
    return f"2021-03-{1 + j % 28:02d}"


def _paragraph(rng: random.Random) -> str:
    pool = [rng.choice(_ZH) if rng.random() < 0.5 else rng.choice(_EN) for _ in range(4)]
    return " ".join(pool)
