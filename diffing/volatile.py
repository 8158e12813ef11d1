"""Volatile content: what changes between two captures without anyone editing the page.

`mask` turns a text into its comparison key: the text with clocks, dates, relative times,
view/comment counters, session tokens and bare numbers replaced by placeholders, so that
"Number of views (4099)" and "Number of views (4116)" compare equal while words never do.
`fix_mojibake` undoes UTF-8 that was read as latin-1/cp1252 ("EspaÃ±ol"), so a change of
encoding alone is not a change of text.

>>> mask("Number of views (4099)/Comments (0)") == mask("Number of views (4116)/Comments (3)")
True
>>> mask("发布时间：2018-06-20 10:00  阅读 1234")
'发布时间:# 阅读 #'
>>> mask("Posted 5 minutes ago by Ann") == mask("Posted 2 hours ago by Ann")
True
>>> mask("Internationalization matters")
'Internationalization matters'
>>> fix_mojibake("EspaÃ±ol")
'Español'

Pure; imports the standard library and ``diffing.dates`` (month and weekday names).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from diffing.dates import CJK_WEEKDAY as _CJK_WEEKDAY
from diffing.dates import MONTH as _MONTH
from diffing.dates import WEEKDAY as _WEEKDAY

# Placeholders: "#" for a volatile span (time, counter value, token), "0" for any other number.
VOLATILE = "#"
NUMBER = "0"

_NUM = r"\d+(?:[.,]\d+)*"

_UUID = re.compile(r"\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b")
# A run of base64/hex characters; masked only if it holds both a digit and a letter (words
# never do, so "Internationalization" survives while "a3F9x0Qz7LmN2pQr" does not).
_TOKEN = re.compile(r"(?<![\w+=])[A-Za-z0-9+=_]{16,}(?![\w+=])")

_MERIDIEM = r"(?:\s*[AaPp]\.?[Mm]\.?)?"
_CLOCK = r"(?:(?:上午|下午|晚上|凌晨)\s*)?\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?" + _MERIDIEM
_TZ = r"(?:\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}|[A-Z]{2,4}T)\b)?"
_NUMERIC_DATES = [
    # 2021-03-15, 2021/3/15, 2021.03.15, optionally with a clock: ISO 8601 and the rest
    r"(?<!\d)\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:(?:T|\s+)" + _CLOCK + _TZ + ")?",
    # 03/15/2021, 15.03.21
    r"(?<![\d.])\d{1,2}[/.]\d{1,2}[/.]\d{2,4}(?![\d.])",
    # 2021年3月15日, 3月15日, 2021年3月 (with weekday and clock)
    r"(?:\d{2,4}\s*年\s*)?\d{1,2}\s*月\s*\d{1,2}\s*[日号]" + _CJK_WEEKDAY + "?",
    r"\d{4}\s*年\s*\d{1,2}\s*月",
]
_DATE = re.compile("|".join([
    *_NUMERIC_DATES,
    # Wednesday, February 01, 2017; Mar 15, 2021; 15 March 2021; March 2021
    _WEEKDAY + "?" + r"\b" + _MONTH + r"\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b",
    _WEEKDAY + "?" + r"(?<!\d)\d{1,2}(?:st|nd|rd|th)?\s+" + _MONTH + r",?\s+\d{4}\b",
    r"\b" + _MONTH + r"\s+\d{4}\b",
]))
_NUMERIC_DATE = re.compile("|".join(_NUMERIC_DATES))  # `_DATE` where no month is named
_DIGIT_DATE = re.compile("|".join(_NUMERIC_DATES[:2]))  # `_NUMERIC_DATE` without "月"
_TIME = re.compile(r"(?<![\d:])" + _CLOCK + _TZ + r"(?![\d:])")
_RELATIVE = re.compile(
    "|".join([
        r"(?:\d+|[一二两三四五六七八九十半几]+)\s*(?:秒钟?|分钟|个?小时|天|日|周|个?星期|个?月|年)\s*(?:之?前|后)",
        r"(?:昨天|前天|今天|今日|昨日|明天)\s*#",
        r"\b(?:\d+|an?|one|a few|few|several)\s+(?:sec(?:ond)?|min(?:ute)?|h(?:ou)?r|day|week|"
        r"month|year)s?\s+ago\b",
        r"\b(?:yesterday|today)\s+(?:at\s+)?#",
        r"\bjust now\b",
    ]), re.IGNORECASE)

_COUNT = r"\d[\d,.]*\s*(?:[万千亿kKmMwW]\+?|\+)?"
_CJK_COUNTER_WORDS = ("阅读|浏览|点击|评论|回复|点赞|赞|转发|收藏|查看|播放|人气|围观|访问|粉丝|"
                      "关注|分享|喜欢|在看|热度|下载")
_EN_COUNTER_WORDS = ("views?|comments?|replies|reply|likes?|shares?|reads?|hits?|visits?|"
                     "followers?|retweets?|reposts?|downloads?|votes?|clicks?|pageviews?")
_COUNTER = re.compile(
    "|".join([
        # 阅读 1234 / 阅读数：1.2万 / 浏览(99) / views: 12 / Number of views (4099)
        r"(?P<label>(?:" + _CJK_COUNTER_WORDS + r")(?:数|量|次数|数量|人数)?|"
        r"\b(?:number of\s+)?(?:" + _EN_COUNTER_WORDS + r"))\s*[:(\[（]?\s*" + _COUNT
        + r"\s*次?[)\]）]?",
        # 1234 次阅读 / 12 条评论 / 1,234 views
        _COUNT + r"\s*(?P<label2>(?:次|人|条|个)?(?:" + _CJK_COUNTER_WORDS + r")|(?:"
        + _EN_COUNTER_WORDS + r")\b)",
    ]), re.IGNORECASE)
# `_COUNTER` where no English counter word is written and no letter folds to an ASCII one
# (`_CASE_TRAPS`): case-sensitive, which is the same there (`_COUNT` spells both cases of
# its unit letters) and faster
_CJK_COUNTER = re.compile(
    "|".join([
        r"(?P<label>(?:" + _CJK_COUNTER_WORDS + r")(?:数|量|次数|数量|人数)?)\s*[:(\[（]?\s*"
        + _COUNT + r"\s*次?[)\]）]?",
        _COUNT + r"\s*(?P<label2>(?:次|人|条|个)?(?:" + _CJK_COUNTER_WORDS + r"))",
    ]))
_DIGITS = re.compile(_NUM)
_HAS_DIGIT = re.compile(r"\d")
# What each pattern cannot match without, for `mask` to skip it: a month name (`_DATE`), or
# a digit before "月" or two separators between digits (`_NUMERIC_DATE`); a colon between
# digits (`_TIME`); "前"/"后", or "天"/"日" and "#" (`昨天 #`), or an English relative word
# (`_RELATIVE`); a counter word (`_COUNTER`: an English one by its stem, lower case, with a
# digit next to it — what may stand between taken generously, a superset of the pattern's).
_DIGIT_MONTH = re.compile(r"\d\s*月")
_TWO_DATE_SEPS = re.compile(r"\d[-/.]\d{1,2}[-/.]\d")
_CLOCK_SEP = re.compile(r"\d:\d")


def _any_of(*parts: str) -> re.Pattern[str]:
    """One regex for "contains one of *parts*": a search beats a loop over ``in`` tests."""
    return re.compile("|".join(map(re.escape, parts)))


_RELATIVE_CJK_AGO = _any_of("前", "后")
_MONTH_NAMES = _any_of("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                       "Nov", "Dec")
_RELATIVE_CJK = _any_of("前", "后", "天", "日")
_RELATIVE_WORDS = _any_of("ago", "just now", "yesterday", "today")
_COUNTER_CJK = _any_of(*_CJK_COUNTER_WORDS.split("|"))
_STEMS = ("view", "comment", "repl", "like", "share", "read", "hit", "visit", "follower",
          "retweet", "repost", "download", "vote", "click")
_COUNTER_STEMS = _any_of(*_STEMS)
_EN_COUNTER_NEAR = re.compile(
    r"(?:" + "|".join(_STEMS) + r")[a-z]*\s*[:(\[（]?\s*\d"
    r"|\d[\d,.\s万千亿kmw+]*(?:次|人|条|个)?(?:" + "|".join(_STEMS) + ")")
_CASE_TRAPS = _any_of("\u0131", "\u0130", "\u017f", "\u212a")  # ı İ ſ K (Kelvin)


def _token(m: re.Match[str]) -> str:
    tok = m.group()
    has_digit = any(c.isdigit() for c in tok)
    has_alpha = any(c.isalpha() for c in tok)
    return VOLATILE if has_digit and has_alpha else tok


def _counter(m: re.Match[str]) -> str:
    label = m.group("label")
    if label is not None:
        return f"{label} {VOLATILE}"
    return f"{VOLATILE} {m.group('label2')}"


_FULL_WIDTH = {chr(cp): unicodedata.normalize("NFKC", chr(cp))
               for cp in (*range(0xFF01, 0xFF5F), 0x3000)}
_FULL_WIDTH_CHAR = re.compile("[\uff01-\uff5e\u3000]")


def _half_width(m: re.Match[str]) -> str:
    return _FULL_WIDTH[m.group()]


def normalize(text: str) -> str:
    """NFKC and whitespace collapsed to single spaces, trimmed."""
    if not text.isascii():  # ASCII is NFKC
        # Full-width forms are what most CJK text is not normalised for; mapped to their
        # NFKC images first, the rest is often normal already (the same result: NFKC
        # decomposes them to those very characters).
        if _FULL_WIDTH_CHAR.search(text):
            text = _FULL_WIDTH_CHAR.sub(_half_width, text)
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
    return " ".join(text.split())


@lru_cache(maxsize=65536)
def mask(text: str) -> str:
    """The comparison key of ``text``: normalised, volatile spans replaced.

    Memoised: two captures of a page share most of their blocks, and sites share their
    templates, so most keys were computed a moment ago.

    Dates, clocks and relative times become ``#``; so do counter values (the counter's
    label is kept: ``阅读 #``) and hex/base64/uuid tokens of 16 characters or more; any
    other run of digits becomes ``0``. Words are never touched.

    >>> mask("3分钟前") == mask("昨天 12:00") == mask("Mar 15, 2021") == mask("15:04:05")
    True
    >>> mask("session 0f8a9c2e1b7d4a6f9e3c")
    'session #'
    >>> mask("Chapter 12: the 2 shadows")
    'Chapter 0: the 0 shadows'
    """
    return _masked(shape(text))


_NONZERO = re.compile("[1-9]")


def shape(text: str) -> str:
    """``text`` with every ASCII digit written ``0``: texts of one shape have one `mask`.

    The key depends on where the digits are, never on their values (every pattern takes any
    ASCII digit alike, and all of them are replaced), so counters that ticked since the
    last capture share one computation, and comparing shapes — one substitution — tells
    most equal keys apart from unequal ones without computing either.

    >>> shape("阅读 1234 · 2021-03-15") == shape("阅读 9876 · 2024-11-02")
    True
    """
    return _NONZERO.sub(NUMBER, text)


@lru_cache(maxsize=65536)
def _masked(text: str) -> str:
    out = normalize(text)
    if not out:
        return out
    if out.count("-") >= 4:
        out = _UUID.sub(VOLATILE, out)
    digits = "0" in out or _HAS_DIGIT.search(out) is not None
    if digits:  # a token is masked only with a digit in it, and may take the last ones
        out = _TOKEN.sub(_token, out)
        digits = "0" in out or _HAS_DIGIT.search(out) is not None
    if not digits:
        return _RELATIVE.sub(VOLATILE, out) if _maybe_relative(out) else out
    # Each pattern runs only where a string it needs is present (a substitution only puts
    # "#" in, so it never makes a word or a digit appear): most blocks hold none of them.
    return _DIGITS.sub(NUMBER, _mask_words(_mask_dates(out)))


def _mask_dates(out: str) -> str:
    """Dates and clock times masked (see `_masked`)."""
    if _holds(out, _MONTH_NAMES):
        out = _DATE.sub(VOLATILE, out)
    elif "月" in out and _DIGIT_MONTH.search(out):
        out = _NUMERIC_DATE.sub(VOLATILE, out)
    elif _TWO_DATE_SEPS.search(out):
        out = _DIGIT_DATE.sub(VOLATILE, out)
    if ":" in out and _CLOCK_SEP.search(out):
        out = _TIME.sub(VOLATILE, out)
    return out


def _mask_words(out: str) -> str:
    """Relative times and counters masked (see `_masked`)."""
    low: str | None = out.lower()
    if not out.isascii() and _holds(out, _CASE_TRAPS):
        low = None  # letters that match ASCII ones under re.IGNORECASE: no shortcut
    if (low is None or (("#" in out or _holds(out, _RELATIVE_CJK_AGO))
                        and _holds(out, _RELATIVE_CJK)) or _holds(low, _RELATIVE_WORDS)):
        out = _RELATIVE.sub(VOLATILE, out)
    if low is None or (_holds(low, _COUNTER_STEMS) and _EN_COUNTER_NEAR.search(low)):
        out = _COUNTER.sub(_counter, out)
    elif _holds(out, _COUNTER_CJK):
        out = _CJK_COUNTER.sub(_counter, out)
    return out


def _holds(text: str, parts: re.Pattern[str]) -> bool:
    """Whether *text* contains one of the strings *parts* (see `_any_of`) was made of."""
    return parts.search(text) is not None


def _maybe_relative(text: str) -> bool:
    """Cheap pre-check for relative times written without digits ("an hour ago", "三天前")."""
    if "前" in text or "后" in text:
        return True
    low = text.lower()
    return "ago" in low or "just now" in low


# --- mojibake -------------------------------------------------------------------------------

# cp1252 renders bytes 0x80-0x9f as these characters; latin-1 as C1 controls. Either way a
# UTF-8 continuation byte (0x80-0xbf) read as a single-byte encoding is one of them.
_CP1252_HIGH = "€\x81‚ƒ„…†‡ˆ‰Š‹Œ\x8dŽ\x8f\x90‘’“”•–—˜™š›œ\x9džŸ"
_TO_BYTE = {ch: 0x80 + i for i, ch in enumerate(_CP1252_HIGH)}
_CONT = "[\x80-\xbf" + re.escape(_CP1252_HIGH) + "]"
_MOJIBAKE = re.compile(
    f"[\xc2-\xdf]{_CONT}|[\xe0-\xef]{_CONT}{{2}}|[\xf0-\xf4]{_CONT}{{3}}")
_MOJIBAKE_LEAD = re.compile("[\xc2-\xf4]")


def _as_bytes(chars: str) -> bytes | None:
    out = bytearray()
    for ch in chars:
        code = ord(ch)
        if code < 0x100:  # latin-1 read: the byte itself, C1 controls included
            out.append(code)
        elif ch in _TO_BYTE:
            out.append(_TO_BYTE[ch])
        else:
            return None
    return bytes(out)


def _undo(m: re.Match[str]) -> str:
    raw = _as_bytes(m.group())
    if raw is None:
        return m.group()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return m.group()


def fix_mojibake(text: str, *, max_layers: int = 3) -> str:
    """Undo UTF-8 that was decoded as latin-1 or cp1252, up to ``max_layers`` times.

    Only sequences that decode as valid UTF-8 are replaced (the rest of the text, real
    "é" and "€" included, is left alone), and a pass is kept only if it lowered the number
    of mojibake sequences; otherwise the text comes back unchanged.

    >>> fix_mojibake("Transitionâ\\x80\\x99s, EspaÃ±ol, ç®\\x80ä½\\x93ä¸\\xadæ\\x96\\x87")
    'Transition’s, Español, 简体中文'
    >>> fix_mojibake("café, 1€, déjà vu")
    'café, 1€, déjà vu'
    """
    if not _MOJIBAKE_LEAD.search(text):  # every sequence starts with one of these
        return text
    for _ in range(max_layers):
        before = len(_MOJIBAKE.findall(text))
        if not before:
            break
        fixed = _MOJIBAKE.sub(_undo, text)
        if len(_MOJIBAKE.findall(fixed)) >= before:
            break
        text = fixed
    return text


_ALNUM_WITH_DIGIT = re.compile(r"[A-Za-z0-9]*\d[A-Za-z0-9]*")


def mask_name(name: str) -> str:
    """A class or id with its generated parts masked, for structural paths.

    >>> mask_name("post-12345"), mask_name("view-dom-id-3399ffe0c94f2184"), mask_name("col-sm-9")
    ('post-0', 'view-dom-id-#', 'col-sm-0')
    """
    return _ALNUM_WITH_DIGIT.sub(
        lambda m: "#" if len(m.group()) >= 6 and not m.group().isdigit() else "0", name)
