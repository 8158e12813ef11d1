"""A captured page that tries every trick a viewer must defuse (scripts, handlers, refresh,
``<base>``, forms, external resources and CSS ``url()`` in its many spellings), shared by
the sanitizer tests and the viewer's browser tests."""

from __future__ import annotations

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
