"""Live progress of a round: a bar per target on a terminal, a plain line every few
seconds otherwise (both on stderr, so stdout keeps only the summary).

Reads the round's ``RoundTally`` from a background thread (the crawl runs the reactor in
the main thread); it never touches Scrapy.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from crawler.plan import RoundPlan

log = logging.getLogger(__name__)


class RoundProgress:
    """Context manager showing fetched / queued / failed per target while a round runs."""

    def __init__(self, plan: RoundPlan, enabled: bool, interval: float = 10.0) -> None:
        self.plan, self.interval = plan, interval
        self.console = Console(stderr=True)
        self.live = enabled and self.console.is_terminal
        self.enabled = enabled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RoundProgress:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        if self.live:
            self._run_bars()
        else:
            while not self._stop.wait(self.interval):
                print(f"round {self.plan.round_id}: {self._line()}", file=sys.stderr,
                      flush=True)

    def _line(self) -> str:
        t = self.plan.tally
        return (f"fetched {t.total('captures') + t.total('probes')}/{t.total('queued')}, "
                f"failed {t.total('failed')}")

    def _run_bars(self) -> None:
        columns = (TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("failed {task.fields[failed]}"), TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=False) as bars:
            tasks = {t.spec.name: bars.add_task(t.spec.name, total=None, failed=0)
                     for t in self.plan.targets}
            while True:
                stop = self._stop.wait(0.2)
                for name, task in tasks.items():
                    c = self.plan.tally.per_target.get(name)
                    if c is not None:
                        # the not-found probe is queued like a page: counted done too
                        bars.update(task, total=max(c["queued"], 1),
                                    completed=c["captures"] + c["probes"], failed=c["failed"])
                if stop:
                    return
