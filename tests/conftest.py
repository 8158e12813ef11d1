"""Shared fixtures: stores on SQLite and on the real PostgreSQL server, loopback sites.

PostgreSQL tests read ``TAKEDOWN_TEST_PG_URL`` (``.ci/run`` sets it) and skip, saying so,
where it is not set.  Each PostgreSQL store lives in a schema of its own, dropped after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text

os.environ.setdefault("TAKEDOWN_LOOPBACK_ONLY", "1")

# CI runs the same examples every time (a red build must be reproducible); locally the
# search varies.  No deadline: a loaded 2-core machine is not a failing property.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
# tests/test_fuzz.py takes the profile "fuzz-" + TAKEDOWN_FUZZ_PROFILE: "ci" (the default,
# `make test`) is small; "fuzz" (`make fuzz`) runs TAKEDOWN_FUZZ_EXAMPLES inputs a property.
settings.register_profile("fuzz-ci", settings.default, max_examples=50)
settings.register_profile("fuzz-fuzz", settings.default, derandomize=False, print_blob=True,
                          max_examples=int(os.environ.get("TAKEDOWN_FUZZ_EXAMPLES", "10000")),
                          suppress_health_check=list(HealthCheck))

PG_URL = os.environ.get("TAKEDOWN_TEST_PG_URL")
REDIS_URL = os.environ.get("TAKEDOWN_TEST_REDIS_URL")
REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


@pytest.hookimpl(tryfirst=True)   # before pytest-xdist reads the groups into node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`make test` runs two pytest-xdist workers (``--dist loadgroup``).  Every test of the
    demo store goes to one of them, so the ten simulated days are crawled once, not once a
    worker; the slow tests are handed out first, so the WeChatscope replay does not start
    last and run alone."""
    for item in items:
        if "demo_store" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("demo"))
    items.sort(key=lambda item: (item.get_closest_marker("slow") is None,
                                 item.get_closest_marker("xdist_group") is None))


def pg_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@contextmanager
def pg_schema(prefix: str = "td") -> Iterator[str]:
    """A PostgreSQL URL whose tables go to a fresh schema, dropped on leaving; skips the
    test, saying why, where no server is configured."""
    if not PG_URL:
        pytest.skip("TAKEDOWN_TEST_PG_URL is not set (CI sets it; see .ci/run)")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield pg_schema_url(PG_URL, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards.  Skips,
    saying why, where no Redis is configured."""
    if not REDIS_URL:
        pytest.skip("TAKEDOWN_TEST_REDIS_URL is not set (CI sets it; see .ci/run)")
    from crawler.frontier import Frontier

    name = f"td-test-{uuid.uuid4().hex[:10]}"
    yield name
    server = Frontier.from_url(REDIS_URL).server
    keys = list(server.scan_iter(match=f"{name}:*"))
    if keys:
        server.delete(*keys)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose tables go to a fresh schema, dropped afterwards."""
    with pg_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A metadata database URL: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(db_url: str):
    from snapshots import open_store

    s = open_store(db_url=db_url)
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The demo site over ten simulated days through ``takedown demo`` (real crawls and
    detection), once per test session: its data folder, stdout, export records, and the
    site's ground truth and noise cases.  Scenario, report and viewer tests share it."""
    import json
    import subprocess
    import sys

    from takedown.demo.site import DemoSite

    data = tmp_path_factory.mktemp("demo") / "data"
    run = subprocess.run([sys.executable, "-m", "takedown", "--data", str(data), "demo",
                          "--days", "10"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    meta = json.loads((data / "demo-site.json").read_text())
    export = subprocess.run([sys.executable, "-m", "takedown", "--data", str(data), "export"],
                            capture_output=True, text=True, check=True).stdout
    records = [json.loads(line) for line in export.splitlines()]
    site = DemoSite(days=meta["days"])
    return {"meta": meta, "records": records, "stdout": run.stdout, "data": data,
            "truth": site.ground_truth(meta["base_url"]),
            "noise": site.noise_cases(meta["base_url"])}


@pytest.fixture(scope="session")
def demo_pg_url(demo_store: dict) -> Iterator[str]:
    """The demo store copied into a PostgreSQL schema of its own, once per session
    (schema made by the migrations, rows copied table by table; see tests/storecopy.py)."""
    from storecopy import copy_store

    from snapshots.db import default_url

    with pg_schema("td_demo") as url:
        copy_store(default_url(demo_store["data"]), url)
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def demo_db_url(request: pytest.FixtureRequest, demo_store: dict) -> str:
    """A database URL holding the demo store, on SQLite (the demo's own file) and on
    PostgreSQL (a copy).  Read-only: tests that write must copy it first."""
    if request.param == "sqlite":
        from snapshots.db import default_url

        return default_url(demo_store["data"])
    return request.getfixturevalue("demo_pg_url")
