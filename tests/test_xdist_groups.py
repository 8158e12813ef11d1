"""The test run's own grouping holds: tests marked ``xdist_group`` (and every test of the
demo store, see ``conftest.py``) run on one pytest-xdist worker, so a store built once a
session is built once.  pytest 9.2 with pytest-xdist 3.8 silently broke this (the group
suffix went into a node-id field pytest no longer read), doubling the suite's longest
set-up; this test runs a small suite the way ``make test`` does and reads which worker ran
each test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SUITE = '''
import os
import pytest

@pytest.mark.parametrize("n", range(8))
@pytest.mark.xdist_group("one")
def test_grouped(n):
    with open(os.environ["WORKER_LOG"], "a") as f:
        f.write(f"grouped {os.environ['PYTEST_XDIST_WORKER']}\\n")

@pytest.mark.parametrize("n", range(8))
def test_free(n):
    with open(os.environ["WORKER_LOG"], "a") as f:
        f.write(f"free {os.environ['PYTEST_XDIST_WORKER']}\\n")
'''


def test_a_group_runs_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_groups.py").write_text(SUITE)
    log = tmp_path / "workers.log"
    run = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup",
                          "-p", "no:cacheprovider", "-q", str(tmp_path / "test_groups.py")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "WORKER_LOG": str(log)})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    lines = [line.split() for line in log.read_text().splitlines()]
    grouped = {worker for what, worker in lines if what == "grouped"}
    assert len([1 for what, _ in lines if what == "grouped"]) == 8
    assert len(grouped) == 1, f"the group ran on {sorted(grouped)}"
