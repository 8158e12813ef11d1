"""``Frontier``: the shared work queue of a distributed round, kept in Redis.

One coordinator (``takedown crawl --redis``) publishes a round and pushes its first
requests; workers (``takedown worker``) lease requests, fetch them, push the links they
find and acknowledge each request once its capture is committed to the store.  Delivery
is at-least-once: a worker holds its leased requests in a list of its own and renews a
short-lived key while it lives; when that key expires, anyone may *reap* the worker, which
moves its leased requests back to the frontier.  A request fetched twice is harmless: the
store keeps the first capture of a URL in a round.

Keys, all under a prefix (default ``takedown``; one Redis can serve several deployments)::

    {p}:round               JSON context of the running round (see crawler.distributed)
    {p}:round:id            its id, polled by the workers
    {p}:frontier            requests waiting: pushed on the left, leased from the right
    {p}:seen:{r}            "target url" of every request of round r (shared de-duplication)
    {p}:pending:{r}         requests of round r not yet done (waiting or leased)
    {p}:tally:{r}           hash "target|counter" -> count, for the round's summary
    {p}:workers             ids of the workers that may hold leases
    {p}:worker:{w}:alive    worker w's lease, expires unless renewed
    {p}:worker:{w}:leased   requests worker w took and has not acknowledged
    {p}:coordinator         lock held by the coordinator of the running round

De-duplication, pushing and counting happen in one Lua script, so a worker killed mid-page
cannot mark a link seen without queueing it.  Imports ``crawler.errors`` only.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crawler.errors import TakedownCrawlError

if TYPE_CHECKING:
    from redis import Redis

log = logging.getLogger(__name__)

_PUSH = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('INCR', KEYS[3])
redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
return 1
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
    """One request of a round, as queued: what the spider needs to rebuild it."""

    round_id: int
    target: str
    url: str
    depth: int
    via: str
    discovered: bool = False

    def encode(self) -> bytes:
        return json.dumps([self.round_id, self.target, self.url, self.depth, self.via,
                           int(self.discovered)], ensure_ascii=False).encode("utf-8")

    @classmethod
    def decode(cls, raw: bytes) -> Entry:
        """
        >>> Entry.decode(Entry(3, "gov", "http://127.0.0.1/a", 1, "link", True).encode())
        Entry(round_id=3, target='gov', url='http://127.0.0.1/a', depth=1, via='link', \
discovered=True)
        """
        r, t, u, d, v, x = json.loads(raw)
        return cls(int(r), t, u, int(d), v, bool(x))


class Frontier:
    """The Redis keys of one deployment (*prefix*) and the operations on them."""

    def __init__(self, server: Redis, prefix: str = "takedown") -> None:
        self.server, self.prefix = server, prefix
        self._push = server.register_script(_PUSH)
        self._lease = server.register_script(_LEASE)
        self._ack = server.register_script(_ACK)
        self._nack = server.register_script(_NACK)
        self._reap = server.register_script(_REAP)

    @classmethod
    def from_url(cls, url: str, prefix: str = "takedown") -> Frontier:
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
            raise FrontierError(f"cannot use Redis at {url}: {exc}") from exc
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
            p.delete(self.key("frontier"), self.key("seen", round_id),
                     self.key("pending", round_id), self.key("tally", round_id))
            p.set(self.key("pending", round_id), 0)
            p.set(self.key("round"), json.dumps(context, ensure_ascii=False))
            p.set(self.key("round", "id"), round_id)
            p.execute()

    def close_round(self, round_id: int) -> None:
        """Forget round *round_id* (its tally must have been read)."""
        with self.server.pipeline() as p:
            p.delete(self.key("seen", round_id), self.key("pending", round_id),
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
    def push(self, e: Entry) -> bool:
        """Queue *e* unless its target already queued its URL this round."""
        return bool(self._push(
            keys=[self.key("seen", e.round_id), self.key("frontier"),
                  self.key("pending", e.round_id), self.key("tally", e.round_id)],
            args=[f"{e.target} {e.url}", e.encode(), f"{e.target}|queued"]))

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
