"""The bundled demo site: the loopback server, DemoSite's days, faults and self-description.

Most tests talk to a real `SiteServer(DemoSite())` over loopback with urllib/http.client. The
consistency tests at the end walk the demo watchlist by calling the responder directly (no
sockets, so every simulated day is cheap) and check that the site's ground truth and noise
list account for every change a crawler could see.
"""

from __future__ import annotations

import html
import http.client
import re
import time
import tomllib
import urllib.error
import urllib.request
import urllib.robotparser
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import pytest

from takedown.demo.server import Reply, SiteServer
from takedown.demo.site import DemoSite
from takedown.demo.truth import KINDS, Expected

BASE = "http://demo.test"  # placeholder base for parametrization; swapped for the server's
SESSION_PARAMS = {"sid", "_vt"}
NOTICES = {
    "removed": ("抱歉，指定的主题不存在或已被删除或正在被审核", "This article has been removed"),
    "censored": ("此内容因违规无法查看", "该微博因违反《微博社区公约》的相关规定，已被删除",
                 "该微博因被多人投诉，根据《微博社区公约》相关规定，已被删除。"),
    "author_deleted": ("该内容已被发布者删除", "此微博已被作者删除"),
    "account_suspended": ("此帐号已被屏蔽",),
    "section_closed": ("抱歉，指定的版块不存在",),
}
NOT_TAKEDOWN_NOTICES = ("根据作者隐私设置，无法查看该内容", "仅展示半年内微博", "该公众号已迁移",
                        "当前环境异常，完成验证后即可继续访问", "Access Denied")
ALL_NOTICES = tuple(p for group in NOTICES.values() for p in group) + NOT_TAKEDOWN_NOTICES
TRUTH = DemoSite().ground_truth(BASE)


