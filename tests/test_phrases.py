"""The notice phrasebook (diffing/phrases.py + diffing/phrases.tsv) against real notice strings.

Real data is read in place (see ``notice_truth``) and each test skips, saying so, where its
folder is absent. The expected state and kind of every realdata row is written out by hand in
``tests/notice_truth.py``, not computed by the code under test.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from notice_truth import (
    AUTHOR,
    BENIGN,
    CENSORED,
    CITIZENLAB,
    DISCUZ,
    EDGI,
    EXPECTED,
    FAILED,
    FILLED,
    GONE,
    MOVED,
    NOTICE_STRINGS,
    REALDATA,
    REMOVED,
    RESTRICTED,
    SECTION,
    SUSPENDED,
    WECHATSCOPE,
    WECHATSCOPE_EXPECTED,
    realdata_params,
)

from diffing import phrases
from diffing.phrases import PhrasebookError, load_phrasebook


@pytest.fixture(scope="module")
def book() -> phrases.Phrasebook:
    return load_phrasebook()


def classify(book: phrases.Phrasebook, text: str) -> tuple[str, str] | None:
    found = book.match(text)
    return None if found is None else (found.state, found.kind)


def page_text(markup: str) -> str:
    """What a main-text extractor gets from an HTML fragment (tags out, entities decoded)."""
    return BeautifulSoup(markup, "lxml").get_text(" ")


@pytest.mark.parametrize("row", realdata_params(NOTICE_STRINGS, "text", "source_path_key"))
def test_notice_strings_row(book: phrases.Phrasebook, row: dict[str, str]) -> None:
    text = row["text"]
    assert text in EXPECTED, f"no expectation written for {text!r}"
    assert classify(book, page_text(FILLED.get(text, text))) == EXPECTED[text]


@pytest.mark.parametrize("row", realdata_params(DISCUZ, "text_zh_CN", "key"))
def test_discuz_row(book: phrases.Phrasebook, row: dict[str, str]) -> None:
    text = row["text_zh_CN"]
    assert text in EXPECTED, f"no expectation written for {text!r}"
    assert classify(book, page_text(FILLED.get(text, text))) == EXPECTED[text]


def test_realdata_row_counts_and_no_stale_expectations() -> None:
    if not (NOTICE_STRINGS.exists() and DISCUZ.exists()):
        pytest.skip(f"realdata absent under {REALDATA}")
    with NOTICE_STRINGS.open(encoding="utf-8", newline="") as handle:
        notice_texts = [r["text"] for r in csv.DictReader(handle, delimiter="\t")]
    with DISCUZ.open(encoding="utf-8", newline="") as handle:
        discuz_texts = [r["text_zh_CN"] for r in csv.DictReader(handle, delimiter="\t")]
    assert (len(notice_texts), len(discuz_texts)) == (118, 42)
    assert set(EXPECTED) == set(notice_texts) | set(discuz_texts)




@pytest.fixture(scope="module")
def wechatscope_rows() -> list[dict[str, str]]:
    if not WECHATSCOPE.exists():
        pytest.skip(f"realdata absent: {WECHATSCOPE}")
    with WECHATSCOPE.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("message", list(WECHATSCOPE_EXPECTED))
def test_wechatscope_notice(book: phrases.Phrasebook, wechatscope_rows: list[dict[str, str]],
                            message: str) -> None:
    seen = {row["censored_msg"] for row in wechatscope_rows}
    assert message in seen
    # as the article page shows it: the notice under WeChat's page furniture
    page = f"微信公众平台\n{message}\n轻触阅读原文"
    assert classify(book, page) == WECHATSCOPE_EXPECTED[message]


def test_wechatscope_has_eight_notice_families(wechatscope_rows: list[dict[str, str]]) -> None:
    assert len(wechatscope_rows) == 17411
    assert {row["censored_msg"] for row in wechatscope_rows} == set(WECHATSCOPE_EXPECTED)


def test_wechatscope_titles_are_not_notices(book: phrases.Phrasebook,
                                            wechatscope_rows: list[dict[str, str]]) -> None:
    """17,411 real article titles (many about censorship) and account names match nothing."""
    titles = "\n".join(row["title"] for row in wechatscope_rows)
    names = "\n".join({row["nickname"] for row in wechatscope_rows})
    assert book.match_all(titles) == []
    assert book.match_all(names) == []


CITIZENLAB_INTERSTITIALS = {  # click-through warnings, the page is one tap away
    "1_interstitial_warning.htm", "zh_1_interstitial_warning.htm", "interstitial-dx.com.htm"}


def citizenlab_files() -> list:
    folder = CITIZENLAB / "wechat_url_blocked_html"
    if not folder.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"realdata absent: {folder}"),
                             id="realdata-absent")]
    return [pytest.param(path, id=path.name) for path in sorted(folder.glob("*.htm"))]


@pytest.mark.parametrize("path", citizenlab_files())
def test_citizenlab_interstitial_page(book: phrases.Phrasebook, path: Path) -> None:
    soup = BeautifulSoup(path.read_bytes(), "lxml")
    for tag in soup(["script", "style", "title"]):
        tag.decompose()
    expected = RESTRICTED if path.name in CITIZENLAB_INTERSTITIALS else CENSORED
    assert classify(book, soup.get_text("\n")) == expected


def test_citizenlab_file_count() -> None:
    folder = CITIZENLAB / "wechat_url_blocked_html"
    if not folder.exists():
        pytest.skip(f"realdata absent: {folder}")
    assert len(list(folder.glob("*.htm"))) == 39


def test_citizenlab_block_messages_are_censored(book: phrases.Phrasebook) -> None:
    path = CITIZENLAB / "wechat_url_blocked_messages.txt"
    if not path.exists():
        pytest.skip(f"realdata absent: {path}")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    messages = [line for line in lines[1:] if line and not line.startswith("[")]
    assert len(messages) == 28  # 15 English, 13 Chinese
    for message in messages:
        assert classify(book, message) == CENSORED, message


def body_text(raw: bytes) -> str:
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return BeautifulSoup(raw, "lxml").get_text("\n")


def edgi_params() -> list:
    folder = EDGI / "snapshot_quality"
    if not folder.exists():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"absent: {folder}"),
                             id="realdata-absent")]
    params = []
    for path in sorted(folder.glob("*/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        genuine = path.parent.name.rsplit("-", 1)[1] == "1.0"
        body = path.with_suffix(".body")
        text = body_text(body.read_bytes()) if body.exists() else data.get("title") or ""
        if text:
            params.append(pytest.param(text, genuine, id=f"{path.parent.name}-{path.stem[:8]}"))
    return params


@pytest.mark.parametrize(("text", "genuine"), edgi_params())
def test_edgi_capture_quality(book: phrases.Phrasebook, text: str, genuine: bool) -> None:
    """EDGI's analysts marked CDN walls, bot challenges, 429s and 5xx as not genuine pages."""
    state = classify(book, text)
    if genuine:
        assert state is None or state[0] != "failed"
    else:
        assert state == FAILED


