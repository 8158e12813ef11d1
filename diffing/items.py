"""Sub-page items of a page (forum replies, timeline posts): the elements a target's
``items`` CSS selector picks, each with an id (``item_id``: an attribute, or a CSS selector
inside the item whose ``href`` or text is the id; else ``h:`` and a hash of its masked
text), its text, masked key, links and rank.  Used by `diffing.extract`.

Pure; imports lxml (and cssselect, for the selectors), the standard library and diffing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime, tzinfo

from lxml import etree

from diffing.dates import find_date, in_zone
from diffing.dom import absolute, text_of
from diffing.results import Item
from diffing.volatile import mask


def page_items(body: etree._Element, base: str, selector: str | None,
               item_id: str | None, *, dated: bool = False, at: datetime | None = None,
               zone: tzinfo | None = None) -> tuple[Item, ...]:
    """The items *selector* picks; with *dated*, each with its own publication time (read
    as `extract` reads the page's; detection does not ask for it: a date search of every
    item's text took three quarters of the extraction of a page of 200 replies)."""
    if not selector:
        return ()
    found = _select(body, selector)
    out: list[Item] = []
    seen: Counter[str] = Counter()
    for position, el in enumerate(found):
        text = " ".join(" ".join(el.itertext()).split())
        key = mask(text)
        ident = _item_id(el, base, item_id) or "h:" + hashlib.sha1(
            key.encode("utf-8")).hexdigest()[:12]
        seen[ident] += 1
        if seen[ident] > 1:  # two items alike: keep both, told apart by their rank
            ident = f"{ident}~{seen[ident]}"
        hrefs = tuple(absolute(base, h) for h in el.xpath(".//a/@href | self::a/@href"))
        # the item's own time (a reply's "发表于 …"), not its page's
        published = in_zone(find_date(text, at, zone), zone) if dated else None
        out.append(Item(ident, text, key, hrefs, position, published))
    return tuple(out)


def _select(root: etree._Element, selector: str) -> list:
    from lxml.cssselect import CSSSelector  # needs cssselect (a Scrapy/parsel dependency)

    try:
        return CSSSelector(selector)(root)
    except Exception as exc:  # cssselect raises its own SelectorError / ExpressionError
        raise ValueError(f"bad CSS selector {selector!r}: {exc}") from exc


def _item_id(el: etree._Element, base: str, item_id: str | None) -> str | None:
    if not item_id:
        return None
    value = el.get(item_id)
    if value is not None and value.strip():
        return value.strip()
    for inner in _select(el, item_id):
        href = inner.get("href")
        if href:
            return absolute(base, href)
        text = " ".join(text_of(inner).split())
        if text:
            return text
    return None
