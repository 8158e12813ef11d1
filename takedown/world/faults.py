"""Transient faults a crawl must shrug off: 500, 503, 429 with Retry-After, timeouts,
connection resets, and anti-bot challenge pages (200 or 403).  Which (round, page) gets
one is drawn from the seed; none in the first round nor the last, so every page is seen
whole at least at both ends.  None of them may ever become a takedown.

Imports the stdlib, `takedown.demo.server` and `takedown.world.markup`.
"""

from __future__ import annotations

import random
import threading

from takedown.demo.server import Reply
from takedown.world.markup import esc

FAULTS = ("500", "503", "429", "timeout", "reset", "challenge200", "challenge403")
WEIGHTS = (3, 2, 2, 1, 1, 2, 2)
CHALLENGES = (
    ("访问过于频繁，请稍后再试", "<p>访问过于频繁，请稍后再试</p><p>请完成下方验证后继续访问</p>"),
    ("Just a moment...", "<h1>Just a moment...</h1><p>Enable JavaScript and cookies to "
                         "continue</p><noscript>checking your browser</noscript>"),
)


def challenge(rng: random.Random, status: int) -> Reply:
    title, body = rng.choice(CHALLENGES)
    headers = {"Content-Type": "text/html; charset=utf-8"}
    doc = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{esc(title)}</title>'
           f"</head><body>{body}</body></html>")
    return Reply(status, headers, doc.encode("utf-8"))


class FaultPlan:
    """Decides, per round and page, whether a request fails and how."""

    def __init__(self, seed: int, rounds: int, rate: float, timeout: float) -> None:
        self.seed, self.rounds, self.rate, self.timeout = seed, rounds, rate, timeout
        self._hit: set[tuple[int, str]] = set()
        self._lock = threading.Lock()

    def draw(self, r: int, key: str) -> tuple[str, bool] | None:
        """(fault, transient) for this round and page, or None.  A transient fault hits
        only the first request of the round; retries then succeed."""
        if r <= 0 or r >= self.rounds - 1 or key.endswith("/robots.txt"):
            return None
        rng = random.Random(f"{self.seed}|fault|{r}|{key}")
        if rng.random() >= self.rate:
            return None
        fault = rng.choices(FAULTS, WEIGHTS)[0]
        transient = fault in {"timeout", "reset"} or rng.random() < 0.4
        return fault, transient

    def reply(self, r: int, key: str) -> Reply | None:
        """The faulty answer to this request, or None to answer normally."""
        drawn = self.draw(r, key)
        if drawn is None:
            return None
        fault, transient = drawn
        if transient:
            with self._lock:
                if (r, key) in self._hit:
                    return None
                self._hit.add((r, key))
        return self._answer(fault, random.Random(f"{self.seed}|how|{r}|{key}"))

    def _answer(self, fault: str, rng: random.Random) -> Reply:
        text = {"Content-Type": "text/plain; charset=utf-8"}
        if fault == "timeout":
            return Reply(503, text, b"too late\n", delay=self.timeout + 1.0)
        if fault == "reset":
            return Reply(fault="reset")
        if fault == "429":
            return Reply(429, {**text, "Retry-After": "1"}, b"Too Many Requests\n")
        if fault.startswith("challenge"):
            return challenge(rng, int(fault.removeprefix("challenge")))
        return Reply(int(fault), text, f"{fault} Server Error\n".encode())
