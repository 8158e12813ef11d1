"""Random page templates: a `Skin` is drawn per site and seed (list container, class and id
names, wrapper depth, which chrome exists, date style, language), with an A/B twin of other
class names and a restyled successor for a mid-run template change.  `render_*` functions
turn content into HTML under a skin; every text goes through `esc`.

Imports the stdlib and `takedown.world` (its texts) only.

>>> import random
>>> skin = draw_skin(random.Random(4), "en")
>>> "<html" in page(skin, skin.names, Chrome("Site", "/"), "T", "<p>x</p>")
True
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass, field, replace

from takedown.world import texts

LIST_TAGS = ("ul", "ol", "div", "table", "dl")
ROLES = ("page", "header", "nav", "main", "list", "item", "title", "meta", "content", "side",
         "widget", "footer", "comments", "ad", "pager")
SEMANTIC = {"page": ["wrap", "page", "container", "bd"], "header": ["header", "top", "hd"],
            "nav": ["nav", "menu", "navbar"], "main": ["main", "content", "ct", "mn"],
            "list": ["list", "news-list", "tl", "items", "threadlist"],
            "item": ["item", "entry", "row", "post"], "title": ["title", "tit", "h"],
            "meta": ["meta", "info", "time", "date"], "content": ["content", "body", "txt",
                                                                  "article", "post"],
            "side": ["side", "aside", "sidebar", "rt"], "widget": ["box", "widget", "mod"],
            "footer": ["footer", "ft", "bottom"], "comments": ["comments", "cmt", "reply"],
            "ad": ["ad", "adv", "gg", "promo"], "pager": ["pages", "pg", "pagination"]}


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def _name(rng: random.Random, role: str) -> str:
    """A class name: semantic ("list"), semantic with a token ("list-x3k"), or meaningless."""
    roll = rng.random()
    if roll < 0.4:
        return rng.choice(SEMANTIC[role])
    if roll < 0.7:
        return f"{rng.choice(SEMANTIC[role])}-{texts.token(rng, 3)}"
    return texts.token(rng, rng.randint(2, 5))


def draw_names(rng: random.Random) -> dict[str, str]:
    """One class name per role, all distinct."""
    names: dict[str, str] = {}
    for role in ROLES:
        name = _name(rng, role)
        while name in names.values():
            name = f"{name}{rng.randrange(10)}"
        names[role] = name
    return names


@dataclass(frozen=True)
class Skin:
    """How one site's pages are built; `alt` is the B layout's class names (or None)."""

    lang: str
    list_tag: str
    names: dict[str, str]
    alt: dict[str, str] | None
    depth: int  # extra wrapper divs around the main column
    header: bool
    nav: bool
    footer: bool
    side: bool  # widgets in an aside column (else below the content)
    date_style: str
    use_ids: bool = field(default=False)


def draw_skin(rng: random.Random, lang: str) -> Skin:
    """A fresh skin for a site whose texts are in *lang*."""
    alt = draw_names(rng) if rng.random() < 0.5 else None
    return Skin(lang=lang, list_tag=rng.choice(LIST_TAGS), names=draw_names(rng), alt=alt,
                depth=rng.randint(0, 3), header=rng.random() < 0.8, nav=rng.random() < 0.7,
                footer=rng.random() < 0.7, side=rng.random() < 0.5,
                date_style=rng.choice(texts.DATE_STYLES), use_ids=rng.random() < 0.5)


def restyle(rng: random.Random, skin: Skin) -> Skin:
    """The same site after a template change: other container, names and structure."""
    tags = [t for t in LIST_TAGS if t != skin.list_tag]
    return replace(skin, list_tag=rng.choice(tags), names=draw_names(rng), alt=None,
                   depth=(skin.depth + rng.randint(1, 2)) % 4, side=not skin.side,
                   use_ids=not skin.use_ids)


@dataclass(frozen=True)
class Chrome:
    """What surrounds the content: site name and home, nav links, and per-round noise."""

    site_name: str
    home: str
    nav: tuple[tuple[str, str], ...] = ()
    clock: str = ""
    csrf: str = ""
    ads: tuple[str, ...] = ()  # ready HTML fragments
    widgets: tuple[str, ...] = ()  # ready HTML fragments


@dataclass(frozen=True)
class Entry:
    """One entry of a list: link, text, and a meta line (date, author, counts)."""

    href: str
    text: str
    meta: str = ""
    sticky: bool = False


def _attr(names: dict[str, str], role: str, use_id: bool = False) -> str:
    if use_id and role in {"main", "list", "content"}:
        return f' id="{esc(names[role])}"'
    return f' class="{esc(names[role])}"'


def _entry_parts(names: dict[str, str], e: Entry) -> tuple[str, str]:
    link = f'<a href="{esc(e.href)}" class="{esc(names["title"])}">{esc(e.text)}</a>'
    meta = f'<span class="{esc(names["meta"])}">{esc(e.meta)}</span>' if e.meta else ""
    if e.sticky:
        link = f"<b>[置顶]</b> {link}" if any(ord(c) > 0x2e80 for c in e.text) else \
            f"<b>Sticky:</b> {link}"
    return link, meta


def render_list(skin: Skin, names: dict[str, str], entries: list[Entry]) -> str:
    """Entries in the skin's list container."""
    tag, item = skin.list_tag, names["item"]
    rows = []
    for e in entries:
        link, meta = _entry_parts(names, e)
        if tag in {"ul", "ol"}:
            rows.append(f'<li class="{esc(item)}">{link} {meta}</li>')
        elif tag == "div":
            rows.append(f'<div class="{esc(item)}"><h3>{link}</h3>{meta}</div>')
        elif tag == "table":
            rows.append(f'<tr class="{esc(item)}"><td>{link}</td><td>{meta}</td></tr>')
        else:
            rows.append(f"<dt>{link}</dt><dd>{meta or '&nbsp;'}</dd>")
    body = "\n".join(rows)
    if tag == "table":
        body = f"<tbody>{body}</tbody>"
    return f"<{tag}{_attr(names, 'list', skin.use_ids)}>\n{body}\n</{tag}>"


