"""The dispatch room: ``@operation("Name")`` registers a handler; ``Call`` is what a handler gets.

A handler is a small function ``(call) -> dict`` that reads ``call.params`` (already validated
against the model), checks who may act, changes ``call.state`` and returns the output body.
Operations without a handler answer with an error that names orgsim and the operation.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orgsim.ops
from orgsim.errors import ApiError, access_denied, not_in_use
from orgsim.model import operation_names
from orgsim.state import Account, Organization, State

Handler = Callable[["Call"], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}


def operation(name: str) -> Callable[[Handler], Handler]:
    """Register `handler` for the model operation `name` (checked against the model at import)."""
    if name not in operation_names():
        raise ValueError(f"{name} is not an operation of this botocore's organizations model")

    def register(handler: Handler) -> Handler:
        HANDLERS[name] = handler
        return handler

    return register


@dataclass
class Call:
    """One API call: the operation, the caller's account, the validated body, the world, the time."""

    operation: str
    caller_id: str
    params: dict[str, Any]
    state: State
    now: float
    empty_page: bool = False  # fault injection: answer this page empty, still carrying a NextToken

    @property
    def caller(self) -> Account:
        return self.state.account(self.caller_id)

    def org(self) -> Organization:
        """The caller's organization, or AWS's answer for an account outside any organization."""
        org_id = self.caller.org_id
        if org_id is None:
            raise not_in_use()
        return self.state.orgs[org_id]

    def managed_org(self) -> Organization:
        """The caller's organization when the caller is its management account."""
        org = self.org()
        if org.management_account_id != self.caller_id:
            raise access_denied(
                "You don't have permissions to access this resource. Only the management account can do this."
            )
        return org


def unimplemented(name: str) -> ApiError:
    return ApiError(
        "OrgsimNotImplementedException",
        f"orgsim does not implement {name}: the operation exists in the AWS model but has no handler in orgsim.",
        status=501,
    )


def load_handlers() -> dict[str, Handler]:
    """Import every ops module so its handlers register."""
    for module in pkgutil.iter_modules(orgsim.ops.__path__):
        importlib.import_module(f"orgsim.ops.{module.name}")
    return HANDLERS
