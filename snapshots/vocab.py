"""The words every layer shares: a capture's states, a takedown's kinds, and what an HTTP
status alone says about a fetch.

The values are the strings the store holds and the exports write, so a `State` or a `Kind`
compares equal to its string and prints as it: rows written before these types existed read
the same.  The meaning of each state and kind, with the real cues behind them, is in
``docs/detection.md``.

>>> State.NOTICE == "notice", f"{Kind.SECTION_CLOSED}"
(True, 'section_closed')
>>> [str(status_state(s)) for s in (200, 202, 304, 401, 403, 404, 451, 429, 503, None)]
['ok', 'failed', 'failed', 'restricted', 'failed', 'gone', 'notice', 'failed', 'failed', 'failed']
"""

from __future__ import annotations

import re
from enum import StrEnum
from urllib.parse import urlsplit


class State(StrEnum):
    """A capture's state: what the page showed when it was fetched."""

    OK = "ok"                    # the page serves its content
    GONE = "gone"                # not there: 404/410, a not-found wording, a soft 404
    NOTICE = "notice"            # a removal notice: HTTP 451 or a notice phrase
    MOVED = "moved"              # the content is elsewhere
    RESTRICTED = "restricted"    # a login wall, privacy setting, age gate, HTTP 401
    FAILED = "failed"            # no usable answer: network error, 5xx, a challenge
    ERROR = "error"              # reading the capture raised (a verdict only, never stored
    #                              as a capture's first state)


# the states that open a takedown; every other state changes nothing or restores
TAKEDOWN_STATES = frozenset({State.GONE, State.NOTICE})


class Kind(StrEnum):
    """How a page was taken down."""

    REMOVED = "removed"
    CENSORED = "censored"
    AUTHOR_DELETED = "author_deleted"
    ACCOUNT_SUSPENDED = "account_suspended"
    SECTION_CLOSED = "section_closed"
    DELISTED = "delisted"
    EDITED = "edited"


# the kinds a notice can carry, in the order a tie between two equally strong phrases is
# broken (the later wins): a specific cause over a general one
NOTICE_KINDS = (Kind.SECTION_CLOSED, Kind.ACCOUNT_SUSPENDED, Kind.AUTHOR_DELETED,
                Kind.REMOVED, Kind.CENSORED)

# statuses that say "not now" rather than anything about the page: a server's trouble, a
# rate limit, a timeout, and 202 to a GET, which is a bot challenge (AWS WAF answers so)
TRANSIENT_STATUSES = frozenset({202, 408, 425, 429})


def is_transient(status: int) -> bool:
    """True for a status that is never the page itself, whatever its body says.

    >>> is_transient(503), is_transient(202), is_transient(403)
    (True, True, False)
    """
    return status >= 500 or status in TRANSIENT_STATUSES


def status_state(status: int | None) -> State:
    """What an HTTP status alone says about a fetch: the one rule of which statuses are
    failed.  The crawler stores it as a capture's first reading; the classifier starts
    from it and reads the page for more (a notice phrase on a 403, a soft 404 on a 200).

    Only 404 and 410 say the page is gone.  Any other refusal (403, 407, 400, 405 …), an
    unfollowed redirect and every transient status say nothing about the page: failed.
    """
    if status is None or is_transient(status):
        return State.FAILED
    if 200 <= status < 300:
        return State.OK
    if status in (404, 410):
        return State.GONE
    if status == 451:
        return State.NOTICE
    if status == 401:
        return State.RESTRICTED
    return State.FAILED


# how much of a body's head is looked at for markup when its type does not say
SNIFF_CHARS = 4096
# declared types that are never markup, whatever their bytes hold (any other type, such as
# text/plain, application/octet-stream or a PHP server's application/x-httpd-php, leaves it
# to the body: servers send those for pages they do not know the type of)
_NOT_MARKUP = ("image/", "audio/", "video/", "font/", "json", "javascript", "ecmascript",
               "text/css", "text/csv", "pdf", "zip", "wasm", "msword", "officedocument")


def is_html(content_type: str | None, head: str | bytes | None) -> bool:
    """Whether a body is markup, to parse (links, text, blocks) and to show as a page: the
    one rule the crawler, the detector and the viewer share.

    An empty body is not.  A declared type naming html or xml is (XHTML, feeds); a type
    that is never markup (JSON, CSS, script, an image, a PDF) is not, whatever its bytes
    hold; any other type, or none, leaves it to the body: markup when its first 4 KiB hold
    a ``<``.

    >>> is_html("text/html; charset=gbk", "<p>"), is_html(None, "  <p>x"), is_html(None, b"<a>")
    (True, True, True)
    >>> is_html("text/html", None), is_html("text/html", "")
    (False, False)
    >>> is_html("application/json", '{"a": "<b>"}'), is_html(None, "plain"), is_html(None, None)
    (False, False, False)
    """
    if not head:   # nothing to parse, whatever the type says
        return False
    if content_type:
        ctype = content_type.split(";", 1)[0].strip().lower()
        if "html" in ctype or "xml" in ctype:
            return True
        if any(word in ctype for word in _NOT_MARKUP):
            return False
    probe = head[:SNIFF_CHARS]
    return (b"<" in probe) if isinstance(probe, bytes) else ("<" in probe)


# HTML every reader of a page agrees on: elements whose content is never page text (dropped
# whole by `diffing.extract` and the search index), and elements whose edges end a block of
# text (a paragraph's words are not the next one's)
DROP_TAGS = ("script", "style", "noscript", "template", "svg", "math", "select", "datalist",
             "iframe", "object", "embed", "canvas", "audio", "video")
BLOCK_TAGS = frozenset(
    "address article aside blockquote body caption center dd details dialog dir div dl dt "
    "fieldset figcaption figure footer form frameset h1 h2 h3 h4 h5 h6 header hgroup hr html "
    "legend li main menu nav noframes ol p pre section summary table tbody td tfoot th thead "
    "tr ul".split())


# how a page that wants a login answers a request whose cookies have expired (read by the
# crawler for the round summary and by the classifier for the verdict): these statuses, or
# a redirect to a page whose path names a login (/login, /signin, /user/login.php, /sso/)
LOGIN_WALL_STATUSES = frozenset({401, 403})
LOGIN_PATH = re.compile(r"(?i)(^|/)(log-?in|sign-?in|log-?on|auth(enticate)?|sso|passport|"
                        r"session/new|users?/login)(\.\w+)?(/|$)")


def redirected_to_login(watched: str, final_url: str | None) -> bool:
    """Whether a fetch of *watched* ended on a login page that *watched* is not.

    >>> redirected_to_login("http://x.test/a", "http://x.test/login?next=/a")
    True
    >>> redirected_to_login("http://x.test/login", "http://x.test/login")
    False
    >>> redirected_to_login("http://x.test/a", None)
    False
    """
    return bool(final_url) and LOGIN_PATH.search(urlsplit(final_url).path) is not None \
        and LOGIN_PATH.search(urlsplit(watched).path) is None
