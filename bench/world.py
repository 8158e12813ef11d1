"""``python -m bench world``: detection quality on randomised worlds (`takedown.world`).

Planted worlds (seeds 0…N-1) and noise-only worlds (seeds 1000…1000+N-1) of the full
scale are crawled over R simulated days each with the real command line; prints precision,
recall and kind accuracy over all planted seeds, the takedowns found in the noise-only
worlds (every one of them false), and the false positives by (site, kind, rule).

N and R default to 20 and 30 (hours of crawling); override them with the environment
(``BENCH_WORLD_SEEDS``, ``BENCH_WORLD_ROUNDS``, ``BENCH_WORLD_SCALE=small|full``) or, run
directly, with arguments: ``python -m bench.world --seeds 2 --rounds 8 --scale small``.
Stores go to ``bench-out/world/`` (replaced on each run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections import Counter
from pathlib import Path

from takedown.world.run import WorldRun, run_world
from takedown.world.score import Score, classes, figures

OUT = Path(__file__).resolve().parent.parent / "bench-out" / "world"
NOISE_SEEDS = 1000


def _crawl(seeds: range, rounds: int, scale: str, planted: bool) -> list[WorldRun]:
    runs = []
    for seed in seeds:
        mode = "planted" if planted else "noise"
        result = run_world(seed, rounds, OUT / f"{mode}-{seed}", planted=planted, scale=scale)
        print(f"  {mode} seed {seed}: {figures(result.score)}; {len(result.records)} records, "
              f"{result.seconds:.0f} s", flush=True)
        runs.append(result)
    return runs


def _classes(runs: list[WorldRun]) -> Counter:
    total: Counter = Counter()
    for run in runs:
        total.update(classes(run.score, run.sites))
    return total


def bench(seeds: int, rounds: int, scale: str) -> dict:
    """Crawl *seeds* planted and *seeds* noise-only worlds of *rounds* rounds."""
    shutil.rmtree(OUT, ignore_errors=True)
    t0 = time.monotonic()
    print(f"world: {seeds} planted + {seeds} noise-only seeds, {rounds} rounds, {scale} scale")
    planted = _crawl(range(seeds), rounds, scale, planted=True)
    noise = _crawl(range(NOISE_SEEDS, NOISE_SEEDS + seeds), rounds, scale, planted=False)
    total = sum((r.score for r in planted), Score())
    noise_count = sum(len(r.records) for r in noise)
    print(f"planted: {figures(total)}")
    print(f"noise-only: {noise_count} takedowns (all false) over {seeds} worlds")
    fps = _classes(planted + noise)
    for (site, kind, rule), n in fps.most_common():
        print(f"  false positives {n:4d}  {site} / {kind} / {rule}")
    seconds = time.monotonic() - t0
    return {"seeds": seeds, "rounds": rounds, "scale": scale,
            "precision": round(total.precision, 4), "recall": round(total.recall, 4),
            "kind_accuracy": round(total.kind_accuracy, 4), "records": total.records,
            "truth": total.truth, "noise_only_takedowns": noise_count,
            "seconds_per_world": round(seconds / max(1, 2 * seeds), 1),
            "false_positive_classes": {" / ".join(map(str, k)): n for k, n in fps.items()}}


def run() -> dict:
    return bench(int(os.environ.get("BENCH_WORLD_SEEDS", "20")),
                 int(os.environ.get("BENCH_WORLD_ROUNDS", "30")),
                 os.environ.get("BENCH_WORLD_SCALE", "full"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.world", description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--scale", choices=["small", "full"], default="full")
    args = parser.parse_args(argv)
    bench(args.seeds, args.rounds, args.scale)


if __name__ == "__main__":
    main()
