"""The world room: every simulated account, organization, root, OU, handshake and transfer.

Plain dataclasses of JSON-able fields (so a dump and the ``--state`` file are one
``dataclasses.asdict`` away), plus the indexes that keep list calls cheap: each list an API can
return is a sorted Python list of position keys (handshake/transfer sequence numbers, account or
OU ids) that a page bisects into. Nothing here checks who may do what; the ``ops`` handlers do.

Time is a clock tests can move (``advance``); expiry and the 30-day retention of closed
handshakes run from a heap of due events whenever the clock is read through ``tick``.
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

DAY = 86400.0
RETENTION = 30 * DAY  # closed handshakes stay listed this long, then disappear
OPEN_STATES = ("REQUESTED", "OPEN")
HANDSHAKE_TO_TRANSFER = {
    "REQUESTED": "REQUESTED",
    "OPEN": "REQUESTED",
    "ACCEPTED": "ACCEPTED",
    "DECLINED": "DECLINED",
    "CANCELED": "CANCELED",
    "EXPIRED": "EXPIRED",
}
ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"

# Quotas per management account (BILLING-TRANSFER.md). AWS's inbound default of 0 makes every
# invite fail until Service Quotas raises it, so orgsim's default profile starts at a usable 10.
QUOTA_PROFILES: dict[str, dict[str, int]] = {
    "default": {"inbound": 10, "outbound": 1, "chain": 1, "chain_transfers": 1000},
    "aws": {"inbound": 0, "outbound": 1, "chain": 1, "chain_transfers": 1000},
}


@dataclass(slots=True)
class Account:
    id: str
    email: str
    name: str
    status: str = "ACTIVE"
    state: str = "ACTIVE"
    org_id: str | None = None
    parent_id: str | None = None
    joined_method: str | None = None
    joined_ts: float | None = None


@dataclass(slots=True)
class Organization:
    id: str
    feature_set: str
    management_account_id: str
    root_id: str
    created_ts: float
    # Policy types the organization can use (PolicyTypeSummary dicts); the policy work fills it.
    available_policy_types: list[dict[str, str]] = field(default_factory=list)
    pending_all_features: str | None = None  # id of the open ENABLE_ALL_FEATURES handshake


@dataclass(slots=True)
class Root:
    id: str
    org_id: str
    name: str = "Root"
    # PolicyTypeSummary dicts ({"Type", "Status"}); empty until a policy type is enabled.
    policy_types: list[dict[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class OrganizationalUnit:
    id: str
    org_id: str
    parent_id: str
    name: str


@dataclass(slots=True)
class Handshake:
    id: str
    seq: int
    action: str
    state: str
    org_id: str  # the organization that sent it (its management account owns the ARN)
    owner_account_id: str
    requested_ts: float
    expiration_ts: float
    parties: list[dict[str, str]]
    resources: list[dict[str, Any]]
    recipient_account_id: str | None = None
    parent_id: str | None = None  # APPROVE_ALL_FEATURES -> its ENABLE_ALL_FEATURES
    transfer_id: str | None = None  # TRANSFER_RESPONSIBILITY -> its transfer
    closed_ts: float | None = None
    index_keys: list[str] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)  # applied on accept (INVITE)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def to_api(self) -> dict[str, Any]:
        action_segment = self.action.lower()
        return {
            "Id": self.id,
            "Arn": f"arn:aws:organizations::{self.owner_account_id}:handshake/{self.org_id}/{action_segment}/{self.id}",
            "Parties": [dict(p) for p in self.parties],
            "State": self.state,
            "RequestedTimestamp": self.requested_ts,
            "ExpirationTimestamp": self.expiration_ts,
            "Action": self.action,
            "Resources": self.resources,
        }


@dataclass(slots=True)
class Transfer:
    id: str
    seq: int
    name: str
    status: str
    source_org_id: str  # the invited organization, whose bills move
    source_account_id: str
    source_email: str
    target_org_id: str  # the payer, who sent the invitation
    target_account_id: str
    target_email: str
    start_ts: float
    handshake_id: str
    type: str = "BILLING"
    end_ts: float | None = None

    def in_force_at(self, ts: float) -> bool:
        return self.status in ("ACCEPTED", "WITHDRAWN") and (self.end_ts is None or self.end_ts > ts)

    def to_api(self, viewer_org_id: str) -> dict[str, Any]:
        # The ARN names the viewer's side: the payer sees it inbound, the source outbound.
        if viewer_org_id == self.target_org_id:
            account, org, direction = self.target_account_id, self.target_org_id, "inbound"
        else:
            account, org, direction = self.source_account_id, self.source_org_id, "outbound"
        out: dict[str, Any] = {
            "Arn": f"arn:aws:organizations::{account}:transfer/{org}/billing/{direction}/{self.id}",
            "Name": self.name,
            "Id": self.id,
            "Type": self.type,
            "Status": self.status,
            "Source": {"ManagementAccountId": self.source_account_id, "ManagementAccountEmail": self.source_email},
            "Target": {"ManagementAccountId": self.target_account_id, "ManagementAccountEmail": self.target_email},
            "StartTimestamp": self.start_ts,
            "ActiveHandshakeId": self.handshake_id,
        }
        if self.end_ts is not None:
            out["EndTimestamp"] = self.end_ts
        return out


class Index:
    """Named sorted lists of position keys; a page is a bisect plus a slice."""

    def __init__(self) -> None:
        self.lists: dict[str, list[Any]] = {}

    def add(self, name: str, key: Any) -> None:
        items = self.lists.setdefault(name, [])
        if not items or items[-1] < key:
            items.append(key)  # the common case: new sequence numbers arrive in order
        else:
            bisect.insort(items, key)

    def remove(self, name: str, key: Any) -> None:
        items = self.lists.get(name)
        if not items:
            return
        i = bisect.bisect_left(items, key)
        if i < len(items) and items[i] == key:
            del items[i]

    def page(self, name: str, after: Any, limit: int) -> tuple[list[Any], Any | None]:
        """Up to `limit` keys after `after` (None = from the start) and the last key if more follow."""
        items = self.lists.get(name, [])
        start = 0 if after is None else bisect.bisect_right(items, after)
        chunk = items[start : start + limit]
        more = start + limit < len(items)
        return chunk, (chunk[-1] if more and chunk else None)

    def count(self, name: str) -> int:
        return len(self.lists.get(name, []))


class State:
    """The whole simulated world. Callers hold ``lock`` (the server does) while they touch it."""

    def __init__(self, *, seed: int = 0, quotas: str = "default") -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.quota_profile = quotas
        self.default_quotas = dict(QUOTA_PROFILES[quotas])
        self.quotas: dict[str, dict[str, int]] = {}
        self.clock_offset = 0.0
        self.base_time: float | None = None  # fixed start time (deterministic scenarios), else wall clock
        self.accounts: dict[str, Account] = {}
        self.orgs: dict[str, Organization] = {}
        self.roots: dict[str, Root] = {}
        self.ous: dict[str, OrganizationalUnit] = {}
        self.handshakes: dict[str, Handshake] = {}
        # seq -> the object itself: a list page resolves each key with one lookup.
        self.handshakes_by_seq: dict[int, Handshake] = {}
        self.transfers: dict[str, Transfer] = {}
        self.transfers_by_seq: dict[int, Transfer] = {}
        self.tags: dict[str, dict[str, str]] = {}
        # Room for the policy operations (orgsim/ops/policies.py): policies by id, attachments by target.
        self.policies: dict[str, dict[str, Any]] = {}
        self.attachments: dict[str, list[str]] = {}
        self.extra: dict[str, Any] = {}
        self.seq = 0
        self.index = Index()
        self.events: list[tuple[float, int, str, str]] = []
        self.used_ids: set[str] = set()
        self.dirty = False

    # --- time -------------------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> float:
        self.clock_offset += seconds
        self.tick()
        return self.now()

    def tick(self) -> float:
        """Run every expiry and retention event that is due; return the current time."""
        now = self.now()
        while self.events and self.events[0][0] <= now:
            _due, _, kind, hid = heapq.heappop(self.events)
            handshake = self.handshakes.get(hid)
            if handshake is None:
                continue
            if kind == "expire" and handshake.is_open and handshake.expiration_ts <= now:
                self.close_handshake(handshake, "EXPIRED", handshake.expiration_ts)
            elif kind == "purge" and handshake.closed_ts is not None and handshake.closed_ts + RETENTION <= now:
                self._purge(handshake)
        return now

    def _push(self, due: float, kind: str, hid: str) -> None:
        self.seq += 1
        heapq.heappush(self.events, (due, self.seq, kind, hid))

    # --- ids --------------------------------------------------------------------------------

    def new_id(self, prefix: str, length: int) -> str:
        while True:
            value = prefix + "".join(self.rng.choice(ID_ALPHABET) for _ in range(length))
            if value not in self.used_ids:
                self.used_ids.add(value)
                return value

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    # --- accounts and organizations ------------------------------------------------------------

    def account(self, account_id: str) -> Account:
        """The account, created standalone the first time anyone names it."""
        found = self.accounts.get(account_id)
        if found is None:
            found = Account(id=account_id, email=f"aws+{account_id}@orgsim.example", name=f"Account {account_id}")
            self.accounts[account_id] = found
            self.dirty = True
        return found

    def account_by_email(self, email: str) -> Account | None:
        lowered = email.lower()
        for account in self.accounts.values():
            if account.email.lower() == lowered:
                return account
        return None

    def new_account_id(self) -> str:
        while True:
            candidate = f"{self.rng.randrange(10**11, 10**12):012d}"
            if candidate not in self.accounts:
                return candidate

    def create_organization(self, management: Account, feature_set: str, ts: float | None = None) -> Organization:
        ts = self.now() if ts is None else ts
        org = Organization(
            id=self.new_id("o-", 10),
            feature_set=feature_set,
            management_account_id=management.id,
            root_id=self.new_id("r-", 4),
            created_ts=ts,
        )
        self.orgs[org.id] = org
        self.roots[org.root_id] = Root(id=org.root_id, org_id=org.id)
        self.join(management, org, "CREATED", ts)
        return org

    def join(self, account: Account, org: Organization, method: str, ts: float, parent_id: str | None = None) -> None:
        if account.org_id is not None:
            self.leave(account)
        account.org_id = org.id
        account.parent_id = parent_id or org.root_id
        account.joined_method = method
        account.joined_ts = ts
        self.index.add(f"accounts:{org.id}", account.id)
        self.index.add(f"children:{account.parent_id}:ACCOUNT", account.id)
        self.dirty = True

    def leave(self, account: Account) -> None:
        if account.org_id is None:
            return
        self.index.remove(f"accounts:{account.org_id}", account.id)
        self.index.remove(f"children:{account.parent_id}:ACCOUNT", account.id)
        account.org_id = account.parent_id = account.joined_method = None
        account.joined_ts = None
        self.dirty = True

    def move(self, account: Account, parent_id: str) -> None:
        self.index.remove(f"children:{account.parent_id}:ACCOUNT", account.id)
        account.parent_id = parent_id
        self.index.add(f"children:{parent_id}:ACCOUNT", account.id)
        self.dirty = True

    def create_ou(self, org: Organization, parent_id: str, name: str) -> OrganizationalUnit:
        root_suffix = org.root_id[2:]
        ou = OrganizationalUnit(id=self.new_id(f"ou-{root_suffix}-", 8), org_id=org.id, parent_id=parent_id, name=name)
        self.ous[ou.id] = ou
        self.index.add(f"children:{parent_id}:ORGANIZATIONAL_UNIT", ou.id)
        self.dirty = True
        return ou

    def management_account(self, org: Organization) -> Account:
        return self.accounts[org.management_account_id]

    def path_of(self, parent_id: str, org: Organization) -> str:
        chain: list[str] = []
        node = parent_id
        while node.startswith("ou-"):
            chain.append(node)
            node = self.ous[node].parent_id
        return "/".join([org.id, org.root_id, *reversed(chain)]) + "/"

    def org_to_api(self, org: Organization) -> dict[str, Any]:
        management = self.management_account(org)
        return {
            "Id": org.id,
            "Arn": f"arn:aws:organizations::{management.id}:organization/{org.id}",
            "FeatureSet": org.feature_set,
            "MasterAccountArn": f"arn:aws:organizations::{management.id}:account/{org.id}/{management.id}",
            "MasterAccountId": management.id,
            "MasterAccountEmail": management.email,
            "AvailablePolicyTypes": [dict(p) for p in org.available_policy_types],
        }

    def account_to_api(self, account: Account) -> dict[str, Any]:
        org = self.orgs[account.org_id] if account.org_id else None
        out: dict[str, Any] = {
            "Id": account.id,
            "Email": account.email,
            "Name": account.name,
            "Status": account.status,
            "State": account.state,
        }
        if org is not None:
            management = org.management_account_id
            out["Arn"] = f"arn:aws:organizations::{management}:account/{org.id}/{account.id}"
            out["Paths"] = [self.path_of(account.parent_id or org.root_id, org) + f"{account.id}/"]
            out["JoinedMethod"] = account.joined_method
            out["JoinedTimestamp"] = account.joined_ts
        return out

    def root_to_api(self, root: Root) -> dict[str, Any]:
        org = self.orgs[root.org_id]
        return {
            "Id": root.id,
            "Arn": f"arn:aws:organizations::{org.management_account_id}:root/{org.id}/{root.id}",
            "Name": root.name,
            "PolicyTypes": [dict(p) for p in root.policy_types],
        }

    def ou_to_api(self, ou: OrganizationalUnit) -> dict[str, Any]:
        org = self.orgs[ou.org_id]
        return {
            "Id": ou.id,
            "Arn": f"arn:aws:organizations::{org.management_account_id}:ou/{org.id}/{ou.id}",
            "Name": ou.name,
            "Path": self.path_of(ou.id, org),
        }

    # --- handshakes ---------------------------------------------------------------------------

    def add_handshake(self, handshake: Handshake) -> Handshake:
        """Store a handshake, index it under every list it belongs to, schedule its expiry."""
        self.handshakes[handshake.id] = handshake
        self.handshakes_by_seq[handshake.seq] = handshake
        keys: list[str] = []
        scopes = [f"org:{handshake.org_id}"]
        if handshake.recipient_account_id:
            scopes.append(f"acct:{handshake.recipient_account_id}")
            recipient = self.accounts.get(handshake.recipient_account_id)
            # A billing-transfer invitation concerns the invited organization as a whole too.
            if (
                handshake.action == "TRANSFER_RESPONSIBILITY"
                and recipient
                and recipient.org_id
                and recipient.org_id != handshake.org_id
            ):
                scopes.append(f"org:{recipient.org_id}")
        for scope in scopes:
            keys += [scope, f"{scope}:{handshake.action}"]
        if handshake.parent_id:
            keys.append(f"parent:{handshake.parent_id}")
        handshake.index_keys = keys
        for key in keys:
            self.index.add(key, handshake.seq)
        if handshake.is_open:
            self._push(handshake.expiration_ts, "expire", handshake.id)
        elif handshake.closed_ts is not None:
            self._push(handshake.closed_ts + RETENTION, "purge", handshake.id)
        self.dirty = True
        return handshake

    def close_handshake(self, handshake: Handshake, new_state: str, ts: float) -> None:
        """Move a handshake to a closed state and keep its transfer and children in step."""
        handshake.state = new_state
        handshake.closed_ts = ts
        self._push(ts + RETENTION, "purge", handshake.id)
        if handshake.transfer_id and handshake.transfer_id in self.transfers:
            self.transfers[handshake.transfer_id].status = HANDSHAKE_TO_TRANSFER[new_state]
        if handshake.action == "ENABLE_ALL_FEATURES":
            org = self.orgs.get(handshake.org_id)
            if org is not None and org.pending_all_features == handshake.id:
                org.pending_all_features = None
            if new_state != "ACCEPTED":
                for child in self.children_of(handshake.id):
                    if child.is_open:
                        self.close_handshake(child, "CANCELED" if new_state != "EXPIRED" else "EXPIRED", ts)
        self.dirty = True

    def children_of(self, handshake_id: str) -> list[Handshake]:
        seqs = self.index.lists.get(f"parent:{handshake_id}", [])
        return [self.handshakes_by_seq[s] for s in seqs if s in self.handshakes_by_seq]

    def _purge(self, handshake: Handshake) -> None:
        for key in handshake.index_keys:
            self.index.remove(key, handshake.seq)
        del self.handshakes[handshake.id]
        del self.handshakes_by_seq[handshake.seq]
        self.dirty = True

    # --- transfers ----------------------------------------------------------------------------

    def add_transfer(self, transfer: Transfer) -> Transfer:
        self.transfers[transfer.id] = transfer
        self.transfers_by_seq[transfer.seq] = transfer
        self.index.add(f"inbound:{transfer.target_org_id}", transfer.seq)
        self.index.add(f"outbound:{transfer.source_org_id}", transfer.seq)
        self.dirty = True
        return transfer

    def transfers_of(self, kind: str, org_id: str) -> list[Transfer]:
        seqs = self.index.lists.get(f"{kind}:{org_id}", [])
        return [self.transfers_by_seq[s] for s in seqs]

    def quota(self, account_id: str, name: str) -> int:
        return self.quotas.get(account_id, {}).get(name, self.default_quotas[name])

    def levels_above(self, org_id: str, now: float, seen: frozenset[str] = frozenset()) -> int:
        """How many payers stand above this organization (it is the source of a transfer in force)."""
        best = 0
        for transfer in self.transfers_of("outbound", org_id):
            if transfer.in_force_at(now) and transfer.target_org_id not in seen:
                best = max(best, 1 + self.levels_above(transfer.target_org_id, now, seen | {org_id}))
        return best

    def levels_below(self, org_id: str, now: float, seen: frozenset[str] = frozenset()) -> int:
        """How many levels of organizations this one pays for."""
        best = 0
        for transfer in self.transfers_of("inbound", org_id):
            if transfer.in_force_at(now) and transfer.source_org_id not in seen:
                best = max(best, 1 + self.levels_below(transfer.source_org_id, now, seen | {org_id}))
        return best

    def transfers_below(self, org_id: str, now: float, seen: frozenset[str] = frozenset()) -> int:
        total = 0
        for transfer in self.transfers_of("inbound", org_id):
            if transfer.in_force_at(now) and transfer.source_org_id not in seen:
                total += 1 + self.transfers_below(transfer.source_org_id, now, seen | {org_id})
        return total

    # --- persistence --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "seed": self.seed,
            "quota_profile": self.quota_profile,
            "default_quotas": self.default_quotas,
            "quotas": self.quotas,
            "clock_offset": self.clock_offset,
            "seq": self.seq,
            "accounts": [dataclasses.asdict(a) for a in self.accounts.values()],
            "orgs": [dataclasses.asdict(o) for o in self.orgs.values()],
            "roots": [dataclasses.asdict(r) for r in self.roots.values()],
            "ous": [dataclasses.asdict(o) for o in self.ous.values()],
            "handshakes": [dataclasses.asdict(h) for h in self.handshakes.values()],
            "transfers": [dataclasses.asdict(t) for t in self.transfers.values()],
            "tags": self.tags,
            "policies": self.policies,
            "attachments": self.attachments,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> State:
        state = cls(seed=data.get("seed", 0), quotas=data.get("quota_profile", "default"))
        state.default_quotas = data["default_quotas"]
        state.quotas = data["quotas"]
        state.clock_offset = data["clock_offset"]
        state.tags = data["tags"]
        state.policies = data.get("policies", {})
        state.attachments = data.get("attachments", {})
        state.extra = data.get("extra", {})
        for raw in data["accounts"]:
            state.accounts[raw["id"]] = Account(**raw)
        for raw in data["orgs"]:
            state.orgs[raw["id"]] = Organization(**raw)
        for raw in data["roots"]:
            state.roots[raw["id"]] = Root(**raw)
        for raw in data["ous"]:
            ou = OrganizationalUnit(**raw)
            state.ous[ou.id] = ou
            state.index.add(f"children:{ou.parent_id}:ORGANIZATIONAL_UNIT", ou.id)
        for account in state.accounts.values():
            if account.org_id:
                state.index.add(f"accounts:{account.org_id}", account.id)
                state.index.add(f"children:{account.parent_id}:ACCOUNT", account.id)
        for raw in sorted(data["handshakes"], key=lambda h: h["seq"]):
            handshake = Handshake(**raw)
            state.handshakes[handshake.id] = handshake
            state.handshakes_by_seq[handshake.seq] = handshake
            for key in handshake.index_keys:
                state.index.add(key, handshake.seq)
            if handshake.is_open:
                state.events.append((handshake.expiration_ts, handshake.seq, "expire", handshake.id))
            elif handshake.closed_ts is not None:
                state.events.append((handshake.closed_ts + RETENTION, handshake.seq, "purge", handshake.id))
        heapq.heapify(state.events)
        for raw in sorted(data["transfers"], key=lambda t: t["seq"]):
            state.add_transfer(Transfer(**raw))
        state.seq = max(data["seq"], state.seq)
        state.used_ids = (
            set(state.orgs) | set(state.roots) | set(state.ous) | set(state.handshakes) | set(state.transfers)
        )
        state.rng = random.Random(f"{state.seed}:{state.seq}")
        state.dirty = False
        return state

    def save(self, path: str) -> None:
        """Write the state atomically: a temporary file in the same directory, then a rename."""
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".orgsim-", dir=directory)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(self.to_dict(), handle, separators=(",", ":"))
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self.dirty = False

    @classmethod
    def load(cls, path: str) -> State:
        with open(path) as handle:
            return cls.from_dict(json.load(handle))
