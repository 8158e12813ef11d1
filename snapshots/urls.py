"""URL normalisation, and learning which query parameters only carry session state.

:func:`normalize_url` gives every watched URL one spelling, so that the same page found
through differently written links is captured, compared and reported as one URL.
:func:`param_changes` and :func:`volatile_params` learn, from the links of one page in two
consecutive rounds, which further parameters behave like session tokens (their value
changes every round), to be passed to ``normalize_url(drop=...)``.

Pure functions over strings; imports only the standard library.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter, defaultdict
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "SESSION_PARAMS",
    "is_session_param",
    "normalize_url",
    "param_changes",
    "volatile_params",
]

SESSION_PARAMS: frozenset[str] = frozenset(
    {
        "sid", "sessionid", "session_id", "phpsessid", "jsessionid", "aspsessionid",
        "cfid", "cftoken", "formhash",
        "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
        "fbclid", "gclid", "msclkid", "spm", "_hsenc", "_hsmi", "mc_cid", "mc_eid",
    }
)  # fmt: skip
"""Lower-case names of parameters that carry only session or tracking state.

Any other name starting with ``utm_`` is treated the same (see :func:`is_session_param`).
"""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = "!$&'()*+,;="
_PATH_SAFE = _UNRESERVED | frozenset(_SUB_DELIMS + ":@/")
_QUERY_SAFE = _PATH_SAFE | frozenset("?")
_ESCAPE_RE = re.compile(r"%([0-9A-Fa-f]{2})")

Link = tuple[str, str]  # (anchor text, URL)
LinkKey = tuple[str, str, str, frozenset[str]]  # (anchor text, host, path, parameter names)
Params = dict[str, list[str]]  # values of each parameter name


def is_session_param(name: str, drop: Iterable[str] = ()) -> bool:
    """Whether parameter ``name`` (raw or percent-encoded, any case) is to be dropped.

    >>> is_session_param("PHPSESSID"), is_session_param("utm_id"), is_session_param("tid")
    (True, True, False)
    >>> is_session_param("TID", drop={"tid"})
    True
    """
    return _dropped(name, frozenset(d.lower() for d in drop))


def _dropped(name: str, drop: frozenset[str]) -> bool:
    key = unquote(name).lower()
    return key in SESSION_PARAMS or key.startswith("utm_") or key in drop


def normalize_url(url: str, drop: Iterable[str] = ()) -> str:
    """The canonical spelling of an http(s) URL.

    Lower-cases scheme and host, drops a default port, the fragment, session and tracking
    parameters (:data:`SESSION_PARAMS`, ``utm_*`` and the names in ``drop``, in the query
    or as ``;name=value`` path parameters) and an empty query; sorts the other query
    parameters by name (repeated names keep their order); resolves ``.`` and ``..``
    segments; makes percent-encoding canonical (RFC 3986 section 6.2.2: unreserved
    characters decoded, other escapes upper-cased, characters that may not appear raw
    encoded as UTF-8). Path case, ``+`` and blank values are kept.

    >>> normalize_url("HTTP://Example.COM:80/a/./b/../C?b=2&a=1&utm_source=x#top")
    'http://example.com/a/C?a=1&b=2'
    >>> normalize_url("https://example.com")
    'https://example.com/'
    >>> normalize_url("http://example.com/shop;jsessionid=0A1B?q=%7e%2f&empty=&flag")
    'http://example.com/shop?empty=&flag&q=~%2F'
    >>> normalize_url("http://example.com/新闻 list?标题=a b")
    'http://example.com/%E6%96%B0%E9%97%BB%20list?%E6%A0%87%E9%A2%98=a%20b'
    >>> normalize_url("http://bbs.example/viewthread.php?tid=7&k=abc", drop=["K"])
    'http://bbs.example/viewthread.php?tid=7'
    >>> normalize_url("ftp://example.com/")
    Traceback (most recent call last):
    ...
    ValueError: not an http(s) URL: 'ftp://example.com/'
    """
    drop = frozenset(d.lower() for d in drop)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    path = _remove_dot_segments(_strip_path_params(_canonical(parts.path, _PATH_SAFE), drop))
    query = _normalize_query(parts.query, drop)
    return urlunsplit((scheme, _netloc(parts.netloc, scheme), path or "/", query, ""))


def _netloc(netloc: str, scheme: str) -> str:
    """Lower-case host, IDNA-encoded where possible, without the scheme's default port."""
    userinfo, _, hostport = netloc.rpartition("@")
    parts = urlsplit(f"//{hostport}")
    host = _ascii_host(parts.hostname or "")
    port = parts.port  # raises ValueError on a port that is not a number in range
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{userinfo}@{host}" if userinfo else host


def _ascii_host(host: str) -> str:
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:  # not IDNA-encodable: keep it, lower-cased by urlsplit
        return host