# --- helpers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[DemoSite, SiteServer]]:
    site = DemoSite()
    with SiteServer(site) as server:
        yield site, server


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(served: tuple[DemoSite, SiteServer], where: str, day: int,
          timeout: float = 5.0) -> tuple[int, Message, bytes]:
    """GET a path or placeholder URL on *day*; redirects are returned, not followed."""
    site, server = served
    site.day = day
    url = server.base_url + where.removeprefix(BASE)
    try:
        with _OPENER.open(url, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def decode(body: bytes, content_type: str = "") -> str:
    """Decode as a browser would: header charset, else meta charset; gb* means GB18030."""
    found = re.search(r"charset=([\w-]+)", content_type) or re.search(
        rb"""<meta[^>]+charset=["']?([\w-]+)""", body[:2048])
    charset = found.group(1) if found else "utf-8"
    charset = charset.decode() if isinstance(charset, bytes) else charset
    charset = "gb18030" if charset.lower().startswith("gb") else charset
    return body.decode(charset)


def page_text(status_headers_body: tuple[int, Message, bytes]) -> str:
    _, headers, body = status_headers_body
    return decode(body, headers.get("Content-Type", ""))


def is_alive(answer: tuple[int, Message, bytes]) -> bool:
    text = page_text(answer)
    return answer[0] == 200 and len(text) > 500 and not any(p in text for p in ALL_NOTICES)


def paras(text: str) -> set[str]:
    """Paragraphs of an article body (gov `#zoom`, news `.story-body`)."""
    body = re.search(r'(?:id="zoom"|class="story-body")>(.*?)</div>', text, re.S)
    return set(re.findall(r"<p>([^<]+)</p>", body.group(1))) if body else set()


def gov_listing_links(served: tuple[DemoSite, SiteServer], day: int) -> set[str]:
    links: set[str] = set()
    for page in ("/gov/news/list.html", "/gov/news/list_2.html", "/gov/news/list_3.html"):
        text = page_text(fetch(served, page, day))
        links |= {h.split("?")[0] for h in re.findall(r'href="(/gov/[^"]+)"', text)}
    return links


def truth_id(exp: Expected) -> str:
    return f"{exp.kind}:{exp.url.removeprefix(BASE)}" + (f"#{exp.item}" if exp.item else "")


# --- ground truth over the wire --------------------------------------------------------------


@pytest.mark.parametrize("exp", TRUTH, ids=truth_id)
def test_ground_truth_alive_on_day_zero(served: tuple[DemoSite, SiteServer], exp: Expected) -> None:
    answer = fetch(served, exp.url, 0)
    assert is_alive(answer), answer[:2]
    if exp.item:
        assert f'data-pid="{exp.item}"' in page_text(answer)


@pytest.mark.parametrize("exp", TRUTH, ids=truth_id)
def test_ground_truth_signal_on_its_day(served: tuple[DemoSite, SiteServer], exp: Expected) -> None:
    assert 2 <= exp.day <= 7 and exp.kind in KINDS
    before, after = fetch(served, exp.url, exp.day - 1), fetch(served, exp.url, exp.day)
    assert is_alive(before), "the takedown must be new on its day"
    if exp.item:
        _assert_item_signal(exp, page_text(after))
    elif exp.kind == "delisted":
        assert is_alive(after)
        path = urlsplit(exp.url).path
        assert path in gov_listing_links(served, exp.day - 1)
        assert path not in gov_listing_links(served, exp.day)
    elif exp.kind == "edited":
        assert is_alive(after)
        gone = paras(page_text(before)) - paras(page_text(after))
        assert len(gone) == 1 and len(paras(page_text(after))) >= 3
    else:
        _assert_page_signal(exp, after)


def _assert_item_signal(exp: Expected, text: str) -> None:
    reply = re.search(rf'data-pid="{exp.item}">(.*?)</div></div>', text)
    if exp.kind == "removed":
        assert reply is None
    else:
        assert reply is not None and "该帖被管理员或版主屏蔽" in reply.group(1)
    assert "thread_subject" in text, "the thread itself still serves"


def _assert_page_signal(exp: Expected, answer: tuple[int, Message, bytes]) -> None:
    status, headers, _ = answer
    text = page_text(answer)
    if status in (404, 410):
        assert exp.kind == "removed"
    elif status in (301, 302):
        assert exp.kind == "removed" and headers["Location"] == "/gov/index.html"
    elif status == 451:
        assert exp.kind == "censored"
    else:
        assert status == 200 and any(p in text for p in NOTICES[exp.kind]), text[-400:]


@pytest.mark.parametrize("exp", [e for e in TRUTH if e.restored_day], ids=truth_id)
def test_restored_pages_come_back(served: tuple[DemoSite, SiteServer], exp: Expected) -> None:
    assert exp.restored_day is not None
    assert not is_alive(fetch(served, exp.url, exp.restored_day - 1))
    assert is_alive(fetch(served, exp.url, exp.restored_day))


def test_ground_truth_shape() -> None:
    kinds = {e.kind for e in TRUTH}
    assert kinds == KINDS
    for exp in TRUTH:
        query = parse_qsl(urlsplit(exp.url).query)
        assert query == sorted(query) and not SESSION_PARAMS & {k for k, _ in query}
        assert "#" not in exp.url
    assert len({(e.url, e.item) for e in TRUTH}) == len(TRUTH)


def test_eight_days_keep_the_whole_truth() -> None:
    short = DemoSite(days=8)
    assert short.ground_truth(BASE) == TRUTH
    assert all(e.day < 8 and (e.restored_day or 0) < 8 for e in TRUTH)
    assert [e for e in DemoSite(days=4).ground_truth(BASE) if e.restored_day] == []


# --- encodings, faults, noise ------------------------------------------------------------------


def test_gb2312_label_needs_gb18030(served: tuple[DemoSite, SiteServer]) -> None:
    status, headers, body = fetch(served, "/gov/news/art_103.html", 0)
    assert status == 200 and headers["Content-Type"] == "text/html"
    assert b'content="text/html; charset=gb2312"' in body
    text = body.decode("gb18030")
    assert "镕" in text and "䶮" in text
    with pytest.raises(UnicodeDecodeError):
        body.decode("gb2312")


def test_gbk_meta_only(served: tuple[DemoSite, SiteServer]) -> None:
    status, headers, body = fetch(served, "/gov/news/art_105.html", 0)
    assert status == 200 and "charset" not in headers["Content-Type"]
    assert b'<meta charset="gbk">' in body
    assert "云海市人民政府" in body.decode("gbk")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")


def test_connection_reset(served: tuple[DemoSite, SiteServer]) -> None:
    assert fetch(served, "/news/transit-fare-rise.html", 2)[0] == 200
    errors = (ConnectionResetError, http.client.RemoteDisconnected, urllib.error.URLError)
    with pytest.raises(errors):
        fetch(served, "/news/transit-fare-rise.html", 3)


def test_truncated_body(served: tuple[DemoSite, SiteServer]) -> None:
    site, server = served
    site.day = 4
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/news/school-lunch-program.html")
    resp = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead) as caught:
        resp.read()
    conn.close()
    assert 0 < len(caught.value.partial) < int(resp.headers["Content-Length"])