def test_edgi_real_pages_are_not_notices(book: phrases.Phrasebook) -> None:
    folder = EDGI / "archives"
    if not folder.exists():
        pytest.skip(f"realdata absent: {folder}")
    pages = sorted(folder.glob("*.html"))
    assert len(pages) == 12
    for path in pages:
        soup = BeautifulSoup(path.read_bytes(), "lxml")
        for tag in soup(["script", "style"]):
            tag.decompose()
        assert book.match_all(soup.get_text("\n")) == [], path.name


PLATFORM_STRINGS = [
    # Weibo
    ("此微博已被作者删除", AUTHOR),
    ("该微博因被多人投诉，根据《微博社区公约》相关规定，已被删除。", CENSORED),
    ("抱歉，此微博已被删除。如需帮助，请联系客服。", REMOVED),
    ("该账号因被投诉违反法律法规和《微博社区公约》的相关规定，现已无法查看。", SUSPENDED),
    ("该账号因用户自行申请关闭，现已无法查看。", AUTHOR),
    ("作者已设置仅展示一个月内微博", RESTRICTED),
    # WeChat
    ("根据作者隐私设置，无法查看该内容", RESTRICTED),
    ("该账号因违规已被封禁", SUSPENDED),
    ("此帐号已被屏蔽, 内容无法查看", SUSPENDED),
    # X / Twitter
    ("This Tweet was deleted by the Tweet author. Learn more", AUTHOR),
    ("This Post was deleted by the Post author.", AUTHOR),
    ("This Tweet is from a suspended account. Learn more", SUSPENDED),
    ("Account suspended", SUSPENDED),
    ("This account doesn’t exist\nTry searching for another.", GONE),
    ("This Tweet from @someone has been withheld in Germany based on local law(s).", CENSORED),
    ("Tweet withheld in your country.", CENSORED),
    ("This Tweet violated the Twitter Rules. Learn more", CENSORED),
    ("These posts are protected\nOnly approved followers can see @someone’s posts.", RESTRICTED),
    # YouTube
    ("Video unavailable\nThis video has been removed by the uploader", AUTHOR),
    ("This video has been removed for violating YouTube's Terms of Service", CENSORED),
    ("This video has been removed for violating YouTube's Community Guidelines", CENSORED),
    ("This video is no longer available because the YouTube account associated with this "
     "video has been terminated.", SUSPENDED),
    ("Video unavailable\nThis video is private", RESTRICTED),
    ("Video unavailable", GONE),
    # Facebook (ambiguous: deleted or shared with fewer people; recorded as gone)
    ("This content isn't available right now\nWhen this happens, it's usually because the "
     "owner only shared it with a small group of people, changed who can see it or it's been "
     "deleted.", GONE),
    # government CMS and news sites
    ("对不起，您访问的页面不存在！", GONE),
    ("404 页面不存在", GONE),
    ("该信息已删除", REMOVED),
    ("信息已过期或已被删除", REMOVED),
    ("该文章已被删除", REMOVED),
    ("This article has been removed", REMOVED),
    ("This page has been removed.", REMOVED),
    ("Page not found\nSorry, the page you are looking for could not be found.", GONE),
    ("404 Not Found\nnginx", GONE),
    ("Not Found\nThe requested URL /news/art_112.html was not found on this server.", GONE),
    # generic legal notices
    ("根据相关法律法规和政策，该内容无法显示。", CENSORED),
    ("根据相关法律法规和政策，本吧暂不开放。", SECTION),  # a tie, kind order decides
    ("此内容因违规无法查看", CENSORED),
    ("Unavailable For Legal Reasons\nThis content is not available in your jurisdiction.",
     CENSORED),
    ("451 Unavailable For Legal Reasons", CENSORED),
    # forums
    ("本版块已关闭", SECTION),
    ("This community has been banned", SECTION),
    ("alice deleted the post by alice on Mon Jan 01, 2024 10:00 am.", AUTHOR),
]


