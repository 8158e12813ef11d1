"""What real notice strings mean, written out by hand: the expected state and kind of every
row of the real-data notice files (from each row's ``suggested_interpretation``, and the
judgement recorded in the TSV where that text is ambiguous), never computed by the code
under test.  Shared by the phrasebook and classifier tests.

Real data is read in place from the ``shared/realdata`` folder beside the repository (see its
README; nothing is copied here); `realdata_params` skips, saying so, where a file is absent.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import REALDATA

NOTICE_STRINGS = REALDATA / "notice-strings" / "notices.tsv"
DISCUZ = REALDATA / "discuz-x31-notices" / "notices.tsv"
WECHATSCOPE = REALDATA / "wechatscope-terminus2049" / "ceninfo.csv"
CITIZENLAB = REALDATA / "citizenlab-chat-censorship"
EDGI = REALDATA / "edgi-web-monitoring-processing"

REMOVED = ("notice", "removed")
CENSORED = ("notice", "censored")
AUTHOR = ("notice", "author_deleted")
SUSPENDED = ("notice", "account_suspended")
SECTION = ("notice", "section_closed")
GONE = ("gone", "removed")
MOVED = ("moved", "")
RESTRICTED = ("restricted", "")
FAILED = ("failed", "")
BENIGN = ("benign", "")

# Every text of notice-strings/notices.tsv and discuz-x31-notices/notices.tsv (as written there)
# -> what a page showing it is. Comments give the reasoning where the suggestion is "a/b" or "?".
EXPECTED: dict[str, tuple[str, str]] = {
    # phpBB
    "The requested topic does not exist.": GONE,
    "The forum you selected does not exist.": SECTION,
    "The requested user does not exist.": GONE,  # "account removed": not-found, cause unknown
    "This post has been deleted.": REMOVED,
    "<strong>%2$s</strong> deleted the post by <strong>%1$s</strong> on %3$s.": REMOVED,
    "<strong>%2$s</strong> deleted the post by <strong>%1$s</strong> on %3$s for the following "
    "reason: %4$s": REMOVED,
    "This topic has been deleted.": REMOVED,
    "This post has not been approved.": BENIGN,  # held for moderation
    "This topic has not been approved.": BENIGN,
    "Moved topic": BENIGN,
    "Forum locked": BENIGN,
    "This topic is locked, you cannot edit posts or make further replies.": BENIGN,
    "You are not authorised to read this forum.": RESTRICTED,  # section_closed/restricted
    "The board requires you to be registered and logged in to view this forum.": RESTRICTED,
    "Sorry but this board is currently unavailable.": FAILED,
    "Sorry but the board is temporarily unavailable, please try again in a few minutes.": FAILED,
    "You have been <strong>permanently</strong> banned from this board.<br><br>Please contact "
    "the %2$sBoard Administrator%3$s for more information.": FAILED,
    "You are not authorised to access this area.": RESTRICTED,
    "This post has been deleted. It can be restored.": REMOVED,
    "Deleted by %1$s on %2$s": REMOVED,
    # MyBB
    "The specified thread does not exist.": GONE,
    "The specified post does not exist.": GONE,
    "Invalid forum": SECTION,  # section_closed/removed: a board that is not there
    "This thread has been deleted.": REMOVED,
    "This post by {1} has been deleted.": REMOVED,
    "Forum is Closed": BENIGN,
    "This bulletin board is currently closed. The Administrator has specified the reason as to "
    "why below.": FAILED,
    "I": FAILED,  # error_banned, cut at its apostrophe; see FILLED
    "Sorry, but you do not have permission to view threads in this forum.": RESTRICTED,
    "Deleted Thread": REMOVED,
    "Closed Thread": BENIGN,
    "This forum account is currently banned.": SUSPENDED,
    # Discuz! X3.1 (served with HTTP 200)
    "抱歉，指定的主题不存在或已被删除或正在被审核": REMOVED,
    "抱歉，指定的帖子不存在或已被删除或正在被审核<br />"
    '<a href="forum.php?mod=viewthread&tid={tid}">[ 尝试点击这里转入主题 ]</a>': REMOVED,
    "帖子不存在": GONE,
    "抱歉，指定的版块不存在": SECTION,
    "该{_G/setting/navs/3/navname}已关闭": SECTION,
    "抱歉，您指定要查看的分类已关闭": SECTION,
    "本版块需要密码": RESTRICTED,  # section_closed?: readable by password holders
    "抱歉，您没有权限访问该版块</p></div><div>": SECTION,
    "抱歉，您尚未登录，没有权限访问该版块": RESTRICTED,
    "抱歉，您在本版没有权限进行此操作": RESTRICTED,  # section_closed / access restricted
    "抱歉，本帖要求阅读权限高于 {readperm} 才能浏览": RESTRICTED,  # censored?: authors set it too
    "抱歉，本主题已关闭，不再接受新内容": BENIGN,
    "该帖子已被关闭，不能评论！": BENIGN,
    "抱歉，指定的文章不存在": GONE,
    "抱歉，您指定要查看的文章不存在或正在审核": GONE,
    "抱歉，您要查看的信息不存在或已被删除": REMOVED,
    "抱歉，指定的日志不存在": GONE,
    "抱歉，您指定的用户空间不存在": GONE,  # account_suspended/removed: not-found
    "空间已被锁定无法访问，如有疑问请联系管理员": SUSPENDED,
    "抱歉，指定用户不存在或被冻结": SUSPENDED,
    "抱歉，指定的用户不存在或被冻结": SUSPENDED,
    "抱歉，您所访问的用户不存在": GONE,  # account_suspended/removed: not-found
    "抱歉，您的 IP 地址不在允许范围内，或您的账号被禁用，无法访问本站点": FAILED,
    '抱歉，本站点暂时关闭，详情请 <a href="mailto:{adminemail}">联系管理员</a>': FAILED,
    "您需要先登录才能继续本操作": RESTRICTED,
    "参数错误": FAILED,
    "提示: <em>作者被禁止或删除 内容自动屏蔽</em>": SUSPENDED,
    "提示: <em>该帖被管理员或版主屏蔽</em>": CENSORED,
    "提示: <em>作者被禁止或删除 内容自动屏蔽，只有管理员或有管理权限的成员可见</em>": SUSPENDED,
    "提示: <em>该帖被管理员或版主屏蔽，只有管理员或有管理权限的成员可见</em>": CENSORED,
    "无效楼层，该帖已经被删除": REMOVED,
    "该用户已被删除": REMOVED,  # account_suspended/removed: deleted, not said to be banned
    "头像被屏蔽": CENSORED,
    "签名被屏蔽": CENSORED,
    "还有一些帖子被系统自动隐藏，点此展开": BENIGN,
    "此商品已被删除": REMOVED,
    "审核中": BENIGN,  # pending moderation
    "**** 本内容被作者隐藏 ****": AUTHOR,
    "**** 作者被禁止或删除 内容自动屏蔽 ****": SUSPENDED,
    "**** 该帖被屏蔽 ****": CENSORED,
    "提示: 作者被禁止或删除 内容自动屏蔽，只有管理员可见": SUSPENDED,
    "该主题已被删除": REMOVED,
    # WordPress
    "Oops! That page can&rsquo;t be found. / It looks like nothing was found at this location. "
    "Maybe try a search?": GONE,
    "Page Not Found / The page you are looking for doesn’t exist, or it has been moved. Please "
    "try searching using the form below.": GONE,
    # WeChat articles (WeChatscope)
    "该内容已被发布者删除": AUTHOR,
    "The content has been deleted by the author.": AUTHOR,
    "此内容因违规无法查看": CENSORED,
    "Unable to view this content because it violates regulations": CENSORED,
    "此帐号已被屏蔽,": SUSPENDED,
    "此内容被投诉且经审核涉嫌侵权，无法查看。": CENSORED,  # censored/removed: platform, for content
    "此内容被多人投诉，相关的内容无法进行查看。": CENSORED,
    "该公众号已迁移": MOVED,
    # WeChat URL blocks (Citizen Lab)
    "据用户投诉及腾讯手机管家云网址检测，该网页可能包含恶意欺诈内容。": CENSORED,
    "该网页包含诱导分享内容，被多人投诉。为维护绿色上网环境，已停止访问。": CENSORED,
    "该网页包含恶意欺诈内容，被多人投诉。为维护绿色上网环境，已停止访问。": CENSORED,
    "该网页包含侵权内容，被多人投诉。为维护绿色上网环境，已停止访问。": CENSORED,
    "该网页包含谣言或虚假信息，被多人投诉。为维护绿色上网环境，已停止访问。": CENSORED,
    "该网页包含违法或违规内容，被多人投诉。为维护绿色上网环境，已停止访问。": CENSORED,
    "该网页包含色情低俗内容，被多人投诉。为维护绿色上网环境，已停止访问。": CENSORED,
    "该网页包含虚假红包内容，被多人投诉。为维护绿色上网环境，已停止访问。": CENSORED,
    "据用户投诉及腾讯手机管家云网址检测，该网页包含诱导分享内容。": CENSORED,
    "据用户投诉及腾讯手机管家云网址检测，该网页包含恶意欺诈内容。": CENSORED,
    "据用户投诉及腾讯手机管家云网址检测，该网页包含侵权内容。": CENSORED,
    "据用户投诉及腾讯手机管家云网址检测，该网页包含谣言或虚假信息。": CENSORED,
    "据用户投诉及腾讯手机管家云网址检测，该网页包含违法或违规内容。": CENSORED,
    # WeChat, Weibo, X strings quoted by third-party scrapers
    "此内容因违规已删除": CENSORED,
    "此账号已被屏蔽，内容无法查看": SUSPENDED,
    "此帐号已注销, 内容无法查看,经核实，此帐号涉嫌侵犯他人合法权益，查看对应规则": SUSPENDED,
    "该公众号已被封禁": SUSPENDED,
    "此帐号已自主注销，内容无法查看。": AUTHOR,
    "此帐号已申请公众号帐号迁移流程，被冻结/回收，小主页暂无法访问。": MOVED,
    "环境异常 / 完成验证 / 访问过于频繁": FAILED,
    "抱歉，此微博已被作者删除。查看帮助：http://t.cn/zWSudZc": AUTHOR,
    "该微博因违反《微博社区公约》的相关规定，已被删除": CENSORED,
    "该账号因被投诉违反法律法规和《微博社区公约》的相关规定，现已无法查看。查看帮助": SUSPENDED,
    "抱歉，作者已设置仅展示半年内微博，此微博已不可见。": RESTRICTED,
    "抱歉，由于作者设置，你暂时没有这条微博的查看权限哦。": RESTRICTED,
    "根据博主设置，此内容无法访问": RESTRICTED,
    "Account suspended / X suspends accounts which violate the X Rules": SUSPENDED,
    "Twitter suspends accounts which violate the Twitter Rules": SUSPENDED,
    "Hmm...this page doesn’t exist. Try searching for something else.": GONE,
    "TweetTombstone / TweetUnavailable (GraphQL __typename)": GONE,  # removed/withheld, no reason
    "451 Unavailable For Legal Reasons / This content is not available in your jurisdiction.":
        CENSORED,
    "此内容因违规无法查看 / 接相关投诉，此内容违反《中华人民共和国网络安全法》，查看详细内容":
        CENSORED,
    "该公众号已迁移至新账号，请关注新账号。": MOVED,
}

# Rows whose text holds placeholders (or was cut short) -> what a live page would show.
FILLED = {
    "<strong>%2$s</strong> deleted the post by <strong>%1$s</strong> on %3$s.":
        "<strong>moderator</strong> deleted the post by <strong>alice</strong> on "
        "Mon Jan 01, 2024 10:00 am.",
    "<strong>%2$s</strong> deleted the post by <strong>%1$s</strong> on %3$s for the following "
    "reason: %4$s": "<strong>moderator</strong> deleted the post by <strong>alice</strong> on "
                    "Mon Jan 01, 2024 10:00 am for the following reason: spam",
    "You have been <strong>permanently</strong> banned from this board.<br><br>Please contact "
    "the %2$sBoard Administrator%3$s for more information.":
        "You have been <strong>permanently</strong> banned from this board.<br><br>Please "
        'contact the <a href="mailto:admin@example.org">Board Administrator</a> for more '
        "information.",
    "Deleted by %1$s on %2$s": "Deleted by moderator on Mon Jan 01, 2024 10:00 am",
    "This post by {1} has been deleted.": "This post by alice has been deleted.",
    "I": "I'm sorry, but you are banned.  You may not post, read threads, or access the forum.  "
         "Please contact your forum administrator should you have any questions.",
    "该{_G/setting/navs/3/navname}已关闭": "该群组已关闭",
    "抱歉，本帖要求阅读权限高于 {readperm} 才能浏览": "抱歉，本帖要求阅读权限高于 50 才能浏览",
}


def realdata_params(path: Path, text_column: str, key_column: str) -> list:
    if not path.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"realdata absent: {path}"),
                             id="realdata-absent")]
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    params = []
    for number, row in enumerate(rows, 2):
        key = row[key_column].rsplit("#", 1)[-1] or row[text_column][:24]
        params.append(pytest.param(row, id=f"line{number}-{row.get('platform', 'Discuz')}-{key}"))
    return params


WECHATSCOPE_EXPECTED = {
    "该内容已被发布者删除": AUTHOR,
    "此内容因违规无法查看": CENSORED,
    "The content has been deleted by the author.": AUTHOR,
    "Unable to view this content because it violates regulations": CENSORED,
    "此帐号已被屏蔽,": SUSPENDED,
    "此内容被投诉且经审核涉嫌侵权，无法查看。": CENSORED,
    "该公众号已迁移": MOVED,  # migrated: not a takedown
    "此内容被多人投诉，相关的内容无法进行查看。": CENSORED,
}
