"""Errors raised by the snapshot store.

Exception tree::

    StoreError              anything the store refuses or cannot do
     ├── StoreURLError      a database URL that cannot be opened
     ├── StoreMissing       no store where one was expected (and none was created)
     └── IntegrityProblem   an integrity check found damage (``problems`` lists it)

Imports nothing of ours.
"""

from __future__ import annotations


class StoreError(Exception):
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
