"""WeChat-style official accounts of the demo site (`/wx/...`).

Pages: account history `/wx/account/<slug>` (posts newest first) and articles `/wx/s/<id>`.
Removal pages are HTTP 200 WeUI message pages carrying real WeChat wording (strings as
recorded by WeChatScope).

Timeline: day 3 an article of 军武观察 -> "此内容因违规无法查看" (`censored`); day 5 an article
of 东方时评 -> "该内容已被发布者删除" (`author_deleted`); day 6 the account 兵器知识汇 is blocked:
its history page and each of its articles show "此帐号已被屏蔽, 内容无法查看"
(`account_suspended`). Removed articles leave their account's history.
Noise: 老兵故事 migrates on day 4 ("该公众号已迁移", its articles keep serving and are listed
by the new account 老兵故事汇); an article of 东方时评 becomes visible only to some from day 3
("根据作者隐私设置，无法查看该内容", restricted); one article of 军武观察 answers the anti-bot
page "当前环境异常，完成验证后即可继续访问" on day 4 only; read counters; new posts.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from takedown.demo import texts
from takedown.demo.layout import date_of, esc, html_reply, paragraphs, seeded
from takedown.demo.server import Reply
from takedown.demo.truth import Expected, Noise, TargetSpec, absolute

CENSORED = "此内容因违规无法查看"
CENSORED_DESC = "接相关投诉，此内容违反《中华人民共和国网络安全法》，查看详细内容"
AUTHOR_DELETED = "该内容已被发布者删除"
SUSPENDED = "此帐号已被屏蔽, 内容无法查看"
MIGRATED = "该公众号已迁移至新账号，请关注新账号。"
RESTRICTED = "根据作者隐私设置，无法查看该内容"
ANTIBOT = "当前环境异常，完成验证后即可继续访问。"

CENSORED_POST, CENSORED_DAY = ("junwu-guancha", 2), 3
DELETED_POST, DELETED_DAY = ("dongfang-shiping", 1), 5
SUSPENDED_ACCOUNT, SUSPENDED_DAY = "bingqi-zhishi", 6
RESTRICTED_POST, RESTRICTED_DAY = ("dongfang-shiping", 4), 3
ANTIBOT_POST, ANTIBOT_DAY = ("junwu-guancha", 3), 4
OLD_ACCOUNT, NEW_ACCOUNT, MIGRATE_DAY = "laobing-gushi", "laobing-gushi-hui", 4

_ACCOUNT = re.compile(r"/wx/account/([a-z-]+)")
_ARTICLE = re.compile(r"/wx/s/([A-Za-z0-9_-]{22})")


@dataclass(frozen=True)
class Account:
    slug: str
    nick: str
    intro: str


@dataclass(frozen=True)
class Post:
    account: str
    n: int
    title: str
    posted: int

    @property
    def key(self) -> tuple[str, int]:
        return (self.account, self.n)

    @property
    def id(self) -> str:
        """22 URL-safe characters, like the short ids of mp.weixin.qq.com/s/ links."""
        digest = hashlib.sha256(f"{self.account}/{self.n}".encode()).digest()
        return base64.urlsafe_b64encode(digest).decode()[:22]


ACCOUNTS = {a.slug: a for a in (
    Account("junwu-guancha", "军武观察", "专注军事科普与时事解读"),
    Account("bingqi-zhishi", "兵器知识汇", "兵器知识，图文详解"),
    Account("dongfang-shiping", "东方时评", "有态度的时事评论"),
    Account(OLD_ACCOUNT, "老兵故事", "记录老兵的故事"),
    Account(NEW_ACCOUNT, "老兵故事汇", "记录老兵的故事（原“老兵故事”）"),
)}

POSTS = [Post(*row) for row in (
    ("junwu-guancha", 1, "一文读懂：航母编队是如何协同作战的", -10),
    ("junwu-guancha", 2, "那场边境冲突的真相，远比你想象的复杂", -8),
    ("junwu-guancha", 3, "盘点世界十大主战坦克", -6),
    ("junwu-guancha", 4, "海军陆战队的训练日常，看完肃然起敬", -4),
    ("junwu-guancha", 5, "从阅兵看装备发展的四十年", -2),
    ("junwu-guancha", 6, "新型驱逐舰下水，这些细节值得关注", 2),
    ("junwu-guancha", 7, "夏季高温下的野外驻训", 5),
    ("bingqi-zhishi", 1, "步枪口径之争：5.8毫米的由来", -12),
    ("bingqi-zhishi", 2, "某研究所军民融合项目内幕", -9),
    ("bingqi-zhishi", 3, "反舰导弹的末端突防技术", -5),
    ("bingqi-zhishi", 4, "图解：单兵夜视仪的代际划分", -3),
    ("dongfang-shiping", 1, "评论：基层减负不能只停留在口头", -11),
    ("dongfang-shiping", 2, "城市更新要留住烟火气", -7),
    ("dongfang-shiping", 3, "从一则招聘启事说起", -5),
    ("dongfang-shiping", 4, "关于某事件的几点追问", -3),
    ("dongfang-shiping", 5, "高考志愿填报，别被“热门”绑架", -1),
    ("dongfang-shiping", 6, "夜经济如何激活消费", 1),
    ("dongfang-shiping", 7, "让老年人跨越数字鸿沟", 6),
    (OLD_ACCOUNT, 1, "一位老侦察兵的三次负伤", -20),
    (OLD_ACCOUNT, 2, "退伍四十年，他们终于重聚", -15),
    (OLD_ACCOUNT, 3, "炊事班长的拿手菜", -9),
    (OLD_ACCOUNT, 4, "那年我们在高原修路", -4),
    (NEW_ACCOUNT, 5, "老兵回访当年驻地", 5),
)]
POST_BY_ID = {p.id: p for p in POSTS}
POST_BY_KEY = {p.key: p for p in POSTS}


def post_notice(post: Post, day: int) -> tuple[str, str] | None:
    """(title, description) of the notice page an article shows on *day*, if any."""
    if post.account == SUSPENDED_ACCOUNT and day >= SUSPENDED_DAY:
        return SUSPENDED, ""
    if post.key == CENSORED_POST and day >= CENSORED_DAY:
        return CENSORED, CENSORED_DESC
    if post.key == DELETED_POST and day >= DELETED_DAY:
        return AUTHOR_DELETED, ""
    if post.key == RESTRICTED_POST and day >= RESTRICTED_DAY:
        return RESTRICTED, ""
    if post.key == ANTIBOT_POST and day == ANTIBOT_DAY:
        return "环境异常", ANTIBOT
    return None


def history(slug: str, day: int) -> list[Post]:
    """Posts an account's history lists on *day*, newest first."""
    owners = {OLD_ACCOUNT, NEW_ACCOUNT} if slug == NEW_ACCOUNT else {slug}
    gone = {CENSORED_POST} if day >= CENSORED_DAY else set()
    gone |= {DELETED_POST} if day >= DELETED_DAY else set()
    shown = [p for p in POSTS if p.account in owners and p.posted <= day and p.key not in gone]
    return sorted(shown, key=lambda p: p.posted, reverse=True)


