"""The command-line contract: exit codes, error messages, JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sitesim import RouteSite, crawl, page, serve, watchlist


def takedown(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "takedown", *args], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize(("text", "line", "key"), [
    ('[[target]]\nname = "a"\nurl = "http://127.0.0.1:9/"\ndepht = 1\n', 4, "depht"),
    ('[crawl]\ntimeout = 2\nconcurency = 3\n\n[[target]]\nname = "a"\n'
     'url = "http://127.0.0.1:9/"\n', 3, "concurency"),
    ('[[target]]\nname = "a"\nurl = "http://127.0.0.1:9/"\n\n[[target]]\nname = "a"\n'
     'url = "http://127.0.0.1:9/b"\n', 6, "name"),
    ('[[target]]\nname = "a"\nurl = "http://127.0.0.1:9/"\nallow = ["(unclosed"]\n', 4,
     "allow"),
], ids=["typo-target-key", "typo-crawl-key", "duplicate-name", "bad-regex"])
def test_bad_watchlist_names_file_line_key_and_writes_nothing(
        tmp_path: Path, text: str, line: int, key: str) -> None:
    wl = tmp_path / "watch.toml"
    wl.write_text(text, encoding="utf-8")
    data = tmp_path / "data"
    run = takedown("--data", str(data), "crawl", str(wl))
    assert run.returncode == 2
    assert run.stderr.startswith(f"error: {wl}:{line}: ")
    assert f"'{key}'" in run.stderr
    assert "Traceback" not in run.stderr
    assert not data.exists()


def test_bad_at_stamp_is_a_usage_error(tmp_path: Path) -> None:
    wl = tmp_path / "w.toml"
    wl.write_text('[[target]]\nname = "a"\nurl = "http://127.0.0.1:9/"\n', encoding="utf-8")
    run = takedown("--data", str(tmp_path / "d"), "crawl", str(wl), "--at", "yesterday")
    assert run.returncode == 2 and "ISO-8601" in run.stderr


def test_missing_watchlist_file(tmp_path: Path) -> None:
    run = takedown("--data", str(tmp_path / "d"), "crawl", str(tmp_path / "nope.toml"))
    assert run.returncode == 2 and "nope.toml" in run.stderr


def test_inspection_commands(tmp_path: Path, db_url: str) -> None:
    """targets, rounds and history read the same on SQLite and PostgreSQL (aggregates,
    time zones of the stamps)."""
    site = RouteSite({"/a.html": page("<a href='/b.html'>b</a>"), "/b.html": page("b")})
    server = serve(site)
    base = server.base_url
    wl = watchlist(tmp_path / "w.toml",
                   f'[[target]]\nname = "a"\nurl = "{base}/a.html"\ndepth = 1\n')
    data = str(tmp_path / "d")
    try:
        assert crawl(wl, Path(data), "2021-03-22T08:00:00+08:00", db=db_url).returncode == 0
    finally:
        server.stop()
    targets = json.loads(takedown("--db", db_url, "targets", "--json").stdout)
    assert targets == [{"name": "a", "url": f"{base}/a.html", "urls": 2, "captures": 2,
                        "last_capture": "2021-03-22T00:00:00+00:00"}]
    rounds = json.loads(takedown("--db", db_url, "rounds", "--json").stdout)
    assert [(r["status"], r["captures"], r["failed"]) for r in rounds] == [("done", 2, 0)]
    hist = json.loads(takedown("--db", db_url, "history", f"{base}/b.html#frag", "--json").stdout)
    assert [(h["state"], h["status"], len(h["body_sha256"])) for h in hist] == [("ok", 200, 64)]
    table = takedown("--db", db_url, "history", f"{base}/b.html").stdout
    assert "2021-03-22T00:00:00+00:00" in table and "ok" in table
    missing = takedown("--db", db_url, "history", f"{base}/never.html")
    assert missing.returncode == 2 and "no captures" in missing.stderr
