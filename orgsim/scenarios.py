"""The seeding room: the ``empty``, ``demo`` and ``scale`` worlds.

Every scenario is deterministic by seed (ids, names, which handshake gets which state); times are
set relative to the moment the scenario is built, so "expires in 3 days" stays true in a demo
started any day. Quotas: ``default`` gives every management account a working inbound quota of
10, ``aws`` AWS's own defaults (inbound 0, outbound 1, chain 1).
"""

from __future__ import annotations

import json
from typing import Any

from orgsim.ops.handshakes import between, new_handshake, org_resource
from orgsim.ops.transfers import create_transfer, month_end, month_start
from orgsim.state import DAY, SCP, Account, Handshake, Organization, Policy, State, Transfer

SCENARIOS = ("empty", "demo", "scale")
# The role every management account of the demo and scale worlds lets the portal assume (STS).
PORTAL_ROLE = "OrgPortalAccess"
PORTAL_EXTERNAL_ID = "orgportal-demo"


def build(scenario: str = "demo", *, seed: int = 0, quotas: str = "default", **sizes: Any) -> State:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    state = State(seed=int(seed or 0), quotas=quotas or "default")
    if scenario == "demo":
        orgs = _demo(state)
        _demo_policies(state, orgs)
    elif scenario == "scale":

        def size(name: str, default: int) -> int:
            value = sizes.get(name)
            return default if value is None else int(value)

        _scale(
            state, orgs=size("orgs", 200), handshakes=size("handshakes", 100_000), transfers=size("transfers", 10_000)
        )
    else:
        state.account("111111111111")  # the account the test fixtures start from, standalone
    for org in state.orgs.values():
        state.trust_role(f"arn:aws:iam::{org.management_account_id}:role/{PORTAL_ROLE}", PORTAL_EXTERNAL_ID)
    state.dirty = True
    return state


def _account(state: State, account_id: str, name: str, email: str) -> Account:
    account = state.account(account_id)
    account.name, account.email = name, email
    return account


def _org(
    state: State,
    management: Account,
    feature_set: str,
    members: list[Account],
    now: float,
    ous: dict[str, list[int]] | None = None,
) -> Organization:
    """An organization; `ous` maps OU name -> indexes of the members placed in it (nested with '/')."""
    org = state.create_organization(management, feature_set, now - 400 * DAY)
    for i, member in enumerate(members):
        state.join(member, org, "INVITED" if i % 3 else "CREATED", now - (300 - i) * DAY)
    made: dict[str, str] = {}
    for path, member_indexes in (ous or {}).items():
        parent_path, _, name = path.rpartition("/")
        parent_id = made[parent_path] if parent_path else org.root_id
        ou = state.create_ou(org, parent_id, name)
        made[path] = ou.id
        for index in member_indexes:
            state.move(members[index], ou.id)
    return org


def _to_account(
    state: State,
    action: str,
    org: Organization,
    account: Account,
    resources: list[dict[str, Any]],
    sent: float,
    expires: float,
    handshake_state: str,
    closed: float | None,
    **more: Any,
) -> Handshake:
    """A handshake `org` sent one account at `sent`: the two are its parties; it is in
    `handshake_state`, closed at `closed` (None while open); `more` are new_handshake's other
    arguments (a parent, notes)."""
    return new_handshake(
        state,
        action=action,
        org=org,
        recipient=account,
        parties=between(org, {"Id": account.id, "Type": "ACCOUNT"}),
        resources=resources,
        now=sent,
        expires=expires,
        handshake_state=handshake_state,
        closed_ts=closed,
        **more,
    )


# --- demo ------------------------------------------------------------------------------------

PARTNER = "210987654321"  # Northwind Cloud Partners: the billing partner (payer)
CONTOSO = "322233344455"  # Contoso Retail: paid for by Northwind (accepted, in force)
FABRIKAM = "433344455566"  # Fabrikam Health: has an open invitation from Northwind expiring in 3 days
TAILSPIN = "544455566677"  # Tailspin Toys: an open invitation (12 days), an earlier one declined
WOODGROVE = "655566677788"  # Woodgrove Bank: withdrawn transfer (ends this or next month), one canceled
ADATUM = "766677788899"  # Adatum Labs: consolidated billing, switching to all features
LITWARE = "877788899900"  # Litware Studio: consolidated billing, all-features request just sent

