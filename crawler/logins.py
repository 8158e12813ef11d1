"""What a capture of a browser or cookie target carries besides the page itself.

`with_extras` completes the capture template the spider makes of a response, before the
template is cached and handed to each target that claims the fetch:

- a browser fetch's raw HTTP body and screenshot (``crawler.browser.rendered``);
- for a target with a ``cookies`` file: the cookies' values blanked out of what is stored
  (a ``Set-Cookie`` header, any header, body or text that echoes one), and the login wall:
  a page that answers the target's cookies with a login page (`login_wall`) is marked so
  (``NewCapture.login_wall``) and its first reading is ``restricted``, never gone; the round
  summary says the cookies need renewing.

Imports ``crawler`` (browser, cookies, decoding) and ``snapshots`` (records, vocab).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from crawler.browser import rendered
from crawler.decoding import head_bytes
from snapshots.records import NewCapture
from snapshots.vocab import LOGIN_WALL_STATUSES, redirected_to_login

if TYPE_CHECKING:
    from scrapy.http import Response

    from crawler.cookies import Cookie

HIDDEN = "<hidden>"
MIN_SECRET = 4     # shorter values ("1", "yes") are blanked in headers only
PASSWORD_INPUT = re.compile(rb"(?i)<input\b[^>]*\btype\s*=\s*[\"']?password\b")


def login_wall(status: int | None, watched: str, final_url: str | None,
               body: bytes | None) -> str | None:
    """Why a response to a request that carried cookies is a login wall, or None: HTTP
    401/403, a redirect to a login page, or a page asking for a password (2xx only: a 404 is
    the page gone, whoever asks).

    >>> login_wall(302, "http://x.test/a", None, b"")
    >>> login_wall(200, "http://x.test/a", "http://x.test/login?next=/a", b"")
    'redirected to a login page'
    >>> login_wall(200, "http://x.test/a", None, b'<form><input type="password"></form>')
    'a password form'
    >>> login_wall(404, "http://x.test/a", None, b'<input type=password>') is None
    True
    """
    if status in LOGIN_WALL_STATUSES:
        return f"HTTP {status}"
    if status is None or not 200 <= status < 300:
        return None
    if redirected_to_login(watched, final_url):
        return "redirected to a login page"
    if body and PASSWORD_INPUT.search(body):
        return "a password form"
    return None


def _blank_bytes(data: bytes | None, secrets: Iterable[bytes]) -> bytes | None:
    if data is None:
        return None
    for s in secrets:
        data = data.replace(s, HIDDEN.encode())
    return data


def without_cookies(c: NewCapture, cookies: tuple[Cookie, ...]) -> NewCapture:
    """*c* with every value of *cookies* blanked out of what would be stored.

    >>> from crawler.cookies import parse_cookie_text
    >>> jar = parse_cookie_text("x.test\\tFALSE\\t/\\tFALSE\\t0\\tsid\\ts3cr3t\\n")
    >>> c = without_cookies(NewCapture("t", "http://x.test/", 0, "seed", None,
    ...     headers={"set-cookie": "sid=s3cr3t; Path=/"}, text="id s3cr3t", body=b"s3cr3t"), jar)
    >>> c.headers, c.text, c.body
    ({'set-cookie': '<hidden>'}, 'id <hidden>', b'<hidden>')
    """
    values = [k.value for k in cookies if k.value]
    long = [v for v in values if len(v) >= MIN_SECRET]
    headers = {name: HIDDEN if name == "set-cookie" or any(v in value for v in values)
               else value for name, value in c.headers.items()}
    text = c.text
    for v in long:
        text = text.replace(v, HIDDEN) if text is not None else None
    raw_long = [v.encode("utf-8") for v in long]
    return replace(c, headers=headers, text=text, body=_blank_bytes(c.body, raw_long),
                   raw=_blank_bytes(c.raw, raw_long))


def with_extras(item: NewCapture, response: Response, max_size: int = 0) -> NewCapture:
    """*item*, a capture of *response*, with its browser extras (the raw body, as a plain
    body is, cut at *max_size* bytes when not 0), cookies blanked, and its login wall
    marked."""
    meta = response.meta
    raw, png = rendered(meta)
    if raw is not None:
        raw = head_bytes(raw, max_size)[0]
    if raw is not None or png is not None:
        item = replace(item, raw=raw, screenshot=png)
    cookies = meta.get("takedown_cookies")
    if cookies is None:
        return item
    wall = login_wall(item.status, item.url, item.final_url, item.body)
    return without_cookies(replace(item, login_wall=wall is not None), cookies)
