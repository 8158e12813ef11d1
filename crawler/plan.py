"""What one round must fetch: per target, its spec and the URLs to revisit.

Built by ``crawler.run`` from the watchlist and the store, read by the spider and the
pipeline.  Imports ``crawler`` modules, ``snapshots.urls`` and (for types) ``snapshots.repo``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from crawler.probes import ProbeSite, probe_sites
from crawler.watchlist import CrawlSpec, TargetSpec
from snapshots.urls import normalize_url

if TYPE_CHECKING:
    from snapshots.repo import Store


ROUND = "*"   # the tally's pseudo-target of round-wide counters (never a target's name)


@dataclass
class RoundTally:
    """Per-target counters of one round (queued, captures, failed, new_blobs, bytes, and
    one per first-reading state), updated as requests are queued and captures stored, and
    round-wide ones under ``ROUND``: ``requests`` (fetches made: one per URL, however many
    targets reach it; retries are part of their fetch) and ``probe_requests``."""

    per_target: dict[str, Counter] = field(default_factory=dict)

    def add(self, target: str, **counts: int) -> None:
        self.per_target.setdefault(target, Counter()).update(counts)

    def total(self, key: str) -> int:
        return sum(c[key] for c in self.per_target.values())

    def targets(self) -> dict[str, Counter]:
        """The per-target counters (without the round-wide ones)."""
        return {n: c for n, c in self.per_target.items() if n != ROUND}

    @property
    def round(self) -> Counter:
        return self.per_target.get(ROUND, Counter())


@dataclass(frozen=True)
class TargetPlan:
    spec: TargetSpec
    target_id: int
    revisit: tuple[tuple[str, int], ...] = ()   # (normalised url, depth) seen alive lately
    # adaptive recheck (crawler.recheck): known URLs this round leaves alone (not due, or
    # deferred by the budget), and how many requests the budget still allows (None: no cap)
    adaptive: bool = False
    skip: frozenset[str] = frozenset()
    budget_left: int | None = None


@dataclass
class RoundPlan:
    round_id: int
    at: datetime
    crawl: CrawlSpec
    targets: list[TargetPlan]
    store: Store
    drop: dict[str, set[str]] = field(default_factory=dict)   # host → learned session params
    tally: RoundTally = field(default_factory=RoundTally)

    def target_id(self, name: str) -> int:
        return self._ids[name]

    def __post_init__(self) -> None:
        self._ids = {t.spec.name: t.target_id for t in self.targets}
        self._normal: dict[str, str | ValueError] = {}
        self._by_name = {t.spec.name: t for t in self.targets}
        # target → requests its budget still allows this round (spent as new links are
        # fetched); the URLs each adaptive target fetches (its planned ones are paid for)
        self._left = {t.spec.name: t.budget_left for t in self.targets
                      if t.budget_left is not None}
        self._deferred: dict[str, set[str]] = {}
        self._spent = {t.spec.name: {u for u, _d in t.revisit} | {self.seed(t)}
                       for t in self.targets if t.adaptive}

    def may_follow(self, name: str, url: str) -> bool:
        """Whether target *name* fetches *url*, a link it found: not when the URL is known
        and not due (or deferred), nor when its budget is spent (counted ``not_due`` and
        ``deferred`` in the tally, once per URL)."""
        t = self._by_name[name]
        if not t.adaptive:
            return True
        seen = self._spent[name]
        if url in seen:
            return True
        if url in t.skip:
            return False
        left = self._left.get(name)
        if left is not None:
            if left <= 0:
                if url not in self._deferred.setdefault(name, set()):
                    self._deferred[name].add(url)
                    self.tally.add(name, deferred=1)
                return False
            self._left[name] = left - 1
        seen.add(url)
        return True

    def seed(self, t: TargetPlan) -> str:
        """*t*'s seed URL normalised as the round reads it (as written when it cannot be)."""
        try:
            return self.normalize(t.spec.url)
        except ValueError:
            return t.spec.url

    def probes(self) -> list[ProbeSite]:
        """The round's not-found probes, one per site (see ``crawler.probes``)."""
        return probe_sites({t.spec.name: self.normalize(t.spec.url) for t in self.targets})

    def normalize(self, url: str) -> str:
        # pages repeat their navigation links: remember answers (and ValueErrors)
        hit = self._normal.get(url)
        if hit is None:
            host = (urlsplit(url).hostname or "").lower()
            try:
                hit = normalize_url(url, drop=self.drop.get(host, ()))
            except ValueError as exc:
                hit = exc
            if len(self._normal) < 200_000:
                self._normal[url] = hit
        if isinstance(hit, ValueError):
            raise hit
        return hit
