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
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

DAY = 86400.0
RETENTION = 30 * DAY  # closed handshakes stay listed this long, then disappear
# AWS documents account creation and closure as asynchronous ("wait a few minutes") without a
# figure; orgsim takes this many seconds of its clock, so a polling client sees IN_PROGRESS
# (PENDING_CLOSURE) first and tests move the clock instead of waiting.
ASYNC_SECONDS = 5.0
CLOSED_ACCOUNT_KEPT = 90 * DAY  # a closed account stays SUSPENDED in its organization, then is gone
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

SCP = "SERVICE_CONTROL_POLICY"
RCP = "RESOURCE_CONTROL_POLICY"
_ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}
# The policies AWS owns and attaches by itself when their type is enabled (Organizations user
# guide, "SCP evaluation" and "RCP evaluation"): policy type -> (id, name, document).
MANAGED_POLICIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    SCP: ("p-FullAWSAccess", "FullAWSAccess", {"Version": "2012-10-17", "Statement": [_ALLOW_ALL]}),
    RCP: (
        "p-RCPFullAWSAccess",
        "RCPFullAWSAccess",
        {"Version": "2012-10-17", "Statement": [{**_ALLOW_ALL, "Principal": "*"}]},
    ),
}

# The partition of the region the caller signed for (aws, aws-cn, aws-us-gov): every ARN carries
# it. Set per call by the engine; a context variable keeps concurrent calls apart.
PARTITION: ContextVar[str] = ContextVar("partition", default="aws")
_PARTITION_PREFIXES = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-iso-", "aws-iso"), ("us-isob-", "aws-iso-b"))


def partition_of(region: str) -> str:
    for prefix, partition in _PARTITION_PREFIXES:
        if region.startswith(prefix):
            return partition
    return "aws"


def arn(owner: str, resource: str) -> str:
    """An Organizations ARN in the caller's partition; `owner` is the management account (or "aws")."""
    return f"arn:{PARTITION.get()}:organizations::{owner}:{resource}"


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
    closed_ts: float | None = None  # when CloseAccount was called


@dataclass(slots=True)
class Organization:
    id: str
    feature_set: str
    management_account_id: str
    root_id: str
    created_ts: float
    pending_all_features: str | None = None  # id of the open ENABLE_ALL_FEATURES handshake
    service_access: dict[str, float] = field(default_factory=dict)  # service principal -> enabled at
    # member account id -> {service principal -> registered at}
    delegated_admins: dict[str, dict[str, float]] = field(default_factory=dict)
    resource_policy: dict[str, Any] | None = None  # {"id", "content"} of the delegation policy


