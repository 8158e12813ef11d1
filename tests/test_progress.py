"""Progress off a terminal: plain lines on stderr with fetched / queued / failed."""

from __future__ import annotations

import time
from types import SimpleNamespace

from crawler.plan import RoundTally
from crawler.progress import RoundProgress


def test_plain_progress_lines_off_a_terminal(capsys) -> None:
    tally = RoundTally()
    plan = SimpleNamespace(round_id=7, tally=tally, targets=[])
    with RoundProgress(plan, enabled=True, interval=0.05) as progress:
        assert not progress.live          # pytest's captured stderr is no terminal
        tally.add("a", queued=5, captures=3, failed=1)
        tally.add("b", queued=2, captures=2)
        time.sleep(0.3)
    err = capsys.readouterr().err
    assert "round 7: fetched 5/7, failed 1" in err


def test_the_not_found_probe_counts_as_done(capsys) -> None:
    """A target of 15 pages queues 16 requests (its site's not-found probe too): when all
    are in, the count reads 16/16, not 15/16."""
    tally = RoundTally()
    plan = SimpleNamespace(round_id=3, tally=tally, targets=[])
    with RoundProgress(plan, enabled=True, interval=0.05):
        tally.add("a", queued=16, captures=15, probes=1)
        time.sleep(0.3)
    assert "round 3: fetched 16/16, failed 0" in capsys.readouterr().err


def test_disabled_progress_prints_nothing(capsys) -> None:
    plan = SimpleNamespace(round_id=1, tally=RoundTally(), targets=[])
    with RoundProgress(plan, enabled=False, interval=0.01):
        time.sleep(0.1)
    assert capsys.readouterr().err == ""
