"""A target's ``cookies = "FILE"``: a Netscape cookies.txt, read at each crawl.

The format browsers' export extensions, curl (``-c``) and wget (``--save-cookies``) write:
one cookie a line, seven fields separated by tabs::

    # Netscape HTTP Cookie File
    .example.org	TRUE	/	FALSE	1767225600	session	abc123

domain, whether subdomains match, path, secure only, expiry (Unix seconds, 0 for a session
cookie), name, value. Lines starting with ``#`` are comments, except curl's ``#HttpOnly_``
prefix of the domain. Cookie values are secrets: they are sent with the target's requests
and never stored in a capture, an export, a report or a log line, and no error message
here quotes one. Imports nothing of ours.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["Cookie", "CookieFileError", "cookie_header", "parse_cookie_text",
           "read_cookie_file"]

MAX_COOKIE_FILE = 1 << 20   # bytes: a cookies file is small; a larger one is a wrong path
HTTPONLY = "#HttpOnly_"


class CookieFileError(ValueError):
    """A cookies file that cannot be read or is not in the Netscape format."""


@dataclass(frozen=True)
class Cookie:
    domain: str
    include_subdomains: bool
    path: str
    secure: bool
    expires: int        # Unix seconds; 0: a session cookie
    name: str
    value: str
    http_only: bool = False

    def __repr__(self) -> str:   # never a value in a log line or a traceback
        return f"Cookie({self.domain!r}, {self.path!r}, {self.name!r}, value=<hidden>)"

    def matches(self, url: str, now: float) -> bool:
        """Whether a browser would send this cookie with a request of *url* at *now*.

        >>> c = Cookie(".x.test", True, "/a", True, 0, "sid", "v")
        >>> c.matches("https://w.x.test/a/b", 0), c.matches("http://x.test/a", 0)
        (True, False)
        >>> c.matches("https://x.test/ab", 0), Cookie("x.test", False, "/", False, 9,
        ...     "n", "v").matches("http://w.x.test/", 0)
        (False, False)
        """
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        domain = self.domain.lower().lstrip(".")
        if self.secure and parts.scheme != "https":
            return False
        if 0 < self.expires <= now:
            return False
        subdomain = (self.include_subdomains or self.domain.startswith(".")) \
            and host.endswith("." + domain)
        if host != domain and not subdomain:
            return False
        path = parts.path or "/"
        prefix = self.path.rstrip("/")
        return path == self.path or path.startswith(prefix + "/") or self.path == "/"

    def as_playwright(self) -> dict:
        """This cookie as Playwright's ``BrowserContext.add_cookies`` takes it."""
        out = {"name": self.name, "value": self.value, "domain": self.domain,
               "path": self.path, "secure": self.secure, "httpOnly": self.http_only}
        if self.expires > 0:
            out["expires"] = self.expires
        return out


def cookie_header(cookies: tuple[Cookie, ...], url: str, now: float | None = None) -> str | None:
    r"""The ``Cookie`` header of a request of *url*: the cookies matching its host, path and
    scheme that have not expired, longest path first; None when none matches.

    >>> jar = parse_cookie_text("x.test\tFALSE\t/\tFALSE\t0\ta\t1\n"
    ...                         "x.test\tFALSE\t/p\tFALSE\t0\tb\t2\n")
    >>> cookie_header(jar, "http://x.test/p/1"), cookie_header(jar, "http://y.test/")
    ('b=2; a=1', None)
    """
    now = time.time() if now is None else now
    found = sorted((c for c in cookies if c.matches(url, now)), key=lambda c: -len(c.path))
    return "; ".join(f"{c.name}={c.value}" for c in found) or None


def _sendable(name: str, value: str) -> bool:
    """Whether a cookie can go in a ``Cookie`` header as it is (RFC 6265: HTTP headers are
    bytes, and a browser refuses what a header cannot carry).

    >>> _sendable("sid", "a b"), _sendable("s id", "x"), _sendable("sid", "值"), _sendable("", "x")
    (True, False, False, False)
    """
    return (bool(name) and all("!" <= c <= "~" and c not in ";=" for c in name)
            and all(" " <= c <= "~" and c != ";" for c in value))


def read_cookie_file(path: str | Path) -> tuple[Cookie, ...]:
    """The cookies of the file at *path*; `CookieFileError` saying why it cannot be used."""
    try:
        if not Path(path).is_file():   # a folder, a FIFO or a device would block or mislead
            what = "is not a regular file" if Path(path).exists() else "does not exist"
            raise CookieFileError(f"{str(path)!r} {what}")
        with open(path, "rb") as handle:
            data = handle.read(MAX_COOKIE_FILE + 1)
    except OSError as exc:
        raise CookieFileError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    if len(data) > MAX_COOKIE_FILE:
        raise CookieFileError(f"{str(path)!r} is over {MAX_COOKIE_FILE} bytes: not a cookies file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CookieFileError(f"{str(path)!r} is not UTF-8 text") from None
    return parse_cookie_text(text, str(path))


def parse_cookie_text(text: str, name: str = "<string>") -> tuple[Cookie, ...]:
    r"""The cookies of Netscape cookies.txt *text*.

    >>> c, = parse_cookie_text("# Netscape HTTP Cookie File\n"
    ...                        "#HttpOnly_.x.test\tTRUE\t/\tFALSE\t0\tsid\ts3cret\n")
    >>> c.domain, c.name, c.http_only, c
    ('.x.test', 'sid', True, Cookie('.x.test', '/', 'sid', value=<hidden>))
    >>> parse_cookie_text("x.test TRUE / FALSE 0 sid s3cret\n", "c.txt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    crawler.cookies.CookieFileError: c.txt:1: not a cookies.txt line: 1 tab-separated fields...
    """
    cookies = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        http_only = line.startswith(HTTPONLY)
        if http_only:
            line = line[len(HTTPONLY):]
        elif not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) == 6:        # a cookie without a value
            fields.append("")
        if len(fields) != 7:
            raise CookieFileError(f"{name}:{number}: not a cookies.txt line: {len(fields)} "
                                  "tab-separated fields, 7 expected")
        domain, sub, path, secure, expires, cookie_name, value = fields
        where = f"{name}:{number}"
        if not domain.strip() or any(c.isspace() for c in domain):
            raise CookieFileError(f"{where}: no domain")
        if not _sendable(cookie_name, value) or not domain.isascii():
            raise CookieFileError(f"{where}: a cookie name, value or domain that cannot be "
                                  "sent (printable ASCII, no ';'; a name without '=' or "
                                  "spaces; a domain in ASCII, as punycode)")
        flags = []
        for label, flag in (("subdomains", sub), ("secure", secure)):
            if flag.upper() not in ("TRUE", "FALSE"):
                raise CookieFileError(f"{where}: the {label} field is {flag!r}, not TRUE or FALSE")
            flags.append(flag.upper() == "TRUE")
        try:
            stamp = int(expires or 0)
        except ValueError:
            raise CookieFileError(f"{where}: the expiry {expires!r} is not Unix seconds") from None
        cookies.append(Cookie(domain, flags[0], path or "/", flags[1], max(stamp, 0),
                              cookie_name, value, http_only))
    if not cookies:
        raise CookieFileError(f"{name} holds no cookie")
    return tuple(cookies)
