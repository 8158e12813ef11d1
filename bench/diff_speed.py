"""Diff benchmark: our diff of a 1 MB page pair against ``difflib.HtmlDiff`` on the same pair.

The pair is a generated portal page of about 1 MB (``SIZE`` bytes of UTF-8): channels of
news listings and featured articles mixing Chinese and English paragraphs, a few thousand
text blocks.  The new version has a paragraph removed from every ``REMOVE_EVERY``-th
channel, a paragraph reworded in every ``EDIT_EVERY``-th, a listing that gained a story at
the top (and lost its last) in every ``ROTATE_EVERY``-th, and every counter and the page's
update time changed.  ``HtmlDiff`` works on lines, so its time depends on the markup's
line breaks far more than ours does: the same pair is measured in two ``LAYOUTS``, one
element a line (as many CMS templates write, HtmlDiff's best case) and minified (one line).

Ours: ``extract`` of both pages, ``blocks_diff`` of their blocks, ``substantive_removals``
of the result, which must be exactly the removed paragraphs.  Baseline:
``difflib.HtmlDiff().make_table`` of the two texts' lines.  Each is timed in a child
process of its own (cold caches; a baseline running longer than ``TIMEOUT`` seconds is
stopped): ours ``RUNS`` times (the median counts), the baseline once.  If the baseline is
stopped on the full pair, its figure is a lower bound and both are measured again on a
``PREFIX`` prefix of the pair (the same channels of both pages).  Goal: ours >= ``GOAL``
times faster in either layout (the headline is the lower).  Imports ``diffing`` and the
standard library.
"""

from __future__ import annotations

import difflib
import gc
import multiprocessing
import random
import re
import statistics
import time
from collections.abc import Callable
from html import escape
from multiprocessing.connection import Connection

from diffing.extract import extract
from diffing.text import blocks_diff, substantive_removals

SIZE = 1_000_000
PREFIX = 256 * 1024
RUNS = 3
TIMEOUT = 60.0
GOAL = 10.0
REMOVE_EVERY, EDIT_EVERY, ROTATE_EVERY = 15, 10, 25
URL = "http://127.0.0.1:8000/special/index.html"
_BETWEEN_TAGS = re.compile(r">\s*\n\s*<")

_ZH = ("市政府", "区教育局", "省卫健委", "交通运输部门", "气象台", "街道办事处", "市场监管局",
       "环保志愿者", "高校研究团队", "消费者协会")
_ZH_VERB = ("发布了", "公布了", "召开会议讨论", "回应了", "调整了", "通报了", "启动了",
            "研究部署", "公开征求意见", "联合印发")
_ZH_OBJ = ("新的停车收费标准", "春季学期招生安排", "老旧小区改造计划", "地铁三号线延伸工程",
           "空气质量月度报告", "农贸市场整治方案", "夜间经济扶持政策", "防汛应急预案",
           "公共图书馆开放时间", "社区养老服务试点")
_ZH_TAIL = ("，相关负责人表示将持续跟进。", "，市民可通过官方网站查询详情。",
            "，部分居民对此提出了不同意见。", "，具体实施细则将另行公布。",
            "，记者将继续关注事态进展。")
_EN = ("The city council", "Local residents", "The transport bureau", "A spokesperson",
       "Several experts", "The district office", "Reporters", "Community volunteers",
       "University researchers", "The consumer association")
_EN_VERB = ("announced", "questioned", "reviewed", "criticised", "welcomed", "postponed",
            "published", "discussed", "opened consultation on", "jointly issued")
_EN_OBJ = ("the new parking fees", "the school enrolment plan", "the metro extension",
           "the air quality report", "the market renovation", "the flood response plan",
           "the housing subsidy", "the night market policy", "the library opening hours",
           "the elderly care pilot")
_EN_TAIL = (" on Tuesday.", " after weeks of debate.", " in a statement to the press.",
            " despite earlier objections.", " and promised further updates.")


def run() -> dict:
    """Build the pair, time both diffs in each layout, check ours, print the report;
    returns the figures."""
    old, new, removed = build_pair(SIZE)
    figures: dict = {"goal": GOAL, "timeout_s": TIMEOUT}
    for layout, shape in LAYOUTS.items():
        a, b = [shape(c) for c in old], [shape(c) for c in new]
        m = {"full": _measure(a, b, removed)}
        if m["full"]["baseline_timed_out"]:
            count = _prefix_channels(a, PREFIX)
            m["prefix"] = _measure(a[:count], b[:count], removed[:count])
        figures[layout] = m
    worst = min(LAYOUTS, key=lambda layout: figures[layout]["full"]["speedup"])
    figures["speedup"], figures["speedup_layout"] = figures[worst]["full"]["speedup"], worst
    _print_report(figures)
    return figures


