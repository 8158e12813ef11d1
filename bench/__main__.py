"""``python -m bench [NAME ...]``: run the named benchmarks (all by default).

A benchmark is a ``run() -> dict`` in ``BENCHMARKS``; its figures are merged under its
name into ``bench-out/bench.json``, keeping what other benchmarks wrote there.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from bench import (
    bombs,
    browser,
    crawl_overlap,
    crawl_ratio,
    detect_growth,
    diff_speed,
    recheck,
    replay,
    report_speed,
    search,
    store_size,
    warc_import,
    workers,
    world,
)

BENCHMARKS: dict[str, Callable[[], dict]] = {
    "bombs": bombs.run,
    "browser": browser.run,
    "crawl": crawl_ratio.run,
    "detect": detect_growth.run,
    "diff": diff_speed.run,
    "import": warc_import.run,
    "overlap": crawl_overlap.run,
    "recheck": recheck.run,
    "replay": replay.run,
    "report": report_speed.run,
    "search": search.run,
    "store": store_size.run,
    "workers": workers.run,
    "world": world.run,
}
OUT = Path(__file__).resolve().parent.parent / "bench-out" / "bench.json"


def save(results: dict[str, dict], path: Path = OUT) -> None:
    """Merge *results* into the JSON object at *path* (created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    merged.update(results)
    path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)")
    names = parser.parse_args(argv).names or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    for name in names:
        save({name: BENCHMARKS[name]()})
    print(f"figures written to {OUT}")


if __name__ == "__main__":
    main()
