"""``takedown export``: one record per takedown, as JSON Lines or CSV.

Record: ``id`` (as the viewer's ``/takedowns/ID``; ``takedown evidence ID`` packs it),
``url`` (as watched), ``kind``, ``target`` (the first target that reached it), ``targets``
(every target that reaches the URL: one record however many), ``last_seen``
(the last round that saw it alive), ``detected_at`` (the first round that showed the
takedown), ``evidence``, plus ``item`` for a sub-page item and ``restored_at`` where it
came back.

Rules every file the tool writes follows (``reports.output`` uses these helpers too):

- A CSV cell is never a formula: a string that starts with ``=``, ``+``, ``-``, ``@``, a
  tab or a carriage return gets a leading ``'`` (`csv_cell`; numbers stay numbers).
- A file is written to a temporary sibling and renamed over its name (`write_whole`), so
  a reader sees the old file or the new one whole, never a truncated one.

Imports the standard library.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TextIO, TypeVar

CSV_COLUMNS = ("id", "url", "kind", "target", "targets", "item", "last_seen", "detected_at",
               "restored_at", "rule", "phrase", "evidence")
FORMATS = ("jsonl", "csv")
T = TypeVar("T")
# what makes a spreadsheet read a cell as a formula (OWASP, CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """*value* as inert CSV text: a string that a spreadsheet would run gets a ``'``.

    >>> csv_cell('=HYPERLINK("http://x","y")'), csv_cell("a-b"), csv_cell(-1)
    ('\\'=HYPERLINK("http://x","y")', 'a-b', -1)
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_row(record: dict) -> dict:
    """Every cell of *record* through `csv_cell`."""
    return {k: csv_cell(v) for k, v in record.items()}


def write_jsonl(records: Iterable[dict], out: TextIO) -> int:
    n = 0
    for rec in records:
        out.write(json.dumps(rec, ensure_ascii=False, sort_keys=False) + "\n")
        n += 1
    return n


def write_csv(records: Iterable[dict], out: TextIO) -> int:
    """CSV for spreadsheets: the evidence as one JSON column, its rule and phrase apart."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    n = 0
    for rec in records:
        ev = rec.get("evidence") or {}
        writer.writerow(csv_row({
            **{k: rec.get(k, "") for k in CSV_COLUMNS[:9]},
            "targets": " ".join(rec.get("targets") or ()),
            "rule": ev.get("rule", ""), "phrase": ev.get("phrase", ""),
            "evidence": json.dumps(ev, ensure_ascii=False, sort_keys=True)}))
        n += 1
    return n


def write(records: Iterable[dict], out: TextIO, fmt: str) -> int:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {FORMATS}")
    return (write_jsonl if fmt == "jsonl" else write_csv)(records, out)


def sibling(path: Path, tag: str) -> Path:
    """A fresh hidden name next to *path* (same folder, so a rename is atomic)."""
    return path.with_name(f".{path.name}.{tag}-{secrets.token_hex(4)}")


def write_file(records: Iterable[dict], path: Path, fmt: str) -> int:
    """Write the export to *path* whole (`write_whole`).  OSError if the folder is missing
    or not writable."""
    return write_whole(path, lambda fh: write(records, fh, fmt))


def write_whole(path: Path, write_to: Callable[[IO], T], *, binary: bool = False) -> T:
    """Run *write_to* on a new temporary sibling of *path* (UTF-8 text, or bytes when
    *binary*), then rename it over *path*: on any failure the sibling goes and *path* is as
    it was.  OSError if the folder is missing or not writable."""
    tmp = sibling(path, "tmp")
    fh = new_file(tmp, binary)  # OSError here: the folder is missing or not writable
    try:
        with fh:
            result = write_to(fh)
            synced(fh)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return result


def new_file(path: Path, binary: bool = False) -> IO:
    """A file that did not exist (``O_EXCL``: never someone else's), opened for UTF-8
    text (or bytes), with the mode ``open`` would give it (0o666 less the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    return open(fd, "wb") if binary else open(fd, "w", encoding="utf-8", newline="")


def synced(fh: IO) -> None:
    """On disk before it is renamed in: after a crash the name holds all or the old."""
    fh.flush()
    os.fsync(fh.fileno())
