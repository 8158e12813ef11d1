"""Reading a user's input file (watchlist, events, keyword list, phrase file), bounded.

A path a user gives may name something that is not a file of text: ``/dev/zero`` or
``/dev/urandom`` (endless), a named pipe nobody writes to (an open that never returns), a
folder, a file of gigabytes.  `read_input_file` reads at most `MAX_INPUT` bytes, opens
without waiting for a pipe's writer (a pipe with no writer reads as empty; one with a writer,
as from a shell's ``<(…)``, is read to its end) and raises `UnreadableInput` with a sentence
the callers put after ``path: cannot read:`` in their own error.

>>> import tempfile, os
>>> with tempfile.NamedTemporaryFile(delete=False) as fh:
...     _ = fh.write(b"x = 1\\n")
>>> read_input_file(fh.name)
b'x = 1\\n'
>>> read_input_file("/dev/zero", limit=1024)
Traceback (most recent call last):
  ...
snapshots.inputs.UnreadableInput: more than 1,024 bytes (1 KiB): not an input file
>>> os.unlink(fh.name)
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path
from typing import BinaryIO

MAX_INPUT = 64 * 1024 * 1024  # bytes of one input file; real keyword lists are < 1 MiB
_CHUNK = 1024 * 1024


class UnreadableInput(ValueError):
    """An input path that cannot be read as a file (the message says why)."""


def read_input_file(path: str | Path, limit: int = MAX_INPUT) -> bytes:
    """The bytes of the input file at *path*; OSError (missing, a folder, no permission …)
    or `UnreadableInput` (too large, endless, a name with a NUL)."""
    if "\x00" in str(path):
        raise UnreadableInput("a file name cannot contain a NUL character")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)  # a pipe's writer is awaited
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    raise UnreadableInput(f"more than {limit:,} bytes ({_human(limit)}): not an input file")


def open_regular(path: str | Path) -> BinaryIO:
    """The file at *path* opened for reading, if it is a regular file (after its
    symlinks): an archive or a package read in place, too large for `read_input_file`.
    Opened without waiting for a pipe's writer, then checked on the open file, so nothing
    swapped in between is read.  OSError when it cannot be opened (missing, no permission;
    IsADirectoryError for a folder), `UnreadableInput` for a pipe, a socket or a device
    (``/dev/zero`` never ends)."""
    if "\x00" in str(path):
        raise UnreadableInput("a file name cannot contain a NUL character")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode):
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    os.close(fd)
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    raise UnreadableInput("not a regular file (a pipe, a socket or a device): nothing is "
                          "read from it")


def _human(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB"):
        if n < 1024:
            return f"{n} {unit}"
        n //= 1024
    return f"{n} GiB"
