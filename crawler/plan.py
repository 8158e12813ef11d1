"""What one round must fetch: per target, its spec and the URLs to revisit.

Built by ``crawler.run`` from the watchlist and the store, read by the spider and the
pipeline.  Imports only ``crawler`` modules.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from crawler.watchlist import CrawlSpec, TargetSpec
from snapshots.urls import normalize_url

if TYPE_CHECKING:
    from snapshots.repo import Store


@dataclass
class RoundTally:
    """Per-target counters of one round (queued, captures, failed, new_blobs, bytes, and
    one per first-reading state), updated as requests are queued and captures stored."""

    per_target: dict[str, Counter] = field(default_factory=dict)

    def add(self, target: str, **counts: int) -> None:
        self.per_target.setdefault(target, Counter()).update(counts)

    def total(self, key: str) -> int:
        return sum(c[key] for c in self.per_target.values())


@dataclass(frozen=True)
class TargetPlan:
    spec: TargetSpec
    target_id: int
    revisit: tuple[tuple[str, int], ...] = ()   # (normalised url, depth) seen alive lately


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
