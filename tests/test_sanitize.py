"""reports/sanitize.py: a hostile captured page comes out inert.

The hostile fixture (`hostile_page`, shared with the browser tests) carries every trick the
viewer must defuse: inline and external scripts, ``on*`` handlers, meta refresh, ``<base>``,
forms posting away, external images, stylesheets, CSS ``url()`` (plain, escaped, in
``@import``, ``image-set``, ``@font-face``), ``javascript:`` links, an SVG with a script,
iframes, objects, embeds.  The rendered result is parsed with lxml and searched.
"""

from __future__ import annotations

import re

import lxml.html
import pytest

from reports.sanitize import css_is_safe, inert_html, inert_text, scrub_css

EVIL = "http://evil.example"


def hostile_page(beacon: str, paragraph: bool = True) -> str:
    """A hostile page whose sub-resources point at *beacon* (a loopback origin that must
    receive nothing) and at evil.example.  *paragraph* keeps the paragraph that a later
    version removes.  ``<embed>`` comes last: libxml2 (diffing.extract's parser) does not
    know it is void and would swallow what follows it."""
    gone = ("<p id=\"gone\">要删除的段落：这一段将在下次抓取时被删除，以便测试比较视图。</p>"
            if paragraph else "")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8">
<title>恶意页面<script>document.title='pwned'</script></title>
<meta http-equiv="refresh" content="0; url={EVIL}/refresh">
<base href="{EVIL}/base/">
<link rel="stylesheet" href="{beacon}/beacon/link.css">
<link rel="prefetch" href="{beacon}/beacon/prefetch">
<style>@import url("{beacon}/beacon/import.css");
body {{ background: url({beacon}/beacon/bg.png) }}
.x {{ background-image: u\\72l({beacon}/beacon/escaped.png) }}
.y {{ background-image: -webkit-image-set("{beacon}/beacon/set.png" 1x) }}
.z {{ background: URL( '{EVIL}/upper.png' ) }}
@font-face {{ font-family: f; src: url({EVIL}/font.woff) }}
h1 {{ color: #a00 }}</style>
<script>window.__pwned = 1; document.title = 'pwned'; console.log('pwned-inline');
fetch('{beacon}/beacon/fetch');</script>
<script src="{beacon}/beacon/script.js"></script>
<script src="{EVIL}/x.js"></script>
</head>
<body onload="window.__pwned=2;console.log('pwned-onload')">
<h1>标题：军民融合专题</h1>
<p>正文第一段：这一段会一直保留在页面上，用来检查中文是否正常显示。This paragraph stays.</p>
<img src="{beacon}/beacon/img.png" onerror="window.__pwned=3;console.log('pwned-onerror')">
<img src="missing.png" onerror="window.__pwned=4;console.log('pwned-onerror2')">
<img src="/captures/1/raw" alt="relative">
<img srcset="{beacon}/beacon/srcset.png 1x">
<img src="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/%3E">
<div style="background:url('{beacon}/beacon/style-attr.png')">styled</div>
<div style="background-image:u&#114;l({EVIL}/entity.png)">entity</div>
<a href="javascript:window.__pwned=5">js link</a>
<a href="{beacon}/beacon/link" ping="{beacon}/beacon/ping">beacon link</a>
<a href="relative/page.html">relative link</a>
<form action="{beacon}/beacon/form" method="post"><input name="q" value="1">
<input type="image" src="{beacon}/beacon/input.png">
<button formaction="{EVIL}/f">send</button></form>
<iframe src="{beacon}/beacon/iframe"></iframe>
<iframe srcdoc="&lt;script&gt;parent.__pwned=9&lt;/script&gt;"></iframe>
<object data="{beacon}/beacon/object"></object>
<svg xmlns="http://www.w3.org/2000/svg" onload="window.__pwned=6">
<script>window.__pwned=7;console.log('pwned-svg')</script>
<image href="{beacon}/beacon/svgimage.png"/></svg>
<video poster="{beacon}/beacon/poster.png"><source src="{beacon}/beacon/video.mp4"></video>
<table background="{beacon}/beacon/table.png"><tr><td>cell</td></tr></table>
<math><mi xlink:href="javascript:alert(1)">x</mi></math>
<noscript><img src="{beacon}/beacon/noscript.png"></noscript>
<template><img src="{beacon}/beacon/template.png"></template>
<div onmouseover="window.__pwned=8">hover</div>
<!-- <script>window.__pwned=10</script> -->
{gone}
<embed src="{beacon}/beacon/embed">
</body></html>"""


URL_ATTRS = ("href", "src", "srcset", "action", "formaction", "data", "poster", "background",
             "ping", "xlink:href", "cite", "longdesc", "content")
ACTIVE_TAGS = ("script", "iframe", "object", "embed", "form", "input", "button", "svg",
               "math", "link", "base", "video", "source", "noscript", "template", "frame")


def _styles(doc: lxml.html.HtmlElement) -> list[str]:
    return ([el.text or "" for el in doc.iter("style")]
            + [el.get("style") for el in doc.iter() if el.get("style") is not None])


def test_hostile_page_comes_out_inert() -> None:
    out = inert_html(hostile_page("http://127.0.0.1:9"), "http://127.0.0.1:8000/a.html")
    doc = lxml.html.document_fromstring(out)
    assert [el.tag for el in doc.iter(*ACTIVE_TAGS)] == []
    metas = [(m.get("http-equiv") or "").lower() for m in doc.iter("meta")]
    assert "refresh" not in metas and metas.count("content-security-policy") == 1
    for el in doc.iter():
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), (el.tag, name)
            assert "javascript:" not in value.lower(), (el.tag, name, value)
            if name in URL_ATTRS and name != "content":
                assert el.tag == "img" and name == "src" and value.startswith("data:image/png")
    for css in _styles(doc):
        assert "@import" not in css.lower() and "image-set" not in css.lower(), css
        for m in re.finditer(r"url\s*\(\s*['\"]?([^'\")]*)", css, re.IGNORECASE):
            assert m.group(1).startswith("data:image/"), css
    # nothing anywhere still names the hosts a fetch could go to, except link/image titles
    for el in doc.iter():
        for name, value in el.attrib.items():
            if name != "title":
                assert "127.0.0.1:9" not in value and "evil.example" not in value, (el, name)
    assert "127.0.0.1:9" not in " ".join(_styles(doc)) and "evil.example" not in out.replace(
        'title="http://evil.example', "")
    text = doc.text_content()
    assert "标题：军民融合专题" in text and "This paragraph stays." in text
    assert "pwned" not in text and "window.__pwned" not in out


def test_page_styles_survive_when_safe() -> None:
    out = inert_html("<style>h1 { color: #a00 } p { background: url(/x.png) }</style>"
                     "<h1 style=\"font-size:20px\">t</h1>", "http://h/")
    doc = lxml.html.document_fromstring(out)
    assert any("color: #a00" in (s.text or "") for s in doc.iter("style"))
    assert "font-size:20px" in doc.find(".//h1").get("style")
    assert "/x.png" not in out


def test_data_images_stay_other_images_become_alt_text() -> None:
    png = "data:image/png;base64,iVBORw0KGgo="
    out = inert_html(f'<img src="{png}"><img src="http://h/b.png"><img src="c.png" alt="c">',
                     "http://h/")
    imgs = lxml.html.document_fromstring(out).findall(".//img")
    assert [i.get("src") for i in imgs] == [png, None, None]
    assert [i.get("alt") for i in imgs] == [None, "[image]", "c"]
    assert imgs[1].get("title") == "http://h/b.png"     # where it was, as text


def test_marks_removed_links_and_blocks() -> None:
    html = ("<ul><li><a href='/a'>A</a></li><li><a href='b.html'>B</a></li></ul>"
            "<p>Removed   paragraph\ntext.</p><p>kept</p>")
    out = inert_html(html, "http://h/list/", removed_links={"http://h/list/b.html"},
                     removed_blocks={"Removed paragraph text."})
    doc = lxml.html.document_fromstring(out)
    marked = {(el.tag, el.get("data-td"), el.text_content()) for el in doc.iter()
              if el.get("data-td")}
    assert marked == {("a", "removed-link", "B"), ("p", "removed", "Removed   paragraph\ntext.")}
    assert all(el.get("href") is None for el in doc.iter("a"))


@pytest.mark.parametrize("css", [
    "a{background:url(http://x/y)}", "a{background:URL( 'http://x/y' )}",
    "a{background:u\\72l(http://x/y)}", "a{background:\\75 \\72 \\6c (http://x/y)}",
    "@import 'http://x/y.css';", "@IMPORT url(x.css);", "a{b:image-set('x.png' 1x)}",
    "a{b:-webkit-image-set(url(x.png) 1x)}", "a{b:cross-fade(url(a.png),url(b.png))}",
    "a{width:expression(alert(1))}", "@font-face{src:url(f.woff)}", "a{b:url(//x/y)}",
    "a{b:url(data:image/svg+xml,<svg onload=alert(1)>)}",
], ids=lambda c: c[:30])
def test_css_that_fetches_is_unsafe_and_scrubbed(css: str) -> None:
    assert not css_is_safe(css)
    assert css_is_safe(scrub_css(css))


@pytest.mark.parametrize("css", [
    "h1{color:red}", "a>b{margin:0 auto}", "p{background:url(data:image/png;base64,AAAA)}",
    "p{font-family:\"\\5FAE\\8F6F\\96C5\\9ED1\"}",
])
def test_harmless_css_is_safe_and_kept(css: str) -> None:
    assert css_is_safe(css)
    assert scrub_css(css).replace(" ", "") != ""


def test_css_the_scrubber_cannot_parse_costs_the_styles_not_a_request() -> None:
    # a quoted URL with a ")" inside defeats the url() rewrite: the check drops the sheet
    out = inert_html('<style>p{background:url("http://evil.example/a)b")}</style><p>x</p>',
                     "http://h/")
    assert "evil.example" not in out and "<p>x</p>" in out


def test_plain_text_bodies_are_escaped() -> None:
    out = inert_text("<script>alert(1)</script> & 中文")
    doc = lxml.html.document_fromstring(out)
    assert list(doc.iter("script")) == []
    assert doc.find(".//pre").text == "<script>alert(1)</script> & 中文"


@pytest.mark.parametrize("char", ["\x01", "\x08", "\x1f", "\x0b"])
def test_a_control_character_in_a_link_or_style_is_shown_not_fatal(char: str) -> None:
    """lxml refuses such a character in an attribute it is asked to set: the view of the
    page (and of its takedown) once answered 500."""
    page = (f'<html><body><p>story</p><a href="/x{char}y">odd link</a>'
            f'<img src="/i{char}.png"><p style="color: red{char}">styled</p></body></html>')
    out = inert_html(page, "http://127.0.0.1:8000/a.html", removed_links={"/x"})
    doc = lxml.html.fromstring(out)
    titles = [a.get("title") for a in doc.iter("a")]
    assert "http://127.0.0.1:8000/x\ufffdy" in titles
    assert char not in out