def test_429_then_200() -> None:
    site = DemoSite()
    with SiteServer(site) as server:
        first = fetch((site, server), "/gov/news/art_106.html", 6)
        second = fetch((site, server), "/gov/news/art_106.html", 6)
    assert first[0] == 429 and first[1]["Retry-After"] == "1"
    assert second[0] == 200 and is_alive(second)


def test_moved_article_301_to_same_content(served: tuple[DemoSite, SiteServer]) -> None:
    old = fetch(served, "/gov/news/art_108.html", 2)
    status, headers, _ = fetch(served, "/gov/news/art_108.html", 3)
    assert status == 301 and headers["Location"] == "/gov/xxgk/art_108.html"
    new = fetch(served, headers["Location"], 3)
    assert is_alive(new) and paras(page_text(new)) == paras(page_text(old))
    assert fetch(served, "/gov/xxgk/art_108.html", 2)[0] == 404


@pytest.mark.parametrize(("path", "day", "status", "phrase"), [
    ("/gov/news/art_110.html", 5, 500, "500 Internal Server Error"),
    ("/news/harbor-bridge-reopens.html", 2, 403, "Access Denied"),
    ("/wx/s/Ve-1BaiRRi5fnbhJ5v-Oyo", 4, 200, "当前环境异常，完成验证后即可继续访问"),
    ("/wx/s/_5_Ra9_9VYX-hqm2LUo6Bf", 3, 200, "根据作者隐私设置，无法查看该内容"),
    ("/wx/account/laobing-gushi", 4, 200, "该公众号已迁移"),
    ("/weibo/status/4250100200000002", 4, 200, "仅展示半年内微博"),
])
def test_noise_pages(served: tuple[DemoSite, SiteServer], path: str, day: int, status: int,
                     phrase: str) -> None:
    assert is_alive(fetch(served, path, day - 1))
    answer = fetch(served, path, day)
    assert answer[0] == status and phrase in page_text(answer)


def test_anti_bot_is_one_day_only(served: tuple[DemoSite, SiteServer]) -> None:
    assert is_alive(fetch(served, "/wx/s/Ve-1BaiRRi5fnbhJ5v-Oyo", 5))


def test_slow_and_timeout(served: tuple[DemoSite, SiteServer]) -> None:
    t0 = time.monotonic()
    assert fetch(served, "/news/weather-outlook.html", 0)[0] == 200
    assert time.monotonic() - t0 >= 0.5
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        fetch(served, "/news/stadium-renovation.html", 5, timeout=0.8)
    assert fetch(served, "/forum/index.php", 5)[0] == 200, "server survives the abandoned request"


def test_session_parameters_change_daily(served: tuple[DemoSite, SiteServer]) -> None:
    for path, name in (("/forum/index.php", "sid"), ("/gov/news/list.html", "_vt")):
        pages = [html.unescape(page_text(fetch(served, path, day))) for day in (5, 6)]
        values = [set(re.findall(rf"[?&]{name}=(\w+)", text)) for text in pages]
        assert all(len(v) == 1 for v in values) and values[0] != values[1]
        links = [{normalize(h) for h in re.findall(r'href="(/[^"]+)"', t)} for t in pages]
        assert links[0] == links[1], "only the session value differs"


def test_robots_disallows_private(served: tuple[DemoSite, SiteServer]) -> None:
    _, server = served
    status, _, body = fetch(served, "/robots.txt", 0)
    robots = urllib.robotparser.RobotFileParser()
    robots.parse(body.decode().splitlines())
    assert status == 200
    assert not robots.can_fetch("*", server.base_url + "/private/secret.html")
    assert robots.can_fetch("*", server.base_url + "/forum/index.php")
    assert 'href="/private/secret.html"' in page_text(fetch(served, "/news/index.html", 0))


