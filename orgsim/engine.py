"""The engine room: one API call from identity and body to answer, and the control operations.

``Simulator`` owns the state, the one lock that serialises changes to it, the faults, the call
counts and the optional state file. The HTTP server (``server.py``) only parses and writes bytes.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from orgsim import model, sts
from orgsim.errors import ApiError
from orgsim.faults import Faults
from orgsim.registry import HANDLERS, Call, load_handlers, unimplemented
from orgsim.scenarios import build
from orgsim.state import PARTITION, Session, State, partition_of

ACCOUNT_KEY = re.compile(r"\d{12}")  # an access key id of 12 digits is that account's own key


class Simulator:
    def __init__(
        self,
        *,
        scenario: str = "demo",
        seed: int = 0,
        quotas: str = "default",
        latency_ms: float = 0.0,
        throttle: float | str | None = None,
        state_file: str | None = None,
        **sizes: int,
    ) -> None:
        load_handlers()
        self.lock = threading.RLock()
        self.faults = Faults(latency_ms=latency_ms, throttle=throttle, seed=seed)
        self.calls: Counter[tuple[str, str]] = Counter()
        # The same per wall-clock second: what a rate limit test reads (AWS's buckets are per second).
        self.calls_by_second: Counter[tuple[int, str, str]] = Counter()
        self.calls_lock = threading.Lock()
        self.state_file = state_file
        self.options: dict[str, Any] = {"scenario": scenario, "seed": seed, "quotas": quotas, **sizes}
        if state_file and os.path.exists(state_file):
            self.state = State.load(state_file)
        else:
            self.state = build(scenario, seed=seed, quotas=quotas, **sizes)
            self.save()
        self._stop = threading.Event()
        self._saver: threading.Thread | None = None
        if state_file:
            self._saver = threading.Thread(target=self._save_loop, name="orgsim-saver", daemon=True)
            self._saver.start()
        self.fixed_body = json.dumps(_fixed_page()).encode()

    # --- the API --------------------------------------------------------------------------------

    def call(self, operation: str, account_id: str, body: Any, *, region: str = "us-east-1") -> dict[str, Any]:
        """Answer one API call or raise ApiError. `region` (the signed one) decides the ARNs' partition."""
        if operation not in model.operation_names():
            raise ApiError("UnknownOperationException", f"The operation {operation} is not known to AWS Organizations.")
        with self.calls_lock:
            self.calls[(operation, account_id)] += 1
            self.calls_by_second[(int(time.time()), operation, account_id)] += 1
        account = self.state.accounts.get(account_id)
        decision = self.faults.decide(operation, account_id, account.org_id if account else None)
        if decision.latency:
            time.sleep(decision.latency)  # outside the lock: a slow call must not hold others up
        if decision.error is not None:
            raise decision.error
        model.validate(model.operation(operation), body)
        handler = HANDLERS.get(operation)
        if handler is None:
            raise unimplemented(operation)
        with self.lock, partition(partition_of(region)):
            now = self.state.tick()
            call = Call(
                operation=operation,
                caller_id=account_id,
                params=body,
                state=self.state,
                now=now,
                empty_page=decision.empty_page,
            )
            return handler(call)

    def identity(self, key: str, token: str | None) -> tuple[str, Session | None]:
        """The account a request's access key id acts as: a 12-digit key is that account; an
        ``ASIA...`` key is an STS session, valid with its session token until it expires."""
        if ACCOUNT_KEY.fullmatch(key):
            return key, None
        with self.lock:
            session = self.state.sessions.get(key)
            now = self.state.now()
        if session is None or token != session.session_token:
            raise ApiError(
                "UnrecognizedClientException", "The security token included in the request is invalid.", status=403
            )
        if now >= session.expiration_ts:
            raise ApiError("ExpiredTokenException", "The security token included in the request is expired")
        return session.account_id, session

    def sts(self, raw: bytes, key: str, token: str | None, *, region: str = "us-east-1") -> tuple[str, dict[str, Any]]:
        """Answer one STS call (query protocol): the action and its result, or raise ApiError."""
        action, params = sts.parse(raw)
        account_id, session = self.identity(key, token)
        with self.calls_lock:
            self.calls[(f"sts:{action}", account_id)] += 1
        with self.lock, partition(partition_of(region)):
            now = self.state.tick()
            if action == "AssumeRole":
                return action, sts.assume_role(self.state, account_id, params, now)
            return action, sts.caller_identity(account_id, session, PARTITION.get())

    def trust_role(self, role_arn: str, external_id: str | None = None) -> dict[str, Any]:
        with self.lock:
            return {"role_arn": role_arn, **self.state.trust_role(role_arn, external_id)}

    # --- control --------------------------------------------------------------------------------

    def reset(self, scenario: str | None = None, **options: Any) -> dict[str, Any]:
        merged = {**self.options, **{k: v for k, v in options.items() if v is not None}}
        if scenario:
            merged["scenario"] = scenario
        if scenario and "seed" not in options:
            merged["seed"] = 0 if merged.get("seed") is None else merged["seed"]
        fresh = build(**merged)
        with self.lock:
            self.state = fresh
            self.options = merged
        self.save()
        return self.summary()

    def advance(self, seconds: float) -> float:
        with self.lock:
            self.state.dirty = True
            return self.state.advance(seconds)

    def set_quotas(self, account_id: str, **values: int) -> dict[str, int]:
        with self.lock:
            current = self.state.quotas.setdefault(account_id, {})
            current.update({k: int(v) for k, v in values.items() if v is not None})
            self.state.dirty = True
            return {name: self.state.quota(account_id, name) for name in self.state.default_quotas}

    def call_counts(self) -> dict[str, Any]:
        with self.calls_lock:
            counted = sorted(self.calls.items())
            seconds = sorted(self.calls_by_second.items())
        by_operation: Counter[str] = Counter()
        by_account: Counter[str] = Counter()
        for (operation, account), n in counted:
            by_operation[operation] += n
            by_account[account] += n
        return {
            "calls": [{"operation": op, "account": acct, "count": n} for (op, acct), n in counted],
            "by_operation": dict(by_operation),
            "by_account": dict(by_account),
            "total": sum(by_operation.values()),
            "by_second": [
                {"second": second, "operation": op, "account": acct, "count": n} for (second, op, acct), n in seconds
            ],
        }

    def reset_calls(self) -> None:
        with self.calls_lock:
            self.calls.clear()
            self.calls_by_second.clear()

    def dump(self) -> dict[str, Any]:
        with self.lock:
            self.state.tick()
            return self.state.to_dict()

    def summary(self) -> dict[str, Any]:
        with self.lock:
            state = self.state
            state.tick()
            orgs = []
            for org in state.orgs.values():
                management = state.management_account(org)
                members = [a for a in state.index.lists.get(f"accounts:{org.id}", []) if a != management.id]
                orgs.append(
                    {
                        "id": org.id,
                        "name": management.name,
                        "feature_set": org.feature_set,
                        "root_id": org.root_id,
                        "management_account_id": management.id,
                        "management_account_email": management.email,
                        "management_account_name": management.name,
                        "members": members,
                        "access_key_id": management.id,
                    }
                )
            standalone = [a.id for a in state.accounts.values() if a.org_id is None]
            return {
                "now": state.now(),
                "scenario": self.options.get("scenario"),
                "seed": self.options.get("seed"),
                "quotas": state.quota_profile,
                "organizations": orgs,
                "standalone_accounts": standalone[:1000],
                "counts": {
                    "accounts": len(state.accounts),
                    "organizations": len(state.orgs),
                    "handshakes": len(state.handshakes),
                    "transfers": len(state.transfers),
                },
                "keys": "access key id = the 12-digit account id; any secret key",
            }

    # --- the state file ---------------------------------------------------------------------------

    def save(self) -> None:
        if not self.state_file:
            return
        with self.lock:
            self.state.save(self.state_file)

    def _save_loop(self) -> None:
        while not self._stop.wait(1.0):
            if self.state.dirty:
                self.save()

    def close(self) -> None:
        self._stop.set()
        if self._saver is not None:
            self._saver.join(timeout=5)
        if self.state_file and self.state.dirty:
            self.save()


@contextmanager
def partition(name: str) -> Iterator[None]:
    token = PARTITION.set(name)
    try:
        yield
    finally:
        PARTITION.reset(token)


def _fixed_page() -> dict[str, Any]:
    """A page the size of a real ListHandshakes answer, for the benchmark's baseline."""
    handshake = {
        "Id": "h-0123456789ab",
        "Arn": "arn:aws:organizations::111111111111:handshake/o-0123456789/invite/h-0123456789ab",
        "Parties": [{"Id": "o-0123456789", "Type": "ORGANIZATION"}, {"Id": "222222222222", "Type": "ACCOUNT"}],
        "State": "OPEN",
        "RequestedTimestamp": 1760000000.0,
        "ExpirationTimestamp": 1761296000.0,
        "Action": "INVITE",
        "Resources": [{"Value": "o-0123456789", "Type": "ORGANIZATION"}, {"Value": "222222222222", "Type": "ACCOUNT"}],
    }
    return {"Handshakes": [handshake] * 20, "NextToken": "x" * 120}
