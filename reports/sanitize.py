"""Captured HTML → an inert document for ``<iframe sandbox srcdoc>``.

Captured pages are hostile.  `inert_html` makes one safe to show, in two passes:

1. **Prepare** (lxml): resolve links against the page URL, note each link's target in its
   ``title`` (the ``href`` itself goes; one that does not parse as a URL, ``http://[::1``,
   names nothing), drop external image sources (only ``data:image/…`` raster images stay),
   scrub ``<style>`` text and ``style`` attributes (`scrub_css`: every ``url()`` other than
   a data image, ``@import``, ``image-set()``, ``expression()``…), and mark what the
   viewer asks for (removed links, removed or added text blocks) with an outline and
   ``data-td``.
2. **Clean** (nh3, the final gate): an allowlist of formatting tags and attributes; script,
   style-less active content (``iframe object embed form svg math template``…), ``base``,
   ``meta`` (refresh), ``link`` and every ``on*`` attribute are gone; ``src`` survives only
   as a data image; no ``href`` at all, so nothing can navigate.  If any CSS in the result
   still could fetch (a trick the scrubber missed), the page is cleaned again without its
   styles: losing looks beats leaking a request.

The result is wrapped in a document of ours that repeats the viewer's CSP in a ``<meta>``
(the frame inherits it anyway), so showing a snapshot never fetches anything.  Pure;
imports lxml, nh3 and the standard library only.
"""

from __future__ import annotations

import html as htmllib
import logging
import re
from collections.abc import Collection
from urllib.parse import urljoin

import lxml.html
import nh3
from lxml import etree

log = logging.getLogger(__name__)

FRAME_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
REMOVED_MARK = "outline:3px solid #c62828;background:#ffebee"
ADDED_MARK = "outline:3px solid #2e7d32;background:#e8f5e9"

TAGS = frozenset("""a abbr address article aside b bdi bdo big blockquote br caption center
cite code col colgroup dd del details dfn div dl dt em figcaption figure font footer h1 h2
h3 h4 h5 h6 header hgroup hr i img ins kbd label legend fieldset li main mark nav ol p pre q
rp rt ruby s samp section small span strike strong style sub summary sup table tbody td
tfoot th thead time tr tt u ul var wbr""".split())
# dropped with everything inside (the rest of a disallowed tag keeps its text)
CONTENT_TAGS = frozenset("""script noscript title template iframe frame frameset object embed
applet svg math select textarea noembed noframes audio video canvas xmp plaintext""".split())
ATTRIBUTES = {
    "*": {"class", "id", "title", "lang", "dir", "style", "align", "valign", "width", "height",
          "data-td"},
    "img": {"src", "alt"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"},
    "ol": {"start", "type"}, "li": {"value"}, "font": {"color", "size", "face"},
    "table": {"border", "cellpadding", "cellspacing"}, "time": {"datetime"},
}
MARK_TAGS = frozenset("p li h1 h2 h3 h4 h5 h6 td th dd dt blockquote pre figcaption div "
                      "section article span a".split())
_DATA_IMAGE = re.compile(r"^\s*data:image/(?:png|gif|jpeg|jpg|webp|bmp)[;,]", re.IGNORECASE)
_HEX_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})[ \t\n\r\f]?|\\([^0-9a-fA-F\n\r\f])")
_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)
_IMPORT = re.compile(r"@import[^;{}]*(?:;|$)", re.IGNORECASE)
_URL_FN = re.compile(r"url\s*\(\s*(['\"]?)([^'\")]*)\1\s*\)", re.IGNORECASE)
_FETCHING_FN = re.compile(r"(?:-webkit-)?image-set\s*\([^)]*\)|(?:cross-fade|image|element|src"
                          r"|expression)\s*\([^)]*\)", re.IGNORECASE)
# conservative: a false alarm only costs the page its styles
_UNSAFE = re.compile(r"@import|image-set\s*\(|cross-fade\s*\(|image\s*\(|element\s*\(|src\s*\("
                     r"|expression\s*\(|-moz-binding|behavior\s*:", re.IGNORECASE)
_ANY_URL = re.compile(r"url\s*\(\s*(?:['\"]|&quot;|&#39;)?\s*([^\s'\")&]{0,32})", re.IGNORECASE)
_DATA_PREFIXES = tuple(f"data:image/{t}" for t in ("png", "gif", "jpeg", "jpg", "webp", "bmp"))
_SAFE_SPECIALS = frozenset("'\"\\()<>;:{}@/,*")