# -- the page pair ---------------------------------------------------------------------------
def build_pair(size: int) -> tuple[list[str], list[str], list[str | None]]:
    """The old and new page as chunks (a head, then one chunk a channel, then the tail),
    and for each chunk the paragraph removed from it (``None`` where none was).  The old
    page's chunks add up to about *size* bytes of UTF-8."""
    old, new, removed = [_head(0)], [_head(1)], [None]
    total = len(old[0].encode()) + len(_TAIL.encode())
    c = 0
    while total < size:
        a, b, gone = _channel(c)
        old.append(a)
        new.append(b)
        removed.append(gone)
        total += len(a.encode())
        c += 1
    old.append(_TAIL)
    new.append(_TAIL)
    removed.append(None)
    return old, new, removed


def minified(chunk: str) -> str:
    """*chunk* without the line breaks and indentation between tags, as minifiers write."""
    return _BETWEEN_TAGS.sub("><", chunk).strip()


LAYOUTS: dict[str, Callable[[str], str]] = {"lines": lambda chunk: chunk,
                                             "minified": minified}
LAYOUT_NAMES = {"lines": "one element a line", "minified": "minified, one line"}


def _head(version: int) -> str:
    nav = "\n".join(f'      <li><a href="/channel/{i}/">频道 {i} Channel {i}</a></li>'
                    for i in range(40))
    return (f'<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n  <meta charset="utf-8">\n'
            f"  <title>专题报道 Special report - 新闻网 News</title>\n"
            f'  <link rel="stylesheet" href="/static/site.css?v={version}">\n</head>\n'
            f'<body>\n  <header class="site-header">\n    <a class="logo" href="/">新闻网</a>\n'
            f'    <nav class="main-nav">\n    <ul>\n{nav}\n    </ul>\n    </nav>\n'
            f"  </header>\n  <main>\n    <h1>专题报道 Special report</h1>\n"
            f'    <p class="updated">更新时间：2021-03-{15 + version} 0{6 + version}:30 · '
            f"浏览 {48213 + 977 * version}</p>\n")


_TAIL = ('  </main>\n  <footer class="site-footer">\n    <p>© 2021 新闻网 News · '
         '<a href="/about.html">关于我们 About</a> · <a href="/contact.html">联系我们</a></p>\n'
         "  </footer>\n</body>\n</html>\n")


def _sentence(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "".join(rng.choice(p) for p in (_ZH, _ZH_VERB, _ZH_OBJ, _ZH_TAIL))
    words = [rng.choice(p) for p in (_EN, _EN_VERB, _EN_OBJ)]
    return " ".join(words) + rng.choice(_EN_TAIL)


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))


def _reworded(text: str) -> str:
    """*text* with one phrase replaced: a small edit, not a removal."""
    for a, b in zip(_ZH_OBJ + _EN_OBJ, _ZH_OBJ[1:] + _ZH_OBJ[:1] + _EN_OBJ[1:] + _EN_OBJ[:1],
                    strict=True):
        if a in text:
            return text.replace(a, b, 1)
    return text + " (更新 updated)"


def _channel(c: int) -> tuple[str, str, str | None]:
    """One channel, old and new, and the paragraph removed from it (if any)."""
    rng = random.Random(f"channel {c}")
    stories = [f"{_sentence(rng)[:18]} · {rng.choice(_EN_OBJ).capitalize()} ({c}-{j})"
               for j in range(12)]
    paras = [_paragraph(rng) for _ in range(rng.randint(4, 7))]
    views = [rng.randint(100, 90000) for _ in range(13)]
    new_paras, gone = list(paras), None
    if c % REMOVE_EVERY == REMOVE_EVERY // 2:
        gone = new_paras.pop(1)
    if c % EDIT_EVERY == EDIT_EVERY // 3:
        new_paras[2] = _reworded(new_paras[2])
    new_stories = stories[:10]
    if c % ROTATE_EVERY == ROTATE_EVERY // 5:
        new_stories = [f"{_sentence(rng)[:18]} · 最新 Breaking ({c}-new)", *stories[:9]]
    old = _channel_html(c, stories[:10], paras, views)
    new = _channel_html(c, new_stories, new_paras, [v + 13 + v % 7 for v in views])
    return old, new, gone


def _channel_html(c: int, stories: list[str], paras: list[str], views: list[int]) -> str:
    items = "\n".join(
        f'        <li class="news-item"><a href="/a/{c}/{j}.html">{escape(s)}</a> '
        f'<span class="date">2021-03-{1 + (c + j) % 28:02d}</span> '
        f'<span class="views">阅读 {views[j]}</span></li>'
        for j, s in enumerate(stories))
    body = "\n".join(f"        <p>{escape(p)}</p>" for p in paras)
    return (f'    <section class="channel" id="channel-{c}">\n'
            f'      <h2 class="channel-title"><a href="/channel/{c}/">频道 {c} Channel {c}</a>'
            f'</h2>\n      <ul class="news-list">\n{items}\n      </ul>\n'
            f'      <article class="featured">\n        <h3>{escape(paras[0][:30])}</h3>\n'
            f'        <p class="meta">发布时间：2021-03-{1 + c % 28:02d} 08:00 · '
            f"阅读 {views[12]}</p>\n{body}\n      </article>\n    </section>\n")


