"""Tests of snapshots.urls: normalisation examples and properties, session-parameter learning."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from snapshots.urls import (
    SESSION_PARAMS,
    is_session_param,
    normalize_url,
    param_changes,
    volatile_params,
)

EXAMPLES = {
    "lowercase-scheme-and-host": ("HTTP://WWW.Example.COM/Path", "http://www.example.com/Path"),
    "keeps-path-case": ("http://x.test/News/List.HTML", "http://x.test/News/List.HTML"),
    "default-http-port": ("http://x.test:80/a", "http://x.test/a"),
    "default-https-port": ("https://x.test:443/a", "https://x.test/a"),
    "other-port-kept": ("http://x.test:443/a", "http://x.test:443/a"),
    "empty-port": ("http://x.test:/a", "http://x.test/a"),
    "empty-path": ("http://x.test", "http://x.test/"),
    "empty-path-with-query": ("http://x.test?b=1", "http://x.test/?b=1"),
    "fragment": ("http://x.test/a#comments", "http://x.test/a"),
    "empty-query": ("http://x.test/a?", "http://x.test/a"),
    "dot-segments": ("http://x.test/a/./b/../c", "http://x.test/a/c"),
    "dot-dot-above-root": ("http://x.test/../../a", "http://x.test/a"),
    "trailing-dot-dot": ("http://x.test/a/b/..", "http://x.test/a/"),
    "encoded-dot-segment": ("http://x.test/a/%2e%2E/b", "http://x.test/b"),
    "double-slash-kept": ("http://x.test/a//b", "http://x.test/a//b"),
    "sort-params": ("http://x.test/?b=2&a=1&c=3", "http://x.test/?a=1&b=2&c=3"),
    "repeated-names-stable": ("http://x.test/?b=2&a=z&b=1&a=y", "http://x.test/?a=z&a=y&b=2&b=1"),
    "blank-values-kept": ("http://x.test/?b=&a", "http://x.test/?a&b="),
    "empty-fields-dropped": ("http://x.test/?a=1&&b=2&", "http://x.test/?a=1&b=2"),
    "tilde-decoded": ("http://x.test/?a=%7E", "http://x.test/?a=~"),
    "tilde-raw": ("http://x.test/?a=~", "http://x.test/?a=~"),
    "escape-uppercased": ("http://x.test/%e6%96%b0?q=%c3%a9", "http://x.test/%E6%96%B0?q=%C3%A9"),
    "reserved-escape-kept": ("http://x.test/a%2Fb?q=a%26b%3Dc", "http://x.test/a%2Fb?q=a%26b%3Dc"),
    "plus-kept": ("http://x.test/?q=a+b&r=a%2Bb", "http://x.test/?q=a+b&r=a%2Bb"),
    "space-encoded": ("http://x.test/a b?q=a b", "http://x.test/a%20b?q=a%20b"),
    "unicode-encoded": ("http://x.test/新闻?q=删除", "http://x.test/%E6%96%B0%E9%97%BB?q=%E5%88%A0%E9%99%A4"),
    "stray-percent": ("http://x.test/100%?q=%zz", "http://x.test/100%25?q=%25zz"),
    "value-with-equals": ("http://x.test/?a=b=c", "http://x.test/?a=b=c"),
    "session-params-dropped": (
        "http://x.test/viewthread.php?tid=9&sid=Ab12&PHPSESSID=f00&formhash=1e2f",
        "http://x.test/viewthread.php?tid=9",
    ),
    "tracking-params-dropped": (
        "https://x.test/a?utm_source=t&utm_whatever=1&fbclid=z&gclid=y&spm=a.b&id=3",
        "https://x.test/a?id=3",
    ),
    "session-name-encoded": ("http://x.test/a?%73id=1&x=2", "http://x.test/a?x=2"),
    "jsessionid-path-param": (
        "http://x.test/shop;jsessionid=0A1B2C/item;JSESSIONID=9?id=1",
        "http://x.test/shop/item?id=1",
    ),
    "other-path-param-kept": ("http://x.test/a;type=d;sid=1/b", "http://x.test/a;type=d/b"),
    "idn-host": ("http://BÜCHER.example/", "http://xn--bcher-kva.example/"),
    "ipv6-host": ("http://[::1]:80/a", "http://[::1]/a"),
    "userinfo-kept": ("http://u:p@X.test:8080/", "http://u:p@x.test:8080/"),
}


@pytest.mark.parametrize(("url", "expected"), list(EXAMPLES.values()), ids=list(EXAMPLES))
def test_normalize_url_examples(url, expected):
    assert normalize_url(url) == expected


def test_drop_names_are_case_insensitive():
    url = "http://bbs.test/t.php?tid=5&Token=abc&page=2;x"
    assert normalize_url(url, drop=["token"]) == "http://bbs.test/t.php?page=2;x&tid=5"
    assert normalize_url(url, drop=("PAGE", "TOKEN")) == "http://bbs.test/t.php?tid=5"
    assert "Token=abc" in normalize_url(url)


@pytest.mark.parametrize(
    "url",
    ["ftp://x.test/", "javascript:alert(1)", "mailto:a@x.test", "/relative/path", "http:///a",
     "x.test/a", "http://x.test:99999/", "http://x.test:port/"],
)
def test_non_http_urls_raise(url):
    with pytest.raises(ValueError):
        normalize_url(url)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("sid", True), ("SID", True), ("PhpSessId", True), ("utm_anything", True),
     ("_hsenc", True), ("tid", False), ("fid", False), ("page", False), ("sidebar", False)],
)
def test_is_session_param(name, expected):
    assert is_session_param(name) is expected


def test_session_params_are_lowercase_names():
    assert {name.lower() for name in SESSION_PARAMS} == SESSION_PARAMS
    assert {"jsessionid", "formhash", "utm_source", "mc_eid"} <= SESSION_PARAMS


# -- properties -----------------------------------------------------------------------------

HOSTS = st.from_regex(r"[a-zA-Z][a-zA-Z0-9-]{0,8}(\.[a-zA-Z]{2,4}){1,2}", fullmatch=True)
PORTS = st.sampled_from(["", ":80", ":443", ":8080", ":"])
# Any text but CR, LF and tab, which urlsplit deletes wherever they are.
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\t\r\n"))
SAFE_TEXT = st.text(
    st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="&#"), max_size=12
)
NAMES = SAFE_TEXT.filter(lambda n: n and "=" not in n and not is_session_param(n))


@st.composite
def base_urls(draw: st.DrawFn) -> str:
    """An http(s) URL with a path and a query, no fragment."""
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "hTTps"]))
    path = draw(TEXT).replace("#", "").replace("?", "")
    query = draw(TEXT).replace("#", "")
    return f"{scheme}://{draw(HOSTS)}{draw(PORTS)}/{path}?{query}"


def session_names() -> st.SearchStrategy[str]:
    known = st.sampled_from(sorted(SESSION_PARAMS))
    utm = SAFE_TEXT.filter(lambda s: "=" not in s).map(lambda s: "utm_" + s)
    return st.one_of(known, utm).flatmap(
        lambda name: st.sampled_from([name, name.upper(), name.title()])
    )


def query_names(url: str) -> list[str]:
    query = urlsplit(url).query
    return [unquote(field.split("=")[0]) for field in query.split("&") if field]


@given(base_urls(), TEXT)
def test_idempotent(url, fragment):
    once = normalize_url(f"{url}#{fragment}")
    assert normalize_url(once) == once


@given(base_urls(), TEXT)
def test_fragment_never_affects_result(url, fragment):
    assert normalize_url(f"{url}#{fragment}") == normalize_url(url)


@given(
    HOSTS,
    st.lists(st.tuples(NAMES, SAFE_TEXT), unique_by=lambda p: p[0], max_size=6),
    st.randoms(use_true_random=False),
)
def test_param_order_never_affects_result(host, params, random):
    shuffled = random.sample(params, len(params))
    query = "&".join(f"{k}={v}" for k, v in params)
    other = "&".join(f"{k}={v}" for k, v in shuffled)
    assert normalize_url(f"http://{host}/p?{query}") == normalize_url(f"http://{host}/p?{other}")


@given(
    HOSTS,
    st.lists(st.tuples(NAMES, SAFE_TEXT), max_size=5),
    st.lists(st.tuples(session_names(), SAFE_TEXT), min_size=1, max_size=4),
    st.randoms(use_true_random=False),
)
def test_session_params_never_survive(host, kept, session, random):
    fields = [f"{k}={v}" for k, v in kept + session]
    random.shuffle(fields)
    result = normalize_url(f"http://{host}/a;jsessionid=x/b?{'&'.join(fields)}#end")
    assert not any(is_session_param(name) for name in query_names(result))
    assert "jsessionid" not in result


@given(
    HOSTS,
    st.lists(st.tuples(NAMES, SAFE_TEXT), max_size=6),
    st.lists(st.tuples(session_names(), SAFE_TEXT), max_size=3),
)
def test_non_session_params_always_survive(host, kept, session):
    query = "&".join(f"{k}={v}" for k, v in session + kept)
    result = normalize_url(f"http://{host}/?{query}#end")
    survived = [f.split("=", 1) for f in urlsplit(result).query.split("&") if f]
    assert Counter((unquote(k), unquote(v)) for k, v in survived) == Counter(
        (unquote(k), unquote(v)) for k, v in kept
    )


@given(HOSTS, st.lists(NAMES, max_size=6))
def test_params_come_out_sorted(host, names):
    result = normalize_url(f"http://{host}/?" + "&".join(f"{n}=1" for n in names))
    fields = [f.split("=")[0] for f in urlsplit(result).query.split("&") if f]
    assert fields == sorted(fields)


# -- learning volatile parameters -----------------------------------------------------------

PAGE = "http://bbs.test/forum.php"


def forum_round(sid: str, tids: dict[str, int]) -> list[tuple[str, str]]:
    """Links of a forum board in one round: navigation and one link per thread."""
    links = [("首页", f"http://bbs.test/index.php?sid={sid}"),
             ("本版", f"{PAGE}?mod=forumdisplay&fid=2&sid={sid}")]
    links += [(title, f"{PAGE}?mod=viewthread&tid={tid}&sid={sid}") for title, tid in tids.items()]
    return links


def test_rotating_token_learned_stable_thread_id_never():
    threads = {"军民融合 1": 101, "军民融合 2": 102, "通知": 103}
    rounds = [forum_round(sid, threads) for sid in ("a1b2", "c3d4", "e5f6")]
    changed, seen = Counter(), Counter()
    for old, new in pairwise(rounds):
        c, s = param_changes(old, new)
        changed += c
        seen += s
    assert seen["tid"] == 6 and changed["tid"] == 0
    assert changed["sid"] == seen["sid"] == 10
    assert volatile_params(changed, seen) == {"sid"}


def test_thread_id_not_learned_when_list_shifts_under_generic_anchors():
    old = [("回复", f"{PAGE}?mod=post&tid={t}") for t in (5, 4, 3, 2)]
    new = [("回复", f"{PAGE}?mod=post&tid={t}") for t in (9, 8, 7, 6)]
    changed, seen = param_changes(old, new)
    assert seen["tid"] == 0  # ambiguous anchors are never paired up
    assert volatile_params(changed, seen, min_seen=1) == set()


def test_links_match_only_on_same_anchor_host_path_and_names():
    old = [("a", "http://x.test/p?k=1"), ("b", "http://x.test/p?k=1"),
           ("c", "http://x.test/p?k=1"), ("d", "http://x.test/p?k=1&m=2")]
    new = [("a", "http://x.test/q?k=2"), ("b", "http://y.test/p?k=2"),
           ("C", "http://x.test/p?k=2"), ("d", "http://x.test/p?k=2")]
    changed, seen = param_changes(old, new)
    assert (changed, seen) == (Counter(), Counter())


def test_anchor_whitespace_and_name_case_are_normalised():
    old = [("  Next\n page ", "http://x.test/p?Page=2&Tok=a")]
    new = [("Next page", "http://X.TEST/p?page=2&tok=b")]
    changed, seen = param_changes(old, new)
    assert seen == Counter(page=1, tok=1)
    assert changed == Counter(tok=1)


def test_too_few_observations_not_learned():
    old = [("a", "http://x.test/p?token=1"), ("b", "http://x.test/q?token=1")]
    new = [("a", "http://x.test/p?token=2"), ("b", "http://x.test/q?token=2")]
    changed, seen = param_changes(old, new)
    assert changed["token"] == seen["token"] == 2
    assert volatile_params(changed, seen) == set()
    assert volatile_params(changed, seen, min_seen=2) == {"token"}


@pytest.mark.parametrize(
    ("changed", "seen", "expected"),
    [(8, 10, {"p"}), (7, 10, set()), (3, 3, {"p"}), (2, 2, set()), (0, 10, set())],
    ids=["at-ratio", "below-ratio", "at-min-seen", "below-min-seen", "never-changed"],
)
def test_volatile_params_thresholds(changed, seen, expected):
    assert volatile_params(Counter(p=changed), Counter(p=seen)) == expected


def test_malformed_and_parameterless_links_are_ignored():
    old = [("a", "http://[broken/p?x=1"), ("b", "http://x.test/plain")]
    new = [("a", "http://[broken/p?x=2"), ("b", "http://x.test/plain")]
    assert param_changes(old, new) == (Counter(), Counter())


@given(
    st.dictionaries(st.text(min_size=1, max_size=8), st.integers(1, 10**6), min_size=3),
    st.lists(st.text(st.characters(categories=("L", "N")), min_size=4, max_size=8),
             min_size=2, max_size=4, unique=True),
    st.randoms(use_true_random=False),
)
def test_stable_ids_never_learned_rotating_tokens_always(threads, sids, random):
    assume(len({" ".join(t.split()) for t in threads}) == len(threads))
    changed, seen = Counter(), Counter()
    previous = None
    for sid in sids:
        kept = random.sample(sorted(threads), k=random.randint(2, len(threads)))
        links = [(t, f"{PAGE}?tid={threads[t]}&sid={sid}") for t in kept]
        random.shuffle(links)
        if previous is not None:
            c, s = param_changes(previous, links)
            changed += c
            seen += s
        previous = links
    learned = volatile_params(changed, seen)
    assert "tid" not in learned
    assert changed["sid"] == seen["sid"]
    assert ("sid" in learned) == (seen["sid"] >= 3)