_DEMO_ORGS: list[tuple[str, str, str, str, list[str], dict[str, list[int]]]] = [
    (
        PARTNER,
        "Northwind Cloud Partners",
        "billing@northwind-partners.example",
        "ALL",
        ["Northwind Shared Services", "Northwind Security"],
        {"Operations": [0, 1]},
    ),
    (
        CONTOSO,
        "Contoso Retail",
        "aws-root@contoso-retail.example",
        "ALL",
        ["Contoso Web Shop", "Contoso Payments", "Contoso Data", "Contoso Staging", "Contoso Sandbox"],
        {"Production": [0], "Production/Payments": [1], "Staging": [3], "Sandbox": [4]},
    ),
    (
        FABRIKAM,
        "Fabrikam Health",
        "cloud@fabrikam-health.example",
        "ALL",
        [
            "Fabrikam Clinical",
            "Fabrikam Research",
            "Fabrikam Imaging",
            "Fabrikam Portal",
            "Fabrikam Analytics",
            "Fabrikam Log Archive",
        ],
        {"Clinical": [0, 2], "Research": [1, 4]},
    ),
    (
        TAILSPIN,
        "Tailspin Toys",
        "aws@tailspin-toys.example",
        "ALL",
        ["Tailspin Games", "Tailspin Store", "Tailspin Dev", "Tailspin Audit"],
        {"Workloads": [0, 1]},
    ),
    (
        WOODGROVE,
        "Woodgrove Bank",
        "aws-billing@woodgrove-bank.example",
        "ALL",
        ["Woodgrove Core Banking", "Woodgrove Cards", "Woodgrove Risk", "Woodgrove Sandbox"],
        {"Regulated": [0, 1, 2]},
    ),
    (
        ADATUM,
        "Adatum Labs",
        "it@adatum-labs.example",
        "CONSOLIDATED_BILLING",
        ["Adatum Research", "Adatum Prototypes", "Adatum Shared"],
        {},
    ),
    (LITWARE, "Litware Studio", "admin@litware-studio.example", "CONSOLIDATED_BILLING", ["Litware Render Farm"], {}),
]


