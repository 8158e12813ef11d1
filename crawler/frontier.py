"""``Frontier``: the shared work queue of a distributed round, kept in Redis.

One coordinator (``takedown crawl --redis``) publishes a round and claims its first URLs;
workers (``takedown worker``) lease requests, fetch them, claim the links they find and
acknowledge each request once its captures are committed to the store.  Delivery is
at-least-once: a worker holds its leased requests in a list of its own and renews a
short-lived key while it lives; when that key expires, anyone may *reap* the worker, which
moves its leased requests back to the frontier.  A request fetched twice is harmless: the
store keeps the first capture of a URL in a round.

One fetch per URL per round (``crawler.fetches``): a target *claims* a URL; the first
claim queues a ``fetch`` request, later ones join its claims.  The worker that fetched it
*takes* the claims when the response is in, records a capture for each, then *finishes*
the fetch: claims that came meanwhile are handed back to it (it serves them from the
response in hand) until none is left, and the fetch is marked done.  A claim on a done
fetch queues a ``reuse`` request (or ``follow``, when the target has its capture and now
reaches the URL less deep): whoever leases it records the target's capture from the
worker's cache or the store, and follows the links.

Keys, all under a prefix (default ``takedown``; one Redis can serve several deployments)::

    {p}:round               JSON context of the running round (see crawler.distributed)
    {p}:round:id            its id, polled by the workers
    {p}:frontier            requests waiting: pushed on the left, leased from the right
    {p}:claims:{r}          fetch key -> JSON {"s": "q"|"d", "c": {target: [depth, via,
                            discovered, depth served or -1]}} of every fetch of round r
    {p}:pending:{r}         requests of round r not yet done (waiting or leased)
    {p}:tally:{r}           hash "target|counter" -> count, for the round's summary
    {p}:workers             ids of the workers that may hold leases
    {p}:worker:{w}:alive    worker w's lease, expires unless renewed
    {p}:worker:{w}:leased   requests worker w took and has not acknowledged
    {p}:coordinator         lock held by the coordinator of the running round

Claiming, pushing and counting happen in one Lua script, so a worker killed mid-page
cannot mark a link claimed without queueing it.  Imports ``crawler.errors``,
``crawler.fetches`` and ``snapshots.defaults``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from crawler.errors import TakedownCrawlError
from crawler.fetches import Claim
from snapshots.defaults import default

if TYPE_CHECKING:
    from redis import Redis

log = logging.getLogger(__name__)
PREFIX = default("redis.prefix")

# ARGV: key, target, depth, via, discovered, then the fetch, reuse and follow entries.
# Returns 0 (nothing new), 1 (fetch queued), 2 (joined a fetch under way), 3 (reuse or
# follow queued).
_CLAIM = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local rec
if raw then rec = cjson.decode(raw) else rec = {s = 'q', c = {}} end
local depth = tonumber(ARGV[3])
local old = rec.c[ARGV[2]]
if old and old[1] <= depth then return 0 end
local served = -1
if old then served = old[4] end
local out = 2
if not raw then
  redis.call('LPUSH', KEYS[2], ARGV[6])
  redis.call('INCR', KEYS[3])
  out = 1
elseif rec.s == 'd' then
  if served < 0 then redis.call('LPUSH', KEYS[2], ARGV[7])
  else redis.call('LPUSH', KEYS[2], ARGV[8]) end
  redis.call('INCR', KEYS[3])
  served = depth
  out = 3
end
if old then rec.c[ARGV[2]] = {depth, old[2], old[3], served}
else
  rec.c[ARGV[2]] = {depth, ARGV[4], tonumber(ARGV[5]), served}
  redis.call('HINCRBY', KEYS[4], ARGV[2] .. '|queued', 1)
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return out
"""
# The response is in: every claim (each is served now, at its depth).
_TAKE = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return '{}' end
local rec = cjson.decode(raw)
local n = 0
for _, c in pairs(rec.c) do c[4] = c[1]; n = n + 1 end
if n == 0 then return '{}' end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return cjson.encode(rec.c)
"""
# The taken claims are recorded: the claims not served yet (new, or less deep), served
# now by the caller; when there is none, the fetch is done.
_FINISH = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return '{}' end
local rec = cjson.decode(raw)
local out, n = {}, 0
for t, c in pairs(rec.c) do
  if c[4] ~= c[1] then
    out[t] = {c[1], c[2], c[3], c[4]}
    c[4] = c[1]
    n = n + 1
  end
end
if n == 0 then rec.s = 'd' end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
if n == 0 then return '{}' end
return cjson.encode(out)
"""
_LEASE = """
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local e = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not e then break end
  out[#out + 1] = e
end
return out
"""
_ACK = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('DECR', KEYS[2])
return 1
"""
_NACK = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1
"""
# Requests go back to the *right* end: they are the next ones leased.
_REAP = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local n = 0
while redis.call('LMOVE', KEYS[2], KEYS[3], 'LEFT', 'RIGHT') do n = n + 1 end
redis.call('SREM', KEYS[4], ARGV[1])
return n
"""


class FrontierError(TakedownCrawlError):
    """Redis is unreachable, or another coordinator holds the round."""


@dataclass(frozen=True)
class Entry:
    """One request of a round, as queued.  ``fetch``: fetch *url* with the request profile
    of *target* (the first to claim it; every claim is read when the response is in).
    ``reuse``/``follow``: *target*'s claim (depth, via, discovered) on a done fetch."""

    round_id: int
    kind: str              # fetch | reuse | follow
    key: str               # the fetch key (crawler.fetches.fetch_key)
    url: str
    target: str
    depth: int = 0
    via: str = ""
    discovered: bool = False

    def encode(self) -> bytes:
        return json.dumps([self.round_id, self.kind, self.key, self.url, self.target,
                           self.depth, self.via, int(self.discovered)],
                          ensure_ascii=False).encode("utf-8")

    @classmethod
    def decode(cls, raw: bytes) -> Entry:
        """
        >>> e = Entry(3, "reuse", "http://127.0.0.1/a", "http://127.0.0.1/a", "gov", 1,
        ...           "link", True)
        >>> Entry.decode(e.encode()) == e
        True
        """
        r, k, key, u, t, d, v, x = json.loads(raw)
        return cls(int(r), k, key, u, t, int(d), v, bool(x))

    @property
    def claim(self) -> Claim:
        return Claim(self.target, self.depth, self.via, self.discovered)