def render_pager(names: dict[str, str], links: list[tuple[str, str]]) -> str:
    """Pagination links: (href, label) pairs."""
    inner = " ".join(f'<a href="{esc(h)}">{esc(t)}</a>' for h, t in links)
    return f'<div class="{esc(names["pager"])}">{inner}</div>' if links else ""


def render_widget(names: dict[str, str], heading: str, entries: list[tuple[str, str]]) -> str:
    """A side box of links (hot topics, related, more from this account)."""
    items = "".join(f'<li><a href="{esc(h)}">{esc(t)}</a></li>' for h, t in entries)
    return (f'<div class="{esc(names["widget"])}"><h4>{esc(heading)}</h4>'
            f"<ul>{items}</ul></div>")


def render_comments(names: dict[str, str], heading: str, rows: list[tuple[str, str]]) -> str:
    """A comment box: (who, text) pairs under a count."""
    items = "".join(f"<li><em>{esc(w)}</em>: {esc(t)}</li>" for w, t in rows)
    return (f'<div class="{esc(names["comments"])}"><h4>{esc(heading)} ({len(rows)})</h4>'
            f"<ul>{items}</ul></div>")


def render_article(skin: Skin, names: dict[str, str], title: str, meta: str,
                   paras: list[str]) -> str:
    """An article: heading, meta line, paragraphs."""
    body = "\n".join(f"<p>{esc(p)}</p>" for p in paras)
    return (f'<h1 class="{esc(names["title"])}">{esc(title)}</h1>\n'
            f'<div class="{esc(names["meta"])}">{esc(meta)}</div>\n'
            f"<div{_attr(names, 'content', skin.use_ids)}>\n{body}\n</div>")


def render_notice(names: dict[str, str], text: str) -> str:
    """A platform notice where the content was."""
    return f'<div class="{esc(names["content"])}"><p>{esc(text)}</p></div>'


def _header(skin: Skin, names: dict[str, str], chrome: Chrome) -> str:
    parts = []
    if skin.header:
        clock = f' <span class="{esc(names["meta"])}">{esc(chrome.clock)}</span>' \
            if chrome.clock else ""
        parts.append(f'<div class="{esc(names["header"])}"><a href="{esc(chrome.home)}">'
                     f"{esc(chrome.site_name)}</a>{clock}</div>")
    if skin.nav and chrome.nav:
        links = " | ".join(f'<a href="{esc(h)}">{esc(t)}</a>' for h, t in chrome.nav)
        parts.append(f'<div class="{esc(names["nav"])}">{links}</div>')
    return "\n".join(parts)


def _footer(skin: Skin, names: dict[str, str], chrome: Chrome) -> str:
    csrf = f'<form method="post" action="{esc(chrome.home)}"><input type="hidden" ' \
           f'name="formhash" value="{esc(chrome.csrf)}"></form>' if chrome.csrf else ""
    if not skin.footer:
        return csrf
    text = "版权所有" if skin.lang == "zh" else "All rights reserved"
    return f'<div class="{esc(names["footer"])}">© {esc(chrome.site_name)} {text}{csrf}</div>'


def page(skin: Skin, names: dict[str, str], chrome: Chrome, title: str, main: str) -> str:
    """A whole HTML document: header, nav, the main column in wrappers, widgets, footer."""
    for level in range(skin.depth):
        main = f'<div class="{esc(names["main"])}-{level}">\n{main}\n</div>'
    side = "\n".join(chrome.widgets + chrome.ads)
    if skin.side:
        body = (f"<div{_attr(names, 'main', skin.use_ids)}>{main}</div>\n"
                f'<div class="{esc(names["side"])}">{side}</div>')
    else:
        body = f"<div{_attr(names, 'main', skin.use_ids)}>{main}\n{side}</div>"
    lang = "zh-CN" if skin.lang == "zh" else "en"
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{esc(title)} - {esc(chrome.site_name)}</title></head>\n"
            f'<body><div class="{esc(names["page"])}">\n{_header(skin, names, chrome)}\n'
            f"{body}\n{_footer(skin, names, chrome)}\n</div></body></html>\n")


def bare_page(title: str, text: str) -> str:
    """A short standalone page (a notice shown on its own, a challenge, a not-found page)."""
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f'</head><body><div class="msg"><p>{esc(text)}</p></div></body></html>\n')
