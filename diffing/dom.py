"""DOM helpers shared by extraction and item extraction: an element's text, and link
targets made absolute (urljoin, with a fast path for the root-relative hrefs that fill
portal pages).

>>> absolute("http://h:8000/a/b.html", " /x/y.html?q=1 "), absolute("http://h/a/", "c")
('http://h:8000/x/y.html?q=1', 'http://h/a/c')

Pure; imports lxml and the standard library.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

from lxml import etree

_STRING = etree.XPath("string()")
# what urljoin would rewrite in a root-relative href: dot segments, an empty query after
# "?#" or a params ";" (dropped when empty), characters urlsplit removes
_UNPLAIN = re.compile(r"/\.|\?#|[;\t\r\n]")


def text_of(el: etree._Element) -> str:
    """The element's text content (its descendants' text, not its tail), as a plain str."""
    return str(_STRING(el))


def absolute(base: str, href: str) -> str:
    return _join(base, href.strip())  # a plain str: lxml's smart strings hold their tree


@lru_cache(maxsize=65536)  # a portal repeats its links, and a pair of captures shares them
def _join(base: str, href: str) -> str:
    if href[:1] == "/" and href[1:2] != "/" and (origin := _origin(base)) is not None \
            and not _UNPLAIN.search(href) and not href.endswith(("?", "#")):
        return origin + href  # what urljoin gives for a plain root-relative href, faster
    try:
        return urljoin(base, href)
    except ValueError:
        return href


@lru_cache(maxsize=1024)
def _origin(base: str) -> str | None:
    """``scheme://host`` of an http(s) *base*, as urljoin spells it; else None."""
    try:
        parts = urlsplit(base)
    except ValueError:
        return None
    ok = parts.scheme in ("http", "https") and parts.netloc
    return f"{parts.scheme}://{parts.netloc}" if ok else None


