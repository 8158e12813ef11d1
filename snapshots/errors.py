"""Errors: the root of every error a user can cause, and the snapshot store's own.

Every package's errors derive from `TakedownError`, which lives here because ``snapshots``
is the one package every other may import.  The command line catches `TakedownError` once
(``takedown.cli.TakedownGroup.invoke``) and prints ``error: {message}`` with exit code 2; a
traceback only with ``--debug``.  So a message names what is wrong (``file:line: key …``
where there is a file) and never a password (`without_passwords`).

Exception tree::

    TakedownError                   anything a user can cause (bad input, a bad place)
     ├── StoreError                 anything the store refuses or cannot do
     │    ├── StoreURLError         a database URL that cannot be opened
     │    ├── StoreMissing          no store where one was expected (and none was created)
     │    └── IntegrityProblem      an integrity check found damage (``problems`` lists it)
     ├── snapshots.patterns.RunawayPattern   a user regex past its time limit on some input
     ├── crawler.errors.TakedownCrawlError   watchlist, Redis frontier
     ├── diffing.phrases.PhrasebookError     a phrase file
     ├── reports.keywords.InputFileError     events and keyword files
     ├── reports.output.OutputError          a report folder
     ├── reports.notify.NotifyError          a notification that could not be sent
     └── takedown.schedule.ScheduleError     another scheduler holds the store

Imports only the standard library.
"""

from __future__ import annotations

import os
import re

# ``scheme://user:secret@`` (the password ends at the authority's last "@") and a
# ``password=…`` query parameter (libpq's).
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]*:)[^\s/]*@")
_QUERY_PASSWORD = re.compile(r"(?P<head>\bpassword=)[^&\s]*", re.IGNORECASE)


class TakedownError(Exception):
    """Root of the errors a user can cause; the CLI prints them as ``error: …``, exit 2."""


class LocatedError(TakedownError):
    """An input file that cannot be used, located where it goes wrong: ``path:line: message``
    or ``path:line:column: message``; *line* ``None`` for the file as a whole, *key* the
    key or column name at fault where there is one.  The one located error: the watchlist,
    events, keyword and phrase readers raise subclasses of it that only name the file kind.

    >>> str(LocatedError("wl.toml", 7, "colour", "unknown key 'colour'"))
    "wl.toml:7: unknown key 'colour'"
    >>> str(LocatedError("p.tsv", 3, "state", "state: unknown", column=1))
    'p.tsv:3:1: state: unknown'
    >>> e = LocatedError("wl.toml", None, None, "no [[target]] tables"); (str(e), e.key)
    ('wl.toml: no [[target]] tables', None)
    """

    def __init__(self, path: str | os.PathLike, line: int | None, key: str | None,
                 message: str, *, column: int | None = None) -> None:
        super().__init__(str(path), line, key, message)
        self.path, self.line, self.key, self.message = str(path), line, key, message
        self.column = column

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}" + ("" if self.column is None else f":{self.column}")
        return f"{where}: {self.message}"


def without_passwords(text: str) -> str:
    """*text* with the password of every URL in it masked.

    >>> without_passwords("cannot open postgresql+psycopg://ana:s3@cret@db:5432/x")
    'cannot open postgresql+psycopg://ana:***@db:5432/x'
    >>> without_passwords("redis://:pw@127.0.0.1:6379/0 and postgresql://h/x?password=pw")
    'redis://:***@127.0.0.1:6379/0 and postgresql://h/x?password=***'
    >>> without_passwords("sqlite:////srv/takedown.sqlite, http://ana@host/")
    'sqlite:////srv/takedown.sqlite, http://ana@host/'
    """
    text = _URL_PASSWORD.sub(r"\g<head>***@", text)
    return _QUERY_PASSWORD.sub(r"\g<head>***", text)


class StoreError(TakedownError):
    """The snapshot store refused or failed an operation."""


class StoreURLError(StoreError):
    """A database URL could not be opened."""


class StoreMissing(StoreError):
    """No store at the given place: a command that only reads (``takedown check``) says so
    instead of creating an empty one."""


class IntegrityProblem(StoreError):
    """The store failed an integrity check."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