def _prefix_channels(chunks: list[str], limit: int) -> int:
    """How many leading chunks (head and whole channels) fit in *limit* bytes."""
    total = 0
    for n, chunk in enumerate(chunks):
        total += len(chunk.encode())
        if total > limit:
            return n
    return len(chunks)


# -- the two diffs ---------------------------------------------------------------------------
def ours(old: str, new: str) -> dict:
    """Our diff of the pair: extract both, diff the blocks, keep the substantive removals."""
    a, b = extract(old, URL), extract(new, URL)
    result = blocks_diff(a.blocks, b.blocks)
    kept = substantive_removals(result)
    return {"blocks": [len(a.blocks), len(b.blocks)], "changes": len(result.changes),
            "changed": len(result.changed), "removed": [c.old for c in kept]}


def baseline(old: str, new: str) -> dict:
    table = difflib.HtmlDiff().make_table(old.splitlines(), new.splitlines())
    return {"table_chars": len(table)}


def _child(conn: Connection, fn: Callable[[str, str], dict], old: str, new: str) -> None:
    t0 = time.perf_counter()
    out = fn(old, new)
    conn.send((time.perf_counter() - t0, out))
    conn.close()


def _timed(fn: Callable[[str, str], dict], old: str, new: str,
           timeout: float | None = None) -> tuple[float | None, dict]:
    """``fn(old, new)`` in a forked child: its seconds and result, or ``(None, {})`` if it
    ran past *timeout* (then it is stopped)."""
    # What the parent holds (the other benchmarks of this run, under `make bench`) is moved
    # out of the cyclic collector's sight first: else each child, ours and the baseline
    # alike, pays for traversing it on every full collection.
    gc.collect()
    gc.freeze()
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, fn, old, new), daemon=True)
    proc.start()
    send.close()
    ready = recv.poll(timeout)
    try:
        result = recv.recv() if ready else (None, {})
    except EOFError:   # the child died without an answer: its traceback is on stderr
        result = None
    if not ready:
        proc.terminate()
    proc.join()
    _check(result is not None, f"{fn.__name__} failed (child exit code {proc.exitcode})")
    return result


def _measure(old_chunks: list[str], new_chunks: list[str],
             removed: list[str | None]) -> dict:
    old, new = "".join(old_chunks), "".join(new_chunks)
    runs = [_timed(ours, old, new) for _ in range(RUNS)]
    out = runs[0][1]
    planted = [r for r in removed if r is not None]
    _check(out["removed"] == planted, f"removed {len(out['removed'])} blocks, planted "
           f"{len(planted)}; first differences: "
           f"{[r for r in out['removed'] if r not in planted][:2]}")
    ours_s = statistics.median(s for s, _ in runs)
    base_s, base = _timed(baseline, old, new, TIMEOUT)
    return {"bytes": [len(old.encode()), len(new.encode())],
            "lines": [old.count("\n"), new.count("\n")], "blocks": out["blocks"],
            "changes": out["changes"], "changed": out["changed"], "removed": len(planted),
            "ours_s": [round(s, 3) for s, _ in runs], "ours_median_s": round(ours_s, 3),
            "baseline_s": None if base_s is None else round(base_s, 3),
            "baseline_timed_out": base_s is None, "table_chars": base.get("table_chars"),
            "speedup": round((base_s or TIMEOUT) / ours_s, 1)}


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise SystemExit(f"diff benchmark: {message}")


def _print_report(f: dict) -> None:
    for layout in LAYOUTS:
        for label, key in (("1 MB pair", "full"), ("256 KB prefix", "prefix")):
            if key in f[layout]:
                _print_measure(f"{label}, {LAYOUT_NAMES[layout]}", f[layout][key], f)
    print(f"diff speed (HtmlDiff / ours, 1 MB pair): {f['speedup']:.1f} x faster"
          f"  (goal >= {f['goal']:.0f}; the lower layout: {LAYOUT_NAMES[f['speedup_layout']]})")


def _print_measure(label: str, m: dict, f: dict) -> None:
    base = (f"stopped after {f['timeout_s']:.0f} s" if m["baseline_timed_out"]
            else f"{m['baseline_s']:.2f} s")
    print(f"diff, {label}: {m['bytes'][0] / 1e6:.2f} / {m['bytes'][1] / 1e6:.2f} MB, "
          f"{m['lines'][0]:,} line breaks, {m['blocks'][0]:,} / {m['blocks'][1]:,} blocks; "
          f"{m['changes']} changes ({m['changed']} changed), {m['removed']} substantive "
          f"removals, as planted")
    print(f"  ours (extract x2 + blocks_diff + substantive_removals) "
          f"{m['ours_median_s']:.3f} s (median of {', '.join(map(str, m['ours_s']))}); "
          f"HtmlDiff().make_table {base}")
    bound = "> " if m["baseline_timed_out"] else ""
    print(f"  HtmlDiff / ours ({label}): {bound}{m['speedup']:.1f} x faster")
