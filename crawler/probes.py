"""The not-found probes of a round: one URL that cannot exist per site, fetched once.

What a site answers at such a URL is its not-found page (a soft 404 when it answers 200);
the diff engine compares pages with it.  The probe is fetched once per site and round and
recorded for every target of the site.

The site of a target, from the seed URLs of all targets:

- its origin (scheme, host, port), when every target on that origin has its seed under
  the same first path segment, or one of them has its seed in the root folder (a target
  watching ``/`` or ``/index.html`` claims the whole host);
- otherwise the origin plus the seed's first path segment: one host serving several sites
  under different prefixes (``/forum/``, ``/gov/``, ``/weibo/``) has one site a prefix.

A site's probe lies in the deepest folder its targets' seeds share, with their extension
when they all have the same one: the page type the seeds are (``/wx/account/``, ``.php``)
is the one whose not-found page matters.  Imports only the standard library.
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

PROBE_DEPTH = 99   # deeper than any target: a probe's links are never followed


@dataclass(frozen=True)
class ProbeSite:
    key: str                    # origin, or origin + first path segment
    url: str                    # its probe
    targets: tuple[str, ...]    # target names, in watchlist order


def probe_url(seed: str, key: str) -> str:
    """A URL beside *seed* that cannot exist, stable per *key* (one URL row a target).

    >>> probe_url("http://127.0.0.1:8/gov/news/list.html?p=2", "gov")
    'http://127.0.0.1:8/gov/news/takedown-probe-65d0a36c13.html'
    """
    parts = urlsplit(seed)
    folder, _, last = parts.path.rpartition("/")
    return _probe(parts.scheme, parts.netloc, f"{folder}/", _ext(last), key)


def _probe(scheme: str, netloc: str, folder: str, ext: str, key: str) -> str:
    token = hashlib.sha256(f"takedown-probe:{key}".encode()).hexdigest()[:10]
    return urlunsplit((scheme, netloc, f"{folder}takedown-probe-{token}{ext}", "", ""))


def _ext(last: str) -> str:
    return last[last.rfind("."):] if "." in last else ""


def _folder(path: str) -> str:
    return path.rpartition("/")[0] + "/"


def _first_segment(folder: str) -> str:
    """'' for the root folder."""
    return folder.split("/")[1] if folder.count("/") > 1 else ""


def site_keys(seeds: dict[str, str]) -> dict[str, str]:
    """Target name -> site key, from the targets' normalised seed URLs.

    >>> site_keys({"a": "http://h/forum/index.php", "b": "http://h/gov/list.html",
    ...            "c": "http://h/gov/news/1.html", "d": "http://other:81/x/y"})
    {'a': 'http://h/forum/', 'b': 'http://h/gov/', 'c': 'http://h/gov/', 'd': 'http://other:81/'}
    >>> site_keys({"a": "http://h/index.html", "b": "http://h/gov/list.html"})
    {'a': 'http://h/', 'b': 'http://h/'}
    """
    origins: dict[str, dict[str, str]] = {}
    for name, seed in seeds.items():
        parts = urlsplit(seed)
        origin = f"{parts.scheme}://{parts.netloc}/"
        origins.setdefault(origin, {})[name] = _first_segment(_folder(parts.path))
    out: dict[str, str] = {}
    for origin, firsts in origins.items():
        whole = len(set(firsts.values())) == 1 or "" in firsts.values()
        for name, first in firsts.items():
            out[name] = origin if whole else f"{origin}{first}/"
    return {name: out[name] for name in seeds}


def probe_sites(seeds: dict[str, str]) -> list[ProbeSite]:
    """The round's probes: one per site, with the targets it is recorded for.

    >>> [(s.url, s.targets) for s in probe_sites({
    ...     "wx-a": "http://h/wx/account/a", "wx-b": "http://h/wx/account/b",
    ...     "gov": "http://h/gov/news/list.html"})]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('http://h/wx/account/takedown-probe-ff4e370c1a', ('wx-a', 'wx-b')),
     ('http://h/gov/news/takedown-probe-e00931a2a4.html', ('gov',))]
    """
    keys = site_keys(seeds)
    members: dict[str, list[str]] = {}
    for name in seeds:
        members.setdefault(keys[name], []).append(name)
    return [ProbeSite(key, _site_probe(key, [seeds[n] for n in names]), tuple(names))
            for key, names in members.items()]


def _site_probe(key: str, seeds: list[str]) -> str:
    paths = [urlsplit(s).path or "/" for s in seeds]
    folder = posixpath.commonpath([_folder(p) for p in paths])
    folder = folder if folder.endswith("/") else folder + "/"
    exts = {_ext(p.rpartition("/")[2]) for p in paths}
    parts = urlsplit(seeds[0])
    return _probe(parts.scheme, parts.netloc, folder, exts.pop() if len(exts) == 1 else "",
                  key)
