"""Plumbing shared by the demo site's sections: seeded randomness, simulated dates, links,
and `Reply` builders for HTML, text, redirects and the site-wide 404 page.

Every volatile value on the demo site (counters, clocks, session tokens) comes from
`seeded`, keyed by the simulated day and the page, so a page is a pure function of
(day, path): no wall clock, no global random state. Imports the stdlib and
`takedown.demo.server` only.
"""

from __future__ import annotations

import datetime as dt
import html
import random
import string
from collections.abc import Mapping
from urllib.parse import urlencode

from takedown.demo.server import Reply

START = dt.date(2018, 6, 11)  # day 0 of every demo run: the week of the June 2018 purge order
HTML_UTF8 = "text/html; charset=utf-8"
WEEKDAYS_ZH = "一二三四五六日"
_ALNUM = string.ascii_letters + string.digits


def esc(text: str) -> str:
    """Escape text for HTML element content and attribute values."""
    return html.escape(text, quote=True)


def seeded(*key: object) -> random.Random:
    """A private RNG for one key; str seeds are hashed with SHA-512, so runs agree.

    >>> seeded("gov", 3).random() == seeded("gov", 3).random()
    True
    """
    return random.Random("|".join(str(part) for part in key))


def token(length: int, *key: object) -> str:
    """A deterministic alphanumeric token (session ids and the like)."""
    rng = seeded("token", *key)
    return "".join(rng.choice(_ALNUM) for _ in range(length))


def date_of(day: int) -> dt.date:
    """The calendar date of a simulated day (day 0 is 2018-06-11)."""
    return START + dt.timedelta(days=day)


def clock(*key: object) -> str:
    """A deterministic HH:MM for a key, e.g. the time a page claims to be rendered."""
    rng = seeded("clock", *key)
    return f"{rng.randrange(7, 23):02d}:{rng.randrange(60):02d}"


def zh_date(day: int) -> str:
    """'2018年6月11日 星期一' for a simulated day."""
    d = date_of(day)
    return f"{d.year}年{d.month}月{d.day}日 星期{WEEKDAYS_ZH[d.weekday()]}"


def link(path: str, params: Mapping[str, object] | None = None) -> str:
    """A root-relative link; parameters keep the given order and None values are dropped.

    >>> link("/forum/viewthread.php", {"tid": 7, "page": None, "sid": "ab"})
    '/forum/viewthread.php?tid=7&sid=ab'
    """
    kept = {k: v for k, v in (params or {}).items() if v is not None}
    return f"{path}?{urlencode(kept)}" if kept else path


def html_reply(
    page: str,
    status: int = 200,
    *,
    encoding: str = "utf-8",
    content_type: str = HTML_UTF8,
    headers: Mapping[str, str] | None = None,
    delay: float = 0.0,
    fault: str | None = None,
) -> Reply:
    """Encode a page; characters the codec lacks become numeric character references."""
    all_headers = {"Content-Type": content_type, **(headers or {})}
    body = page.encode(encoding, errors="xmlcharrefreplace")
    return Reply(status, all_headers, body, delay=delay, fault=fault)


def text_reply(text: str, status: int = 200) -> Reply:
    return Reply(status, {"Content-Type": "text/plain; charset=utf-8"}, text.encode("utf-8"))


def redirect(location: str, status: int = 302) -> Reply:
    """A redirect with a small HTML body, as servers send them."""
    page = (
        f"<html><head><title>{status} Moved</title></head><body><h1>Moved</h1>"
        f'<p>The document has moved <a href="{esc(location)}">here</a>.</p></body></html>'
    )
    return html_reply(page, status, headers={"Location": location})


def not_found() -> Reply:
    """The site-wide 404 page (nginx style, with the Chinese line a CN host adds)."""
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>404 Not Found</title>"
        "</head>\n<body>\n<center><h1>404 Not Found</h1></center>\n"
        "<center><p>对不起，您访问的页面不存在。</p></center>\n"
        "<hr><center>nginx</center>\n</body></html>\n"
    )
    return html_reply(page, 404)


def paragraphs(texts: list[str]) -> str:
    return "\n".join(f"<p>{esc(text)}</p>" for text in texts)