def _demo(state: State) -> dict[str, Organization]:
    now = state.now()
    orgs: dict[str, Organization] = {}
    members: dict[str, list[Account]] = {}
    for mgmt_id, name, email, feature_set, member_names, ous in _DEMO_ORGS:
        domain = email.split("@")[1]
        management = _account(state, mgmt_id, name, email)
        base = int(mgmt_id[:9]) * 1000
        accounts = [
            _account(state, f"{base + i + 1:012d}", member, f"{member.lower().replace(' ', '-')}@{domain}")
            for i, member in enumerate(member_names)
        ]
        orgs[mgmt_id] = _org(state, management, feature_set, accounts, now, ous)
        members[mgmt_id] = accounts
    standalone = [
        _account(state, "888800000001", "Contoso Analytics (standalone)", "analytics@contoso-retail.example"),
        _account(state, "888800000002", "Woodgrove Mortgage (standalone)", "mortgage@woodgrove-bank.example"),
        _account(state, "888800000003", "Fabrikam Labs (standalone)", "labs@fabrikam-health.example"),
        _account(state, "888800000004", "Tailspin Arcade (standalone)", "arcade@tailspin-toys.example"),
        _account(state, "888800000005", "Northwind Training (standalone)", "training@northwind-partners.example"),
    ]
    partner = orgs[PARTNER]

    # --- billing transfers: Northwind pays, or is asked to pay, for its customers -------------
    def first_start(after: float) -> float:
        start = month_start(after, 1)
        return start if start - DAY >= after else month_start(after, 2)

    def days(n: float) -> float:
        return now + n * DAY

    # Northwind's invitations to pay: (source, name, start, sent, expires, answer, answered).
    in_force = month_start(now, -1)
    offers: list[tuple[str, str, float, float, float, str, float | None]] = [
        # Contoso: accepted two months ago and in force since the start of last month.
        (CONTOSO, "Contoso Retail", in_force, in_force - 12 * DAY, in_force - DAY, "ACCEPTED", in_force - 7 * DAY),
        # Fabrikam: invitation sent 12 days ago, expires in 3 days, starts on the next month start it can.
        (FABRIKAM, "Fabrikam Health", first_start(days(3)), days(-12), days(3), "OPEN", None),
        # Tailspin: a fresh invitation (REQUESTED) expiring in 12 days, and an earlier one declined.
        (TAILSPIN, "Tailspin Toys", first_start(days(12)), days(-3), days(12), "REQUESTED", None),
        (TAILSPIN, "Tailspin Toys (first offer)", month_start(now, 1), days(-20), days(-5), "DECLINED", days(-15)),
        # Woodgrove: accepted 25 days ago, then withdrawn; an older invitation Northwind canceled.
        (WOODGROVE, "Woodgrove Bank", first_start(days(-25)), days(-28), days(-13), "ACCEPTED", days(-25)),
        (WOODGROVE, "Woodgrove Bank (draft)", first_start(days(-29)), days(-29), days(-14), "CANCELED", days(-22)),
        # Fabrikam: an earlier invitation that nobody answered.
        (FABRIKAM, "Fabrikam Health (2nd quarter)", month_start(now, 0), days(-21), days(-6), "EXPIRED", days(-6)),
    ]
    notes = {
        "Contoso Retail": "Consolidated invoicing under the Northwind reseller agreement.",
        "Fabrikam Health": "Northwind will pay Fabrikam's AWS bills from the start date.",
    }
    offered: dict[str, Transfer] = {}
    for source_id, name, start, sent, expires, answer, answered in offers:
        offered[name], _ = create_transfer(
            state,
            payer=partner,
            source=orgs[source_id],
            name=name,
            start=start,
            now=sent,
            notes=notes.get(name),
            expires=expires,
            handshake_state=answer,
            closed_ts=answered,
        )
    offered["Contoso Retail"].status = "ACCEPTED"
    state.tags[offered["Contoso Retail"].id] = {"contract": "NW-2024-017", "segment": "retail"}
    withdrawn = offered["Woodgrove Bank"]
    withdrawn.status, withdrawn.end_ts = "WITHDRAWN", month_end(max(withdrawn.start_ts, now))

    # --- INVITE in every state ---------------------------------------------------------------------
    def invite(
        org_id: str,
        account: Account,
        state_name: str,
        requested_ago: float,
        closed_ago: float | None = None,
        expires_in: float | None = None,
        notes: str | None = None,
    ) -> None:
        org = orgs[org_id]
        resources = [org_resource(state, org), {"Value": account.id, "Type": "ACCOUNT"}]
        sent = now - requested_ago * DAY
        expires = now + expires_in * DAY if expires_in is not None else sent + 15 * DAY
        closed = now - closed_ago * DAY if closed_ago is not None else None
        _to_account(state, "INVITE", org, account, resources, sent, expires, state_name, closed, notes=notes)

    invite(CONTOSO, standalone[0], "OPEN", 13, expires_in=2, notes="Please join Contoso Retail's organization.")
    invite(WOODGROVE, standalone[1], "REQUESTED", 1)
    invite(
        PARTNER,
        members[TAILSPIN][3],
        "OPEN",
        2,
        notes="Move Tailspin Audit into Northwind (account transfer between organizations).",
    )
    invite(CONTOSO, members[CONTOSO][2], "ACCEPTED", 20, closed_ago=18)
    invite(FABRIKAM, standalone[2], "DECLINED", 10, closed_ago=9)
    invite(TAILSPIN, standalone[3], "CANCELED", 8, closed_ago=7)
    invite(PARTNER, standalone[4], "EXPIRED", 20, closed_ago=5)

    # --- ENABLE_ALL_FEATURES / APPROVE_ALL_FEATURES in every state ---------------------------------
    def enable(
        org_id: str, state_name: str, requested_ago: float, closed_ago: float | None, child_states: list[str]
    ) -> None:
        org = orgs[org_id]
        requested = now - requested_ago * DAY
        expires = requested + 90 * DAY
        closed = now - closed_ago * DAY if closed_ago is not None else None
        parent = new_handshake(
            state,
            action="ENABLE_ALL_FEATURES",
            org=org,
            recipient=state.management_account(org),
            parties=[{"Id": org.id, "Type": "ORGANIZATION"}],
            resources=[org_resource(state, org)],
            now=requested,
            expires=expires,
            handshake_state=state_name,
            closed_ts=closed,
        )
        if state_name in ("OPEN", "REQUESTED"):
            org.pending_all_features = parent.id
        for member, child_state in zip(members[org_id], child_states, strict=False):
            approval = [org_resource(state, org), {"Value": parent.id, "Type": "PARENT_HANDSHAKE"}]
            closed_at = None if child_state in ("OPEN", "REQUESTED") else (closed or now - 1 * DAY)
            _to_account(
                state,
                "APPROVE_ALL_FEATURES",
                org,
                member,
                approval,
                requested,
                expires,
                child_state,
                closed_at,
                parent_id=parent.id,
            )

    enable(ADATUM, "OPEN", 6, None, ["ACCEPTED", "OPEN", "REQUESTED"])
    enable(LITWARE, "REQUESTED", 1, None, ["OPEN"])
    enable(CONTOSO, "ACCEPTED", 14, 12, ["ACCEPTED"] * 5)
    enable(WOODGROVE, "CANCELED", 25, 20, ["DECLINED", "CANCELED", "CANCELED", "CANCELED"])
    enable(FABRIKAM, "DECLINED", 9, 8, ["CANCELED"] * 6)
    enable(TAILSPIN, "EXPIRED", 95, 5, ["EXPIRED"] * 4)

    # --- ADD_ORGANIZATIONS_SERVICE_LINKED_ROLE in every state (sent when Contoso enabled all features)
    contoso = orgs[CONTOSO]
    for member, (state_name, closed_ago) in zip(
        members[CONTOSO] + members[WOODGROVE][:1],
        [("ACCEPTED", 11), ("OPEN", None), ("REQUESTED", None), ("DECLINED", 10), ("CANCELED", 9), ("EXPIRED", 1)],
        strict=False,
    ):
        org = contoso if member.org_id == contoso.id else orgs[WOODGROVE]
        resources = [org_resource(state, org), {"Value": member.id, "Type": "ACCOUNT"}]
        expires = now - 1 * DAY if state_name == "EXPIRED" else now + 3 * DAY
        closed = now - closed_ago * DAY if closed_ago is not None else None
        _to_account(
            state,
            "ADD_ORGANIZATIONS_SERVICE_LINKED_ROLE",
            org,
            member,
            resources,
            now - 12 * DAY,
            expires,
            state_name,
            closed,
        )

    state.tags[members[CONTOSO][1].id] = {"cost-center": "payments", "environment": "production"}
    state.tags[members[FABRIKAM][0].id] = {"data-classification": "phi"}
    return orgs


