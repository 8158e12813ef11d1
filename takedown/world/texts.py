"""Words of the generated world: titles, paragraphs, names, tokens, dates and relative times,
in Chinese or English, all drawn from a caller's `random.Random`.

Nothing here is a notice or an error text (those live in `takedown.world.notices`), so no
article body can be mistaken for one.  Imports only the stdlib.

>>> import random
>>> title(random.Random(1), "en") == title(random.Random(1), "en")
True
"""

from __future__ import annotations

import datetime as dt
import random
import string

ALNUM = string.ascii_lowercase + string.digits

ZH_SUBJECTS = ["市政府", "区发展改革委", "交通运输局", "教育局", "科技园区", "港口集团", "水务公司",
               "文化旅游局", "卫生健康委", "农业农村局", "生态环境局", "市场监管局", "街道办事处",
               "工业信息化局", "住房城乡建设局", "应急管理局", "统计局", "民政局"]
ZH_VERBS = ["召开", "部署", "推进", "启动", "完成", "调研", "发布", "审议", "签署", "总结"]
ZH_OBJECTS = ["年度重点项目", "老旧小区改造", "智慧城市建设", "防汛准备工作", "营商环境评估",
              "乡村振兴规划", "公共交通线路调整", "中小学招生方案", "数字经济合作", "安全生产检查",
              "垃圾分类宣传", "产业园区招商", "医疗服务改革", "河道综合治理", "文化惠民活动"]
ZH_TAILS = ["会议强调要压实责任、细化措施，确保各项任务按期完成。",
            "与会人员围绕具体问题进行了深入讨论，并提出了改进意见。",
            "相关负责人表示，下一步将加大投入力度，持续跟踪落实情况。",
            "据介绍，该项目总投资约{n}亿元，预计明年年底前全面建成。",
            "截至目前，已累计走访企业{n}家，收集意见建议{m}条。",
            "活动现场吸引了{n}余名市民参与，气氛热烈。",
            "此次调整涉及{n}条线路，将于下月起正式实施。",
            "各部门要加强协调配合，形成工作合力，切实提高服务水平。",
            "专家组对方案的可行性进行了论证，认为整体思路清晰、措施可行。",
            "下一阶段，将重点解决群众反映强烈的{n}类突出问题。"]
EN_SUBJECTS = ["The city council", "The harbour authority", "A local school board",
               "The transport department", "Regional health officials", "The water utility",
               "A group of residents", "The chamber of commerce", "The planning committee",
               "Parks and recreation staff", "The county treasurer", "Library trustees"]
EN_VERBS = ["approved", "debated", "postponed", "announced", "reviewed", "unveiled",
            "rejected", "funded", "questioned", "outlined"]
EN_OBJECTS = ["a new bus corridor", "the spring budget", "a river clean-up plan",
              "the stadium lease", "school catchment changes", "a housing proposal",
              "the ferry timetable", "flood defence works", "a tree planting drive",
              "the market hall renovation", "street lighting upgrades", "a cycling strategy"]
EN_TAILS = ["Officials said the work would begin within {n} weeks if funding holds.",
            "The proposal drew {n} written comments during the consultation period.",
            "Critics argued that the cost estimate of {n} million was far too optimistic.",
            "Supporters pointed to similar schemes in {n} neighbouring towns.",
            "A final vote is expected after a further review by independent engineers.",
            "Residents at the meeting asked how the changes would affect commuters.",
            "The department has published {n} pages of supporting documents online.",
            "Several members asked for a clearer timetable before the next session.",
            "The plan replaces an earlier version that was withdrawn last year.",
            "Local businesses were broadly positive, according to a survey of {n} owners."]
ZH_NICKS = ["晨风", "老王说事", "山海经", "观察者小李", "北岸", "青禾", "远方的鱼", "江城旧事",
            "路人甲", "白露", "一只猫", "夜航船", "南山", "阿杰", "云边小卖部", "木子"]
EN_NICKS = ["riverwatcher", "jdoe", "maple_h", "kestrel", "old_sailor", "nora.b", "pixelpine",
            "tom_k", "quietharbor", "mgreen", "lantern", "sam_w", "ferrylane", "avid_reader"]
ZH_TOPICS = ["城市更新", "春季招聘", "地铁新线", "天气预警", "周末去哪儿", "高考倒计时", "美食探店",
             "新能源车", "读书日", "社区团购", "樱花季", "马拉松"]
EN_TOPICS = ["CityBudget", "FerryStrike", "SpringFair", "Election", "Weather", "LocalFood",
             "Transit", "Housing", "Marathon", "BookWeek", "Startups", "Gardening"]
ZH_COMMENTS = ["支持一下", "说得有道理", "转发了", "第一次听说", "期待后续", "现场确实很热闹",
               "收藏了", "这个问题早该解决了", "同意楼上", "路过看看", "有没有更详细的信息？", "赞"]
