"""The fault room: latency, throttling (a random rate or AWS's own token buckets), 5xx, empty pages.

Faults are set per operation (or for all with ``operation=None``) through the control API. With
``throttle="aws"`` each call draws from the token buckets AWS documents (BILLING-TRANSFER.md):
one per account and, for the handshake calls, one per organization.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from orgsim.errors import ApiError

ALL = "*"

Bucket = tuple[float, float]  # (rate per second, burst)

# Per account, then per organization (None: no organization-wide bucket), as AWS documents them.
AWS_BUCKETS: dict[str, tuple[Bucket, Bucket | None]] = {
    "AcceptHandshake": ((1, 2), (5, 5)),
    "DeclineHandshake": ((1, 1), (5, 5)),
    "DescribeHandshake": ((1, 2), (6, 10)),
    "CancelHandshake": ((2, 3), None),
    "ListHandshakesForAccount": ((5, 8), (6, 10)),
    "ListHandshakesForOrganization": ((5, 8), (6, 10)),
}
# AWS documents no figure for the other calls but throttles them all; orgsim assumes this much.
AWS_DEFAULT_BUCKET: Bucket = (10.0, 20.0)


@dataclass
class FaultSpec:
    latency_ms: float = 0.0
    throttle: float | str | None = None  # probability 0..1 of TooManyRequestsException, or "aws"
    error_rate: float = 0.0  # probability of a 500 ServiceException
    empty_pages: float = 0.0  # probability that a list page is answered empty with a NextToken


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class Decision:
    latency: float = 0.0
    error: ApiError | None = None
    empty_page: bool = False


def throttled() -> ApiError:
    return ApiError("TooManyRequestsException", "Rate exceeded: you have sent too many requests in too short a period.")


class Faults:
    def __init__(self, *, latency_ms: float = 0.0, throttle: float | str | None = None, seed: int = 0) -> None:
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.base = FaultSpec(latency_ms=latency_ms, throttle=throttle)
        self.specs: dict[str, FaultSpec] = {}
        self.buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.specs = {ALL: FaultSpec(**asdict(self.base))}
            self.buckets.clear()

    def set(self, operation: str | None = None, **values: Any) -> FaultSpec:
        with self.lock:
            key = operation or ALL
            spec = self.specs.get(key) or FaultSpec(**asdict(self.specs[ALL]))
            for name, value in values.items():
                if name not in FaultSpec.__dataclass_fields__:
                    raise ValueError(f"unknown fault {name!r}")
                setattr(spec, name, value)
            self.specs[key] = spec
            return spec

    def to_dict(self) -> dict[str, Any]:
        with self.lock:
            return {key: asdict(spec) for key, spec in self.specs.items()}

    def decide(self, operation: str, account_id: str, org_id: str | None) -> Decision:
        with self.lock:
            spec = self.specs.get(operation) or self.specs[ALL]
            decision = Decision(latency=spec.latency_ms / 1000.0)
            if spec.throttle == "aws":
                if not self._aws_buckets(operation, account_id, org_id):
                    decision.error = throttled()
            elif spec.throttle and self.rng.random() < float(spec.throttle):
                decision.error = throttled()
            if decision.error is None and spec.error_rate and self.rng.random() < spec.error_rate:
                decision.error = ApiError(
                    "ServiceException",
                    "AWS Organizations can't complete your request because of an internal service error. Try again later.",
                    status=500,
                )
            decision.empty_page = bool(spec.empty_pages) and self.rng.random() < spec.empty_pages
            return decision

    def _aws_buckets(self, operation: str, account_id: str, org_id: str | None) -> bool:
        per_account, per_org = AWS_BUCKETS.get(operation, (AWS_DEFAULT_BUCKET, None))
        ok = self._bucket(("account", account_id, operation), *per_account)
        if org_id and per_org is not None:
            ok = self._bucket(("org", org_id, operation), *per_org) and ok
        return ok

    def _bucket(self, key: tuple[str, str, str], rate: float, burst: float) -> bool:
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(rate, burst)
        return bucket.take()
