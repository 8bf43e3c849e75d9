"""Tags on accounts, roots, OUs, transfers, policies (and the resource policy)."""

from __future__ import annotations

from typing import Any

from orgsim import paging
from orgsim.errors import ApiError, constraint_violation, invalid_input
from orgsim.registry import Call, operation

MAX_TAGS = 50  # AWS's per-resource tag limit


def _resource(call: Call) -> str:
    """The resource id if the caller's organization owns it; TargetNotFoundException otherwise."""
    org = call.managed_org()
    state = call.state
    rid = call.params["ResourceId"]
    owner: str | None = None
    if rid in state.accounts:
        owner = state.accounts[rid].org_id
    elif rid in state.roots:
        owner = state.roots[rid].org_id
    elif rid in state.ous:
        owner = state.ous[rid].org_id
    elif rid in state.transfers:
        transfer = state.transfers[rid]
        owner = org.id if org.id in (transfer.source_org_id, transfer.target_org_id) else None
    elif rid in state.policies:
        owner = state.policies[rid].org_id or org.id
    elif org.resource_policy is not None and rid == org.resource_policy["id"]:
        owner = org.id
    if owner != org.id:
        raise ApiError("TargetNotFoundException", "We can't find a resource with the ResourceId that you specified.")
    return rid


@operation("TagResource")
def tag_resource(call: Call) -> dict[str, Any]:
    rid = _resource(call)
    keys = [tag["Key"] for tag in call.params["Tags"]]
    if len(keys) != len(set(keys)):
        raise invalid_input("DUPLICATE_TAG_KEY", "The same tag key appears twice.")
    if any(key.lower().startswith("aws:") for key in keys):
        raise invalid_input("INVALID_SYSTEM_TAGS_PARAMETER", "Tag keys starting with aws: are reserved.")
    tags = dict(call.state.tags.get(rid, {}))
    tags.update({tag["Key"]: tag["Value"] for tag in call.params["Tags"]})
    if len(tags) > MAX_TAGS:
        raise constraint_violation("MAX_TAG_LIMIT_EXCEEDED", "A resource can have at most 50 tags.")
    call.state.tags[rid] = tags
    call.state.dirty = True
    return {}


@operation("UntagResource")
def untag_resource(call: Call) -> dict[str, Any]:
    rid = _resource(call)
    tags = call.state.tags.get(rid, {})
    for key in call.params["TagKeys"]:
        tags.pop(key, None)
    call.state.dirty = True
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(call: Call) -> dict[str, Any]:
    rid = _resource(call)
    tags = [{"Key": k, "Value": v} for k, v in sorted(call.state.tags.get(rid, {}).items())]
    items, token = paging.page_list(call, rid, tags)  # at most 50 tags
    return paging.with_token({"Tags": items}, token)
