"""Extraction: one captured HTML page → its text blocks, links, items and dates (`Page`).

Parsed with lxml's HTML parser (the parser bs4 would use, without bs4's tree-building
cost: 1 MB pages are common on portals), after NUL bytes are dropped and UTF-8 read as
latin-1/cp1252 is repaired (`fix_mojibake`). Rules, in the order they apply:

* Dropped: ``script style noscript template svg math select datalist iframe object embed
  canvas audio video`` and hidden elements (``hidden``, ``display:none``,
  ``visibility:hidden``, ``type=hidden``, the usual hiding classes such as Drupal's
  ``element-hidden`` or ``sr-only``). If dropping hidden elements leaves no text, they are
  kept: a page that reveals its text by script still has it. Links inside hidden parts are
  still listed (``in_main`` false, path `HIDDEN_PATH`).
* Blocks: the text runs of block-level elements (``p li h1-h6 td th dt dd pre blockquote
  figcaption`` …, and ``div``/``section`` text that is not inside a child block), split at
  ``<br>``; whitespace collapsed; empty runs skipped. ``Block.path`` is the container's
  structural path (tag, ``#id``, ``.class`` tokens; digits and generated hashes masked;
  state classes such as ``odd``/``even``/``active`` left out, since rotating lists flip
  them). ``Block.slot`` numbers the innermost repeated element around the block (an
  `ITEM_TAGS` element with a sibling of the same tag, id and classes: a list item, card,
  slide, table row), which is how `diffing.text` recognises rotation and list entries.
* Boilerplate, by rules: tags ``nav aside`` (and ``header footer`` outside an article or
  main), a ``form`` that is not the page's wrapper, roles ``navigation banner contentinfo
  complementary search menu menubar toolbar``, and class/id *tokens* (`BOILERPLATE_WORDS`,
  names split at ``-``, ``_``, digits and camelCase): ``site-header`` and ``mainNav`` match,
  ``shadow`` and ``upload`` do not, and a name that also carries a content word
  (``header-title``, ``entry-header``) or a layout flag (``no-sidebar``) does not. An element
  matched by these rules that holds the page's ``<main>`` or more than half of its text is
  not boilerplate (wrappers such as ASP.NET's page-wide ``<form>``). If the rules leave no
  main block, every block is main: a notice page's only sentence must survive.
* Published time: a ``<meta>`` of `PUBLISHED_META`; else a ``<time>`` marked as the
  publication time, or the first one in main content; else a date shown near the title
  (`visible_date`: "发布时间：2018-06-20 10:00", "2018年06月20日", "Posted on …").

>>> page = extract('<div class="msg">此内容因违规无法查看</div>', "http://example.org/a")
>>> [b.text for b in page.blocks], page.boilerplate
(['此内容因违规无法查看'], ())

Pure; imports lxml, the standard library, diffing (`diffing.items` for item selectors) and
`snapshots.vocab` (the tags dropped and the tags that end a block, shared with the search index).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import lru_cache

from lxml import etree

from diffing.dates import PUBLISHED_META, find_date, in_zone, visible_date
from diffing.dom import absolute, text_of
from diffing.items import page_items
from diffing.results import Block, Item, Page, PageLink
from diffing.volatile import fix_mojibake, mask_name
from snapshots.vocab import BLOCK_TAGS, DROP_TAGS

__all__ = ["Block", "Item", "Page", "PageLink", "extract"]

VOID_UNKNOWN = ("embed", "source", "track", "wbr", "keygen")
HIDDEN_PATH = "(hidden)"  # PageLink.path of links inside hidden elements
_SPECIAL_INLINE = frozenset(("a", "area", "time", "br", "hr"))  # see `_Walk._enter`
HEADING_TAGS = frozenset("h1 h2 h3 h4 h5 h6".split())
ITEM_TAGS = frozenset("li dt dd tr tbody article section div figure".split())
BOILERPLATE_TAGS = frozenset(("nav", "aside"))
SECTION_BOILERPLATE_TAGS = frozenset(("header", "footer"))  # boilerplate outside an article
BOILERPLATE_ROLES = frozenset(
    "navigation banner contentinfo complementary search menu menubar toolbar".split())
BOILERPLATE_WORDS = frozenset(
    "nav navbar navigation menu menubar submenu footer header masthead sidebar side breadcrumb "
    "breadcrumbs crumb crumbs ad ads advert adverts advertisement adsbygoogle banner share "
    "sharing sharethis social copyright toolbar hot recommend recommended related skip cookie "
    "pager pagination login 热门 推荐".split())
CONTENT_WORDS = frozenset(
    "title content body text article post entry story detail details headline heading "
    "caption".split())
LAYOUT_WORDS = frozenset("no has with without not".split())  # "no-sidebar" is a layout flag
STATE_CLASSES = frozenset(
    "odd even first last active current selected open closed show in collapsed expanded "
    "visible clearfix cf group".split())
HIDDEN_CLASSES = ("element-hidden", "element-invisible", "visually-hidden", "sr-only",
                  "screen-reader-text", "d-none", "hidden")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_NAME_PARTS = re.compile(r"[^a-z\u4e00-\u9fff]+")
_CAMEL = re.compile(r"([a-z])([A-Z])")
# a superset of the hidden elements (`_is_hidden` decides): every HIDDEN_CLASSES name contains
# one of these substrings
_MAYBE_HIDDEN = etree.XPath(
    ".//*[@hidden or @type='hidden' or contains(@style, 'none') or contains(@style, 'hidden')"
    " or contains(@class, 'hidden') or contains(@class, 'invisible')"
    " or contains(@class, 'sr-only') or contains(@class, 'd-none')"
    " or contains(@class, 'screen-reader-text')]")
_HIDING_WORDS = (b"hidden", b"none", b"invisible", b"sr-only", b"screen-reader-text", b"&#")
_REFRESH = re.compile(r"^\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(.*)$", re.IGNORECASE | re.DOTALL)


_PARSER = etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True,
                           huge_tree=True)  # deep, unclosed nesting is common
EMPTY_PAGE = Page("", (), (), (), (), None, None, "")


def extract(html: str, url: str, items: str | None = None, item_id: str | None = None, *,
            item_times: bool = False, at: datetime | None = None,
            zone: tzinfo | None = None) -> Page:
    """Blocks, links, items, refresh target and publication time of one page.

    ``items`` is a CSS selector of sub-page items (posts, list entries); ``item_id`` names the
    attribute that identifies an item (``data-pid``) or is a CSS selector inside the item
    whose ``href`` (made absolute) or text is the id. Items without an id get ``h:`` and a
    hash of their masked text. A bad selector raises ValueError.

    Publication times (the page's, and with *item_times* each item's own) read relative
    times ("3小时前") against the capture time *at* when it is given, and times that state
    no offset in the site's *zone* when it is known (`diffing.dates`).
    """
    parsed = _parse(html)
    if parsed is None:
        return EMPTY_PAGE
    root, data = parsed
    base = _base_url(root, url)
    head = _head_facts(root, base)
    password = any((el.get("type") or "").strip().lower() == "password"
                   for el in root.iter("input"))
    # libxml2 does not know these HTML5 void elements: it nests what follows them inside
    # them; unwrapped, the text after an <embed> or a <wbr> stays where it was written
    etree.strip_tags(root, *VOID_UNKNOWN)
    etree.strip_elements(root, *DROP_TAGS, with_tail=False)
    body = root.find("body")
    body = root if body is None else body
    walk = _Walk(base, body)
    hides = _may_hide(data)
    walk.run(drop_hidden=hides)
    if not walk.blocks and hides:
        walk = _Walk(base, body)
        walk.run(drop_hidden=False)
    main = tuple(b for b, boiler in walk.blocks if not boiler)
    boilerplate = tuple(b for b, boiler in walk.blocks if boiler)
    links = tuple(walk.links)
    if not main:
        main, boilerplate = boilerplate, ()
        links = tuple(PageLink(lk.url, lk.text, lk.position, lk.path != HIDDEN_PATH, lk.path)
                      for lk in links)
    title = head["title"] or next((b.text for b in main if b.heading), "")
    published = (head["published"] or _time_element(walk.times)
                 or visible_date([b.text for b in main], [b.heading for b in main], at, zone))
    return Page(title, main, boilerplate, links,
                page_items(body, base, items, item_id, dated=item_times, at=at, zone=zone),
                head["refresh"], in_zone(published, zone), "\n".join(b.text for b in main),
                password)


def _parse(html: str) -> tuple[etree._Element, bytes] | None:
    """The page's root element and the UTF-8 it was parsed from (NULs dropped, mojibake
    undone), or None for a blank or unparsable page."""
    html = html.replace("\x00", "")
    if not html or html.isspace():
        return None
    data = html.encode("utf-8", "replace")
    # Mojibake starts with a character of U+00C2-U+00F4 (see `fix_mojibake`), which UTF-8
    # writes with the lead byte C3: without one, a byte search spares the regex scan.
    if b"\xc3" in data:
        data = fix_mojibake(html).encode("utf-8", "replace")
    try:
        # plain lxml elements, not lxml.html's: the same parser, without a Python class
        # lookup for every element the walk touches
        root = etree.fromstring(data, parser=_PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None
    return None if root is None else (root, data)


def _base_url(root: etree._Element, url: str) -> str:
    for href in root.xpath("//base/@href"):
        return absolute(url, str(href))
    return url


def _head_facts(root: etree._Element, base: str) -> dict:
    # iterating one tag is about ten times faster than the "//title[…]" and "//meta[…]"
    # XPaths it replaces (0.3 ms against 3 ms on a 1 MB page)
    titles = [el for el in root.iter("title") if next(el.iterancestors("svg"), None) is None]
    title = " ".join(text_of(titles[0]).split()) if titles else ""
    refresh = None
    # a refresh inside <noscript> is the page's no-JavaScript fallback, not a redirect
    for meta in root.iter("meta"):
        content = meta.get("content")
        if (content is None or (meta.get("http-equiv") or "").lower() != "refresh"
                or next(meta.iterancestors("noscript"), None) is not None):
            continue
        target = _REFRESH.match(content).group(1).strip().strip("'\"")
        refresh = absolute(base, target) if target else None
        break
    return {"title": title, "refresh": refresh, "published": _meta_date(root)}


def _meta_date(root: etree._Element) -> datetime | None:
    for meta in root.iter("meta"):
        name = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if name in PUBLISHED_META and (when := find_date(meta.get("content") or "")):
            return when
    return None


def _time_element(times: list[tuple[etree._Element, bool]]) -> datetime | None:
    """``<time>``: one marked as the publication time, else the first in main content."""
    marked = [el for el, _boiler in times
              if el.get("pubdate") is not None or (el.get("itemprop") or "").lower()
              in ("datepublished", "datecreated")]
    for el in marked + [el for el, boiler in times if not boiler]:
        if when := find_date(el.get("datetime") or text_of(el)):
            return when
    return None


@lru_cache(maxsize=4096)
def is_boilerplate_name(names: str) -> bool:
    """Whether a class or id attribute holds a boilerplate token (see module docstring)."""
    for name in names.split():
        parts = set(_NAME_PARTS.split(_CAMEL.sub(r"\1 \2", name).lower()))
        if parts & BOILERPLATE_WORDS and not parts & (CONTENT_WORDS | LAYOUT_WORDS):
            return True
    return False


def _signature(el: etree._Element) -> tuple[str, str]:
    tag = el.tag  # the HTML parser gives tag names in lower case
    return tag, _path_part(tag, el.get("id") or "", el.get("class") or "")


@lru_cache(maxsize=4096)
def _path_part(tag: str, id_: str, classes: str) -> str:
    part = tag
    if id_:
        part += "#" + mask_name(id_.strip())
    for cls in classes.split():
        if cls.lower() not in STATE_CLASSES:
            part += "." + mask_name(cls)
    return part


@dataclass(slots=True)
class _Context:
    path: str
    boiler: bool
    heading: bool
    in_article: bool
    slot: int = -1
    texts: list[str] = field(default_factory=list)
    link_chars: int = 0
    hrefs: list[str] = field(default_factory=list)


class _Walk:
    """One pass over the body: blocks (with their boilerplate flag) and links, in page order.

    `etree.iterwalk`, not recursion: malformed pages nest deeper than Python's stack.  The
    loop is written flat, with its state in locals: it runs once per element of 1 MB pages.
    """

    def __init__(self, base: str, body: etree._Element) -> None:
        self.base, self.body = base, body
        self.blocks: list[tuple[Block, bool]] = []
        self.links: list[PageLink] = []
        self.anchors: list[str] = []
        self.total = 0
        self.slots = 0
        self.times: list[tuple[etree._Element, bool]] = []

    def run(self, drop_hidden: bool) -> None:
        self.total = len(text_of(self.body))
        hidden = _hidden_elements(self.body) if drop_hidden else frozenset()
        top = _Context("body", False, False, False)
        self._text(top, self.body.text)
        # one frame per open element: (the context it was entered from, the context of its
        # children (None if hidden), whether it is a link, its children's signatures)
        frames: list[list] = [[None, top, False, None, self.body]]
        walker = etree.iterwalk(self.body, events=("start", "end"))
        next(walker)  # the body's own start
        enter, text = self._enter, self._text
        for event, el in walker:
            if event == "start":
                if hidden and el in hidden:
                    walker.skip_subtree()  # its "end" still comes
                    parent = frames[-1][1]
                    frames.append([parent, None, False, None, el])
                    self._hidden_links(el)
                    if el.tail:
                        text(parent, el.tail)
                elif el.tag in BLOCK_TAGS or el.tag in _SPECIAL_INLINE:
                    frames.append(enter(el, frames[-1]))
                else:  # plain inline markup (span, b, em …), most of a page: its text
                    parent = frames[-1][1]
                    if el.text:
                        text(parent, el.text)
                    frames.append([parent, parent, False, None, el])
                continue
            if len(frames) == 1:
                break
            parent, own, anchor, _counts, _el = frames.pop()
            if own is None:  # hidden: its tail is taken
                continue
            if anchor:
                self.anchors.pop()
            if own is not parent and own.texts:
                self._flush(own)
            tail = el.tail
            if tail and (parent.texts or self.anchors or not tail.isspace()):
                text(parent, tail)  # (leading white space is skipped: see `_text`)
        self._flush(top)

    def _enter(self, el: etree._Element, up: list) -> list:
        parent = up[1]
        tag = el.tag
        if tag == "br" or tag == "hr":
            self._flush(parent)
            return [parent, parent, False, None, el]
        anchor = False
        if tag == "a" or tag == "area":
            if el.get("href") is not None:
                self._link(el, parent)
                anchor = True
        elif tag == "time":
            self.times.append((el, parent.boiler))
        if tag not in BLOCK_TAGS:
            if el.text:
                self._text(parent, el.text)
            return [parent, parent, anchor, None, el]
        if parent.texts:
            self._flush(parent)
        role = el.get("role")
        role = role.lower() if role else ""
        part = _path_part(tag, el.get("id") or "", el.get("class") or "")
        ctx = _Context(
            path=parent.path + ">" + part,
            boiler=parent.boiler or self._boilerplate(el, tag, role, parent.in_article),
            heading=parent.heading or tag in HEADING_TAGS or role == "heading",
            in_article=parent.in_article or tag in ("article", "main") or role == "main",
            slot=self._new_slot() if _repeated(up, tag, part) else parent.slot)
        if el.text:
            self._text(ctx, el.text)
        return [parent, ctx, anchor, None, el]

    def _new_slot(self) -> int:
        self.slots += 1
        return self.slots - 1

    def _text(self, ctx: _Context, text: str | None) -> None:
        if not text or (not ctx.texts and text.isspace() and not self.anchors):
            return  # leading white space: collapsed away (markup indentation, mostly)
        ctx.texts.append(text)
        if self.anchors:
            ctx.link_chars += len("".join(text.split()))
            if not ctx.hrefs or ctx.hrefs[-1] != self.anchors[-1]:
                ctx.hrefs.append(self.anchors[-1])

    def _flush(self, ctx: _Context) -> None:
        if not ctx.texts:
            return
        text = " ".join("".join(ctx.texts).split())
        if text:
            chars = len(text) - text.count(" ")
            share = min(1.0, ctx.link_chars / chars) if chars else 0.0
            hrefs = tuple(dict.fromkeys(ctx.hrefs)) if ctx.hrefs else ()
            block = Block(text, ctx.path, round(share, 3), ctx.heading, hrefs, ctx.slot)
            self.blocks.append((block, ctx.boiler))
        ctx.texts, ctx.link_chars, ctx.hrefs = [], 0, []

    def _hidden_links(self, el: etree._Element) -> None:
        """Links in hidden parts (collapsed menus) are links all the same, never main."""
        for a in el.xpath("descendant-or-self::*[self::a or self::area][@href]"):
            url = absolute(self.base, a.get("href") or "")
            text = " ".join(text_of(a).split())
            self.links.append(PageLink(url, text, len(self.links), False, HIDDEN_PATH))

    def _link(self, el: etree._Element, ctx: _Context) -> None:
        url = absolute(self.base, el.get("href") or "")
        if el.tag != "a":
            text = el.get("alt") or ""
        elif len(el):
            text = " ".join(text_of(el).split())
        else:  # a plain <a>text</a>: its text is its content (comments are parsed away)
            text = " ".join((el.text or "").split())
        self.links.append(PageLink(url, text, len(self.links), not ctx.boiler, ctx.path))
        self.anchors.append(url)

    def _boilerplate(self, el: etree._Element, tag: str, role: str,
                     in_article: bool) -> bool:
        if tag in BOILERPLATE_TAGS or role in ("navigation", "complementary"):
            return el.find(".//main") is None
        section = tag in SECTION_BOILERPLATE_TAGS and not in_article
        named = is_boilerplate_name(el.get("class") or "") or is_boilerplate_name(
            el.get("id") or "")
        if not (section or named or tag == "form" or role in BOILERPLATE_ROLES):
            return False
        # A wrapper that holds the page (ASP.NET's page-wide <form>, <div class="has-sidebar">)
        # is layout, not boilerplate.
        if el.find(".//main") is not None or el.xpath("boolean(.//*[@role='main'])"):
            return False
        return 2 * len(text_of(el)) <= self.total


def _repeated(up: list, tag: str, part: str) -> bool:
    """Whether an element repeats: item-like, with a sibling of the same signature (``up`` is
    the parent's frame, which keeps the signatures of its children once counted)."""
    if tag not in ITEM_TAGS:
        return False
    if up[3] is None:
        up[3] = Counter(_signature(kid) for kid in up[4] if isinstance(kid.tag, str))
    return up[3][(tag, part)] > 1


def _may_hide(data: bytes) -> bool:
    """Whether the page's source holds, in any case, what a hidden element needs (see
    `_MAYBE_HIDDEN`), a ``hidden`` attribute, or a character reference that could spell
    one: most pages hide nothing, and then the walk need not look.  (Bytes, lowered: ASCII
    only, and a byte search is much faster than one in a wide string.)"""
    low = data.lower()
    return any(word in low for word in _HIDING_WORDS)


def _hidden_elements(body: etree._Element) -> frozenset[etree._Element]:
    """The elements under *body* hidden by attribute, style or class: a substring test in
    XPath (one pass in C), then the exact one.  The set keeps the element proxies alive, so
    the walk meets the same objects."""
    return frozenset(el for el in _MAYBE_HIDDEN(body) if _is_hidden(el))


def _is_hidden(el: etree._Element) -> bool:
    """Hidden by attribute, style or class (see module docstring)."""
    hidden, type_ = el.get("hidden"), el.get("type")
    style, classes = el.get("style") or "", el.get("class") or ""
    return bool(hidden is not None or (type_ or "").lower() == "hidden"
                or _HIDDEN_STYLE.search(style) or set(classes.split()) & set(HIDDEN_CLASSES))