@pytest.mark.parametrize(("text", "expected"), PLATFORM_STRINGS, ids=[t[:32] for t, _ in
                                                                      PLATFORM_STRINGS])
def test_platform_string(book: phrases.Phrasebook, text: str, expected: tuple[str, str]) -> None:
    assert classify(book, text) == expected


ANTIBOT = [
    "当前环境异常，完成验证后即可继续访问",
    "访问过于频繁，请稍后再试",
    "Just a moment...",
    "Just a moment…\nEnable JavaScript and cookies to continue",
    "Checking your browser before accessing example.org.",
    "Checking your browser",
    "Access Denied\nYou don't have permission to access \"http://www.example.gov/x\" on this "
    "server.\nReference #18.6b7d1602.1712908137.1a3b4c5d",
    "Attention Required! | Cloudflare",
    "www.example.org\nVerifying you are human. This may take a few seconds.",
    "Sorry, you have been blocked\nYou are unable to access example.org",
    "ERROR: The request could not be satisfied",
    "429 Too Many Requests",
    "Too Many Requests",
    "Pardon Our Interruption",
    "Sign in to confirm you’re not a bot",
    "百度安全验证",
]


@pytest.mark.parametrize("text", ANTIBOT, ids=[t[:28] for t in ANTIBOT])
def test_antibot_is_failed(book: phrases.Phrasebook, text: str) -> None:
    assert classify(book, text) == FAILED


