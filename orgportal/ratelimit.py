"""The shared-budget room: AWS's per-account rate limits as token buckets every worker draws on.

AWS throttles Organizations calls per account (and, for the handshake calls, per organization)
with token buckets: a rate per second and a burst (BILLING-TRANSFER.md, "API behaviour"). Each
worker backing off on its own after a TooManyRequestsException is how a fleet sync throttles
itself: ten workers each believing they may send 5 calls a second to the same account send 50.
So the gateway takes a token before every HTTP attempt (botocore's ``before-send`` event, retries
included) from a bucket held where every worker sees it:

- **Redis** (``REDIS_URL``): one Lua script refills and takes atomically, on Redis's own clock, so
  workers on every host share one budget per account;
- **the embedded default**: a small SQLite file beside the data (``var/ratelimit.sqlite3``), one
  ``BEGIN IMMEDIATE`` transaction per take, shared by every process of the host. Not the main
  database: its write lock would queue every call behind a sync's page write.

A take *reserves*: a caller that finds the bucket empty is told when its token will be there and
sleeps until then, so waiters line up in order instead of polling (no thundering herd, no caller
overtaken forever). The buckets hold ``AWS_RATE_LIMIT_SHARE`` of AWS's rate and one token less
than its burst, so a call that leaves a few milliseconds late never lands in AWS's bucket early.

``AWS_RATE_LIMIT`` says which connections are limited: ``aws`` (the default: those that talk to
AWS itself, no endpoint URL), ``all`` (emulators too: the fleet benchmark and its tests run
orgsim with AWS's buckets) or ``off``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import redis
from django.conf import settings

# (rate per second, burst) per account and per organization, as AWS documents them.
ACCOUNT_BUCKETS: dict[str, tuple[float, float]] = {
    "AcceptHandshake": (1, 2),
    "DeclineHandshake": (1, 1),
    "DescribeHandshake": (1, 2),
    "CancelHandshake": (2, 3),
    "ListHandshakesForAccount": (5, 8),
    "ListHandshakesForOrganization": (5, 8),
}
ORGANIZATION_BUCKETS: dict[str, tuple[float, float]] = {
    "AcceptHandshake": (5, 5),
    "DeclineHandshake": (5, 5),
    "DescribeHandshake": (6, 10),
    "ListHandshakesForAccount": (6, 10),
    "ListHandshakesForOrganization": (6, 10),
}
# AWS documents no figure for the other calls but throttles them all; 10/s with a burst of 20 is
# what AWS's general Organizations guidance suggests and what orgsim's `--throttle aws` applies.
DEFAULT_BUCKET = (10.0, 20.0)


@dataclass(frozen=True)
class Bucket:
    key: str
    rate: float  # tokens per second
    burst: float  # the most tokens it holds


def buckets_for(operation: str, *, account: str, organization: str = "") -> list[Bucket]:
    """The buckets one call of `operation` by `account` draws on, at our share of AWS's figures."""
    share = settings.AWS_RATE_LIMIT_SHARE
    rate, burst = ACCOUNT_BUCKETS.get(operation, DEFAULT_BUCKET)
    found = [Bucket(f"account:{account}:{operation}", rate * share, max(1.0, burst - 1))]
    if organization and operation in ORGANIZATION_BUCKETS:
        rate, burst = ORGANIZATION_BUCKETS[operation]
        found.append(Bucket(f"org:{organization}:{operation}", rate * share, max(1.0, burst - 1)))
    return found


def sustained_rate(operation: str) -> float:
    """AWS's own sustained rate (calls per second) for `operation` from one account."""
    return float(ACCOUNT_BUCKETS.get(operation, DEFAULT_BUCKET)[0])


class Store(Protocol):
    def reserve(self, buckets: list[Bucket]) -> float:
        """Take one token from every bucket; the seconds to wait before the call may go."""


# --- Redis ------------------------------------------------------------------------------------

# KEYS: the buckets. ARGV: rate and burst per bucket, then the TTL of an idle bucket. Each bucket
# is a hash {tokens, stamp}; refilled to now, one token taken (it may go negative: a reservation),
# the wait is the longest any bucket asks. Redis's TIME is the one clock every host shares.
_LUA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local ttl = tonumber(ARGV[#ARGV])
local wait = 0
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'stamp')
  local tokens = tonumber(state[1]) or burst
  local stamp = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate) - 1
  if tokens < 0 then
    wait = math.max(wait, -tokens / rate)
  end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'stamp', tostring(now))
  redis.call('EXPIRE', key, ttl)
end
return tostring(wait)
"""


class RedisStore:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.script = self.client.register_script(_LUA)

    def reserve(self, buckets: list[Bucket]) -> float:
        args: list[Any] = []
        for bucket in buckets:
            args += [bucket.rate, bucket.burst]
        # An idle bucket is full again after burst/rate seconds: no need to keep it longer.
        args.append(max(60, int(max(b.burst / b.rate for b in buckets)) + 1))
        keys = [f"orgportal:ratelimit:{bucket.key}" for bucket in buckets]
        return float(self.script(keys=keys, args=args))


# --- the embedded default: a SQLite file every process of the host opens ----------------------


class FileStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS bucket (key TEXT PRIMARY KEY, tokens REAL, stamp REAL)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self.local, "db", None)
        if db is None:
            db = self.local.db = self._connect()
        return db

    def reserve(self, buckets: list[Bucket]) -> float:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")  # the host-wide lock: one take at a time
        try:
            now = time.time()
            wait = 0.0
            for bucket in buckets:
                row = db.execute("SELECT tokens, stamp FROM bucket WHERE key = ?", (bucket.key,)).fetchone()
                tokens, stamp = row if row else (bucket.burst, now)
                tokens = min(bucket.burst, tokens + max(0.0, now - stamp) * bucket.rate) - 1
                if tokens < 0:
                    wait = max(wait, -tokens / bucket.rate)
                db.execute(
                    "INSERT INTO bucket (key, tokens, stamp) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, stamp = excluded.stamp",
                    (bucket.key, tokens, now),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return wait


@cache
def _store(redis_url: str, path: str) -> Store:
    return RedisStore(redis_url) if redis_url else FileStore(Path(path))


def store() -> Store:
    """The store of this deployment (one per process, built on first use)."""
    return _store(settings.REDIS_URL, str(settings.AWS_RATE_LIMIT_FILE))


def applies_to(endpoint_url: str) -> bool:
    """Whether calls of a connection with this endpoint draw on the shared budget."""
    mode = settings.AWS_RATE_LIMIT
    return mode == "all" or (mode == "aws" and not endpoint_url)


# What waiting cost this process: the benchmark and the tests read it.
_metrics: dict[str, float] = {"takes": 0, "waits": 0, "wait_seconds": 0.0}
_metrics_lock = threading.Lock()


def metrics() -> dict[str, float]:
    with _metrics_lock:
        return dict(_metrics)


def acquire(operation: str, *, account: str, organization: str = "") -> float:
    """Wait until one call of `operation` by `account` fits AWS's budget; the seconds waited."""
    wait = store().reserve(buckets_for(operation, account=account, organization=organization))
    with _metrics_lock:
        _metrics["takes"] += 1
        if wait > 0:
            _metrics["waits"] += 1
            _metrics["wait_seconds"] += wait
    if wait > 0:
        time.sleep(wait)
    return wait
