"""Crawl a generated world with the real command line and score the export.

`run_world` serves a `World` on loopback, writes its watchlist, and for each round sets the
world's round and runs ``python -m takedown --data DIR crawl WL --at T --no-progress`` and
``… detect`` as subprocesses (simulated days: T = start + round days, and
``TAKEDOWN_LOOPBACK_ONLY=1``), then ``… export --format jsonl``.  The ground truth (the
planted takedowns whose page the crawler was served whole before) is written to
``DATA/world-truth.json`` beside the export, and scored.  Imports the stdlib,
`takedown.demo.server` and `takedown.world`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from takedown.demo.server import SiteServer
from takedown.world.score import Score, score
from takedown.world.world import World

START = dt.datetime(2021, 3, 15, 6, 0, tzinfo=dt.UTC)


@dataclass
class WorldRun:
    """One crawled world: its score, the records, the truth, and how long it took."""

    seed: int
    planted: bool
    score: Score
    records: list[dict]
    truth: list[dict]
    base_url: str
    seconds: float
    world: dict

    @property
    def sites(self) -> dict[str, str]:
        """Path prefix → archetype of each site, to name where a URL is."""
        return {s["prefix"]: s["archetype"] for s in self.world["sites"]}


def _cli(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "takedown", "--data", str(data), *args]


def _run(cmd: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[3:])} failed (exit {proc.returncode}):\n"
                           f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return proc.stdout


def run_world(seed: int, rounds: int, data: Path, planted: bool = True, scale: str = "small",
              log: Callable[[str], None] | None = None) -> WorldRun:
    """Crawl and detect *rounds* rounds of world *seed* into *data* (a fresh folder), then
    export and score."""
    data.mkdir(parents=True, exist_ok=True)
    if any(data.iterdir()):
        raise ValueError(f"{data} is not empty: a world needs a fresh store")
    world = World(seed, rounds, planted=planted, scale=scale)
    env = dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1")
    t0 = time.monotonic()
    with SiteServer(world) as server:
        watchlist = data / "world-watchlist.toml"
        watchlist.write_text(world.watchlist_toml(server.base_url), encoding="utf-8")
        for r in range(rounds):
            world.round = r
            at = START + dt.timedelta(days=r)
            _run(_cli(data, "crawl", str(watchlist), "--at", at.isoformat(), "--no-progress"),
                 env)
            _run(_cli(data, "detect"), env)
            if log:
                log(f"seed {seed} round {r + 1}/{rounds} done ({time.monotonic() - t0:.0f} s)")
        base = server.base_url
    export = _run(_cli(data, "export", "--format", "jsonl"), env)
    records = [json.loads(line) for line in export.splitlines() if line.strip()]
    truth = world.truth_records(base, observed=True)
    _save(data, world, base, truth, records)
    return WorldRun(seed, planted, score(records, truth), records, truth, base,
                    time.monotonic() - t0, world.describe())


def _save(data: Path, world: World, base: str, truth: list[dict], records: list[dict]) -> None:
    planted = world.truth_records(base)
    (data / "world-truth.json").write_text(json.dumps(
        {"world": world.describe(), "base_url": base, "truth": truth,
         "planted_unobserved": [t for t in planted if t not in truth]},
        ensure_ascii=False, indent=1), encoding="utf-8")
    (data / "world-export.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