class WechatSection:
    """Responder and self-description of the WeChat-style section."""

    prefix = "/wx/"

    def reply(self, day: int, path: str, query: Mapping[str, str]) -> Reply | None:
        if m := _ACCOUNT.fullmatch(path):
            return _account_page(m.group(1), day)
        if m := _ARTICLE.fullmatch(path):
            post = POST_BY_ID.get(m.group(1))
            return _article_page(post, day) if post is not None else None
        return None

    def targets(self) -> list[TargetSpec]:
        specs = [TargetSpec(f"wx-{slug}", f"/wx/account/{slug}", depth=1, allow=(r"/wx/s/",))
                 for slug in ("junwu-guancha", "bingqi-zhishi", "dongfang-shiping")]
        specs.append(TargetSpec(f"wx-{OLD_ACCOUNT}", f"/wx/account/{OLD_ACCOUNT}", depth=2,
                                allow=(r"/wx/s/", rf"/wx/account/{OLD_ACCOUNT}")))
        return specs

    def expected(self, base: str) -> list[Expected]:
        def art(key: tuple[str, int]) -> str:
            return absolute(base, f"/wx/s/{POST_BY_KEY[key].id}")

        blocked = f"wx-{SUSPENDED_ACCOUNT}"
        return [
            Expected(art(CENSORED_POST), "censored", CENSORED_DAY, f"wx-{CENSORED_POST[0]}",
                     note=CENSORED),
            Expected(art(DELETED_POST), "author_deleted", DELETED_DAY, f"wx-{DELETED_POST[0]}",
                     note=AUTHOR_DELETED),
            Expected(absolute(base, f"/wx/account/{SUSPENDED_ACCOUNT}"), "account_suspended",
                     SUSPENDED_DAY, blocked, note=f"account page: {SUSPENDED}"),
            *(Expected(art(p.key), "account_suspended", SUSPENDED_DAY, blocked,
                       note=f"article of the blocked account: {SUSPENDED}")
              for p in POSTS if p.account == SUSPENDED_ACCOUNT),
        ]

    def noise(self, base: str, days: int) -> list[Noise]:
        def art(key: tuple[str, int]) -> str:
            return absolute(base, f"/wx/s/{POST_BY_KEY[key].id}")

        def arrivals(slug: str) -> tuple[int, ...]:
            days_ = (p.posted for p in POSTS if p.account == slug and 0 < p.posted < days)
            return tuple(sorted(days_))

        new_posts = [Noise(absolute(base, f"/wx/account/{slug}"), "new-posts", arrivals(slug))
                     for slug in ("junwu-guancha", "dongfang-shiping")]
        return [
            Noise(absolute(base, f"/wx/account/{OLD_ACCOUNT}"), "migrated",
                  tuple(range(MIGRATE_DAY, days)), MIGRATED),
            Noise(art(RESTRICTED_POST), "restricted", tuple(range(RESTRICTED_DAY, days)),
                  RESTRICTED),
            Noise(art(ANTIBOT_POST), "anti-bot", (ANTIBOT_DAY,), ANTIBOT),
            Noise(art(("junwu-guancha", 1)), "counter", tuple(range(days)), "阅读/在看 counts"),
            *new_posts,
        ]


