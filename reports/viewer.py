"""``takedown serve``: the read-only web viewer (Starlette), and the guard around it.

`create_app(store, events=None, token=None)` builds the app; `reports.viewer_pages` holds
the pages.  Routes (deep links): ``/`` targets,
``/targets/{name}``, ``/urls/{url_id}``, ``/takedowns`` (filters ``kind target since until
q event page``), ``/takedowns/{takedown_id}``, ``/takedowns/{takedown_id}/evidence.wacz`` (its
evidence package, built on request: ``reports.evidence``), ``/compare/{url_id}?a=&b=``,
``/captures/{capture_id}/raw``; for programs (``reports.api``, docs/api.md): ``/api/takedowns``
(the list's filters, ``limit``, ``page``), ``/api/takedowns/{takedown_id}``,
``/api/urls/{url_id}/captures``, ``/api/events`` and ``/feed.atom`` (the list's filters),
whose errors are JSON on ``/api/``.

The guard (`ViewerGuard`, plain ASGI) applies to every response, errors included:

* only GET and HEAD (anything else: 405, the viewer has no write endpoint);
* without a token (bound to loopback) the ``Host`` must be a loopback name or the bound
  host, so a DNS-rebinding page cannot read the store through the user's browser;
* with a token, a request needs ``Authorization: Bearer``, the cookie, or ``?token=``
  once: that sets an HttpOnly SameSite=Strict cookie and redirects to the URL without it
  (the token leaves the address bar and history).  The redirect is a path on the viewer's
  own origin: leading slashes and backslashes collapse to one slash, since
  ``//evil.example/`` as a Location is another site.  On the API and the feed
  (`direct_token`) ``?token=`` is taken on every request, without the redirect: feed
  readers and scripts can neither send a header nor keep a cookie;
* a token is at least 16 characters of printable ASCII without whitespace, quotes,
  commas, semicolons or backslashes (`check_token`): anything shorter is guessable, and
  the others cannot travel unchanged in a cookie or an ``Authorization`` header;
* an unexpected exception (a bug, a broken store) is logged with its traceback and
  answered 500 with a generic body: never a traceback, never captured content.  What a
  request holds (ids, dates, filters) never causes one: it is answered 400 or 404 (see
  ``reports.viewer_pages``);
* headers: the CSP below, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
  no-referrer``, ``X-Frame-Options: SAMEORIGIN``.  The CSP is the base
  policy (``default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'``)
  plus ``img-src 'self'`` for the screenshots of browser captures (our own route, image/png;
  the srcdoc frames keep ``img-src data:`` by their own meta policy), with three directives
  that only tighten it: ``form-action 'self'`` and ``base-uri
  'none'`` (``default-src`` covers neither) and ``frame-ancestors 'self'`` (the CSP form
  of X-Frame-Options).  srcdoc frames needed no loosening: Chromium does not check
  ``frame-src`` for ``about:srcdoc``, and the frame inherits this policy.

Imports reports, snapshots (through reports.viewer_pages; `snapshots.urls` for the loopback
rule) and Starlette.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Sequence
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reports import viewer_pages as pages
from reports.api import Api
from reports.render import render
from snapshots.urls import is_loopback

log = logging.getLogger(__name__)

# img-src 'self': a browser capture's screenshot, served by /captures/ID/screenshot.png.  The
# inert srcdoc frames carry their own stricter policy (reports.sanitize.FRAME_CSP, img-src
# data: only), which holds on top of this one: a captured page loads nothing, not even ours.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data: 'self'; frame-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'self'")
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"SAMEORIGIN"),
)
COOKIE = "takedown_token"
ALLOWED_METHODS = ("GET", "HEAD")
TOKEN_MIN_LENGTH = 16
_TOKEN = re.compile(r'[!#-+\--:<-\[\]-~]+')   # RFC 6265 cookie-octets: no space " , ; or backslash


def check_token(token: str) -> str:
    """*token*, if it may guard the viewer; else ValueError saying why.

    >>> check_token("s3cret")
    Traceback (most recent call last):
    ...
    ValueError: the token is 6 characters long: give at least 16 (secrets.token_urlsafe())
    >>> check_token("a token with spaces in it")
    Traceback (most recent call last):
    ...
    ValueError: the token may hold printable ASCII only, no whitespace, quotes, ',', ';' or '\\'
    """
    if len(token) < TOKEN_MIN_LENGTH:
        raise ValueError(f"the token is {len(token)} characters long: give at least "
                         f"{TOKEN_MIN_LENGTH} (secrets.token_urlsafe())")
    if not _TOKEN.fullmatch(token):
        raise ValueError("the token may hold printable ASCII only, no whitespace, quotes, "
                         "',', ';' or '\\'")
    return token


def login_location(path: str, query: list[tuple[str, str]]) -> str:
    """Where a token login redirects: *path* on this origin (one leading slash: a Location
    of ``//evil.example/`` is another site, ``/\\evil.example`` too to a browser),
    percent-encoded, and the *query* without the token.

    >>> login_location("//evil.example/a b", [("token", "t"), ("x", "1")])
    '/evil.example/a%20b?x=1'
    """
    rest = urlencode([(k, v) for k, v in query if k != "token"])
    return quote("/" + path.lstrip("/\\")) + ("?" + rest if rest else "")


def direct_token(path: str) -> bool:
    """Whether ``?token=`` is taken as is on *path* (the API and the feed), not redirected.

    >>> direct_token("/api/takedowns"), direct_token("/feed.atom"), direct_token("/apix")
    (True, True, False)
    """
    return path == "/feed.atom" or path.startswith("/api/")


def _host_name(host_header: str) -> str:
    """``[::1]:8080`` → ``::1``; ``127.0.0.1:8080`` → ``127.0.0.1``."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class ViewerGuard:
    """Methods, Host, token and security headers, around the whole app (module doc)."""

    def __init__(self, app: ASGIApp, token: str | None, hosts: Sequence[str] = ()) -> None:
        self.app, self.token = app, None if token is None else check_token(token)
        self.hosts = {h.strip("[]").lower() for h in hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def send_secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {k for k, _v in SECURITY_HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + list(SECURITY_HEADERS)}
            await send(message)

        try:
            refusal = self._refusal(scope)
            await (refusal or self.app)(scope, receive, send_secured)
        except Exception:  # logged whole; the client learns nothing of it
            log.error("%s %r failed", scope["method"], scope["path"], exc_info=True)
            if not started:
                await PlainTextResponse("internal error: see the server log\n", 500)(
                    scope, receive, send_secured)

    def _refusal(self, scope: Scope) -> Response | None:
        if scope["method"] not in ALLOWED_METHODS:
            return PlainTextResponse("method not allowed: the viewer is read-only\n", 405,
                                     headers={"Allow": ", ".join(ALLOWED_METHODS)})
        headers = Headers(scope=scope)
        if self.token is None:
            name = _host_name(headers.get("host", "")).lower()
            if not is_loopback(name) and name not in self.hosts:
                return PlainTextResponse("unexpected Host header\n", 400)
            return None
        return self._token_refusal(scope, headers)

    def _token_refusal(self, scope: Scope, headers: Headers) -> Response | None:
        assert self.token is not None
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and self._ok(auth[7:].strip()):
            return None
        cookie = SimpleCookie(headers.get("cookie", ""))
        if COOKIE in cookie and self._ok(cookie[COOKIE].value):
            return None
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                          keep_blank_values=True)
        given = [v for k, v in query if k == "token"]
        if given and self._ok(given[-1]):
            if direct_token(scope["path"]):
                return None
            response = RedirectResponse(login_location(scope["path"], query), 303)
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
            return response
        return PlainTextResponse("a token is required: ?token=… once, or "
                                 "Authorization: Bearer …\n", 401,
                                 headers={"WWW-Authenticate": "Bearer"})

    def _ok(self, given: str) -> bool:
        assert self.token is not None
        return hmac.compare_digest(given.encode(), self.token.encode())


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": exc.detail}, exc.status_code)
    body = render("viewer/error.html", title=f"{exc.status_code}", message=exc.detail,
                  **pages.helpers())
    return HTMLResponse(body, exc.status_code)


def create_app(store: Any, events: Sequence[Any] | None = None, token: str | None = None,
               *, hosts: Sequence[str] = ()) -> ASGIApp:
    """The viewer over *store* (a snapshots Store).  *events* (reports.events.Event) feed
    the takedown list's event filter; *token*, when given, is required on every request
    (ValueError if `check_token` refuses it); *hosts* are Host names accepted besides
    loopback when there is no token."""
    view = pages.Pages(store, list(events or ()))
    api = Api(view)
    routes = [
        Route("/", view.index, methods=["GET"]),
        Route("/targets/{name}", view.target, methods=["GET"]),
        Route("/urls/{url_id}", view.url, methods=["GET"]),
        Route("/takedowns", view.takedowns, methods=["GET"]),
        Route("/takedowns/{takedown_id}", view.takedown, methods=["GET"]),
        Route("/takedowns/{takedown_id}/evidence.wacz", view.evidence, methods=["GET"]),
        Route("/compare/{url_id}", view.compare, methods=["GET"]),
        Route("/captures/{capture_id}/raw", view.raw, methods=["GET"]),
        Route("/captures/{capture_id}/screenshot.png", view.screenshot, methods=["GET"]),
        Route("/api/takedowns", api.takedowns, methods=["GET"]),
        Route("/api/takedowns/{takedown_id}", api.takedown, methods=["GET"]),
        Route("/api/urls/{url_id}/captures", api.captures, methods=["GET"]),
        Route("/api/events", api.events, methods=["GET"]),
        Route("/feed.atom", api.feed, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    return ViewerGuard(app, token, hosts)