PRIVACY = [
    "根据作者隐私设置，无法查看该内容",
    "抱歉，作者已设置仅展示半年内微博，此微博已不可见。",
    "These Tweets are protected",
    "This account is private\nFollow this account to see their photos and videos.",
    "You must log in to continue.",
    "Private video\nSign in if you've been granted access to this video",
]


@pytest.mark.parametrize("text", PRIVACY, ids=[t[:28] for t in PRIVACY])
def test_privacy_is_restricted(book: phrases.Phrasebook, text: str) -> None:
    assert classify(book, text) == RESTRICTED


ORDINARY = [
    "市政府办公室通知，已删除的文件请各部门自行备份，删除操作须经审批。",
    "据报道，该平台近日删除了大量违规账号，并表示将继续整治。",
    "会议指出，要根据相关法律法规和政策规定，做好军民融合信息公开工作。",
    "如果页面不存在问题，请联系管理员。",
    "审核中心表示，本次审核中发现的问题已整改。",
    "The agency removed the report from its website last week, officials said.",
    "Several posts were deleted after the controversy, and the account was suspended for a day.",
    "The minister's account was suspended, then reinstated; the tweets had been removed.",
    "Researchers found that 404 errors, or pages not found, rose sharply in 2017.",
    "Users complained that the page not found error kept appearing on the old site.",
    "Access was denied to reporters, and the forum was closed to the public on Sundays.",
    "He said the video was removed by YouTube and later restored after an appeal.",
    "当前环境异常严峻，各部门要提高警惕。",
    "记者发现，微信称该链接已被屏蔽，用户无法访问。",
    "Twitter said this account has been suspended for spam, and the page has been blocked by "
    "WeChat.",
    "How to fix error establishing a database connection, or a 429 Too Many Requests error.",
]


@pytest.mark.parametrize("text", ORDINARY, ids=[t[:28] for t in ORDINARY])
def test_ordinary_text_is_not_a_notice(book: phrases.Phrasebook, text: str) -> None:
    """Articles that mention removal, suspension or not-found are not notices."""
    assert book.match(text) is None


@pytest.mark.parametrize("word", ["删除", "已删除", "不存在", "屏蔽", "removed", "deleted",
                                  "suspended", "not found", "banned", "withheld", "unavailable"])
def test_generic_words_alone_match_nothing(book: phrases.Phrasebook, word: str) -> None:
    assert book.match(word) is None
    assert book.match(f"这篇文章提到{word}一词。 The word {word} appears here.") is None


@pytest.mark.parametrize(("text", "expected"), [
    ("Just a moment...\n该内容已被发布者删除", FAILED),
    ("访问过于频繁\nThis video is no longer available because the YouTube account associated "
     "with this video has been terminated", FAILED),
    ("This topic is locked, you cannot edit posts or make further replies.\nThis post has been "
     "deleted.", BENIGN),
    ("You must log in to continue\nThis content isn't available right now", RESTRICTED),
    ("该公众号已迁移\n此内容因违规无法查看", MOVED),
    ("Page not found\nThis article has been removed", REMOVED),
    ("此帐号已注销, 内容无法查看,经核实，此帐号涉嫌侵犯他人合法权益", SUSPENDED),  # the longer
], ids=["antibot-beats-author", "antibot-beats-suspended", "benign-beats-removed",
        "restricted-beats-gone", "moved-beats-censored", "notice-beats-gone", "longest-wins"])