def _unescape_css(css: str) -> str:
    """CSS escapes decoded where they stand for a harmless character (``u\\72l(`` is
    ``url(`` to a browser, so it must be to the scrubber too).  Escapes of quotes,
    brackets and punctuation stay escaped: escaped, they cannot start a function."""
    def one(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            code = int(m.group(1), 16)
            ch = chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else ""
        else:
            ch = m.group(2)
        if not ch or ch in _SAFE_SPECIALS or ord(ch) < 0x20 or ch.isspace():
            return m.group(0)
        return ch
    return _HEX_ESCAPE.sub(one, css)


def css_is_safe(css: str) -> bool:
    """True if *css* cannot make the browser fetch anything: no ``@import``, no
    image-set/cross-fade/expression…, every ``url()`` a data image."""
    flat = _COMMENT.sub(" ", _unescape_css(css))
    if _UNSAFE.search(flat):
        return False
    return all(m.group(1).lower().startswith(_DATA_PREFIXES) for m in _ANY_URL.finditer(flat))


def scrub_css(css: str) -> str:
    """*css* without anything that fetches: external ``url()`` become ``none``, ``@import``
    rules and image-set()/cross-fade()/expression() go.  Checked after with `css_is_safe`."""
    def url(m: re.Match[str]) -> str:
        return m.group(0) if _DATA_IMAGE.match(m.group(2)) else "none"
    flat = _COMMENT.sub(" ", _unescape_css(css))
    return _FETCHING_FN.sub("none", _URL_FN.sub(url, _IMPORT.sub("", flat)))


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _mark(el: etree._Element, style: str, label: str) -> None:
    _set(el, "style", f"{style};{el.get('style') or ''}")
    el.set("data-td", label)


def _parse(html: str) -> lxml.html.HtmlElement | None:
    text = re.sub(r"^\s*<\?xml[^>]*>", "", html.replace("\x00", ""))
    if not text.strip():
        return None
    try:
        return lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        log.info("captured page not parsed by lxml (%s); cleaning it raw", exc)
        return None


def _join(base: str, href: str) -> str:
    """*href* resolved against *base*; as written when either does not parse as a URL
    (``http://[::1``): it then names no http(s) target, and the link stays dead text."""
    try:
        return urljoin(base, href)
    except ValueError:
        return href


def _base(root: lxml.html.HtmlElement, url: str) -> str:
    for el in root.iter("base"):
        href = (el.get("href") or "").strip()
        if href.lower().startswith(("http://", "https://", "/")):
            return _join(url, href)
    return url


# the characters XML 1.0 cannot hold, which lxml refuses (in an attribute, though the HTML
# parser kept them; in a feed): C0 controls but tab, LF and CR, surrogates, U+FFFE, U+FFFF
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _set(el: etree._Element, name: str, value: str) -> None:
    """``el.set`` of a value made from the page: a control character a hostile page put in
    a link (``href="/x\x01y"``) is shown as U+FFFD instead of failing the whole view."""
    el.set(name, NOT_XML.sub("\ufffd", value))


def _prepare(root: lxml.html.HtmlElement, url: str, removed_links: Collection[str],
             blocks: dict[str, tuple[str, str]]) -> None:
    base = _base(root, url)
    for el in root.iter(etree.Element):
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in ("a", "area") and el.get("href") is not None:
            target = _join(base, el.get("href", "").strip())
            el.attrib.pop("href")
            if not el.get("title") and target.lower().startswith(("http://", "https://")):
                _set(el, "title", target[:500])  # where it led, as text: links stay dead
            if target in removed_links:
                _mark(el, REMOVED_MARK, "removed-link")
        elif tag == "img" and not _DATA_IMAGE.match(el.get("src") or ""):
            src = el.attrib.pop("src", "")
            src = _join(base, src.strip()) if src.strip() else ""
            if src.lower().startswith(("http://", "https://")) and not el.get("title"):
                _set(el, "title", src[:500])
            el.set("alt", el.get("alt") or "[image]")
        elif tag == "style":
            el.text = scrub_css(el.text or "")
            if not css_is_safe(el.text):
                el.text = ""
        if el.get("style") is not None:
            _set(el, "style", scrub_css(el.get("style", "")))
        if blocks and tag in MARK_TAGS:
            hit = blocks.get(_collapse(el.text_content()))
            if hit is not None:
                _mark(el, *hit)


def _attribute(tag: str, attr: str, value: str) -> str | None:
    if attr == "style":
        return value if css_is_safe(value) else None
    if attr == "src":
        return value if tag == "img" and _DATA_IMAGE.match(value) else None
    return value


def _clean(html: str, styles: bool) -> str:
    tags = set(TAGS) if styles else set(TAGS) - {"style"}
    content = set(CONTENT_TAGS) if styles else set(CONTENT_TAGS) | {"style"}
    attributes = {k: set(v) if styles else set(v) - {"style"} for k, v in ATTRIBUTES.items()}
    return nh3.clean(html, tags=tags, clean_content_tags=content, attributes=attributes,
                     attribute_filter=_attribute, strip_comments=True, link_rel=None,
                     url_schemes={"data"}, url_relative="deny")


def clean_fragment(html: str, url: str, *, removed_links: Collection[str] = (),
                   removed_blocks: Collection[str] = (),
                   added_blocks: Collection[str] = ()) -> str:
    """The inert body markup of captured *html* (fetched from *url*)."""
    blocks = {_collapse(t): (ADDED_MARK, "added") for t in added_blocks}
    blocks.update({_collapse(t): (REMOVED_MARK, "removed") for t in removed_blocks})
    blocks.pop("", None)
    root = _parse(html)
    if root is not None:
        _prepare(root, url, frozenset(removed_links), blocks)
        html = lxml.html.tostring(root, encoding="unicode")
    out = _clean(html, styles=True)
    if not css_is_safe(out):
        log.info("CSS of %s still fetches after scrubbing; shown without styles", url)
        out = _clean(html, styles=False)
    return out


def wrap(body: str) -> str:
    """A whole srcdoc document around inert *body* markup (ours: trusted)."""
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{FRAME_CSP}\">"
            "<style>html{font-family:'WenQuanYi Zen Hei','Noto Sans CJK SC',sans-serif}"
            "</style></head><body>" + body + "</body></html>")


def inert_html(html: str, url: str, *, removed_links: Collection[str] = (),
               removed_blocks: Collection[str] = (), added_blocks: Collection[str] = ()) -> str:
    """Captured *html* as a whole inert document for an ``<iframe sandbox srcdoc>``."""
    return wrap(clean_fragment(html, url, removed_links=removed_links,
                               removed_blocks=removed_blocks, added_blocks=added_blocks))


def inert_text(text: str) -> str:
    """A non-HTML body (plain text, JSON…) as an inert document: escaped, preformatted."""
    return wrap("<pre style=\"white-space:pre-wrap\">" + htmllib.escape(text) + "</pre>")
