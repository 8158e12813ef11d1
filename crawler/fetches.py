"""One fetch per URL per round, shared by every target that reaches the URL.

A target *claims* a URL (with its depth, how it got there, and whether it merely found a
link to it); the first claim of a URL starts its fetch, later claims join it.  When the
response (or failure) arrives it is recorded once per claim and each claiming target
follows its links by its own rules.  A claim that arrives after the fetch completed reuses
it: ``FetchCache`` keeps the latest completed fetches (bounded in bytes), the store holds
the rest.  Targets that ask for a URL differently (their own headers, proxy or robots.txt
opt-out) never share a fetch: the *fetch key* is the URL prefixed with the target's
request profile.

``FetchBook`` is the claims registry of a round crawled in one process; a distributed round
keeps the same registry in Redis (``crawler.frontier``).  Imports ``crawler.watchlist`` and
``snapshots.records``.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.watchlist import TargetSpec
    from snapshots.records import NewCapture

# what a claim asks the spider to do
NEW = "new"            # the URL's first claim: fetch it
JOINED = "joined"      # the fetch is under way: its response will be recorded for this claim
LOWERED = "lowered"    # the fetch is under way; this target now reaches it less deep
REUSE = "reuse"        # the fetch completed: record it for this target, follow its links
REFOLLOW = "refollow"  # completed and recorded for this target: follow its links deeper
FIRST = frozenset({NEW, JOINED, REUSE})   # a target's first claim of a fetch (it counts)

CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Claim:
    """One target's interest in a URL this round."""

    target: str
    depth: int
    via: str               # seed | revisit | link | probe
    discovered: bool = False   # reached through a link (robots.txt may forbid it silently)


def fetch_profile(spec: TargetSpec) -> str:
    """How *spec* asks for its pages: "" for the plain way, else a short digest of its
    headers, proxy, robots.txt opt-out, cookies file and browser rendering (targets with
    another profile fetch apart).

    >>> from crawler.watchlist import TargetSpec
    >>> fetch_profile(TargetSpec("a", "http://x.test/"))
    ''
    >>> len(fetch_profile(TargetSpec("b", "http://x.test/", robots=False)))
    8
    """
    browser = ([spec.render, spec.wait_for, spec.screenshot] if spec.render != "plain"
               else [])
    if not spec.headers and not spec.proxy and spec.robots and not spec.cookies \
            and not browser:
        return ""
    # the cookies file's path, never its values: another file, another profile
    extra = [spec.cookies, *browser] if spec.cookies or browser else []
    raw = json.dumps([sorted(spec.headers), spec.proxy, spec.robots, *extra])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:8]


def fetch_key(profile: str, url: str) -> str:
    """The key of the one fetch of *url* for targets of request profile *profile*.

    >>> fetch_key("", "http://x.test/a"), fetch_key("0f3a9c1d", "http://x.test/a")
    ('http://x.test/a', '0f3a9c1d http://x.test/a')
    """
    return f"{profile} {url}" if profile else url


def for_claim(template: NewCapture, claim: Claim) -> NewCapture:
    """The capture of *claim*'s target made of a fetch (*template*)."""
    return replace(template, target=claim.target, depth=claim.depth, via=claim.via)


def dropped(template: NewCapture, claim: Claim) -> bool:
    """Whether *claim* gets no capture of this fetch: a link robots.txt forbids was never
    the target's to watch (a seed or revisit it forbids is recorded as failed)."""
    return template.error_kind == "robots" and claim.discovered


@dataclass
class _Fetch:
    claims: dict[str, Claim] = field(default_factory=dict)
    done: bool = False


class FetchBook:
    """The claims of one round crawled in this process, by fetch key.

    >>> book = FetchBook()
    >>> book.claim("u", Claim("a", 1, "link")), book.claim("u", Claim("b", 0, "seed"))
    ('new', 'joined')
    >>> [c.target for c in book.take("u")]
    ['a', 'b']
    >>> book.claim("u", Claim("c", 2, "link")), book.claim("u", Claim("a", 0, "link"))
    ('reuse', 'refollow')
    >>> book.claim("u", Claim("a", 1, "link")) is None
    True
    """

    def __init__(self) -> None:
        self._fetches: dict[str, _Fetch] = {}

    def claim(self, key: str, claim: Claim) -> str | None:
        """Record *claim* on fetch *key*; what the spider must do, or None (the target
        already reaches it at least as shallow)."""
        fetch = self._fetches.setdefault(key, _Fetch())
        old = fetch.claims.get(claim.target)
        if old is not None and old.depth <= claim.depth:
            return None
        # a deeper-reaching claim keeps how the target first came (its capture's via)
        fetch.claims[claim.target] = claim if old is None else replace(old, depth=claim.depth)
        if old is None:
            return REUSE if fetch.done else (NEW if len(fetch.claims) == 1 else JOINED)
        return REFOLLOW if fetch.done else LOWERED

    def take(self, key: str) -> list[Claim]:
        """The fetch *key* completed: its claims, to record it for (later ones reuse it)."""
        fetch = self._fetches.setdefault(key, _Fetch())
        fetch.done = True
        return list(fetch.claims.values())

    def __len__(self) -> int:
        return len(self._fetches)


class FetchCache:
    """The latest completed fetches as capture templates, at most *max_bytes* of bodies
    and texts; the oldest go first (a late claim of those reads the store instead)."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[str, tuple[NewCapture, int]] = OrderedDict()

    def put(self, key: str, template: NewCapture) -> None:
        cost = len(template.body or b"") + len(template.text or "") + 512
        old = self._items.pop(key, None)
        if old is not None:
            self.size -= old[1]
        if cost > self.max_bytes:
            return
        self._items[key] = (template, cost)
        self.size += cost
        while self.size > self.max_bytes:
            _, (_, freed) = self._items.popitem(last=False)
            self.size -= freed

    def get(self, key: str) -> NewCapture | None:
        hit = self._items.get(key)
        if hit is None:
            return None
        self._items.move_to_end(key)
        return hit[0]

    def clear(self) -> None:
        self._items.clear()
        self.size = 0