def test_precedence(book: phrases.Phrasebook, text: str, expected: tuple[str, str]) -> None:
    assert classify(book, text) == expected


def test_match_all_keeps_every_phrase_as_evidence(book: phrases.Phrasebook) -> None:
    text = "Just a moment...\n抱歉，此微博已被作者删除。\nThis Tweet is from a suspended account."
    found = book.match_all(text)
    assert {(m.state, m.kind, m.matched_text) for m in found} == {
        ("failed", "", "Just a moment..."),
        ("notice", "author_deleted", "此微博已被作者删除"),  # two phrases, same evidence
        ("notice", "account_suspended", "This Tweet is from a suspended account")}
    assert len(found) == 4
    assert [m.start for m in found] == sorted(m.start for m in found)
    assert book.match(text) == found[0]


@pytest.mark.parametrize(("text", "expected"), [
    ("ＴＨＩＳ ＡＣＣＯＵＮＴ ＤＯＥＳＮ’Ｔ ＥＸＩＳＴ", GONE),  # full width, curly apostrophe
    ("this   TWEET was deleted\n\n by the tweet AUTHOR", AUTHOR),  # case, spaces, line break
    ("抱歉，指定的主题不存在或已被删除或正在被审核", REMOVED),
    ("抱歉,指定的主题不存在或已被删除或正在被审核", REMOVED),  # half-width comma
    ("抱歉， 指定的主题\u200b不存在或已被删除或正在被审核", REMOVED),  # space, zero-width space
    ("作者被禁止或删除内容自动屏蔽", SUSPENDED),  # the phrase's own space left out
    ("提示:\n该帖被管理员或版主屏蔽", CENSORED),
])
def test_normalisation(book: phrases.Phrasebook, text: str, expected: tuple[str, str]) -> None:
    assert classify(book, text) == expected


def test_match_reports_normalised_text_and_offset(book: phrases.Phrasebook) -> None:
    found = book.match("Intro  text.\r\nＴｈｉｓ account doesn’t exist")
    assert found is not None
    assert found.matched_text == "This account doesn't exist"
    assert phrases.normalize_text("Intro  text.\r\nＴｈｉｓ")[found.start:] == "This"


def test_bundled_substring_rows_classify_as_themselves(book: phrases.Phrasebook) -> None:
    """No bundled phrase is shadowed by another that would claim its own text differently."""
    wrong = []
    for phrase in book.phrases:
        if phrase.match == "substring":
            got = classify(book, phrase.pattern)
            if got != (phrase.state, phrase.kind):
                wrong.append((phrase.pattern, got))
    assert wrong == []


def test_bundled_rows_are_sourced_and_unique(book: phrases.Phrasebook) -> None:
    keys = [(p.match, p.pattern.lower()) for p in book.phrases]
    assert len(keys) == len(set(keys))
    assert all(p.source.strip() and p.platform and p.lang for p in book.phrases)
    assert len(book.phrases) >= 250