def test_unknown_pages(served: tuple[DemoSite, SiteServer]) -> None:
    assert fetch(served, "/nowhere.html", 0)[0] == 404
    assert fetch(served, "/gov/news/list_9.html", 0)[0] == 404
    thread = fetch(served, "/forum/viewthread.php?tid=999999", 0)
    assert thread[0] == 200 and NOTICES["removed"][0] in page_text(thread)


# --- the server itself ----------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_server_refuses_non_loopback(host: str) -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        SiteServer(DemoSite(), host=host)


def test_server_head_hits_and_vanishing_clients() -> None:
    def responder(method: str, path: str, headers: object) -> Reply:
        return Reply(body=b"x" * 100, delay=0.3 if path == "/slow" else 0.0)

    with SiteServer(responder) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("HEAD", "/a")
        head = conn.getresponse()
        assert head.read() == b"" and head.headers["Content-Length"] == "100"
        conn.request("GET", "/a")  # same keep-alive connection
        assert conn.getresponse().read() == b"x" * 100
        conn.close()
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            urllib.request.urlopen(server.base_url + "/slow", timeout=0.05)
        time.sleep(0.4)
        assert urllib.request.urlopen(server.base_url + "/b", timeout=5).read() == b"x" * 100
        assert server.hits["/a"] == 2 and server.hits["/slow"] == 1
        server.reset_hits()
        assert not server.hits


# --- consistency of the site's self-description (responder called directly) -------------------


@dataclass
class Seen:
    state: str
    links: set[str] = field(default_factory=set)
    items: set[str] = field(default_factory=set)


def normalize(url: str) -> str:
    parts = urlsplit(urljoin(BASE + "/", url))
    query = sorted((k, v) for k, v in parse_qsl(parts.query) if k not in SESSION_PARAMS)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _get(site: DemoSite, url: str) -> tuple[Reply, str, str]:
    """The reply after following redirects, the final URL and the decoded text."""
    reply = site("GET", url.removeprefix(BASE), {})
    for _ in range(3):
        if reply.status not in (301, 302):
            break
        url = normalize(reply.headers["Location"])
        reply = site("GET", url.removeprefix(BASE), {})
    text = "" if reply.fault else decode(reply.body, reply.headers.get("Content-Type", ""))
    return reply, url, text


def _state(reply: Reply, text: str, moved: bool) -> str:
    if reply.fault or reply.delay >= 3 or reply.status >= 500 or reply.status in (403, 429):
        return "failed"
    if reply.status != 200:
        return "gone"
    if moved:
        return "redirected"
    return "notice" if any(p in text for p in ALL_NOTICES) else "ok"


def _in_scope(target: dict, url: str) -> bool:
    allowed = target.get("allow", [])
    return ("/private/" not in url and not any(re.search(d, url) for d in target.get("deny", []))
            and (not allowed or any(re.search(a, url) for a in allowed)))


def walk(site: DemoSite, day: int, target: dict, revisit: Iterable[str] = ()) -> dict[str, Seen]:
    """Breadth-first crawl of one watchlist target, as the crawler would do it: from the
    target URL within its depth, then a revisit (no link following) of URLs seen before."""
    site.day = day
    seen: dict[str, Seen] = {}
    frontier = [(normalize(target["url"]), 0)]
    revisits = [(u, target["depth"]) for u in sorted(revisit)]
    while frontier or revisits:
        url, depth = frontier.pop(0) if frontier else revisits.pop(0)
        if url in seen:
            continue
        reply, final, text = _get(site, url)
        links = {normalize(html.unescape(h)) for h in re.findall(r'href="(/[^"]*)"', text)}
        links = {u for u in links if _in_scope(target, u)}
        items = set(re.findall(r'class="(?:reply|post)[^"]*" data-(?:pid|mid)="(\d+)"', text))
        seen[url] = Seen(_state(reply, text, final != url), links, items)
        if depth < target["depth"]:
            frontier += [(u, depth + 1) for u in sorted(links)]
    return seen