class Frontier:
    """The Redis keys of one deployment (*prefix*) and the operations on them."""

    def __init__(self, server: Redis, prefix: str = PREFIX) -> None:
        self.server, self.prefix = server, prefix
        self._claim = server.register_script(_CLAIM)
        self._take = server.register_script(_TAKE)
        self._finish = server.register_script(_FINISH)
        self._lease = server.register_script(_LEASE)
        self._ack = server.register_script(_ACK)
        self._nack = server.register_script(_NACK)
        self._reap = server.register_script(_REAP)

    @classmethod
    def from_url(cls, url: str, prefix: str = PREFIX) -> Frontier:
        """The frontier on the Redis at *url*; FrontierError when it does not answer."""
        from redis import Redis, RedisError
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        try:
            # one try to tell a wrong URL at once; the working client retries (its default)
            with Redis.from_url(url, retry=Retry(NoBackoff(), 0)) as probe:
                probe.ping()
            server = Redis.from_url(url)
        except (RedisError, ValueError) as exc:
            shown = url if url.strip() else repr(url)
            raise FrontierError(f"cannot use Redis at {shown}: {exc}") from exc
        return cls(server, prefix)

    def key(self, *parts: object) -> str:
        return ":".join((self.prefix, *map(str, parts)))

    # -- the round (coordinator) -------------------------------------------------------
    def lock(self, ttl: float = 60.0) -> str:
        """Take the coordinator lock; raises FrontierError while another one holds it."""
        token = uuid.uuid4().hex
        if not self.server.set(self.key("coordinator"), token, nx=True, px=int(ttl * 1000)):
            raise FrontierError(f"another round is running on this Redis (prefix "
                                f"{self.prefix!r}); its lock is {self.key('coordinator')}")
        return token

    def renew(self, token: str, ttl: float = 60.0) -> None:
        if self.server.get(self.key("coordinator")) == token.encode():
            self.server.pexpire(self.key("coordinator"), int(ttl * 1000))

    def unlock(self, token: str) -> None:
        if self.server.get(self.key("coordinator")) == token.encode():
            self.server.delete(self.key("coordinator"))

    def open_round(self, round_id: int, context: dict) -> None:
        """Publish round *round_id*; requests left by a coordinator that died are dropped."""
        with self.server.pipeline() as p:
            p.delete(self.key("frontier"), self.key("claims", round_id),
                     self.key("pending", round_id), self.key("tally", round_id))
            p.set(self.key("pending", round_id), 0)
            p.set(self.key("round"), json.dumps(context, ensure_ascii=False))
            p.set(self.key("round", "id"), round_id)
            p.execute()

    def close_round(self, round_id: int) -> None:
        """Forget round *round_id* (its tally must have been read)."""
        with self.server.pipeline() as p:
            p.delete(self.key("claims", round_id), self.key("pending", round_id),
                     self.key("tally", round_id), self.key("round"), self.key("round", "id"),
                     self.key("frontier"))   # empty, unless the round was interrupted
            p.execute()

    def round_id(self) -> int | None:
        raw = self.server.get(self.key("round", "id"))
        return int(raw) if raw else None

    def context(self) -> dict | None:
        raw = self.server.get(self.key("round"))
        return json.loads(raw) if raw else None

    def pending(self, round_id: int) -> int:
        return int(self.server.get(self.key("pending", round_id)) or 0)

    def tally(self, round_id: int) -> dict[str, Counter]:
        out: dict[str, Counter] = {}
        for field, n in self.server.hgetall(self.key("tally", round_id)).items():
            target, _, counter = field.decode("utf-8").rpartition("|")
            out.setdefault(target, Counter())[counter] = int(n)
        return out

    # -- requests ------------------------------------------------------------------------
    def claim(self, round_id: int, key: str, url: str, claim: Claim) -> int:
        """*claim* on the fetch *key* of *url*: 1 when it queued the fetch, 2 when it joined
        a fetch under way, 3 when it queued a reuse of a done one, 0 when the target
        already reached the URL at most that deep."""
        entry = Entry(round_id, "fetch", key, url, claim.target, claim.depth, claim.via,
                      claim.discovered)
        return int(self._claim(
            keys=[self.key("claims", round_id), self.key("frontier"),
                  self.key("pending", round_id), self.key("tally", round_id)],
            args=[key, claim.target, claim.depth, claim.via, int(claim.discovered),
                  entry.encode(), replace(entry, kind="reuse").encode(),
                  replace(entry, kind="follow").encode()]))

    def take_claims(self, round_id: int, key: str) -> list[Claim]:
        """The response of fetch *key* is in: every claim on it, to record it for (a fetch
        done again after a worker died records them again, which the store ignores)."""
        raw = self._take(keys=[self.key("claims", round_id)], args=[key])
        return [c for c, _ in _claims(raw)]

    def finish_claims(self, round_id: int, key: str) -> list[tuple[Claim, bool]]:
        """The claims of fetch *key* that came while it was being recorded (to record, or
        to follow deeper when already recorded); none left: the fetch is done."""
        return _claims(self._finish(keys=[self.key("claims", round_id)], args=[key]))

    def waiting(self) -> int:
        return int(self.server.llen(self.key("frontier")))

    def lease(self, worker: str, n: int) -> list[bytes]:
        """Move up to *n* requests to *worker*'s leased list; their raw entries."""
        if n <= 0:
            return []
        return self._lease(keys=[self.key("frontier"), self.key("worker", worker, "leased")],
                           args=[n])

    def ack(self, worker: str, raw: bytes, tally: dict[str, Counter] | None = None) -> bool:
        """*worker* is done with *raw*: it leaves the round's pending count (once only: a
        request reaped from a worker presumed dead is no longer in its list).  *tally*
        (target -> counts) is added to the round's first, in the same round trip."""
        round_id = Entry.decode(raw).round_id
        with self.server.pipeline(transaction=False) as p:
            for target, counts in (tally or {}).items():
                for counter, n in counts.items():
                    if n:
                        p.hincrby(self.key("tally", round_id), f"{target}|{counter}", n)
            self._ack(keys=[self.key("worker", worker, "leased"),
                            self.key("pending", round_id)], args=[raw], client=p)
            return bool(p.execute()[-1])

    def nack(self, worker: str, raw: bytes) -> bool:
        """Give *raw* back to the frontier for another try."""
        return bool(self._nack(keys=[self.key("worker", worker, "leased"),
                                     self.key("frontier")], args=[raw]))

    # -- workers --------------------------------------------------------------------------
    def heartbeat(self, worker: str, lease: float) -> None:
        """Renew *worker*'s lease for *lease* seconds."""
        with self.server.pipeline() as p:
            p.sadd(self.key("workers"), worker)
            p.set(self.key("worker", worker, "alive"), 1, px=max(1, int(lease * 1000)))
            p.execute()

    def workers(self) -> list[str]:
        return sorted(w.decode() for w in self.server.smembers(self.key("workers")))

    def leased(self, worker: str) -> int:
        return int(self.server.llen(self.key("worker", worker, "leased")))

    def reap(self, worker: str | None = None) -> int:
        """Requeue the leased requests of every worker whose lease expired (or of
        *worker*); returns how many went back."""
        moved = 0
        for w in [worker] if worker else self.workers():
            n = self._reap(keys=[self.key("worker", w, "alive"),
                                 self.key("worker", w, "leased"), self.key("frontier"),
                                 self.key("workers")], args=[w])
            if n > 0:
                log.warning("worker %s is gone: %d leased requests requeued", w, n)
                moved += n
        return moved

    def retire(self, worker: str) -> int:
        """*worker* leaves: its lease ends now and whatever it still held is requeued."""
        self.server.delete(self.key("worker", worker, "alive"))
        return self.reap(worker)


def _claims(raw: bytes | str) -> list[tuple[Claim, bool]]:
    """(claim, recorded before) pairs of a script's answer, in target order."""
    found = json.loads(raw) if raw else {}
    return [(Claim(t, int(d), v, bool(x)), served >= 0)
            for t, (d, v, x, served) in sorted(found.items())]
