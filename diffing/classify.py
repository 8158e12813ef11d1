"""What one capture shows: its state (the capture states ok / gone / notice / moved / restricted /
failed), the takedown kind a notice carries, and the rule that decided.

Pure: the detector hands in the capture, its extracted page, the site's not-found page of
the same round (the probe) and the URL's last ok page.  The order of the rules is the
policy: a failed fetch or an anti-bot page is never read as a takedown; a phrase counts only
on a page that is short enough to be a notice, not on an article that quotes one.
Imports ``diffing`` and ``snapshots.vocab``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from diffing.extract import Page
from diffing.phrases import Phrasebook, PhraseMatch
from diffing.volatile import mask
from snapshots.vocab import (
    LOGIN_WALL_STATUSES,
    TAKEDOWN_STATES,
    Kind,
    State,
    is_transient,
    redirected_to_login,
    status_state,
)

# A notice page says little besides its notice; longer text quoting a phrase is an article.
NOTICE_MAX_OTHER_CHARS = 600
# A notice inside the page's usual chrome counts when this share of the last ok page's own
# prose (outside repeated entries) is gone with it.
CONTENT_GONE_SHARE = 0.5
# The site's not-found page and a page that became it: this alike (masked main text).
SOFT404_SIMILARITY = 0.9
# A redirect target holding the last ok content: this alike.
MOVED_SIMILARITY = 0.8
HOME_NAMES = frozenset({"", "index", "default", "home", "main", "portal"})


@dataclass(frozen=True)
class Fetch:
    """What the classifier needs of a capture."""

    id: int
    url: str
    at: datetime
    status: int | None
    final_url: str | None = None
    error_kind: str | None = None
    redirects: tuple = ()
    body_sha256: str | None = None
    headers: dict = field(default_factory=dict)   # lower-case names


# a response that arrived but is no evidence: cut off before its end, or a body the crawl
# could not read (its decoding or link extraction raised)
_UNUSABLE = {"dataloss": "fetch:truncated", "unreadable": "fetch:unreadable"}


@dataclass(frozen=True)
class Verdict:
    state: State
    kind: Kind | None
    rule: str
    detail: dict = field(default_factory=dict)


def classify(fetch: Fetch, page: Page | None, phrases: Phrasebook, *,
             notfound: Page | None = None, notfound_status: int | None = None,
             last_ok: Page | None = None, homes: frozenset[str] = frozenset(),
             logged_in: bool = False) -> Verdict:
    """The state of *fetch*; see the module docstring for the order of the rules.
    *logged_in*: the target sends cookies, so a login wall means they expired."""
    if fetch.status is None:
        return Verdict(State.FAILED, None, f"fetch:{fetch.error_kind or 'error'}")
    if fetch.error_kind in _UNUSABLE:
        return Verdict(State.FAILED, None, _UNUSABLE[fetch.error_kind])
    status = fetch.status
    challenge = _challenge_header(fetch.headers)
    if challenge is not None:
        return Verdict(State.FAILED, None, f"header:{challenge}")
    found = _notice_phrase(page, phrases, last_ok)
    if is_transient(status):
        return Verdict(State.FAILED, None, f"http:{status}")
    if found is not None and found.state == State.FAILED:
        return _by_phrase(found, State.FAILED)
    wall = login_wall(fetch, page, last_ok) if logged_in else None
    if wall is not None:
        return Verdict(State.RESTRICTED, None, f"login:{wall}",
                       {"final_url": fetch.final_url} if wall == "redirect" else {})
    by_status = status_state(status)
    if by_status is State.NOTICE:
        return Verdict(State.NOTICE, Kind.CENSORED, "http:451", _phrase_detail(found))
    if by_status is State.GONE:
        if found is not None and found.state in TAKEDOWN_STATES and found.kind:
            return _by_phrase(found, State(found.state), rule=f"http:{status}+phrase")
        return Verdict(State.GONE, Kind.REMOVED, f"http:{status}")
    if by_status is State.OK:
        return _classify_ok(fetch, page, found, notfound, notfound_status, last_ok, homes)
    # a refusal: only a notice or a restriction the page states says more than failed
    if found is not None and found.state in (State.NOTICE, State.RESTRICTED):
        return _by_phrase(found, State(found.state), rule=f"http:{status}+phrase")
    return Verdict(by_status, None, f"http:{status}")


def login_wall(fetch: Fetch, page: Page | None, last_ok: Page | None) -> str | None:
    """How a target that sends cookies was shown a login wall, or None: ``401``/``403``,
    ``redirect`` to a login page (the watched page is not one), or a ``password-form`` on a
    2xx page whose last ok version had none.  A 404/410/451 is the page's own answer.

    >>> from datetime import datetime
    >>> f = Fetch(1, "http://x.test/a", datetime(2021, 1, 1), 200, "http://x.test/login")
    >>> login_wall(f, None, None), login_wall(Fetch(1, "http://x.test/a", f.at, 404), None, None)
    ('redirect', None)
    """
    status = fetch.status or 0
    if status in LOGIN_WALL_STATUSES:
        return str(status)
    if not 200 <= status < 300:
        return None
    if redirected_to_login(fetch.url, fetch.final_url):
        return "redirect"
    if page is not None and page.password_form and not (last_ok and last_ok.password_form):
        return "password-form"
    return None


def _classify_ok(fetch: Fetch, page: Page | None, found: PhraseMatch | None,
                 notfound: Page | None, notfound_status: int | None, last_ok: Page | None,
                 homes: frozenset[str]) -> Verdict:
    if found is not None:
        if found.state == "benign":
            return Verdict(State.OK, None, "phrase:benign", _phrase_detail(found))
        return _by_phrase(found, found.state)
    if page is None:
        return Verdict(State.OK, None, "http:2xx")
    if fetch.final_url and _differs(fetch.final_url, fetch.url):
        return _redirected(fetch, page, last_ok, homes)
    if page.refresh_url and is_home(page.refresh_url, homes) and not is_home(fetch.url, homes):
        return Verdict(State.GONE, Kind.REMOVED, "refresh:home", {"refresh_url": page.refresh_url})
    if notfound is not None and not is_home(fetch.url, homes):
        score = _alike(page, notfound)
        if score >= SOFT404_SIMILARITY:
            return Verdict(State.GONE, Kind.REMOVED, "soft404:probe",
                           {"similarity": round(score, 3), "probe_status": notfound_status})
    return Verdict(State.OK, None, "http:2xx")


def _redirected(fetch: Fetch, page: Page, last_ok: Page | None,
                homes: frozenset[str]) -> Verdict:
    detail = {"final_url": fetch.final_url}
    if last_ok is not None:
        score = _alike(page, last_ok)
        detail["similarity"] = round(score, 3)
        if score >= MOVED_SIMILARITY:
            return Verdict(State.MOVED, None, "redirect:same-content", detail)
    if is_home(fetch.final_url or "", homes) and not is_home(fetch.url, homes):
        return Verdict(State.GONE, Kind.REMOVED, "redirect:home", detail)
    # another page, other content: not the page any more, but nothing says it was taken
    # down either; never a takedown by itself
    return Verdict(State.MOVED, None, "redirect:elsewhere", detail)


# Response headers that say a CDN, a WAF or a filtering ISP answered instead of the site.
CHALLENGE_HEADERS = {
    "x-amzn-waf-action": None,          # AWS WAF: challenge / captcha / block
    "cf-mitigated": "challenge",        # Cloudflare's managed challenge
    "cf-chl-bypass": None,
    "rimon": None,                      # a filtering ISP's block page (RWC_BLOCK)
    "x-datadome": None, "x-dd-b": None,  # DataDome bot protection
    "x-sucuri-block": None,
}


def _challenge_header(headers: dict) -> str | None:
    """The header that marks the response as a challenge or block page, if any.

    >>> _challenge_header({"cf-mitigated": "challenge"}), _challenge_header({"server": "x"})
    ('cf-mitigated', None)
    """
    for name, value in CHALLENGE_HEADERS.items():
        got = headers.get(name)
        if got is not None and (value is None or value in got.lower()):
            return name
    return None


def _notice_phrase(page: Page | None, phrases: Phrasebook,
                   last_ok: Page | None = None) -> PhraseMatch | None:
    """The deciding phrase of the page's main text, if the page is short enough to be a
    notice (else an article that mentions a notice would read as one), or if the notice
    took the place of the page's own content inside the page's usual chrome (see
    `_notice_in_place`)."""
    if page is None or not (page.main_text or page.title):
        return None
    text = page.main_text if page.title in page.main_text else f"{page.title}\n{page.main_text}"
    found = phrases.match(text)
    if found is None:
        return None
    if found.state in TAKEDOWN_STATES and len(text) - len(found.matched_text) > \
            NOTICE_MAX_OTHER_CHARS:
        return _notice_in_place(page, last_ok, phrases)
    return found


def _notice_in_place(page: Page, last_ok: Page | None,
                     phrases: Phrasebook) -> PhraseMatch | None:
    """A notice that replaced the page's own content while the chrome around it (header,
    hot topics, comment box) still serves: the text the page did not carry when last ok,
    outside repeated entries, is short and holds the phrase, and most of the last ok
    page's own prose is gone.  An article that merely adds a paragraph quoting a notice
    keeps its prose, so it does not read as one."""
    if last_ok is None:
        return None
    before = {b.key for b in last_ok.blocks}
    novel = "\n".join(b.text for b in page.blocks if b.slot < 0 and b.key not in before)
    found = phrases.match(novel) if novel else None
    if found is None or found.state not in TAKEDOWN_STATES or \
            len(novel) - len(found.matched_text) > NOTICE_MAX_OTHER_CHARS:
        return None
    now = {b.key for b in page.blocks}
    prose = [b for b in last_ok.blocks if b.slot < 0 and not b.heading]
    lost = sum(len(b.text) for b in prose if b.key not in now)
    return found if prose and lost >= CONTENT_GONE_SHARE * sum(len(b.text) for b in prose) \
        else None


def _by_phrase(found: PhraseMatch, state: str, rule: str = "phrase") -> Verdict:
    state = State(state)
    kind = Kind(found.kind) if found.kind and state in TAKEDOWN_STATES else None
    if state is State.GONE:
        kind = kind or Kind.REMOVED
    return Verdict(state, kind, f"{rule}:{found.phrase.platform or 'generic'}",
                   _phrase_detail(found))


def _phrase_detail(found: PhraseMatch | None) -> dict:
    if found is None:
        return {}
    return {"phrase": found.matched_text, "pattern": found.phrase.pattern,
            "platform": found.phrase.platform, "source": found.phrase.source}


def _alike(a: Page, b: Page) -> float:
    """How alike two pages read: masked main text (and title), 0..1."""
    ta = mask(f"{a.title}\n{a.main_text}")
    tb = mask(f"{b.title}\n{b.main_text}")
    if not ta and not tb:
        return 1.0
    matcher = difflib.SequenceMatcher(None, ta, tb, autojunk=False)
    if matcher.real_quick_ratio() < SOFT404_SIMILARITY * 0.8:
        return matcher.real_quick_ratio()
    return matcher.ratio()


def _differs(a: str, b: str) -> bool:
    """Whether two URLs name other pages (host case and a trailing slash aside); a URL that
    does not parse (``http://[x``) differs from any other spelling."""
    try:
        sa, sb = urlsplit(a), urlsplit(b)
    except ValueError:
        return a != b
    return (sa.netloc.lower(), sa.path.rstrip("/"), sa.query) != \
        (sb.netloc.lower(), sb.path.rstrip("/"), sb.query)


def is_home(url: str, homes: frozenset[str]) -> bool:
    """The site's home page, a section's index page, or one of the target's own entry
    pages (a listing).  A URL that does not parse (``http://[x``) is none of these.

    >>> is_home("http://h/gov/index.html", frozenset()), is_home("http://h/a/b.html", frozenset())
    (True, False)
    """
    if url in homes:
        return True
    try:
        path = urlsplit(url).path.rstrip("/")
    except ValueError:
        return False
    last = path.rpartition("/")[2]
    stem = last.rpartition(".")[0] if "." in last else last
    return path == "" or stem.lower() in HOME_NAMES
