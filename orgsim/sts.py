"""The STS room: AssumeRole and GetCallerIdentity as AWS STS answers them.

STS speaks the query protocol: a form-encoded POST (``Action=AssumeRole&Version=2011-06-15&...``)
answered in XML, errors as ``<ErrorResponse><Error><Type/><Code/><Message/></Error>``. Requests
are validated against botocore's STS model like every Organizations call. A role can be assumed
only when orgsim's state trusts it (``State.trust_role``: control API ``POST /_orgsim/roles``), with
the external id configured for it; the temporary credentials (``ASIA...``) then act as the role's
account in Organizations calls until orgsim's clock passes their expiration.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from orgsim import model
from orgsim.errors import ApiError
from orgsim.state import Session, State

VERSION = "2011-06-15"
NAMESPACE = f"https://sts.amazonaws.com/doc/{VERSION}/"
DEFAULT_DURATION = 3600  # AssumeRole's documented default
ACTIONS = ("AssumeRole", "GetCallerIdentity")


def is_sts(content_type: str, raw: bytes) -> bool:
    """A query-protocol request: what STS gets, never what Organizations (JSON 1.1) gets."""
    return content_type.startswith("application/x-www-form-urlencoded") and b"Action=" in raw


def _error(code: str, message: str, status: int = 400) -> ApiError:
    return ApiError(code, message, status=status)


def parse(raw: bytes) -> tuple[str, dict[str, Any]]:
    """The action and its parameters, typed and checked by the model's input shape."""
    form = {key: values[-1] for key, values in parse_qs(raw.decode(), keep_blank_values=True).items()}
    action, version = form.pop("Action", ""), form.pop("Version", "")
    if action not in model.service_model("sts").operation_names:
        raise _error("InvalidAction", f"Could not find operation {action} for version {version or 'NO_VERSION'}")
    if action not in ACTIONS:
        raise _error(
            "InvalidAction", f"orgsim does not implement STS {action}: it serves AssumeRole and GetCallerIdentity."
        )
    if version != VERSION:
        raise _error("InvalidParameterValue", f"Version {version} is not supported; use {VERSION}.")
    operation = model.service_model("sts").operation_model(action)
    params: dict[str, Any] = {}
    shape = operation.input_shape
    for name, member in shape.members.items() if shape is not None else []:
        if name in form and member.type_name in ("string", "integer"):  # the flat members AssumeRole needs
            value = form[name]
            if member.type_name == "integer":
                if not value.lstrip("-").isdigit():
                    raise _error("ValidationError", f"Value '{value}' at '{name}' is not an integer.")
                params[name] = int(value)
            else:
                params[name] = value
    try:
        model.validate(operation, params)
    except ApiError as invalid:
        # STS words every input error as a ValidationError (no Reason member).
        raise _error("ValidationError", f"1 validation error detected: {invalid.message}") from None
    return action, params


def assume_role(state: State, caller_id: str, params: dict[str, Any], now: float) -> dict[str, Any]:
    role_arn = params["RoleArn"]
    trust = state.roles.get(role_arn)
    if trust is None or trust.get("external_id") != params.get("ExternalId"):
        # AWS answers an untrusted role and a wrong (or missing) external id alike.
        raise _error(
            "AccessDenied",
            f"User: arn:aws:iam::{caller_id}:root is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            status=403,
        )
    duration = params.get("DurationSeconds", DEFAULT_DURATION)
    role_id = "AROA" + secrets.token_hex(8).upper()
    session = Session(
        access_key_id="ASIA" + secrets.token_hex(8).upper(),
        secret_access_key=secrets.token_urlsafe(30),
        session_token=secrets.token_urlsafe(96),
        account_id=str(trust["account_id"]),
        role_arn=role_arn,
        session_name=params["RoleSessionName"],
        role_id=role_id,
        expiration_ts=now + duration,
    )
    state.sessions[session.access_key_id] = session
    state.dirty = True
    return {
        "Credentials": {
            "AccessKeyId": session.access_key_id,
            "SecretAccessKey": session.secret_access_key,
            "SessionToken": session.session_token,
            "Expiration": _iso(session.expiration_ts),
        },
        "AssumedRoleUser": {
            "AssumedRoleId": f"{role_id}:{session.session_name}",
            "Arn": session.assumed_role_arn,
        },
        "PackedPolicySize": 0,
    }


def caller_identity(account_id: str, session: Session | None, partition: str) -> dict[str, Any]:
    if session is None:
        return {"UserId": account_id, "Account": account_id, "Arn": f"arn:{partition}:iam::{account_id}:root"}
    return {
        "UserId": f"{session.role_id}:{session.session_name}",
        "Account": session.account_id,
        "Arn": session.assumed_role_arn,
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml(value: dict[str, Any]) -> str:
    return "".join(
        f"<{key}>{_xml(item) if isinstance(item, dict) else escape(str(item))}</{key}>" for key, item in value.items()
    )


def response_xml(action: str, result: dict[str, Any], request_id: str) -> bytes:
    return (
        f'<{action}Response xmlns="{NAMESPACE}"><{action}Result>{_xml(result)}</{action}Result>'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    ).encode()


def error_xml(error: ApiError, request_id: str) -> bytes:
    fault = "Sender" if error.status < 500 else "Receiver"
    return (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>{fault}</Type><Code>{escape(error.code)}</Code>'
        f"<Message>{escape(error.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
