"""Real platform notice wordings for planted takedowns, with the kind each one means.

They are read from the real-data folder beside the repository (``notice-strings/
notices.tsv`` there: platform, language, text, suggested interpretation,
source) when it is there; otherwise a few real wordings per kind embedded below stand in.
Only rows whose interpretation starts with exactly one takedown kind are used (no "?",
no "a/b" or "a / b" alternatives before its parenthesis, no listing markers), with markup
stripped and placeholders refused.

Imports the stdlib and ``snapshots.vocab`` (the kinds).

>>> book = NoticeBook(FALLBACK)
>>> import random
>>> book.pick("author_deleted", "zh", "wechat", random.Random(0))
'该内容已被发布者删除'
"""

from __future__ import annotations

import csv
import html
import random
import re
from dataclasses import dataclass
from pathlib import Path

from snapshots.vocab import Kind

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
NOTICES_TSV = REALDATA / "notice-strings" / "notices.tsv"
KINDS = tuple(Kind)
# platform column substrings → the archetype group whose pages show those notices
GROUPS = {"phpBB": "forum", "MyBB": "forum", "Discuz": "forum", "Weibo": "microblog",
          "X/Twitter": "microblog", "WeChat": "wechat", "WordPress": "portal",
          "Generic": "portal"}


@dataclass(frozen=True)
class Notice:
    kind: str
    lang: str  # "zh" or "en"
    group: str  # forum, microblog, wechat, portal
    text: str


FALLBACK = (
    Notice("removed", "zh", "forum", "抱歉，指定的主题不存在或已被删除或正在被审核"),
    Notice("removed", "en", "forum", "The requested topic does not exist."),
    Notice("removed", "en", "microblog", "Hmm...this page doesn’t exist. Try searching for "
                                         "something else."),
    Notice("censored", "zh", "wechat", "此内容因违规无法查看"),
    Notice("censored", "en", "wechat", "Unable to view this content because it violates "
                                       "regulations"),
    Notice("censored", "zh", "microblog", "该微博因违反《微博社区公约》的相关规定，已被删除"),
    Notice("censored", "zh", "forum", "提示: 该帖被管理员或版主屏蔽"),
    Notice("author_deleted", "zh", "wechat", "该内容已被发布者删除"),
    Notice("author_deleted", "en", "wechat", "The content has been deleted by the author."),
    Notice("author_deleted", "zh", "microblog", "抱歉，此微博已被作者删除。查看帮助：http://t.cn/zWSudZc"),
    Notice("account_suspended", "zh", "wechat", "此帐号已被屏蔽,"),
    Notice("account_suspended", "zh", "microblog",
           "该账号因被投诉违反法律法规和《微博社区公约》的相关规定，现已无法查看。查看帮助"),
    Notice("account_suspended", "en", "microblog", "Account suspended"),
    Notice("section_closed", "zh", "forum", "抱歉，指定的版块不存在"),
    Notice("section_closed", "zh", "forum", "本版块已关闭"),
    Notice("section_closed", "en", "forum", "The forum you selected does not exist."),
)

_TAG = re.compile(r"<[^>]+>")
_PLACEHOLDER = re.compile(r"[{}%]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _kind_of(interpretation: str) -> str | None:
    """The one kind an interpretation names, or None when it hedges or names none."""
    claim = interpretation.partition("(")[0]
    head = re.split(r"[\s;]", claim.strip(), maxsplit=1)[0]
    if head not in KINDS or "marker" in interpretation or re.search(r"[/?]|-ish", claim):
        return None
    return head


def _clean(text: str) -> str | None:
    """Rendered text of a notice cell, or None when it holds placeholders."""
    text = html.unescape(_TAG.sub("", text.split(" / ")[0])).strip().strip('"')
    if _PLACEHOLDER.search(text) or len(text) < 4:
        return None
    return text


def _group_of(platform: str) -> str:
    return next((g for key, g in GROUPS.items() if key in platform), "portal")


def _row_notice(row: dict[str, str]) -> Notice | None:
    kind = _kind_of(row.get("suggested_interpretation") or "")
    text = _clean(row.get("text") or "")
    if kind is None or text is None:
        return None
    lang = "zh" if _CJK.search(text) else "en"
    return Notice(kind, lang, _group_of(row.get("platform") or ""), text)


def load_notices(path: Path = NOTICES_TSV) -> tuple[Notice, ...]:
    """The usable notices of *path*, or an empty tuple when the file is absent."""
    if not path.is_file():
        return ()
    with path.open(encoding="utf-8", newline="") as fh:
        rows = csv.DictReader(fh, delimiter="\t")
        found = (_row_notice(row) for row in rows)
        return tuple(n for n in found if n is not None)


class NoticeBook:
    """Pick a wording for a kind, preferring the site's platform group and language."""

    def __init__(self, notices: tuple[Notice, ...] | None = None) -> None:
        self.notices = notices if notices is not None else load_notices()
        self.from_realdata = notices is None and bool(self.notices)

    def pick(self, kind: str, lang: str, group: str, rng: random.Random,
             about: str | None = None) -> str | None:
        """A wording for *kind*: same group and language first, then the embedded list,
        then any group in the language, then any language; None when no wording exists.
        *about* (a regex) prefers wordings that fit the page, e.g. a thread, not a shop."""
        tiers = (lambda n: n.group == group and n.lang == lang, lambda n: n.lang == lang,
                 lambda n: True)
        for test in tiers:
            for pool in (self.notices, FALLBACK):
                found = sorted(n.text for n in pool if n.kind == kind and test(n))
                fitting = [t for t in found if about is None or re.search(about, t)]
                if fitting or found:
                    return rng.choice(fitting or found)
        return None

    def has(self, kind: str, lang: str, group: str) -> bool:
        """Whether a wording of the group and language exists (no cross-platform borrowing)."""
        return any(n.kind == kind and n.lang == lang and n.group == group
                   for n in (*self.notices, *FALLBACK))