def _account_page(slug: str, day: int) -> Reply | None:
    account = ACCOUNTS.get(slug)
    if account is None or (slug == NEW_ACCOUNT and day < MIGRATE_DAY):
        return None
    if slug == SUSPENDED_ACCOUNT and day >= SUSPENDED_DAY:
        return _notice(SUSPENDED, "")
    if slug == OLD_ACCOUNT and day >= MIGRATE_DAY:
        return _notice("该公众号已迁移", MIGRATED, (f"/wx/account/{NEW_ACCOUNT}", "访问新账号"))
    cards = "\n".join(
        f'<div class="weui_msg_card"><div class="weui_msg_card_hd">{_zh_day(p.posted)}</div>'
        f'<div class="weui_msg_card_bd"><h4 class="weui_media_title"><a href="/wx/s/{p.id}">'
        f'{esc(p.title)}</a></h4><p class="weui_media_desc">{esc(_digest(p))}</p></div></div>'
        for p in history(slug, day)
    )
    main = (
        f'<div class="profile_info_area"><h1 class="profile_nickname">{esc(account.nick)}</h1>'
        f'<p class="profile_desc">{esc(account.intro)}</p><p class="profile_account">'
        f"微信号：{slug}</p></div>\n"
        f'<div class="weui_msg_card_list" id="history">\n{cards}\n</div>'
    )
    return _page(account.nick, main)


def _article_page(post: Post, day: int) -> Reply | None:
    if post.posted > day:
        return None
    if (notice := post_notice(post, day)) is not None:
        return _notice(*notice)
    account = ACCOUNTS[post.account]
    rng = seeded("wx-read", post.id, day)
    reads = 800 + 350 * (day - post.posted) + rng.randrange(300)
    main = (
        f'<div id="img-content" class="rich_media_wrp"><h1 class="rich_media_title" '
        f'id="activity-name">{esc(post.title)}</h1>\n<div id="meta_content" '
        f'class="rich_media_meta_list"><span class="rich_media_meta rich_media_meta_text">原创'
        f'</span> <span class="rich_media_meta rich_media_meta_nickname" id="profileBt">'
        f'<a href="/wx/account/{post.account}" id="js_name">{esc(account.nick)}</a></span> '
        f'<em id="publish_time" class="rich_media_meta rich_media_meta_text">'
        f"{date_of(post.posted).isoformat()}</em></div>\n"
        f'<div class="rich_media_content" id="js_content">\n{paragraphs(_body(post))}\n</div>\n'
        f'<div id="js_read_area3" class="media_tool_meta"><span id="readNum3">阅读 {reads}</span>'
        f' <span id="likeNum3">在看 {reads // 37}</span></div></div>'
    )
    return _page(post.title, main)


def _body(post: Post) -> list[str]:
    rng = seeded("wx-body", post.id)
    pool = list(texts.WX_SENTENCES)
    rng.shuffle(pool)
    return [f"{post.title}。{pool[0]}", *("".join(pool[i:i + 2]) for i in range(1, 9, 2))]


def _digest(post: Post) -> str:
    return _body(post)[1][:30] + "……"


def _zh_day(day: int) -> str:
    d = date_of(day)
    return f"{d.year}年{d.month}月{d.day}日"


def _notice(title: str, desc: str, action: tuple[str, str] | None = None) -> Reply:
    """A WeUI message page, the shape WeChat uses for its removal and warning notices."""
    button = (f'<div class="weui-msg__opr-area"><a href="{action[0]}" '
              f'class="weui-btn weui-btn_primary">{action[1]}</a></div>') if action else ""
    if title == "环境异常":
        button = ('<div class="weui-msg__opr-area"><a href="javascript:;" '
                  'class="weui-btn weui-btn_primary">去验证</a></div>')
    desc_html = f'<p class="weui-msg__desc">{esc(desc)}</p>' if desc else ""
    main = (
        '<div class="weui-msg"><div class="weui-msg__icon-area"><i class="weui-icon-info '
        f'weui-icon_msg"></i></div><div class="weui-msg__text-area"><h2 class="weui-msg__title">'
        f"{esc(title)}</h2>{desc_html}</div>{button}</div>"
    )
    return _page("", main)


def _page(title: str, main: str) -> Reply:
    page = (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width,initial-scale=1.0">\n'
        f"<title>{esc(title)}</title>\n</head>\n"
        f'<body id="activity-detail" class="zh_CN">\n<div class="rich_media_area_primary">\n'
        f"{main}\n</div>\n</body>\n</html>\n"
    )
    return html_reply(page)
