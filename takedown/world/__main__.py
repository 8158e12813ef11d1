"""``python -m takedown.world run --seed N --rounds R [--noise-only] --data DIR``: crawl a
generated world with the real command line, score the export against its ground truth and
print the figures, every false positive (url, kind, evidence rule) and every miss.
Exit 0 whatever the score (a detector's quality is a figure, not a crash).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from takedown.world.run import run_world
from takedown.world.score import report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m takedown.world", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="crawl one world and score it")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--rounds", type=int, default=8)
    run.add_argument("--noise-only", action="store_true",
                     help="plant nothing: every takedown found is a false one")
    run.add_argument("--scale", choices=["small", "full"], default="small",
                     help="small: ~50 URLs (tests); full: a few hundred (bench)")
    run.add_argument("--data", type=Path, default=None,
                     help="a fresh folder for the store (default: a temporary one)")
    args = parser.parse_args(argv)
    data = args.data or Path(tempfile.mkdtemp(prefix=f"world-{args.seed}-"))
    result = run_world(args.seed, args.rounds, data, planted=not args.noise_only,
                       scale=args.scale, log=lambda line: print(line, file=sys.stderr))
    mode = "noise-only" if args.noise_only else "planted"
    print(f"world seed {args.seed}, {mode}, {args.rounds} rounds, {result.seconds:.0f} s; "
          f"store {data} (truth in world-truth.json)")
    for site in result.world["sites"]:
        print(f"  {site['prefix']}: {site['archetype']} ({site['lang']}, {site['list']} list, "
              f"soft404={site['soft404']}, template change at {site['template_change']})")
    print(report(result.score, result.base_url, result.sites))
    return 0


if __name__ == "__main__":
    sys.exit(main())