@pytest.fixture(scope="module")
def walks() -> dict[int, dict[str, dict[str, Seen]]]:
    """Every day's crawl of every target, revisiting all URLs seen ok on earlier days."""
    site = DemoSite()
    targets = tomllib.loads(site.watchlist_toml(BASE))["target"]
    known: dict[str, set[str]] = {t["name"]: set() for t in targets}
    out: dict[int, dict[str, dict[str, Seen]]] = {}
    for day in range(site.days):
        out[day] = {t["name"]: walk(site, day, t, known[t["name"]]) for t in targets}
        for name, seen in out[day].items():
            known[name] |= {url for url, s in seen.items() if s.state == "ok"}
    return out


def test_watchlist_format() -> None:
    doc = tomllib.loads(DemoSite().watchlist_toml(BASE))
    assert doc["crawl"] == {"concurrency": 8, "delay": 0, "timeout": 3, "retries": 2,
                           "timezone": "Asia/Shanghai"}
    allowed = {"name", "url", "depth", "allow", "deny", "items", "item_id", "headers", "robots",
               "retention_days"}
    names = [t["name"] for t in doc["target"]]
    assert len(names) == len(set(names)) and all(re.fullmatch(r"[a-z0-9_-]+", n) for n in names)
    for target in doc["target"]:
        assert set(target) <= allowed and 0 <= target["depth"] <= 2
        for pattern in target.get("allow", []) + target.get("deny", []):
            re.compile(pattern)


def test_walk_reaches_ground_truth_and_stays_small(walks: dict) -> None:
    for day, by_target in walks.items():
        pages = {url for seen in by_target.values() for url in seen}
        assert 100 < len(pages) <= 200, (day, len(pages))
        assert not any("/private/" in url for url in pages)
    for exp in TRUTH:
        seen = walks[0][exp.target]
        assert exp.url in seen and seen[exp.url].state == "ok", exp


def _described(site: DemoSite, url: str, day: int, item: str | None = None) -> bool:
    """True when (url, item) is a takedown visible on *day* or a noise case of *day*."""
    truth = any(e.url == url and e.item == item and e.day <= day
                and not (e.restored_day and e.restored_day <= day) for e in TRUTH)
    noise = item is None and any(n.url == url and day in n.days for n in site.noise_cases(BASE))
    return truth or noise


def _union(seen: dict[str, Seen], attr: str) -> set[str]:
    return set().union(*(getattr(s, attr) for s in seen.values()))


def test_pages_change_only_as_described(walks: dict) -> None:
    """Every page ok on day 0 that is not ok on a later day is ground truth or noise."""
    site = DemoSite()
    known = {url for seen in walks[0].values() for url, s in seen.items() if s.state == "ok"}
    for day in range(1, site.days):
        site.day = day
        for url in sorted(known):
            reply, final, text = _get(site, url)
            if _state(reply, text, final != url) != "ok":
                assert _described(site, url, day), (day, url)


def test_links_vanish_only_as_described(walks: dict) -> None:
    """A link that leaves a target's pages points at a takedown or a noise case."""
    site = DemoSite()
    for day in range(1, site.days):
        for name, now in walks[day].items():
            for url in _union(walks[day - 1][name], "links") - _union(now, "links"):
                assert _described(site, url, day), (day, url)


def test_items_vanish_only_as_described(walks: dict) -> None:
    """An item that leaves a target is an item takedown, or its page or permalink went."""
    site = DemoSite()
    for day in range(1, site.days):
        for name, now in walks[day].items():
            before = walks[day - 1][name]
            for item in _union(before, "items") - _union(now, "items"):
                page = next(url for url, s in before.items() if item in s.items)
                permalink = f"{BASE}/weibo/status/{item}"
                assert (_described(site, page, day, item) or _described(site, page, day)
                        or _described(site, permalink, day)), (day, name, item)


def test_same_day_same_bytes() -> None:
    one, two = DemoSite(), DemoSite()
    targets = tomllib.loads(one.watchlist_toml(BASE))["target"]
    for day in (0, 4, 7):
        urls = sorted({u for t in targets for u in walk(one, day, t)})
        one.day = two.day = day
        for url in urls:
            path = url.removeprefix(BASE)
            assert one("GET", path, {}) == two("GET", path, {}), (day, url)
    one.day, two.day = 0, 1
    assert one("GET", "/forum/index.php", {}).body != two("GET", "/forum/index.php", {}).body