def _canonical(text: str, safe: frozenset[str]) -> str:
    """Percent-encoding made canonical; characters in ``safe`` may stay raw.

    >>> _canonical("%7e%2f%zz é", _PATH_SAFE)
    '~%2F%25zz%20%C3%A9'
    """
    out = []
    index = 0
    while index < len(text):
        escape = _ESCAPE_RE.match(text, index)
        if escape is not None:
            char = chr(int(escape[1], 16))
            out.append(char if char in _UNRESERVED else escape[0].upper())
            index += 3
            continue
        char = text[index]
        out.append(char if char in safe else "".join(f"%{b:02X}" for b in char.encode()))
        index += 1
    return "".join(out)


def _strip_path_params(path: str, drop: frozenset[str]) -> str:
    """Remove ``;name=value`` session parameters from every path segment."""
    if ";" not in path:
        return path
    segments = []
    for segment in path.split("/"):
        head, *params = segment.split(";")
        kept = [p for p in params if not ("=" in p and _dropped(p.split("=")[0], drop))]
        segments.append(";".join([head, *kept]))
    return "/".join(segments)


def _remove_dot_segments(path: str) -> str:
    """Resolve ``.`` and ``..`` segments of an absolute path (RFC 3986 section 5.2.4).

    >>> _remove_dot_segments("/a/b/../../../c/./d/.."), _remove_dot_segments("/a//b/.")
    ('/c/', '/a//b/')
    """
    if not path:
        return path
    segments = path.split("/")[1:]
    out: list[str] = []
    for position, segment in enumerate(segments, start=1):
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
            continue
        if position == len(segments):  # a trailing "." or ".." leaves a directory path
            out.append("")
    return "/" + "/".join(out)


def _normalize_query(query: str, drop: frozenset[str]) -> str:
    """Canonical query: session parameters dropped, the rest sorted stably by name."""
    fields = [_canonical(field, _QUERY_SAFE) for field in query.split("&") if field]
    kept = [field for field in fields if not _dropped(field.split("=")[0], drop)]
    return "&".join(sorted(kept, key=lambda field: field.split("=")[0]))


# -- learning session parameters ----------------------------------------------------------

def param_changes(
    old_links: Sequence[Link], new_links: Sequence[Link]
) -> tuple[Counter[str], Counter[str]]:
    """Count, per parameter name, how often its value changed between two rounds.

    ``old_links`` and ``new_links`` are the ``(anchor text, URL)`` links found on the
    same page in two consecutive rounds. A link is matched with the link of the other
    round that has the same anchor text, host, path and set of parameter names; a link
    whose key is not unique in both rounds (say ten "reply" links) is left out, since
    pairing those up by guess would make thread ids look volatile. Returns
    ``(changed, seen)``: for each lower-cased parameter name, the number of matched pairs
    in which its value differed, and the number of matched pairs that had it.

    >>> old = [("Home", "http://b.example/index.php?sid=a1"),
    ...        ("Thread 1", "http://b.example/t.php?tid=1&sid=a1")]
    >>> new = [("Home", "http://b.example/index.php?sid=b2"),
    ...        ("Thread 1", "http://b.example/t.php?tid=1&sid=b2")]
    >>> changed, seen = param_changes(old, new)
    >>> sorted(changed.items()), sorted(seen.items())
    ([('sid', 2)], [('sid', 2), ('tid', 1)])
    """
    old, new = _unique_links(old_links), _unique_links(new_links)
    changed: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for key in old.keys() & new.keys():
        before, after = old[key], new[key]
        for name in before:
            seen[name] += 1
            if before[name] != after[name]:
                changed[name] += 1
    return changed, seen


def volatile_params(
    changed: Counter[str], seen: Counter[str], min_seen: int = 3, min_ratio: float = 0.8
) -> set[str]:
    """Names whose value changed in at least ``min_ratio`` of ``min_seen`` or more pairs.

    >>> volatile_params(Counter(sid=4, tid=0), Counter(sid=4, tid=4))
    {'sid'}
    >>> volatile_params(Counter(token=2), Counter(token=2))  # too few observations
    set()
    """
    return {
        name
        for name, count in seen.items()
        if count >= min_seen and changed[name] / count >= min_ratio
    }


def _unique_links(links: Iterable[Link]) -> dict[LinkKey, Params]:
    """Links with parameters keyed by (anchor, host, path, names); ambiguous keys left out."""
    found: dict[LinkKey, list[Params]] = defaultdict(list)
    for anchor, url in links:
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError:
            continue
        params = _params(parts.query)
        if params:
            key = (" ".join(anchor.split()), host, parts.path, frozenset(params))
            found[key].append(params)
    return {key: group[0] for key, group in found.items() if len(group) == 1}


def _params(query: str) -> Params:
    """Values of each lower-cased parameter name, encoding made canonical."""
    params: Params = defaultdict(list)
    for field in query.split("&"):
        if field:
            name, _, value = _canonical(field, _QUERY_SAFE).partition("=")
            params[unquote(name).lower()].append(value)
    return dict(params)


def is_loopback(host: str | None) -> bool:
    """Whether *host* (a name or an address, IPv6 with or without brackets) is this machine:
    the one rule for the crawler's loopback guard, the viewer's Host check and the demo
    server's binding.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("example.org")
    (True, True, False)
    """
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