# --- scale ----------------------------------------------------------------------------------------


def _scale(state: State, *, orgs: int, handshakes: int, transfers: int) -> None:
    """`orgs` organizations of a few accounts each, `transfers` transfers, `handshakes` handshakes.

    Built straight into the state (no API calls, no per-item checks) so 100,000 handshakes seed
    in seconds. Everything is recent enough to stay listed (closed within the retention window).
    """
    rng = state.rng
    now = state.now()
    made: list[Organization] = []
    for n in range(max(1, orgs)):
        management = _account(
            state, f"{100000000000 + n * 100:012d}", f"Scale Org {n:05d}", f"mgmt-{n:05d}@scale.example"
        )
        accounts = [
            _account(
                state,
                f"{100000000000 + n * 100 + i:012d}",
                f"Scale Org {n:05d} member {i}",
                f"m{i}-{n:05d}@scale.example",
            )
            for i in range(1, 4)
        ]
        made.append(_org(state, management, "ALL", accounts, now))
    closed_states = ("ACCEPTED", "DECLINED", "CANCELED", "EXPIRED")
    transfer_states = ("OPEN", "DECLINED", "CANCELED", "EXPIRED")
    paid_for: set[str] = set()
    count = min(transfers, handshakes)
    for i in range(count):
        payer = made[i % len(made)]
        source = made[rng.randrange(len(made))] if len(made) > 1 else None
        if source is None or source.id == payer.id:
            continue
        state_name = transfer_states[rng.randrange(len(transfer_states))]
        accepted = source.id not in paid_for and rng.random() < 0.2
        if accepted:
            state_name = "ACCEPTED"
            paid_for.add(source.id)
        requested = now - rng.uniform(0, 20) * DAY
        _transfer, _ = create_transfer(
            state,
            payer=payer,
            source=source,
            name=f"{state.management_account(source).name} billing",
            start=month_start(now, 2) if not accepted else month_start(now, 0),
            now=requested,
            expires=requested + 15 * DAY if state_name != "EXPIRED" else now - DAY,
            handshake_state=state_name,
            closed_ts=None if state_name == "OPEN" else max(requested, now - 2 * DAY),
        )
    remaining = handshakes - len(state.handshakes)
    resources_by_org = {org.id: org_resource(state, org) for org in made}
    for i in range(max(0, remaining)):
        org = made[i % len(made)]
        account = state.account(f"{500000000000 + i:012d}")
        state_name = "OPEN" if rng.random() < 0.4 else closed_states[rng.randrange(len(closed_states))]
        requested = now - rng.uniform(0, 20) * DAY
        resources = [resources_by_org[org.id], {"Value": account.id, "Type": "ACCOUNT"}]
        expires = requested + 15 * DAY if state_name != "EXPIRED" else now - DAY
        closed = None if state_name == "OPEN" else max(requested, now - 2 * DAY)
        _to_account(state, "INVITE", org, account, resources, requested, expires, state_name, closed)


# --- demo policies ----------------------------------------------------------------------------


