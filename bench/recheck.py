"""Recheck benchmark: adaptive rounds against fixed-interval rounds at equal requests a day.

A simulated account posts ``POSTS_A_DAY`` posts a day (Poisson) for ``DAYS`` days on one
listing; ``REMOVED`` of them are removed, at ages drawn (seeded) like Weibo deletions: 30 %
within 5–30 minutes, 60 % between 30 minutes and a day, 10 % between one and seven days
(log-uniform within each band).  A removed post leaves the listing and its page answers
404.  Two crawlers watch it:

- adaptive: a round every 5 minutes (the scheduler's default tick) fetching the listing when
  due, every new link on it, and the known posts the real policy says are due
  (``snapshots.recheck``: ``next_check``, ``choose``; the crawler's own functions);
- fixed: a round every ``I`` fetching the listing and every known post (today's behaviour
  with ``--fixed``), ``I`` chosen so that it makes as many requests over the run as the
  adaptive crawler did.

For every removed post: the lag from its removal to the first fetch that saw its page gone,
and whether some fetch captured it alive first.  Goal: the adaptive median lag at least
``GOAL`` times shorter, its capture share no lower.  A discrete-event simulation: no
network; the figures depend only on ``SEED``.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from snapshots.recheck import Bounds, Candidate, choose, next_check

SEED = 20260307
DAYS = 7
POSTS_A_DAY = 60
REMOVED = 0.4
TICK = timedelta(minutes=5)
GOAL = 4.0
START = datetime(2026, 3, 1, tzinfo=UTC)
M = timedelta(minutes=1)


@dataclass
class Post:
    url: str
    born: datetime
    removed: datetime | None
    next_at: datetime | None = None   # adaptive: when due again
    captured: bool = False            # fetched alive at least once
    seen_gone: datetime | None = None


def removal_age(rng: random.Random) -> timedelta:
    """A deletion age: 30 % in 5–30 min, 60 % in 30 min–1 day, 10 % in 1–7 days."""
    band = rng.random()
    low, high = ((5, 30) if band < 0.3 else (30, 1440) if band < 0.9 else (1440, 10080))
    return M * math.exp(rng.uniform(math.log(low), math.log(high)))


def make_posts(seed: int = SEED) -> list[Post]:
    rng = random.Random(seed)
    posts, at, end = [], START, START + timedelta(days=DAYS)
    while True:
        at += timedelta(days=rng.expovariate(POSTS_A_DAY))
        if at >= end:
            return posts
        removed = at + removal_age(rng) if rng.random() < REMOVED else None
        posts.append(Post(f"/p/{len(posts)}.html", at, removed))


def _fetch(p: Post, at: datetime) -> None:
    if p.removed is not None and at >= p.removed:
        p.seen_gone = p.seen_gone or at
    else:
        p.captured = True


def _listed(posts: list[Post], at: datetime) -> list[Post]:
    return [p for p in posts if p.born <= at and (p.removed is None or at < p.removed)]


def run_adaptive(posts: list[Post], bounds: Bounds | None = None) -> int:
    """Rounds every TICK with the real policy; the requests made."""
    bounds = bounds or Bounds()
    known: dict[str, Post] = {}
    listing_next: datetime | None = None
    requests, at, end = 0, START, START + timedelta(days=DAYS)
    while at < end:
        if listing_next is None or listing_next - bounds.early <= at:
            requests += 1
            listing_next = at + bounds.listing_every
            for p in _listed(posts, at):
                if p.url not in known:          # a new link: fetched at once
                    known[p.url] = p
                    requests += 1
                    _fetch(p, at)
                    p.next_at = next_check(at, p.born, None, False, bounds)
        cands = [Candidate(p.url, 1, p.next_at, p.born) for p in known.values()]
        fetched, _waiting, _deferred = choose(cands, at, bounds, None)
        for c in fetched:
            p = known[c.url]
            if p.next_at is not None and p.next_at - bounds.early > at:
                continue
            requests += 1
            _fetch(p, at)
            p.next_at = next_check(at, p.born, None, False, bounds)
        at += TICK
    return requests


def run_fixed(posts: list[Post], every: timedelta) -> int:
    """Rounds every *every* fetching the listing and every known post; requests made."""
    known: dict[str, Post] = {}
    requests, at, end = 0, START, START + timedelta(days=DAYS)
    while at < end:
        requests += 1
        for p in _listed(posts, at):
            known.setdefault(p.url, p)
        for p in known.values():
            requests += 1
            _fetch(p, at)
        at += every
    return requests


def outcome(posts: list[Post]) -> dict:
    removed = [p for p in posts if p.removed is not None
               and p.removed < START + timedelta(days=DAYS)]
    lags = sorted((p.seen_gone - p.removed).total_seconds() / 60 for p in removed
                  if p.seen_gone is not None)
    return {"removed": len(removed), "detected": len(lags),
            "median_lag_min": round(statistics.median(lags), 1),
            "p90_lag_min": round(lags[int(0.9 * (len(lags) - 1))], 1),
            "captured_share": round(sum(p.captured for p in removed) / len(removed), 3)}


def matched_fixed(target: int) -> tuple[timedelta, int, list[Post]]:
    """The fixed interval (whole minutes) whose requests come closest to *target*."""
    best = None
    lo, hi = 5, 24 * 60
    while lo <= hi:
        mid = (lo + hi) // 2
        posts = make_posts()
        n = run_fixed(posts, mid * M)
        if best is None or abs(n - target) < abs(best[1] - target):
            best = (mid * M, n, posts)
        if n > target:
            lo = mid + 1
        else:
            hi = mid - 1
    assert best is not None
    return best


def run() -> dict:
    posts = make_posts()
    adaptive_requests = run_adaptive(posts)
    adaptive = outcome(posts) | {"requests_a_day": round(adaptive_requests / DAYS)}
    every, fixed_requests, fixed_posts = matched_fixed(adaptive_requests)
    fixed = outcome(fixed_posts) | {"requests_a_day": round(fixed_requests / DAYS),
                                    "every_min": int(every / M)}
    ratio = fixed["median_lag_min"] / max(adaptive["median_lag_min"], 0.1)
    p90_ratio = fixed["p90_lag_min"] / max(adaptive["p90_lag_min"], 0.1)
    figures = {"posts": len(posts), "adaptive": adaptive, "fixed": fixed,
               "median_lag_ratio": round(ratio, 2), "p90_lag_ratio": round(p90_ratio, 2),
               "goal": GOAL,
               "met": ratio >= GOAL and adaptive["captured_share"] >= fixed["captured_share"]}
    _print(figures)
    return figures


def _print(f: dict) -> None:
    print(f"recheck: {f['posts']} posts over {DAYS} days, "
          f"{f['adaptive']['removed']} removed (seed {SEED})")
    for name in ("adaptive", "fixed"):
        r = f[name]
        extra = f", every {r['every_min']} min" if name == "fixed" else ", tick 5 min"
        print(f"  {name:8} {r['requests_a_day']:6} requests/day{extra}: median lag "
              f"{r['median_lag_min']} min, p90 {r['p90_lag_min']} min, captured before "
              f"removal {r['captured_share']:.1%} ({r['detected']}/{r['removed']} detected)")
    print(f"  median lag ratio {f['median_lag_ratio']}× (goal ≥ {f['goal']}×), p90 ratio "
          f"{f['p90_lag_ratio']}×; goal {'met' if f['met'] else 'NOT met'}")


def main() -> None:
    run()


if __name__ == "__main__":
    main()
