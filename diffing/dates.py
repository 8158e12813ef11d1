"""Dates a page shows: its publication time, read from the words and numbers it is written
in (``2018-06-20 10:00``, ``2018年06月20日``, ``February 01, 2017 at 3:05 pm``) and, given the
capture's time, from relative ones (``5分钟前``, ``昨天 12:00``, ``3 hours ago``).

A time the page writes with an offset (``Z``, ``+08:00``) is aware; one without is naive, in
the site's own zone, which only the watchlist can say (a target's ``timezone``).  A relative
time is resolved against the capture time: "N minutes ago" is an exact instant, "昨天 12:00"
a local clock on the day before the capture's local day.

Pure; imports only the standard library.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo

MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
WEEKDAY = r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\.?,?\s*)"
CJK_WEEKDAY = r"(?:\s*[(]?(?:星期|周|礼拜)[一二三四五六日天][)]?)"

# --- absolute dates --------------------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_CLOCK_GROUPS = (r"(?:(?:T|\s+|\s*at\s+)(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?"
                 r"\s*([AaPp]\.?[Mm]\.?)?)?")
_ZONE = r"\s*(Z|[+-]\d{2}:?\d{2})?"
_DATE_FORMS = (
    ("ymd", re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)" + _CLOCK_GROUPS
                       + _ZONE)),
    ("ymd", re.compile(r"(?<!\d)(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]"
                       + CJK_WEEKDAY + "?" + _CLOCK_GROUPS + _ZONE)),
    ("mdy", re.compile(WEEKDAY + "?" + r"\b(" + MONTH + r")\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+"
                       r"(\d{4})\b" + _CLOCK_GROUPS + _ZONE, re.IGNORECASE)),
    ("dmy", re.compile(r"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?\s+(" + MONTH + r"),?\s+(\d{4})\b"
                       + _CLOCK_GROUPS + _ZONE, re.IGNORECASE)),
)


def find_date(text: str, at: datetime | None = None,
              zone: tzinfo | None = None) -> datetime | None:
    """The first date (with its clock, if any) written in ``text``, else None; given the
    capture time *at*, a relative time (``3小时前``, ``昨天 12:00``, ``2 days ago``) counts
    too, resolved against it in the site's *zone* (see `relative_date`).

    Naive unless the text states an offset (``Z``, ``+08:00``) or is relative to *at*: a
    page's local time zone is not known here.

    >>> find_date("发布时间：2018-06-20 10:00 来源：本网")
    datetime.datetime(2018, 6, 20, 10, 0)
    >>> find_date("2018年06月20日 星期三")
    datetime.datetime(2018, 6, 20, 0, 0)
    >>> find_date("Posted on Wednesday, February 01, 2017 at 3:05 pm")
    datetime.datetime(2017, 2, 1, 15, 5)
    >>> find_date("2021-03-15T10:00:00Z").tzinfo is not None
    True
    >>> find_date("no date here") is None, find_date("发表于 3小时前") is None
    (True, True)
    >>> find_date("发表于 3小时前", datetime(2021, 3, 15, 12, 0, tzinfo=UTC)).isoformat()
    '2021-03-15T09:00:00+00:00'
    """
    found = [f for f in (date_span(text), relative_span(text, at, zone) if at else None) if f]
    return min(found, key=lambda f: f[0])[1] if found else None


def date_span(text: str) -> tuple[int, datetime] | None:
    """Where the first date of ``text`` starts (in its NFKC form), and the date."""
    text = unicodedata.normalize("NFKC", text)
    found: list[tuple[int, datetime]] = []
    for order, pattern in _DATE_FORMS:
        m = pattern.search(text)
        if m and (when := _build_date(order, m.groups())) is not None:
            found.append((m.start(), when))
    return min(found, key=lambda f: f[0]) if found else None


def _build_date(order: str, g: tuple[str | None, ...]) -> datetime | None:
    if order == "ymd":
        year, month, day = int(g[0] or 0), int(g[1] or 0), int(g[2] or 0)
    elif order == "mdy":
        month, day, year = _MONTHS.get((g[0] or "")[:3].lower(), 0), int(g[1] or 0), int(g[2] or 0)
    else:
        day, month, year = int(g[0] or 0), _MONTHS.get((g[1] or "")[:3].lower(), 0), int(g[2] or 0)
    hour, minute, second = int(g[3] or 0), int(g[4] or 0), int(g[5] or 0)
    meridiem = (g[6] or "").lower().replace(".", "")
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    try:
        when = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    if not g[7]:
        return when
    zone = _zone(g[7])
    return when.replace(tzinfo=zone) if zone is not None else None


def _zone(text: str) -> timezone | None:
    """The offset ``Z``, ``+08:00`` or ``-0500`` stands for; None for one no clock has
    (``+99:00``): a date written with it is not read as a date.

    >>> _zone("+08:00"), _zone("+99:00")
    (datetime.timezone(datetime.timedelta(seconds=28800)), None)
    """
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours >= 24 or minutes >= 60:
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


_DATE_LABELS = (  # strong labels first; "更新时间"/"updated" is not a publication time
    re.compile(r"发布时间|发布日期|发表时间|发表于|发布于|成文日期|发文日期|published|posted|"
               r"pubdate", re.IGNORECASE),
    re.compile(r"(?<!更新)(?<!修改)(?:时间|日期)|(?<![a-z])date(?![a-z])", re.IGNORECASE),
)
_UPDATED = re.compile(r"updated|modified|revised|更新|修改", re.IGNORECASE)
# <meta> names (property, name or itemprop; lower case) that carry the publication time
PUBLISHED_META = frozenset((
    "article:published_time", "og:published_time", "datepublished", "pubdate", "publishdate",
    "publish-date", "publish_date", "date", "dc.date", "dc.date.issued", "dcterms.created",
    "dcterms.issued", "sailthru.date", "parsely-pub-date", "firstpublishedtime"))


def visible_date(texts: Sequence[str], headings: Sequence[bool], at: datetime | None = None,
                 zone: tzinfo | None = None) -> datetime | None:
    """The publication date a page shows, from its main block texts in order.

    A labelled date ("发布时间：…", "Posted …"; then "日期：", "Date:") within a dozen blocks
    of the first heading; else a block that opens with a date (bylines, "Friday, October
    09, 2015/Categories: …") or a short date line near that heading. Update times ("更新时间",
    "Last updated on …") are not publication times.

    >>> visible_date(["标题", "2018年06月20日 来源：本网", "正文"], [True, False, False])
    datetime.datetime(2018, 6, 20, 0, 0)
    >>> visible_date(["Title", "Last updated on January 20, 2017"], [True, False]) is None
    True
    """
    start = next((i for i, h in enumerate(headings) if h), 0)
    near = texts[max(0, start - 2): start + 12]
    for label in _DATE_LABELS:
        for text in near:
            if label.search(text) and (when := find_date(text, at, zone)):
                return when
    for i, text in enumerate(texts[:start + 40]):
        if _UPDATED.search(text):
            continue
        found = min((f for f in (date_span(text), relative_span(text, at, zone)) if f),
                    key=lambda f: f[0], default=None)
        if found and (found[0] <= 2 or (len(text) <= 60 and abs(i - start) <= 12)):
            return found[1]
    return None




# --- relative dates ----------------------------------------------------------------------

_UNIT_SECONDS = {"秒": 1, "分钟": 60, "分": 60, "小时": 3600, "个小时": 3600, "天": 86400,
                 "日": 86400, "周": 7 * 86400, "星期": 7 * 86400, "个月": 30 * 86400,
                 "月": 30 * 86400, "年": 365 * 86400,
                 "second": 1, "sec": 1, "minute": 60, "min": 60, "hour": 3600, "hr": 3600,
                 "day": 86400, "week": 7 * 86400, "month": 30 * 86400, "year": 365 * 86400}
_AGO = re.compile(
    r"(?<!\d)(\d{1,4})\s*(秒|分钟|分|个小时|小时|天|日|周|星期|个月|月|年)\s*(?:之)?前(?![往进来去面方后])"
    r"|\b(\d{1,4}|an?|one)\s+(second|sec|minute|min|hour|hr|day|week|month|year)s?\s+ago\b"
    r"|(刚刚|\bjust now\b)", re.IGNORECASE)
_DAY_WORDS = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2,
              "today": 0, "yesterday": 1}
# a day word counts only with its clock: a bare 今日 or "today" is as often a statistic
# ("今日: 123") or prose as a time
_DAY_WORD = re.compile(
    r"(今天|今日|昨天|昨日|前天|\btoday\b|\byesterday\b)"
    r"\s*(?:at\s+)?(?:(上午|下午|晚上|凌晨)\s*)?(\d{1,2})[:：](\d{2})(?::\d{2})?(?![\d:])"
    r"\s*([AaPp]\.?[Mm]\.?)?", re.IGNORECASE)


def relative_date(text: str, at: datetime, zone: tzinfo | None = None) -> datetime | None:
    """The first relative time of ``text`` resolved against the capture time *at* (aware).

    "N minutes/hours/days ago" (``5分钟前``, ``3 hours ago``, ``刚刚``) is an instant: *at*
    less the span, aware.  A day word with its clock (``昨天 12:00``, ``today
    10:00``, ``yesterday at 3:05 pm``; a bare ``今日`` is not a time) is a local time on a
    day counted back from *at*'s local day: in *zone* when the site's zone is known
    (aware), else on *at*'s UTC day (naive, like any time that states no offset).  Months
    and years count 30 and 365 days.

    >>> at = datetime(2021, 3, 15, 20, 0, tzinfo=UTC)
    >>> relative_date("5分钟前", at).isoformat(), relative_date("2 days ago", at).isoformat()
    ('2021-03-15T19:55:00+00:00', '2021-03-13T20:00:00+00:00')
    >>> relative_date("昨天 12:00", at), relative_date("yesterday at 3:05 pm", at)
    (datetime.datetime(2021, 3, 14, 12, 0), datetime.datetime(2021, 3, 14, 15, 5))
    >>> relative_date("昨天 12:00", at, timezone(timedelta(hours=8))).isoformat()
    '2021-03-15T12:00:00+08:00'
    >>> relative_date("3天前往北京", at), relative_date("今日: 123 昨日: 456", at)  # 前往: go to
    (None, None)
    """
    found = relative_span(text, at, zone)
    return found[1] if found else None


def relative_span(text: str, at: datetime | None,
                  zone: tzinfo | None = None) -> tuple[int, datetime] | None:
    """Where the first relative time of ``text`` (in its NFKC form) starts, and the time."""
    if at is None:
        return None
    text = unicodedata.normalize("NFKC", text)
    found: list[tuple[int, datetime]] = []
    if (m := _AGO.search(text)) is not None and (when := _ago(m, at)) is not None:
        found.append((m.start(), when))
    if (m := _DAY_WORD.search(text)) is not None and (when := _day_word(m, at, zone)):
        found.append((m.start(), when))
    return min(found, key=lambda f: f[0]) if found else None


def _ago(m: re.Match[str], at: datetime) -> datetime | None:
    if m.group(5):
        seconds = 0
    else:
        count, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        n = int(count) if count[0].isdigit() else 1
        seconds = n * _UNIT_SECONDS[unit.lower()]
    try:
        return at.astimezone(UTC) - timedelta(seconds=seconds)
    except OverflowError:
        return None


def _day_word(m: re.Match[str], at: datetime, zone: tzinfo | None) -> datetime | None:
    back = _DAY_WORDS[m.group(1).lower()]
    local = at.astimezone(zone) if zone is not None else at.astimezone(UTC)
    hour, minute = int(m.group(3) or 0), int(m.group(4) or 0)
    period, meridiem = m.group(2) or "", (m.group(5) or "").lower().replace(".", "")
    if (meridiem == "pm" or period in ("下午", "晚上")) and hour < 12:
        hour += 12
    elif (meridiem == "am" or period == "凌晨") and hour == 12:
        hour = 0
    try:
        day = local.date() - timedelta(days=back)
        when = datetime(day.year, day.month, day.day, hour, minute)
    except (ValueError, OverflowError):
        return None
    return when.replace(tzinfo=zone) if zone is not None else when


def in_zone(when: datetime | None, zone: tzinfo | None) -> datetime | None:
    """*when* read in the site's *zone* when it states no offset of its own.

    >>> in_zone(datetime(2021, 3, 15, 8, 0), timezone(timedelta(hours=8))).isoformat()
    '2021-03-15T08:00:00+08:00'
    """
    if when is None or zone is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=zone)