def _policy(
    state: State,
    org: Organization,
    *,
    name: str,
    policy_type: str,
    content: dict[str, Any],
    description: str = "",
    targets: tuple[str, ...] = (),
) -> str:
    """A policy straight into the state, its type enabled on the root first if it is not yet."""
    if not state.type_status(org, policy_type):
        state.enable_policy_type(org, policy_type, state.now())
    policy = state.add_policy(
        Policy(
            id=state.new_id("p-", 10),
            org_id=org.id,
            name=name,
            description=description,
            type=policy_type,
            content=json.dumps(content, indent=2),
            updated_ts=state.now(),
        )
    )
    for target_id in targets:
        state.attach(policy.id, target_id)
    return policy.id


def _demo_policies(state: State, orgs: dict[str, Organization]) -> None:
    """Several policy types (Inspector included) in Contoso Retail and Northwind, SCPs with AWS's
    FullAWSAccess everywhere, and one account (Contoso Payments) whose effective backup policy is invalid."""
    contoso, partner = orgs[CONTOSO], orgs[PARTNER]
    by_name = {a.name: a for a in state.accounts.values() if a.org_id == contoso.id}
    web_shop, payments = by_name["Contoso Web Shop"], by_name["Contoso Payments"]
    production = web_shop.parent_id or contoso.root_id
    for org in (contoso, partner):
        state.enable_policy_type(org, SCP, state.now())
    _policy(
        state,
        contoso,
        name="Deny leaving the organization",
        policy_type=SCP,
        description="Member accounts cannot leave Contoso Retail",
        content={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}],
        },
        targets=(contoso.root_id,),
    )
    _policy(
        state,
        contoso,
        name="Inspector: scan EC2 and ECR",
        policy_type="INSPECTOR_POLICY",
        description="Amazon Inspector scanning in the Regions Contoso uses",
        content={
            "inspector": {
                "enablement": {
                    "ec2_scanning": {"enable_in_regions": {"@@assign": ["us-east-1", "eu-west-1"]}},
                    "ecr_scanning": {"enable_in_regions": {"@@assign": ["us-east-1"]}},
                }
            }
        },
        targets=(contoso.root_id,),
    )
    _policy(
        state,
        contoso,
        name="Inspector: Lambda in production",
        policy_type="INSPECTOR_POLICY",
        description="Adds Lambda scanning for production workloads",
        content={
            "inspector": {
                "enablement": {"lambda_standard_scanning": {"enable_in_regions": {"@@assign": ["us-east-1"]}}}
            }
        },
        targets=(production,),
    )
    _policy(
        state,
        contoso,
        name="Cost allocation tags",
        policy_type="TAG_POLICY",
        description="Every resource carries a CostCenter tag",
        content={
            "tags": {
                "costcenter": {
                    "tag_key": {"@@assign": "CostCenter"},
                    "tag_value": {"@@assign": ["retail", "payments", "data"]},
                }
            }
        },
        targets=(contoso.root_id,),
    )
    backup = _policy(
        state,
        contoso,
        name="Nightly backups (payments)",
        policy_type="BACKUP_POLICY",
        description="A backup plan whose vault was never created",
        content={
            "plans": {"nightly": {"rules": {"daily": {"schedule_expression": {"@@assign": "cron(0 5 ? * * *)"}}}}}
        },
        targets=(payments.id,),
    )
    missing = [
        ("The backup plan rule 'daily' has no target_backup_vault_name.", "rules.daily.target_backup_vault_name"),
        ("The backup plan 'nightly' selects no resources.", "selections"),
    ]
    state.mark_invalid_effective(
        f"{payments.id}:BACKUP_POLICY",
        {
            "errors": [
                {
                    "ErrorCode": "ELEMENT_MISSING",
                    "ErrorMessage": message,
                    "PathToError": f"plans.nightly.{path}",
                    "ContributingPolicies": [backup],
                }
                for message, path in missing
            ],
            "evaluated_ts": state.now(),
        },
    )
    _policy(
        state,
        partner,
        name="Opt out of AI services content use",
        policy_type="AISERVICES_OPT_OUT_POLICY",
        content={"services": {"default": {"opt_out_policy": {"@@assign": "optOut"}}}},
        targets=(partner.root_id,),
    )
    _policy(
        state,
        partner,
        name="Inspector: every Region",
        policy_type="INSPECTOR_POLICY",
        content={"inspector": {"enablement": {"ec2_scanning": {"enable_in_regions": {"@@assign": ["ALL_SUPPORTED"]}}}}},
        targets=(partner.root_id,),
    )