@dataclass(slots=True)
class AccountRequest:
    """A CreateAccount (or CreateGovCloudAccount) request: IN_PROGRESS until orgsim's clock says done."""

    id: str
    seq: int
    org_id: str
    account_name: str
    email: str
    requested_ts: float
    state: str = "IN_PROGRESS"
    completed_ts: float | None = None
    account_id: str | None = None
    gov_cloud: bool = False
    gov_cloud_account_id: str | None = None
    failure_reason: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)

    @property
    def index_key(self) -> str:
        """Its position in the organization's list: request order first, then the id to resolve it."""
        return f"{self.seq:012d}:{self.id}"

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Id": self.id,
            "AccountName": self.account_name,
            "State": self.state,
            "RequestedTimestamp": self.requested_ts,
        }
        optional = {
            "CompletedTimestamp": self.completed_ts,
            "AccountId": self.account_id,
            "GovCloudAccountId": self.gov_cloud_account_id,
            "FailureReason": self.failure_reason,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out


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
            "Arn": arn(self.owner_account_id, f"handshake/{self.org_id}/{action_segment}/{self.id}"),
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
            "Arn": arn(account, f"transfer/{org}/billing/{direction}/{self.id}"),
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


@dataclass(slots=True)
class Session:
    """Temporary credentials from STS AssumeRole: they act as the role's account until they expire."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    account_id: str
    role_arn: str
    session_name: str
    role_id: str
    expiration_ts: float

    @property
    def assumed_role_arn(self) -> str:
        role_name = self.role_arn.rsplit("/", 1)[-1]
        return f"arn:{PARTITION.get()}:sts::{self.account_id}:assumed-role/{role_name}/{self.session_name}"


@dataclass(slots=True)
class Policy:
    id: str
    type: str
    name: str
    content: str
    updated_ts: float
    description: str = ""
    org_id: str | None = None  # None for an AWS-managed policy: it belongs to no organization
    aws_managed: bool = False
    listed_in: list[str] = field(default_factory=list)  # AWS-managed: the organizations that list it

    def listing_orgs(self) -> list[str]:
        return list(self.listed_in) if self.aws_managed else [self.org_id or ""]

    def summary(self, state: State) -> dict[str, Any]:
        if self.org_id is None:
            policy_arn = arn("aws", f"policy/{self.type.lower()}/{self.id}")
        else:
            org = state.orgs[self.org_id]
            policy_arn = arn(org.management_account_id, f"policy/{org.id}/{self.type.lower()}/{self.id}")
        return {
            "Id": self.id,
            "Arn": policy_arn,
            "Name": self.name,
            "Description": self.description,
            "Type": self.type,
            "AwsManaged": self.aws_managed,
        }


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
        self.account_requests: dict[str, AccountRequest] = {}
        # STS: role ARN -> {"account_id", "external_id"} (who may be assumed, and with what
        # external id), and the temporary credentials handed out, by access key id.
        self.roles: dict[str, dict[str, str | None]] = {}
        self.sessions: dict[str, Session] = {}
        self.tags: dict[str, dict[str, str]] = {}
        # Policies by id, and the policy ids attached to each root, OU or account. Their lists
        # page through ``policies:<org>:<type>``, ``attached:<target>`` and ``targets:<org>:<policy>``.
        self.policies: dict[str, Policy] = {}
        self.attachments: dict[str, list[str]] = {}
        # Seeded invalid effective policies: "<account>:<type>" -> {"errors", "evaluated_ts"}
        # (listed through ``invalid:<org>:<type>``).
        self.invalid_effective: dict[str, dict[str, Any]] = {}
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
            due, _, kind, hid = heapq.heappop(self.events)
            if kind in ACCOUNT_EVENTS:
                ACCOUNT_EVENTS[kind](self, hid, due)
                continue
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

    # --- account creation and closure (asynchronous on the clock) -------------------------------

    def request_account(self, org: Organization, name: str, email: str, now: float, **extra: Any) -> AccountRequest:
        request = AccountRequest(
            id=self.new_id("car-", 12),
            seq=self.next_seq(),
            org_id=org.id,
            account_name=name,
            email=email,
            requested_ts=now,
            **extra,
        )
        self.account_requests[request.id] = request
        self.index.add(f"car:{org.id}", request.index_key)
        self._push(now + ASYNC_SECONDS, "create_account", request.id)
        self.dirty = True
        return request

    def _finish_account_request(self, request_id: str, due: float) -> None:
        request = self.account_requests.get(request_id)
        org = self.orgs.get(request.org_id) if request else None
        if request is None or request.state != "IN_PROGRESS":
            return
        request.completed_ts = due
        if org is None:
            request.state, request.failure_reason = "FAILED", "INTERNAL_FAILURE"
        elif self.account_by_email(request.email) is not None:
            # AWS checks the email while creating, so a taken one fails the request, not the call.
            request.state, request.failure_reason = "FAILED", "EMAIL_ALREADY_EXISTS"
        else:
            account = self.account(self.new_account_id())
            account.name, account.email = request.account_name, request.email
            self.join(account, org, "CREATED", due)
            self.tag(account.id, request.tags)
            request.state, request.account_id = "SUCCEEDED", account.id
            if request.gov_cloud:
                request.gov_cloud_account_id = self.new_account_id()
        self.dirty = True

    def close_account(self, account: Account, now: float) -> None:
        account.status = account.state = "PENDING_CLOSURE"
        account.closed_ts = now
        self._push(now + ASYNC_SECONDS, "suspend_account", account.id)
        self._push(now + CLOSED_ACCOUNT_KEPT, "drop_account", account.id)
        self.dirty = True

    def _suspend_account(self, account_id: str, _due: float) -> None:
        account = self.accounts.get(account_id)
        if account is not None and account.status == "PENDING_CLOSURE":
            account.status = account.state = "SUSPENDED"
            self.dirty = True

    def _drop_account(self, account_id: str, _due: float) -> None:
        account = self.accounts.get(account_id)
        if account is not None and account.closed_ts is not None:
            account.state = "CLOSED"  # Status stays SUSPENDED: the model's AccountStatus has no CLOSED
            self.leave(account)

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
        self.attach_managed(org, account.id)
        self.dirty = True

    def leave(self, account: Account) -> None:
        if account.org_id is None:
            return
        self.detach_all(account.id)
        self.orgs[account.org_id].delegated_admins.pop(account.id, None)
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
        self.attach_managed(org, ou.id)
        self.dirty = True
        return ou

    def delete_org(self, org: Organization) -> None:
        """An emptied organization goes with its root, OUs, policies and attachments."""
        self.leave(self.management_account(org))
        for ou in [ou for ou in self.ous.values() if ou.org_id == org.id]:
            self.delete_ou(ou)
        self.detach_all(org.root_id)
        for policy in list(self.policies.values()):
            if policy.org_id == org.id:
                self.remove_policy(policy)
            elif org.id in policy.listed_in:
                self.index.remove(f"policies:{org.id}:{policy.type}", policy.id)
                policy.listed_in.remove(org.id)
        del self.roots[org.root_id]
        del self.orgs[org.id]
        self.dirty = True

    def delete_ou(self, ou: OrganizationalUnit) -> None:
        self.detach_all(ou.id)
        self.index.remove(f"children:{ou.parent_id}:ORGANIZATIONAL_UNIT", ou.id)
        del self.ous[ou.id]
        self.tags.pop(ou.id, None)
        self.dirty = True

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
            "Arn": arn(management.id, f"organization/{org.id}"),
            "FeatureSet": org.feature_set,
            "MasterAccountArn": arn(management.id, f"account/{org.id}/{management.id}"),
            "MasterAccountId": management.id,
            "MasterAccountEmail": management.email,
            # Deprecated in the model in favour of the root's PolicyTypes; AWS still fills it
            # with the same summaries, so clients that read it see the root's types.
            "AvailablePolicyTypes": [dict(p) for p in self.roots[org.root_id].policy_types],
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
            out["Arn"] = arn(management, f"account/{org.id}/{account.id}")
            out["Paths"] = [self.path_of(account.parent_id or org.root_id, org) + f"{account.id}/"]
            out["JoinedMethod"] = account.joined_method
            out["JoinedTimestamp"] = account.joined_ts
        return out

    def root_to_api(self, root: Root) -> dict[str, Any]:
        org = self.orgs[root.org_id]
        return {
            "Id": root.id,
            "Arn": arn(org.management_account_id, f"root/{org.id}/{root.id}"),
            "Name": root.name,
            "PolicyTypes": [dict(p) for p in root.policy_types],
        }

    def ou_to_api(self, ou: OrganizationalUnit) -> dict[str, Any]:
        org = self.orgs[ou.org_id]
        return {
            "Id": ou.id,
            "Arn": arn(org.management_account_id, f"ou/{org.id}/{ou.id}"),
            "Name": ou.name,
            "Path": self.path_of(ou.id, org),
        }

    # --- policies -----------------------------------------------------------------------------

    def org_of_target(self, target_id: str) -> str:
        """The organization a root, OU or account belongs to (targets are listed per organization)."""
        if target_id.startswith("r-"):
            return self.roots[target_id].org_id
        if target_id.startswith("ou-"):
            return self.ous[target_id].org_id
        return self.accounts[target_id].org_id or ""

    def org_targets(self, org: Organization) -> list[str]:
        """Every root, OU and account of the organization."""
        return [
            org.root_id,
            *[o.id for o in self.ous.values() if o.org_id == org.id],
            *self.index.lists.get(f"accounts:{org.id}", []),
        ]

    def add_policy(self, policy: Policy) -> Policy:
        self.policies[policy.id] = policy
        for org_id in policy.listing_orgs():
            self.index.add(f"policies:{org_id}:{policy.type}", policy.id)
        self.dirty = True
        return policy

    def remove_policy(self, policy: Policy) -> None:
        for org_id in policy.listing_orgs():
            self.index.remove(f"policies:{org_id}:{policy.type}", policy.id)
        del self.policies[policy.id]
        self.tags.pop(policy.id, None)
        self.dirty = True

    def attached(self, target_id: str, policy_type: str) -> list[Policy]:
        return [self.policies[p] for p in self.attachments.get(target_id, []) if self.policies[p].type == policy_type]

    def attach(self, policy_id: str, target_id: str) -> None:
        self.attachments.setdefault(target_id, []).append(policy_id)
        self._index_attachment(policy_id, target_id)
        self.dirty = True

    def _index_attachment(self, policy_id: str, target_id: str) -> None:
        self.index.add(f"attached:{target_id}", policy_id)
        self.index.add(f"targets:{self.org_of_target(target_id)}:{policy_id}", target_id)

    def detach(self, policy_id: str, target_id: str) -> None:
        attached = self.attachments.get(target_id, [])
        if policy_id in attached:
            attached.remove(policy_id)
        if not attached:
            self.attachments.pop(target_id, None)
        self.index.remove(f"attached:{target_id}", policy_id)
        self.index.remove(f"targets:{self.org_of_target(target_id)}:{policy_id}", target_id)
        self.dirty = True

    def detach_all(self, target_id: str) -> None:
        """A target leaving its organization (an account removed, an OU deleted) takes no policy along."""
        for policy_id in list(self.attachments.get(target_id, [])):
            self.detach(policy_id, target_id)

    def type_status(self, org: Organization, policy_type: str) -> str:
        """ENABLED (or PENDING_*) for a policy type enabled on the organization's root, else ""."""
        for entry in self.roots[org.root_id].policy_types:
            if entry["Type"] == policy_type:
                return entry["Status"]
        return ""

    def enable_policy_type(self, org: Organization, policy_type: str, now: float) -> None:
        """Enable a type on the root; AWS then attaches its managed policy of that type everywhere."""
        self.roots[org.root_id].policy_types.append({"Type": policy_type, "Status": "ENABLED"})
        managed = self.managed_policy(policy_type, now)
        if managed is not None:
            if org.id not in managed.listed_in:
                managed.listed_in.append(org.id)
                self.index.add(f"policies:{org.id}:{policy_type}", managed.id)
            for target_id in self.org_targets(org):
                self.attach_managed(org, target_id)
        self.dirty = True

    def managed_policy(self, policy_type: str, now: float) -> Policy | None:
        """AWS's own policy of this type (one record shared by every organization), if it has one."""
        if policy_type not in MANAGED_POLICIES:
            return None
        policy_id, name, document = MANAGED_POLICIES[policy_type]
        found = self.policies.get(policy_id)
        if found is None:
            found = self.add_policy(
                Policy(
                    id=policy_id,
                    type=policy_type,
                    name=name,
                    description="Allows access to every operation",
                    content=json.dumps(document, indent=2),
                    updated_ts=now,
                    aws_managed=True,
                )
            )
        return found

    def attach_managed(self, org: Organization, target_id: str) -> None:
        """Attach AWS's managed policy of every enabled type to a target (new OUs and accounts too)."""
        for entry in self.roots[org.root_id].policy_types:
            managed = MANAGED_POLICIES.get(entry["Type"])
            if managed is not None and managed[0] in self.policies:
                if managed[0] not in self.attachments.get(target_id, []):
                    self.attach(managed[0], target_id)

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

    def mark_invalid_effective(self, key: str, record: dict[str, Any]) -> None:
        """Record that "<account>:<type>"'s effective policy is invalid (errors, evaluated_ts)."""
        account_id, policy_type = key.split(":", 1)
        self.invalid_effective[key] = record
        self.index.add(f"invalid:{self.accounts[account_id].org_id}:{policy_type}", account_id)
        self.dirty = True

    def trust_role(self, role_arn: str, external_id: str | None = None) -> dict[str, str | None]:
        """Let `role_arn` (arn:aws:iam::<account>:role/<name>) be assumed, with `external_id` if given."""
        account_id = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
        if not (account_id.isdigit() and len(account_id) == 12 and ":role/" in role_arn):
            raise ValueError(f"{role_arn!r} is not an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>)")
        self.roles[role_arn] = {"account_id": account_id, "external_id": external_id}
        self.account(account_id)
        self.dirty = True
        return self.roles[role_arn]

    def tag(self, resource_id: str, tags: list[dict[str, str]] | None) -> None:
        """Add API-shaped tags ([{"Key", "Value"}]) to a resource."""
        if tags:
            self.tags.setdefault(resource_id, {}).update({tag["Key"]: tag["Value"] for tag in tags})
            self.dirty = True

    def quota(self, account_id: str, name: str) -> int:
        return self.quotas.get(account_id, {}).get(name, self.default_quotas[name])

    def _linked(self, direction: str, org_id: str, now: float, seen: frozenset[str]) -> Iterator[str]:
        """The organization across each transfer in force of this one's, one way ("outbound": who
        pays for it; "inbound": whom it pays for), leaving out those already on the path (a cycle)."""
        for transfer in self.transfers_of(direction, org_id):
            other = transfer.target_org_id if direction == "outbound" else transfer.source_org_id
            if transfer.in_force_at(now) and other not in seen:
                yield other

    def levels_above(self, org_id: str, now: float, seen: frozenset[str] = frozenset()) -> int:
        """How many payers stand above this organization (it is the source of a transfer in force)."""
        above = self._linked("outbound", org_id, now, seen)
        return max((1 + self.levels_above(payer, now, seen | {org_id}) for payer in above), default=0)

    def levels_below(self, org_id: str, now: float, seen: frozenset[str] = frozenset()) -> int:
        """How many levels of organizations this one pays for."""
        below = self._linked("inbound", org_id, now, seen)
        return max((1 + self.levels_below(source, now, seen | {org_id}) for source in below), default=0)

    def transfers_below(self, org_id: str, now: float, seen: frozenset[str] = frozenset()) -> int:
        """How many transfers in force stand below this organization, at every level."""
        below = self._linked("inbound", org_id, now, seen)
        return sum(1 + self.transfers_below(source, now, seen | {org_id}) for source in below)

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
            "account_requests": [dataclasses.asdict(r) for r in self.account_requests.values()],
            "roles": self.roles,
            "sessions": [dataclasses.asdict(s) for s in self.sessions.values()],
            "tags": self.tags,
            "policies": [dataclasses.asdict(p) for p in self.policies.values()],
            "attachments": self.attachments,
            "invalid_effective": self.invalid_effective,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> State:
        state = cls(seed=data.get("seed", 0), quotas=data.get("quota_profile", "default"))
        state.default_quotas = data["default_quotas"]
        state.quotas = data["quotas"]
        state.clock_offset = data["clock_offset"]
        state.tags = data["tags"]
        state.extra = data.get("extra", {})
        for raw in data["accounts"]:
            state.accounts[raw["id"]] = Account(**raw)
        for raw in data["orgs"]:
            raw.pop("available_policy_types", None)  # files written before it was read from the root
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
        policies = data.get("policies", [])
        # Files written while policies were plain dicts keyed by id (and invalid effective
        # policies lived in "extra") load the same.
        for raw in policies.values() if isinstance(policies, dict) else policies:
            state.add_policy(Policy(**raw))
        state.attachments = data.get("attachments", {})
        for target_id, policy_ids in state.attachments.items():
            for policy_id in policy_ids:
                state._index_attachment(policy_id, target_id)
        invalid = data.get("invalid_effective") or state.extra.pop("invalid_effective", {})
        for key, record in invalid.items():
            state.mark_invalid_effective(key, record)
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
        state.roles = data.get("roles", {})
        for raw in data.get("sessions", []):
            state.sessions[raw["access_key_id"]] = Session(**raw)
        for raw in data.get("account_requests", []):
            request = AccountRequest(**raw)
            state.account_requests[request.id] = request
            state.index.add(f"car:{request.org_id}", request.index_key)
            if request.state == "IN_PROGRESS":
                state.events.append((request.requested_ts + ASYNC_SECONDS, request.seq, "create_account", request.id))
        for account in state.accounts.values():
            if account.closed_ts is not None and account.state != "CLOSED":
                state.events.append((account.closed_ts + ASYNC_SECONDS, 0, "suspend_account", account.id))
                state.events.append((account.closed_ts + CLOSED_ACCOUNT_KEPT, 0, "drop_account", account.id))
        heapq.heapify(state.events)
        for raw in sorted(data["transfers"], key=lambda t: t["seq"]):
            state.add_transfer(Transfer(**raw))
        state.seq = max(data["seq"], state.seq)
        state.used_ids = (
            set(state.orgs)
            | set(state.roots)
            | set(state.ous)
            | set(state.handshakes)
            | set(state.transfers)
            | set(state.policies)
            | set(state.account_requests)
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


# What each asynchronous account event does when the clock reaches it (handshake events aside).
ACCOUNT_EVENTS = {
    "create_account": State._finish_account_request,
    "suspend_account": State._suspend_account,
    "drop_account": State._drop_account,
}
