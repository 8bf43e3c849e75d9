"""Accounts made and closed through the API: CreateAccount (and its GovCloud twin), their status,
and CloseAccount. Both are asynchronous in AWS, so they are here too, on orgsim's clock:

    CreateAccount   --> IN_PROGRESS --ASYNC_SECONDS--> SUCCEEDED (the account joins, CREATED)
                                                   \\-> FAILED (EMAIL_ALREADY_EXISTS...)
    CloseAccount    --> PENDING_CLOSURE --ASYNC_SECONDS--> SUSPENDED --90 days--> gone (CLOSED)
"""

from __future__ import annotations

from typing import Any

from orgsim import paging
from orgsim.errors import constraint_violation
from orgsim.model import model_error
from orgsim.ops.organizations import member_of, require_all_features
from orgsim.registry import Call, operation
from orgsim.state import DAY

CLOSE_WINDOW = 30 * DAY
# CloseAccount's documented quota: within a rolling 30 days, the higher of 250 or 20 % of members.
CLOSE_QUOTA_FLOOR, CLOSE_QUOTA_SHARE = 250, 0.2


def _create(call: Call, *, gov_cloud: bool) -> dict[str, Any]:
    org = call.managed_org()
    params = call.params
    request = call.state.request_account(
        org, params["AccountName"], params["Email"], call.now, gov_cloud=gov_cloud, tags=list(params.get("Tags") or [])
    )
    return {"CreateAccountStatus": request.to_api()}


@operation("CreateAccount")
def create_account(call: Call) -> dict[str, Any]:
    return _create(call, gov_cloud=False)


@operation("CreateGovCloudAccount")
def create_gov_cloud_account(call: Call) -> dict[str, Any]:
    # orgsim cannot know whether the management account is enabled for GovCloud (a contract with
    # AWS), so every organization is: a commercial account and its paired GovCloud account id.
    return _create(call, gov_cloud=True)


@operation("DescribeCreateAccountStatus")
def describe_create_account_status(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    request = call.state.account_requests.get(call.params["CreateAccountRequestId"])
    if request is None or request.org_id != org.id:
        raise model_error("CreateAccountStatusNotFoundException")
    return {"CreateAccountStatus": request.to_api()}


@operation("ListCreateAccountStatus")
def list_create_account_status(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    state = call.state
    wanted = set(call.params.get("States") or [])

    def resolve(key: str) -> dict[str, Any] | None:
        request = state.account_requests.get(key.partition(":")[2])
        if request is None or (wanted and request.state not in wanted):
            return None
        return request.to_api()

    items, token = paging.page(call, f"car:{org.id}", resolve)
    return paging.with_token({"CreateAccountStatuses": items}, token)


@operation("CloseAccount")
def close_account(call: Call) -> dict[str, Any]:
    org = call.managed_org()
    require_all_features(org)
    state = call.state
    account = member_of(call, org, call.params["AccountId"])
    if account.id == org.management_account_id:
        raise constraint_violation(
            "CANNOT_CLOSE_MANAGEMENT_ACCOUNT", "You can't close the management account with this API."
        )
    if account.closed_ts is not None:
        raise model_error("AccountAlreadyClosedException")
    members = state.index.count(f"accounts:{org.id}") - 1
    recent = sum(
        1
        for other in state.accounts.values()
        if other.org_id == org.id and other.closed_ts is not None and other.closed_ts > call.now - CLOSE_WINDOW
    )
    if recent >= max(CLOSE_QUOTA_FLOOR, int(members * CLOSE_QUOTA_SHARE)):
        raise constraint_violation(
            "CLOSE_ACCOUNT_QUOTA_EXCEEDED", "You have exceeded close account quota for the past 30 days."
        )
    state.close_account(account, call.now)
    return {}