def test_a_notice_at_the_end_of_one_megabyte_is_found(book: phrases.Phrasebook) -> None:
    """The whole of a large page is read (its speed is the benchmarks' to measure: a timed
    assertion here failed on a loaded machine)."""
    chunk = ("The council met on Tuesday to discuss the budget, roads and the new library. "
             "会议讨论了预算、道路和新图书馆的建设，并删除了过时的条款。 ")
    text = chunk * (1_000_000 // len(chunk)) + "\n此内容因违规无法查看"
    found = book.match(text)
    assert found is not None and found.kind == "censored"
    assert found.matched_text == "此内容因违规无法查看"


HEADER = "\t".join(phrases.COLUMNS)


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "mine.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_user_file_adds_a_phrase(book: phrases.Phrasebook, tmp_path: Path) -> None:
    text = "本论坛军事装备板块因故暂停访问"
    assert book.match(text) is None
    path = write(tmp_path, "# my additions", HEADER,
                 "notice\tsection_closed\tmyforum\tzh\tsubstring\t板块因故暂停访问\tmy notes")
    mine = load_phrasebook([path])
    assert classify(mine, text) == SECTION
    assert len(mine.phrases) == len(book.phrases) + 1
    assert book.match(text) is None  # the bundled book is left alone


def test_user_file_overrides_a_bundled_phrase(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER,
                 "notice\tsection_closed\tMyBB\ten\tsubstring\tForum is Closed\tmy judgement")
    assert classify(load_phrasebook([str(path)]), "Forum is Closed") == SECTION


GOOD = "gone\tremoved\tx\ten\tsubstring\tThis thing is gone for good\tme"


def column_of(line: str, field: str) -> int:
    """1-based column where *field* starts in a tab-separated line ('end': after its end)."""
    if field == "end":
        return len(line) + 1
    fields = line.split("\t")
    return 1 + sum(len(f) + 1 for f in fields[: phrases.COLUMNS.index(field)])


@pytest.mark.parametrize(("lines", "line", "field", "words"), [
    (["state\tkind\tplatform", GOOD], 1, "state", "header"),
    ([HEADER, GOOD.replace("gone\tremoved", "notcie\tremoved")], 2, "state", "unknown state"),
    ([HEADER, GOOD.replace("gone\tremoved", "notice\t")], 2, "kind", "kind"),
    ([HEADER, GOOD.replace("gone\tremoved", "failed\tremoved")], 2, "kind", "kind"),
    ([HEADER, GOOD.replace("substring", "glob")], 2, "match", "match"),
    ([HEADER, GOOD.replace("substring\tThis thing", "regex\tthis (thing")], 2, "pattern",
     "bad regex"),
    ([HEADER, GOOD.replace("This thing is gone for good", "removed")], 2, "pattern", "too short"),
    ([HEADER, GOOD.replace("This thing is gone for good", "删除")], 2, "pattern", "too short"),
    ([HEADER, GOOD.replace("substring\tThis thing is gone for good", "regex\t(?:gone|removed)")],
     2, "pattern", "literal"),
    ([HEADER, GOOD.removesuffix("\tme")], 2, "end", "columns"),
    ([HEADER, GOOD.removesuffix("me")], 2, "source", "source"),
    ([HEADER, "", GOOD, GOOD.replace("\tx\t", "\ty\t").replace("gone for", "GONE for")], 4,
     "state", "line 3"),
], ids=["header", "state", "notice-without-kind", "kind-on-failed", "match", "regex", "short-en",
        "short-zh", "no-literal", "missing-column", "empty-source", "duplicate"])
def test_malformed_user_file(tmp_path: Path, lines: list[str], line: int, field: str,
                             words: str) -> None:
    path = write(tmp_path, *lines)
    with pytest.raises(PhrasebookError) as caught:
        load_phrasebook([path])
    error = caught.value
    column = column_of(lines[line - 1], field)
    if words == "bad regex":  # points at the unbalanced parenthesis inside the pattern
        column += lines[line - 1].split("\t")[5].index("(")
    assert (error.path, error.line, error.column) == (str(path), line, column)
    assert str(error).startswith(f"{path}:{line}:{column}: ")
    assert words in str(error)


def test_unreadable_user_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.tsv"
    with pytest.raises(PhrasebookError, match="nope.tsv"):
        load_phrasebook([missing])
    latin1 = tmp_path / "latin1.tsv"
    row = b"gone\tremoved\tx\tfr\tsubstring\tpage supprim\xe9e\tme\n"
    latin1.write_bytes(HEADER.encode() + b"\n" + row)
    with pytest.raises(PhrasebookError) as caught:
        load_phrasebook([latin1])
    assert (caught.value.line, "UTF-8" in str(caught.value)) == (2, True)
