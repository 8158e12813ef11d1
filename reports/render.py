"""The single Jinja environment of reports and the viewer.

Captured text is hostile: every template autoescapes (``autoescape=True``, not
``select_autoescape``, which skips unknown extensions) and a missing variable is an error
(``StrictUndefined``), never an empty string.  ``Markup`` is allowed only on markup built
here from escaped parts.  Templates live in ``reports/templates``.  Imports nothing of ours.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined


@cache
def environment() -> Environment:
    """The shared environment (built once)."""
    return Environment(loader=PackageLoader("reports", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def render(template: str, **context: object) -> str:
    """*template* (a path under ``reports/templates``) rendered with *context*."""
    return environment().get_template(template).render(**context)
