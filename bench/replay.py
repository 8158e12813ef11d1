"""``python -m bench replay``: the WeChatscope replay over its three days.

`make test` replays one day of WeChatscope's real removal timeline
(``tests/test_replay_wechatscope.py``); this runs the same test over the three days from
2018-11-13 (``TAKEDOWN_REPLAY_DAYS=3``: 15 rounds of 6 simulated hours, 253 account pages,
539 takedowns), with the real command line against a loopback server, and fails when the
export differs from the timeline in any record.  Figures: rounds, records exported, seconds,
and whether the export matched.  Skipped, saying so, where the real data is absent.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAYS = int(os.environ.get("BENCH_REPLAY_DAYS", "3"))
TEST = "tests/test_replay_wechatscope.py"
# the line the test prints (shown with -s): "15 rounds, 539 records, 230 s"
FIGURES = re.compile(r"^(\d+) rounds, (\d+) records, (\d+) s$", re.MULTILINE)


def run() -> dict:
    env = dict(os.environ, TAKEDOWN_REPLAY_DAYS=str(DAYS), TAKEDOWN_LOOPBACK_ONLY="1")
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", TEST, "-q", "-s", "-rs",
                           "-p", "no:cacheprovider"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    seconds = round(time.monotonic() - t0, 1)
    found = FIGURES.search(done.stdout)
    out: dict = {"days": DAYS, "matched": done.returncode == 0, "seconds": seconds}
    if found:
        out.update(rounds=int(found[1]), records=int(found[2]))
    if " skipped" in done.stdout and not found:
        out["skipped"] = done.stdout.strip().splitlines()[-1]
    print(f"WeChatscope replay, {DAYS} days: "
          + (f"{out['rounds']} rounds, {out['records']} records exported, " if found else "")
          + f"{seconds:.0f} s; export {'matches' if out['matched'] else 'DIFFERS from'} "
          "the timeline")
    if done.returncode:
        print(done.stdout[-4000:], done.stderr[-2000:], sep="\n")
    return out


if __name__ == "__main__":
    run()
