"""The documentation shows the code's own defaults: ``docs/cli.md`` holds each command's
``--help`` exactly as the command prints it, and ``docs/formats.md`` the ``[crawl]``
table's defaults as ``snapshots.defaults`` holds them (each default once, with its help).
After changing an option, rewrite the help blocks with ``python tests/test_docs.py``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from snapshots.defaults import SETTINGS
from takedown.cli import cli

DOCS = Path(__file__).resolve().parents[1] / "docs"
DOC = DOCS / "cli.md"
BLOCK = re.compile(r"(### `([a-z-]+)`\n```\n)(Usage: takedown .*?)(```)", re.S)


def live_help(command: str) -> str:
    result = CliRunner().invoke(cli, [command, "--help"], terminal_width=80,
                                prog_name="takedown")
    assert result.exit_code == 0, result.output
    return result.output


def documented() -> list[tuple[str, str]]:
    return [(m.group(2), m.group(3)) for m in BLOCK.finditer(DOC.read_text(encoding="utf-8"))]


def test_every_command_is_documented() -> None:
    assert sorted(name for name, _ in documented()) == sorted(cli.commands)


@pytest.mark.parametrize(("command", "text"), documented(), ids=[n for n, _ in documented()])
def test_documented_help_is_the_commands_own(command: str, text: str) -> None:
    assert text == live_help(command), "docs/cli.md is stale: python tests/test_docs.py"


def crawl_table() -> dict[str, str]:
    """key → the default column of docs/formats.md's ``[crawl]`` table."""
    text = (DOCS / "formats.md").read_text(encoding="utf-8")
    table = text.split("### `[crawl]`", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1:-1] for line in table.splitlines()[2:]]
    return {cells[0].strip().strip("`"): cells[2].strip() for cells in rows}


def shown(value: object) -> str:
    """A default as the table shows it: TOML's spelling, "unset" for none."""
    if value is None:
        return "unset"
    return str(value).lower() if isinstance(value, bool) else f"{value:g}"


def test_the_crawl_tables_defaults_are_the_codes() -> None:
    table = crawl_table()
    crawl = {name.split(".", 1)[1]: s.default for name, s in SETTINGS.items()
             if name.startswith("crawl.")}
    assert sorted(table) == sorted(crawl)
    for key, value in crawl.items():
        cell = table[key]
        first = re.match(r"`([^`]*)`|(\w+)", cell)
        assert first is not None, (key, cell)
        doc = first.group(1) if first.group(1) is not None else first.group(2)
        if isinstance(value, float | int) and not isinstance(value, bool):
            assert float(doc) == value, (key, cell)
        else:
            assert doc == shown(value), (key, cell)


if __name__ == "__main__":
    new = BLOCK.sub(lambda m: m.group(1) + live_help(m.group(2)) + m.group(4),
                    DOC.read_text(encoding="utf-8"))
    DOC.write_text(new, encoding="utf-8")
    print(f"rewrote {len(documented())} help blocks of {DOC}", file=sys.stderr)