EN_COMMENTS = ["Good point.", "Thanks for sharing.", "First I've heard of this.", "Agreed.",
               "Any update on this?", "Was there last week, very busy.", "Bookmarked.",
               "Long overdue.", "Not convinced, to be honest.", "Interesting read."]


def token(rng: random.Random, length: int = 8) -> str:
    """A lowercase alphanumeric token starting with a letter (class names, ids, slugs)."""
    return rng.choice(string.ascii_lowercase) + "".join(
        rng.choice(ALNUM) for _ in range(length - 1))


def _fill(rng: random.Random, template: str) -> str:
    return template.format(n=rng.randrange(3, 99), m=rng.randrange(100, 999))


def sentence(rng: random.Random, lang: str) -> str:
    """One sentence: subject, verb, object, then a detail."""
    if lang == "zh":
        head = f"{rng.choice(ZH_SUBJECTS)}{rng.choice(ZH_VERBS)}{rng.choice(ZH_OBJECTS)}，"
        return head + _fill(rng, rng.choice(ZH_TAILS))
    head = f"{rng.choice(EN_SUBJECTS)} {rng.choice(EN_VERBS)} {rng.choice(EN_OBJECTS)}. "
    return head + _fill(rng, rng.choice(EN_TAILS))


def paragraph(rng: random.Random, lang: str) -> str:
    """A substantive paragraph of two to four sentences."""
    sep = "" if lang == "zh" else " "
    return sep.join(sentence(rng, lang) for _ in range(rng.randint(2, 4)))


def title(rng: random.Random, lang: str) -> str:
    """A headline, made unique enough by a number."""
    if lang == "zh":
        return (f"{rng.choice(ZH_SUBJECTS)}{rng.choice(ZH_VERBS)}{rng.choice(ZH_OBJECTS)}"
                f"（第{rng.randrange(2, 60)}期）")
    return (f"{rng.choice(EN_SUBJECTS)} {rng.choice(EN_VERBS)} {rng.choice(EN_OBJECTS)} "
            f"(part {rng.randrange(2, 60)})")


ZH_PLACES = ["云海", "临江", "青石", "北湾", "松原", "东陵", "白沙", "南屏", "安澜", "石门"]
EN_PLACES = ["Harbourside", "Millbrook", "Eastfield", "Riverton", "Kingsbay", "Ashford",
             "Northgate", "Oakridge", "Westmere", "Fairhaven"]
ZH_SITE_KINDS = {"portal": "市人民政府", "news": "新闻网", "forum": "论坛", "microblog": "微博",
                 "wechat": "公众平台"}
EN_SITE_KINDS = {"portal": " City Council", "news": " Herald", "forum": " Forums",
                 "microblog": " Social", "wechat": " Channels"}


def site_name(rng: random.Random, lang: str, archetype: str) -> str:
    """'云海市人民政府', 'Millbrook Herald' and the like."""
    if lang == "zh":
        return rng.choice(ZH_PLACES) + ZH_SITE_KINDS.get(archetype, "网")
    return rng.choice(EN_PLACES) + EN_SITE_KINDS.get(archetype, " Online")


def nick(rng: random.Random, lang: str) -> str:
    return rng.choice(ZH_NICKS if lang == "zh" else EN_NICKS)


def topics(rng: random.Random, lang: str, k: int) -> list[str]:
    return rng.sample(ZH_TOPICS if lang == "zh" else EN_TOPICS, k)


def comment(rng: random.Random, lang: str) -> str:
    return rng.choice(ZH_COMMENTS if lang == "zh" else EN_COMMENTS)


def short_post(rng: random.Random, lang: str) -> str:
    """A microblog post: one or two sentences."""
    sep = "" if lang == "zh" else " "
    return sep.join(sentence(rng, lang) for _ in range(rng.randint(1, 2)))


DATE_STYLES = ("iso", "zh", "en", "slash")


def date_text(day: dt.date, style: str) -> str:
    """A publication date in one of `DATE_STYLES`.

    >>> date_text(dt.date(2021, 3, 5), "zh")
    '2021年03月05日'
    """
    if style == "zh":
        return f"{day.year}年{day.month:02d}月{day.day:02d}日"
    if style == "en":
        return day.strftime("%b %d, %Y")
    if style == "slash":
        return day.strftime("%d/%m/%Y")
    return day.isoformat()


def relative_time(rng: random.Random, lang: str) -> str:
    """'3分钟前', '2 hours ago' and the like: different every round."""
    n, unit = rng.randrange(1, 59), rng.choice(["m", "h"])
    if lang == "zh":
        return f"{n}{'分钟' if unit == 'm' else '小时'}前"
    return f"{n} {'minutes' if unit == 'm' else 'hours'} ago"
