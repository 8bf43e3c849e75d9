"""The one gateway to AWS Organizations: clients, paging, single calls, errors in plain words.

Nothing else in the project builds a boto3 client or catches a botocore exception. The gateway
- builds a client per connection and purpose ("read" or "action"): default chain or named
  profile (the server's own credentials: only when the deployment allows them), assumed role
  with the connection's generated external id, or stored keys; optional endpoint override
  (orgsim serves STS at the same endpoint); region us-east-1; botocore retry mode and timeouts
  from settings;
- keeps assumed-role credentials fresh with botocore's own refresh machinery: botocore asks STS
  again before they expire, and a call AWS answers with ExpiredToken (AWS's clock ahead of ours)
  teaches the credentials that clock and is sent once more with fresh ones (`metrics()` counts
  the refreshes);
- takes a token from the account's shared rate budget before every HTTP attempt
  (`orgportal.ratelimit`), so many workers together stay inside AWS's per-account limits;
- pages every list call to the end with MaxResults 20 (botocore has no paginators for the
  responsibility-transfer calls, and a page may be empty yet carry a NextToken);
- records what a sync costs (calls, pages, retries, throttles) in the current `recording()`;
- gives each sync its own retry budget (`retry_budget()`): botocore's retry quota, fresh for the
  sync instead of one per cached client for the life of the process, and a few more rounds of
  botocore's attempts, with backoff, for a call whose attempts all failed transiently;
- turns every error the service model lists — and every reason enum of the constraint and
  input exceptions — into a sentence a finance user can act on;
- exposes the service model's enums and constraints so forms validate with AWS's own rules.
"""

from __future__ import annotations

import contextvars
import hashlib
import random
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple, TypeVar

import botocore.loaders
import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.credentials import DeferredRefreshableCredentials
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)
from botocore.model import ServiceModel
from botocore.retries.quota import RetryQuota
from botocore.retries.standard import RetryQuotaChecker
from django.conf import settings

from . import ratelimit
from .models import AwsConnection, AwsCredentials, CredentialMode

SERVICE = "organizations"
MAX_RESULTS = 20  # the API's maximum on every list call

# --- the service model ------------------------------------------------------------------------


@cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model(SERVICE)


def enum_values(shape_name: str) -> list[str]:
    """The values the model allows for an enum shape, in the model's order."""
    values = service_model().shape_for(shape_name).enum
    if not values:
        raise ValueError(f"{shape_name} is not an enum shape")
    return list(values)


def enum_choices(shape_name: str) -> list[tuple[str, str]]:
    """Django choices for an enum shape: ("SERVICE_CONTROL_POLICY", "Service control policy")."""
    return [(value, humanize(value)) for value in enum_values(shape_name)]


def shape_constraints(shape_name: str) -> dict[str, Any]:
    """min/max (length or value), pattern and sensitivity of a scalar shape, from the model."""
    shape = service_model().shape_for(shape_name)
    meta = shape.metadata
    return {
        "type": shape.type_name,
        "min": meta.get("min"),
        "max": meta.get("max"),
        "pattern": meta.get("pattern"),
        "sensitive": bool(meta.get("sensitive", False)),
        "enum": list(shape.enum) if shape.enum else None,
    }


def humanize(value: str) -> str:
    return value.replace("_", " ").capitalize()


# --- errors in plain words --------------------------------------------------------------------

# Every error code the model lists for any Organizations operation. A test asserts that none is
# missing, so a new code in a botocore upgrade fails the suite instead of reaching a user raw.
ERROR_SENTENCES: dict[str, str] = {
    "AWSOrganizationsNotInUseException": "This account is not a member of an organization, so there is nothing to read or change here.",
    "AccessDeniedException": "The credentials of this connection are not allowed to do this. Ask your AWS administrator to grant the needed Organizations permission.",
    "AccessDeniedForDependencyException": "AWS could not complete this because a service it depends on refused access.",
    "AccountAlreadyClosedException": "That account is already closed.",
    "AccountAlreadyRegisteredException": "That account is already a delegated administrator for this service.",
    "AccountNotFoundException": "AWS does not know that account in this organization.",
    "AccountNotRegisteredException": "That account is not a delegated administrator for this service.",
    "AccountOwnerNotVerifiedException": "The account owner's email address is not verified yet; the owner must verify it first.",
    "AlreadyInOrganizationException": "This account already belongs to an organization.",
    "ChildNotFoundException": "AWS cannot find that account or organizational unit.",
    "ConcurrentModificationException": "Someone else changed this at the same moment. Wait a little and try again.",
    "ConflictException": "This conflicts with another change in progress. Wait a little and try again.",
    "ConstraintViolationException": "AWS refused because a limit or rule of the organization would be broken.",
    "CreateAccountStatusNotFoundException": "AWS cannot find that account creation request.",
    "DestinationParentNotFoundException": "AWS cannot find the destination root or organizational unit.",
    "DuplicateAccountException": "That account is already in this organization.",
    "DuplicateHandshakeException": "An identical invitation is already open; answer or cancel that one first.",
    "DuplicateOrganizationalUnitException": "An organizational unit with that name already exists under the same parent.",
    "DuplicatePolicyAttachmentException": "That policy is already attached there.",
    "DuplicatePolicyException": "A policy with that name already exists.",
    "EffectivePolicyNotFoundException": "No effective policy of that type applies to this account.",
    "FinalizingOrganizationException": "AWS is still finishing setting up this organization. Try again in an hour.",
    "HandshakeAlreadyInStateException": "This invitation is already in that state; nothing was changed.",
    "HandshakeConstraintViolationException": "AWS refused this invitation because a rule or limit would be broken.",
    "HandshakeNotFoundException": "AWS cannot find this invitation; it may have expired and been removed.",
    "InvalidHandshakeTransitionException": "This invitation can no longer be answered that way (it was canceled, declined, accepted or has expired).",
    "InvalidInputException": "AWS rejected a value in the request.",
    "InvalidResponsibilityTransferTransitionException": "This billing transfer can no longer be changed that way in its current status.",
    "MalformedPolicyDocumentException": "The policy document is not valid for this policy type.",
    "MasterCannotLeaveOrganizationException": "The management account cannot leave its own organization.",
    "OrganizationNotEmptyException": "The organization still has member accounts; remove them first.",
    "OrganizationalUnitNotEmptyException": "The organizational unit still contains accounts or units; move them first.",
    "OrganizationalUnitNotFoundException": "AWS cannot find that organizational unit.",
    "ParentNotFoundException": "AWS cannot find that root or organizational unit.",
    "PolicyChangesInProgressException": "Policy changes are still being applied. Try again in a few minutes.",
    "PolicyInUseException": "That policy is still attached somewhere; detach it first.",
    "PolicyNotAttachedException": "That policy is not attached there.",
    "PolicyNotFoundException": "AWS cannot find that policy.",
    "PolicyTypeAlreadyEnabledException": "That policy type is already enabled.",
    "PolicyTypeNotAvailableForOrganizationException": "That policy type is not available to this organization (it needs all features enabled).",
    "PolicyTypeNotEnabledException": "That policy type is not enabled in this root; enable it first.",
    "ResourcePolicyNotFoundException": "This organization has no resource policy.",
    "ResponsibilityTransferAlreadyInStatusException": "This billing transfer is already in that status; nothing was changed.",
    "ResponsibilityTransferNotFoundException": "AWS cannot find this billing transfer.",
    "RootNotFoundException": "AWS cannot find that root.",
    "ServiceException": "AWS Organizations had an internal problem. The portal will try again.",
    "SourceParentNotFoundException": "AWS cannot find the source root or organizational unit.",
    "TargetNotFoundException": "AWS cannot find that target account, unit or root.",
    "TooManyRequestsException": "AWS is limiting how fast this account may call it. The portal slows down and retries.",
    "UnsupportedAPIEndpointException": "This operation is not available from the endpoint in use (Organizations is served from us-east-1).",
}

# Errors that do not come from the Organizations model: credentials, the network, STS.
OTHER_SENTENCES: dict[str, str] = {
    "NoCredentials": "No AWS credentials were found for this connection. Check its credential settings.",
    "ProfileNotFound": "The named AWS profile does not exist on the portal's servers.",
    "AmbientCredentialsDisabled": "This connection uses the portal server's own AWS credentials, which this deployment does not allow. Edit it to use access keys or a role.",
    "EndpointConnectionError": "The portal could not reach the AWS endpoint. Check the endpoint URL and the network.",
    "Timeout": "AWS did not answer in time. The portal will try again.",
    "UnrecognizedClientException": "AWS does not recognise the access key of this connection.",
    "InvalidClientTokenId": "AWS does not recognise the access key of this connection.",
    "SignatureDoesNotMatch": "The secret key of this connection does not match its access key.",
    "ExpiredTokenException": "The temporary credentials of this connection have expired.",
    "ExpiredToken": "The temporary credentials of this connection have expired.",
    "AccessDenied": "The credentials may not assume the configured role. Check the role's trust policy and the external id.",
    "ThrottlingException": "AWS is limiting how fast this account may call it. The portal slows down and retries.",
    "Throttling": "AWS is limiting how fast this account may call it. The portal slows down and retries.",
    "InternalFailure": "AWS had an internal problem. The portal will try again.",
    "ServiceUnavailable": "AWS is temporarily unavailable. The portal will try again.",
    "BotoCoreError": "The AWS client failed before AWS answered.",
    "InvalidNextToken": "AWS sent the same page twice; the list will be read again on the next sync.",
}

# The Reason enums of the exceptions that carry one (ConstraintViolation, InvalidInput,
# HandshakeConstraintViolation, AccessDeniedForDependency), in plain words. Keyed by reason:
# where two exceptions share a reason the sentence is the same.
REASON_SENTENCES: dict[str, str] = {
    # ConstraintViolationException
    "ACCOUNT_NUMBER_LIMIT_EXCEEDED": "The organization already has as many accounts as its quota allows.",
    "HANDSHAKE_RATE_LIMIT_EXCEEDED": "Too many invitations were sent today; AWS allows only a limited number per day.",
    "OU_NUMBER_LIMIT_EXCEEDED": "The organization already has as many organizational units as allowed.",
    "OU_DEPTH_LIMIT_EXCEEDED": "Organizational units cannot be nested any deeper.",
    "POLICY_NUMBER_LIMIT_EXCEEDED": "The organization already has as many policies of this type as allowed.",
    "POLICY_CONTENT_LIMIT_EXCEEDED": "The policy document is longer than AWS allows.",
    "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED": "Too many policies of this type are attached there already.",
    "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED": "At least one policy of this type must stay attached there.",
    "ACCOUNT_CANNOT_LEAVE_ORGANIZATION": "The management account cannot leave its organization.",
    "ACCOUNT_CANNOT_LEAVE_WITHOUT_EULA": "The account must accept the AWS customer agreement before it can leave.",
    "ACCOUNT_CANNOT_LEAVE_WITHOUT_PHONE_VERIFICATION": "The account must verify its phone number before it can leave.",
    "MASTER_ACCOUNT_PAYMENT_INSTRUMENT_REQUIRED": "The management account needs a valid payment method first.",
    "MEMBER_ACCOUNT_PAYMENT_INSTRUMENT_REQUIRED": "The member account needs a valid payment method first.",
    "ACCOUNT_CREATION_RATE_LIMIT_EXCEEDED": "Too many accounts were created recently; wait before creating more.",
    "MASTER_ACCOUNT_ADDRESS_DOES_NOT_MATCH_MARKETPLACE": "The management account's address does not match its AWS marketplace.",
    "MASTER_ACCOUNT_MISSING_CONTACT_INFO": "The management account is missing contact information.",
    "MASTER_ACCOUNT_NOT_GOVCLOUD_ENABLED": "The management account is not enabled for AWS GovCloud.",
    "ORGANIZATION_NOT_IN_ALL_FEATURES_MODE": "The organization must have all features enabled first.",
    "CREATE_ORGANIZATION_IN_BILLING_MODE_UNSUPPORTED_REGION": "An organization with consolidated billing only cannot be created in this region.",
    "EMAIL_VERIFICATION_CODE_EXPIRED": "The email verification code has expired; request a new one.",
    "WAIT_PERIOD_ACTIVE": "The account was changed recently; AWS requires a waiting period before this.",
    "MAX_TAG_LIMIT_EXCEEDED": "The resource already has as many tags as allowed.",
    "TAG_POLICY_VIOLATION": "The tags break the organization's tag policy.",
    "MAX_DELEGATED_ADMINISTRATORS_FOR_SERVICE_LIMIT_EXCEEDED": "The service already has as many delegated administrators as allowed.",
    "CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR": "The management account cannot be a delegated administrator.",
    "CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG": "A delegated administrator must be deregistered before it leaves the organization.",
    "DELEGATED_ADMINISTRATOR_EXISTS_FOR_THIS_SERVICE": "The service still has a delegated administrator; deregister it first.",
    "POLICY_TYPE_ENABLED_FOR_THIS_SERVICE": "A policy type for this service is still enabled; disable it first.",
    "MASTER_ACCOUNT_MISSING_BUSINESS_LICENSE": "The management account must provide a business license first.",
    "CANNOT_CLOSE_MANAGEMENT_ACCOUNT": "The management account cannot be closed this way.",
    "CLOSE_ACCOUNT_QUOTA_EXCEEDED": "Too many accounts were closed recently; wait before closing more.",
    "CLOSE_ACCOUNT_REQUESTS_LIMIT_EXCEEDED": "Too many account closures are in progress; wait for them to finish.",
    "SERVICE_ACCESS_NOT_ENABLED": "Trusted access for the service is not enabled in this organization.",
    "INVALID_PAYMENT_INSTRUMENT": "The payment method on file is not valid.",
    "ACCOUNT_CREATION_NOT_COMPLETE": "The account is still being created; wait for it to finish.",
    "CANNOT_REGISTER_SUSPENDED_ACCOUNT_AS_DELEGATED_ADMINISTRATOR": "A suspended account cannot be a delegated administrator.",
    "ALL_FEATURES_MIGRATION_ORGANIZATION_SIZE_LIMIT_EXCEEDED": "The organization is too large to enable all features this way.",
    "RESPONSIBILITY_TRANSFER_MAX_LEVEL_VIOLATION": "This would make a chain of billing transfers longer than allowed.",
    "RESPONSIBILITY_TRANSFER_MAX_INBOUND_QUOTA_VIOLATION": "This organization already pays for as many organizations as its inbound quota allows (the AWS default is 0; raise it in Service Quotas).",
    "RESPONSIBILITY_TRANSFER_MAX_OUTBOUND_QUOTA_VIOLATION": "This organization already has its bill paid by another organization (only one is allowed).",
    "RESPONSIBILITY_TRANSFER_MAX_TRANSFERS_QUOTA_VIOLATION": "The total number of billing transfers allowed across all chains has been reached.",
    "ACTIVE_RESPONSIBILITY_TRANSFER_PROCESS": "A billing transfer is already in progress for this organization.",
    "TRANSFER_RESPONSIBILITY_TARGET_DELETION_IN_PROGRESS": "The paying organization is being deleted.",
    "TRANSFER_RESPONSIBILITY_SOURCE_DELETION_IN_PROGRESS": "The organization whose bill would be paid is being deleted.",
    "UNSUPPORTED_PRICING": "The organization has a pricing arrangement that does not allow billing transfers.",
    "UNMET_BILLING_PREREQUISITE": "A billing prerequisite for transfers is not met (check payment method and billing settings).",
    "ACCOUNT_NOT_ACTIVE_FOR_TRANSFER_RESPONSIBILITY": "The management account is not active, so it cannot take part in a billing transfer.",
    "TRANSFER_RESPONSIBILITY_UPDATE_NOT_ALLOWED": "This billing transfer cannot be updated in its current status.",
    # InvalidInputException
    "INVALID_PARTY_TYPE_TARGET": "The invited party is of a type that cannot be invited this way.",
    "INVALID_SYNTAX_ORGANIZATION_ARN": "The organization ARN is not well formed.",
    "INVALID_SYNTAX_POLICY_ID": "The policy id is not well formed.",
    "INVALID_ENUM": "A value is not one of the allowed choices.",
    "INVALID_ENUM_POLICY_TYPE": "That is not a known policy type.",
    "INVALID_LIST_MEMBER": "One of the listed values is not valid.",
    "MAX_LENGTH_EXCEEDED": "A value is longer than allowed.",
    "MAX_VALUE_EXCEEDED": "A number is larger than allowed.",
    "MIN_LENGTH_EXCEEDED": "A value is shorter than allowed.",
    "MIN_VALUE_EXCEEDED": "A number is smaller than allowed.",
    "IMMUTABLE_POLICY": "This policy is managed by AWS and cannot be changed.",
    "INVALID_PATTERN": "A value is not in the expected format.",
    "INVALID_PATTERN_TARGET_ID": "The target id is not in the expected format.",
    "INPUT_REQUIRED": "A required value is missing.",
    "INVALID_NEXT_TOKEN": "The page token is no longer valid; the list will be read again from the start.",
    "MAX_LIMIT_EXCEEDED_FILTER": "The filter asks for more than AWS allows.",
    "MOVING_ACCOUNT_BETWEEN_DIFFERENT_ROOTS": "An account cannot be moved between different roots.",
    "INVALID_FULL_NAME_TARGET": "The full name is not valid.",
    "UNRECOGNIZED_SERVICE_PRINCIPAL": "That service principal is not recognised.",
    "INVALID_ROLE_NAME": "The role name is not valid.",
    "INVALID_SYSTEM_TAGS_PARAMETER": "Tags reserved for AWS cannot be set.",
    "DUPLICATE_TAG_KEY": "The same tag key is given twice.",
    "TARGET_NOT_SUPPORTED": "That kind of target is not supported here.",
    "INVALID_EMAIL_ADDRESS_TARGET": "The email address is not valid.",
    "INVALID_RESOURCE_POLICY_JSON": "The resource policy is not valid JSON.",
    "INVALID_PRINCIPAL": "A principal in the resource policy is not valid.",
    "UNSUPPORTED_ACTION_IN_RESOURCE_POLICY": "The resource policy names an action it cannot grant.",
    "UNSUPPORTED_POLICY_TYPE_IN_RESOURCE_POLICY": "The resource policy names a policy type it cannot cover.",
    "UNSUPPORTED_RESOURCE_IN_RESOURCE_POLICY": "The resource policy names a resource it cannot cover.",
    "NON_DETACHABLE_POLICY": "This policy cannot be detached.",
    "CALLER_REQUIRED_FIELD_MISSING": "A field required of the caller is missing.",
    "UNSUPPORTED_ACTION_IN_RESPONSIBILITY_TRANSFER": "That action is not supported for billing transfers.",
    "START_DATE_NOT_BEGINNING_OF_MONTH": "A billing transfer must start at 00:00 UTC on the first day of a month.",
    "START_DATE_NOT_BEGINNING_OF_DAY": "The start must be at 00:00 UTC.",
    "START_DATE_TOO_EARLY": "The start date is too soon (the invitation must be accepted at least 24 hours before it).",
    "START_DATE_TOO_LATE": "The start date is too far in the future.",
    "INVALID_START_DATE": "The start date is not valid.",
    "END_DATE_NOT_END_OF_MONTH": "A billing transfer must end at 23:59:59 UTC on the last day of a month.",
    "END_DATE_TOO_EARLY": "The end date is too early.",
    "END_DATE_TOO_LATE": "The end date is too late (at most the end of next month).",
    "INVALID_END_DATE": "The end date is not valid.",
    # HandshakeConstraintViolationException (those not above)
    "ALREADY_IN_AN_ORGANIZATION": "The invited account already belongs to an organization.",
    "ORGANIZATION_ALREADY_HAS_ALL_FEATURES": "The organization already has all features enabled.",
    "ORGANIZATION_IS_ALREADY_PENDING_ALL_FEATURES_MIGRATION": "Enabling all features is already in progress.",
    "INVITE_DISABLED_DURING_ENABLE_ALL_FEATURES": "Invitations are paused while all features are being enabled.",
    "PAYMENT_INSTRUMENT_REQUIRED": "A valid payment method is required first.",
    "ORGANIZATION_FROM_DIFFERENT_SELLER_OF_RECORD": "The two organizations are billed by different AWS sellers of record.",
    "ORGANIZATION_MEMBERSHIP_CHANGE_RATE_LIMIT_EXCEEDED": "The account changed organizations too recently; wait before trying again.",
    "MANAGEMENT_ACCOUNT_EMAIL_NOT_VERIFIED": "The management account's email address is not verified yet.",
    "RESPONSIBILITY_TRANSFER_ALREADY_EXISTS": "A billing transfer between these organizations already exists.",
    "SOURCE_AND_TARGET_CANNOT_MATCH": "An organization cannot pay for itself.",
    "UNUSED_PREPAYMENT_BALANCE": "The organization has an unused prepayment balance, so its bill cannot be transferred.",
    "LEGACY_PERMISSIONS_STILL_IN_USE": "The organization still uses legacy billing permissions; migrate them first.",
    "PAST_DUE_INVOICE": "The organization has an overdue invoice; pay it first.",
    "TARGET_ACCOUNT_VALIDATION_FAILURE": "AWS could not validate the invited account.",
    # AccessDeniedForDependencyException
    "ACCESS_DENIED_DURING_CREATE_SERVICE_LINKED_ROLE": "The credentials may not create the service-linked role AWS needs (iam:CreateServiceLinkedRole).",
}

REASON_EXCEPTIONS = (
    "ConstraintViolationException",
    "InvalidInputException",
    "HandshakeConstraintViolationException",
    "AccessDeniedForDependencyException",
)

THROTTLE_CODES = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded", "SlowDown"}
)
TRANSIENT_CODES = THROTTLE_CODES | {
    "ServiceException",
    "ConcurrentModificationException",
    "InternalFailure",
    "ServiceUnavailable",
    "EndpointConnectionError",
    "Timeout",
    "FinalizingOrganizationException",
}


class AwsError(Exception):
    """An AWS failure: the code and request id for the audit trail, a sentence for the user."""

    def __init__(
        self,
        *,
        code: str,
        message: str = "",
        request_id: str = "",
        http_status: int | None = None,
        reason: str = "",
        operation: str = "",
    ) -> None:
        self.code = code
        self.message = message
        self.request_id = request_id
        self.http_status = http_status
        self.reason = reason
        self.operation = operation
        super().__init__(
            f"{operation + ': ' if operation else ''}{code}{' (' + reason + ')' if reason else ''}: {message}"
        )

    @property
    def user_message(self) -> str:
        sentence = ERROR_SENTENCES.get(self.code) or OTHER_SENTENCES.get(self.code)
        if sentence is None:
            sentence = (
                "AWS had a temporary problem. The portal will try again."
                if (self.http_status or 0) >= 500
                else "AWS refused the request."
            )
        if self.reason:
            sentence = f"{sentence} {REASON_SENTENCES.get(self.reason, humanize(self.reason) + '.')}"
        return sentence

    @property
    def transient(self) -> bool:
        """Worth retrying later (throttled, AWS-side failure, network) rather than a refusal."""
        return self.code in TRANSIENT_CODES or (self.http_status or 0) >= 500

    @property
    def throttled(self) -> bool:
        return self.code in THROTTLE_CODES

    @classmethod
    def from_exception(cls, exc: Exception, operation: str = "") -> AwsError:
        if isinstance(exc, AwsError):
            return exc
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            meta = exc.response.get("ResponseMetadata", {})
            return cls(
                code=str(error.get("Code", "Unknown")),
                message=str(error.get("Message", "")),
                request_id=str(meta.get("RequestId", "")),
                http_status=meta.get("HTTPStatusCode"),
                reason=str(exc.response.get("Reason", "") or error.get("Reason", "")),
                operation=operation,
            )
        if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
            return cls(code="Timeout", message=str(exc), operation=operation)
        if isinstance(exc, EndpointConnectionError):
            return cls(code="EndpointConnectionError", message=str(exc), operation=operation)
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return cls(code="NoCredentials", message=str(exc), operation=operation)
        if isinstance(exc, ProfileNotFound):
            return cls(code="ProfileNotFound", message=str(exc), operation=operation)
        return cls(code="BotoCoreError", message=str(exc), operation=operation)


# --- what a sync costs ------------------------------------------------------------------------


@dataclass
class CallStats:
    """Calls, pages, retries and throttles seen while recording (one sync run)."""

    calls: int = 0
    pages: int = 0
    retries: int = 0
    throttles: int = 0
    refreshes: int = 0  # assumed-role credentials fetched again from STS
    rate_waits: int = 0  # calls that waited for the account's shared rate budget
    rate_wait_seconds: float = 0.0
    pages_by_operation: Counter[str] = field(default_factory=Counter)
    # Lists of one sync are paged by several threads at once.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


_recording: contextvars.ContextVar[CallStats | None] = contextvars.ContextVar("orgportal_aws_stats", default=None)


@contextmanager
def recording() -> Iterator[CallStats]:
    """Count every AWS call made in this context (thread/task) into one CallStats."""
    stats = CallStats()
    token = _recording.set(stats)
    try:
        yield stats
    finally:
        _recording.reset(token)


def _count_attempt(response: Any = None, **_: Any) -> None:
    """needs-retry hook: runs after every HTTP attempt; counts throttled attempts."""
    stats = _recording.get()
    if stats is None or not response:
        return
    parsed = response[1] if isinstance(response, tuple) and len(response) > 1 else {}
    code = (parsed or {}).get("Error", {}).get("Code", "")
    status = getattr(response[0], "status_code", 0) if isinstance(response, tuple) else 0
    if code in THROTTLE_CODES or status == 429:
        with stats.lock:
            stats.throttles += 1


def _record_call(response: dict[str, Any], operation: str, *, page: bool) -> None:
    stats = _recording.get()
    if stats is None:
        return
    with stats.lock:
        stats.calls += 1
        stats.retries += int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0) or 0)
        if page:
            stats.pages += 1
            stats.pages_by_operation[operation] += 1


# --- retry budgets ----------------------------------------------------------------------------

T = TypeVar("T")
R = TypeVar("R")

# Between rounds the gateway waits as botocore does for throttling: full jitter over 1 s doubling
# per round, at most 20 s.
ROUND_BACKOFF_BASE = 1.0
ROUND_BACKOFF_MAX = 20.0


@dataclass
class RetryBudget:
    """What one sync may spend on retries.

    `quota` is botocore's retry quota (500 units; a throttled retry costs 5, another 14, and only
    successes give units back). botocore keeps one per client, and clients are cached for the
    life of the process, so one throttling storm used to leave every later sync of that
    connection with no retries at all. `rounds` is how many more times the gateway repeats a
    call (a list page) whose botocore attempts all failed transiently, instead of failing the sync.
    """

    quota: RetryQuota = field(default_factory=RetryQuota)
    rounds: int = 0


_budget: contextvars.ContextVar[RetryBudget | None] = contextvars.ContextVar("orgportal_aws_budget", default=None)


@contextmanager
def retry_budget(*, rounds: int = 0) -> Iterator[RetryBudget]:
    """A fresh retry budget for every call made in this context (and the threads it starts)."""
    budget = RetryBudget(rounds=rounds)
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


class _ScopedQuota:
    """Stands in for a client's RetryQuota: inside `retry_budget()` retries draw on that budget,
    elsewhere (a single action, "Test connection") on the client's own quota, as botocore does."""

    def __init__(self, own: RetryQuota) -> None:
        self._own = own

    def _current(self) -> RetryQuota:
        budget = _budget.get()
        return budget.quota if budget is not None else self._own

    def acquire(self, capacity_amount: int) -> bool:
        return bool(self._current().acquire(capacity_amount))

    def release(self, capacity_amount: int) -> None:
        self._current().release(capacity_amount)

    @property
    def available_capacity(self) -> int:
        return int(self._current().available_capacity)


def _scope_retry_quota(client: Any) -> None:
    # botocore offers no public handle on a client's retry quota: it hangs off the retry handler
    # registered under this unique id (botocore/retries/standard.py, register_retry_handler). The
    # legacy mode has no quota, so nothing is found and nothing changes.
    entry = client.meta.events._emitter._unique_id_handlers.get(f"retry-config-{SERVICE}")
    handler = getattr(entry["handler"], "__self__", None) if entry else None
    checker = getattr(handler, "_retry_quota", None)
    if isinstance(checker, RetryQuotaChecker) and not isinstance(checker._quota, _ScopedQuota):
        checker._quota = _ScopedQuota(checker._quota)


def _with_rounds(attempt: Callable[[], R]) -> R:
    """`attempt()`, repeated after a backoff while the budget has rounds left for a transient error."""
    budget = _budget.get()
    done = 0
    while True:
        try:
            return attempt()
        except AwsError as error:
            if budget is None or done >= budget.rounds or not error.transient:
                raise
        stats = _recording.get()
        if stats is not None:
            with stats.lock:
                stats.retries += 1
        time.sleep(random.uniform(0, min(ROUND_BACKOFF_MAX, ROUND_BACKOFF_BASE * 2**done)))
        done += 1


# --- clients ----------------------------------------------------------------------------------

_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()


def _client_config() -> Config:
    return Config(
        region_name=settings.AWS_REGION,
        retries={"mode": settings.AWS_RETRY_MODE, "max_attempts": settings.AWS_MAX_ATTEMPTS},
        connect_timeout=settings.AWS_CONNECT_TIMEOUT,
        read_timeout=settings.AWS_READ_TIMEOUT,
        max_pool_connections=10,
    )


def _cache_key(connection: AwsConnection, purpose: str, credentials: AwsCredentials) -> tuple[Any, ...]:
    # Editing credentials or the endpoint changes the key, so a cached client never outlives them.
    secrets_digest = hashlib.sha256(credentials.secret_access_key_encrypted.encode()).hexdigest()
    return (
        connection.pk,
        purpose,
        connection.endpoint_url,
        connection.external_id,
        credentials.pk,
        credentials.mode,
        credentials.profile_name,
        credentials.role_arn,
        credentials.access_key_id,
        secrets_digest,
        settings.AWS_RETRY_MODE,
        settings.AWS_MAX_ATTEMPTS,
    )


# One botocore data loader for every session of the process: the service model, endpoints and
# rules are read from disk and parsed once, not once per connection (a new client costs ~90 ms
# with its own loader, ~12 ms with this one). The loader only caches what it has read.
_loader = botocore.loaders.create_loader()


def _session(profile: str | None = None) -> botocore.session.Session:
    """A botocore session on the shared loader; its clients are created with the region named."""
    core = botocore.session.Session(profile=profile)
    core.register_component("data_loader", _loader)
    return core


# What the gateway did beyond the calls, for this process: credential refreshes. The benchmark and
# the tests read it; a SyncRun's own share is in its CallStats.
_metrics: Counter[str] = Counter()
_metrics_lock = threading.Lock()


def metrics() -> dict[str, int]:
    with _metrics_lock:
        return dict(_metrics)


EXPIRED_TOKEN_CODES = frozenset({"ExpiredTokenException", "ExpiredToken", "RequestExpired"})
ROLE_SESSION_SECONDS = 3600  # STS's default; botocore refreshes 15 minutes before the end


class AssumedRole:
    """Credentials of one role from STS AssumeRole, kept fresh by botocore.

    botocore's DeferredRefreshableCredentials calls `fetch` on first use and again whenever the
    expiration is near by its clock (`_now`). That clock is ours plus `skew`: when AWS says a
    token expired that our clock thinks still valid, AWS's clock is ahead (or orgsim's was moved),
    and `expired_by_server()` moves ours past that expiration so botocore fetches new credentials
    on the next call, and from then on refreshes in time.
    """

    def __init__(self, *, sts: Any, role_arn: str, external_id: str) -> None:
        self.sts, self.role_arn, self.external_id = sts, role_arn, external_id
        self.skew = 0.0
        self.expires_at: datetime | None = None
        self.lock = threading.Lock()
        self.credentials = DeferredRefreshableCredentials(
            refresh_using=self.fetch, method="sts-assume-role", time_fetcher=self._now
        )

    def _now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.skew)

    def fetch(self) -> dict[str, str]:
        # Always with the connection's generated external id: the customer's trust policy
        # requires it, so the portal assumes only roles meant for this connection.
        creds = self.sts.assume_role(
            RoleArn=self.role_arn,
            RoleSessionName="orgportal",
            DurationSeconds=ROLE_SESSION_SECONDS,
            ExternalId=self.external_id,
        )["Credentials"]
        expiry: datetime = creds["Expiration"].astimezone(UTC)
        with self.lock:
            self.expires_at = expiry
        with _metrics_lock:
            _metrics["credential_refreshes"] += 1
        stats = _recording.get()
        if stats is not None:
            with stats.lock:
                stats.refreshes += 1
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": expiry.isoformat(),
        }

    def expired_by_server(self) -> None:
        with self.lock:
            if self.expires_at is None:
                return
            behind = (self.expires_at - datetime.now(UTC)).total_seconds() + 1
            self.skew = max(self.skew, behind)


# The assumed role behind each cached client, for the gateway to renew on ExpiredToken.
_roles: weakref.WeakKeyDictionary[Any, AssumedRole] = weakref.WeakKeyDictionary()


def _assume_role_session(credentials: AwsCredentials, external_id: str, endpoint_url: str) -> tuple[Any, AssumedRole]:
    """A session whose credentials come from STS AssumeRole, asked by the portal's own identity
    (the default chain) at the connection's endpoint when it has one (orgsim serves STS there)."""
    sts = _session().create_client(
        "sts", region_name=settings.AWS_REGION, endpoint_url=endpoint_url or None, config=_client_config()
    )
    role = AssumedRole(sts=sts, role_arn=credentials.role_arn, external_id=external_id)
    core = _session()
    core._credentials = role.credentials  # botocore's documented way to plug refreshable credentials
    return core, role


def _session_for(
    credentials: AwsCredentials, external_id: str, endpoint_url: str = ""
) -> tuple[botocore.session.Session, AssumedRole | None]:
    if credentials.mode == CredentialMode.PROFILE:
        return _session(profile=credentials.profile_name), None
    if credentials.mode == CredentialMode.ASSUME_ROLE:
        return _assume_role_session(credentials, external_id, endpoint_url)
    core = _session()
    if credentials.mode == CredentialMode.KEYS:
        core.set_credentials(credentials.access_key_id, credentials.secret_access_key)
    return core, None


def _budget_account(connection: AwsConnection, credentials: AwsCredentials) -> str:
    """Whose rate budget a client draws on: the role's account, the account AWS named at the last
    sync, or (never synced yet) the connection's own."""
    if credentials.mode == CredentialMode.ASSUME_ROLE:
        parts = credentials.role_arn.split(":")
        if len(parts) > 4 and parts[4]:
            return parts[4]
    return connection.account_id or f"connection-{connection.pk}"


def _limit_rate(client: Any, *, account: str, organization: str) -> None:
    """Take a token of the shared budget before every HTTP attempt of `client` (retries too)."""

    def take(event_name: str = "", **_: Any) -> None:
        waited = ratelimit.acquire(event_name.rsplit(".", 1)[-1], account=account, organization=organization)
        stats = _recording.get()
        if waited and stats is not None:
            with stats.lock:
                stats.rate_waits += 1
                stats.rate_wait_seconds += waited
        # Returning None lets botocore send the request.

    client.meta.events.register(f"before-send.{SERVICE}", take)


def client_for(connection: AwsConnection, purpose: str = "read") -> Any:
    """The Organizations client of `connection` for "read" or "action" work (cached per process)."""
    if purpose not in {"read", "action"}:
        raise ValueError(f"purpose must be 'read' or 'action', not {purpose!r}")
    credentials = connection.credentials_for(purpose)
    if credentials.is_ambient and not settings.ALLOW_AMBIENT_CREDENTIALS:
        # Stored while the deployment allowed it (or written around the forms): refused at use,
        # before any credential is looked up, so the server's own identity never answers for it.
        raise AwsError(code="AmbientCredentialsDisabled", operation="credentials")
    key = _cache_key(connection, purpose, credentials)
    with _clients_lock:
        client = _clients.get(key)
        if client is not None:
            return client
        try:
            session, role = _session_for(credentials, connection.external_id, connection.endpoint_url)
            client = session.create_client(
                SERVICE,
                region_name=settings.AWS_REGION,
                endpoint_url=connection.endpoint_url or None,
                config=_client_config(),
            )
        except (BotoCoreError, ClientError) as exc:
            raise AwsError.from_exception(exc, operation="AssumeRole") from exc
        client.meta.events.register_first(f"needs-retry.{SERVICE}", _count_attempt)
        _scope_retry_quota(client)
        if role is not None:
            _roles[client] = role
        if ratelimit.applies_to(connection.endpoint_url):
            _limit_rate(
                client,
                account=_budget_account(connection, credentials),
                organization=connection.organization_id,
            )
        if connection.pk is None:
            # An unsaved connection ("Test connection" before saving): used once, never kept.
            return client
        # Drop clients of the same connection+purpose built from older settings.
        for old in [k for k in _clients if k[:2] == key[:2]]:
            del _clients[old]
        _clients[key] = client
        return client


def forget_clients() -> None:
    """Drop every cached client (tests; after credentials rotate outside the portal)."""
    with _clients_lock:
        _clients.clear()


# --- calls ------------------------------------------------------------------------------------


class CallResult(NamedTuple):
    data: dict[str, Any]
    request_id: str


def _method(client: Any, operation: str) -> Any:
    return getattr(client, xform_name(operation))


def _client(client_or_connection: Any, purpose: str) -> Any:
    if isinstance(client_or_connection, AwsConnection):
        return client_for(client_or_connection, purpose)
    return client_or_connection


def _send(method: Any, operation: str, params: dict[str, Any], *, page: bool) -> dict[str, Any]:
    """One request with botocore's attempts; recorded, and any failure turned into AwsError.

    An assumed role's token that AWS calls expired is renewed and the request sent once more:
    a worker that runs for weeks never fails on an hour-long token.
    """
    renewed = False
    while True:
        try:
            response: dict[str, Any] = method(**params)
        except (BotoCoreError, ClientError) as exc:
            if isinstance(exc, ClientError):
                _record_call(exc.response, operation, page=False)
                owner = getattr(method, "__self__", None)
                role = _roles.get(owner) if owner is not None else None
                code = exc.response.get("Error", {}).get("Code", "")
                if role is not None and code in EXPIRED_TOKEN_CODES and not renewed:
                    role.expired_by_server()
                    renewed = True
                    continue
            raise AwsError.from_exception(exc, operation) from exc
        _record_call(response, operation, page=page)
        return response


def call(connection: Any, operation: str, purpose: str = "read", **params: Any) -> CallResult:
    """One API call (e.g. "AcceptHandshake"): the response and its request id, or AwsError."""
    method = _method(_client(connection, purpose), operation)
    response = _with_rounds(lambda: _send(method, operation, params, page=False))
    return CallResult(response, str(response.get("ResponseMetadata", {}).get("RequestId", "")))


# How many per-item calls (DescribePolicy per policy, ...) one sync keeps in flight.
FAN_OUT = 4


def fan_out(func: Callable[[T], R], items: Iterable[T], *, workers: int = FAN_OUT) -> list[R]:
    """`func(item)` for every item, up to `workers` at a time, results in the items' order.

    For the calls AWS only offers one item at a time: at 20 ms a call, n items cost n/workers
    round trips instead of n. `func` talks to AWS only (never the database); each runs in a copy
    of the caller's context, so its calls count in the same SyncRun. The first failure (in item
    order) is raised once the calls already started have ended; the rest are not started.
    """
    items = list(items)
    if len(items) < 2 or workers < 2:
        return [func(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="aws-fan-out")
    try:
        futures = [pool.submit(contextvars.copy_context().run, func, item) for item in items]
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def iter_responses(
    client_or_connection: Any, operation: str, purpose: str = "read", **params: Any
) -> Iterator[dict[str, Any]]:
    """Every response of a list call, to the end, MaxResults 20: the one pager.

    A page may be empty yet carry a NextToken: only a missing NextToken ends the list. A repeated
    token would loop forever, so it ends the list with an error instead. Whole responses, for the
    few lists that carry members beside their items (ListEffectivePolicyValidationErrors' Path).
    """
    client = _client(client_or_connection, purpose)
    method = _method(client, operation)
    params = {"MaxResults": MAX_RESULTS, **params}
    seen_tokens: set[str] = set()
    while True:
        response = _with_rounds(lambda: _send(method, operation, params, page=True))
        yield response
        token = response.get("NextToken")
        if not token:
            return
        if token in seen_tokens:
            raise AwsError(code="InvalidNextToken", message="AWS repeated a page token", operation=operation)
        seen_tokens.add(token)
        params["NextToken"] = token


def iter_pages(
    client_or_connection: Any, operation: str, result_key: str, purpose: str = "read", **params: Any
) -> Iterator[list[dict[str, Any]]]:
    """Every page of a list call, to the end; yields each page's items."""
    for response in iter_responses(client_or_connection, operation, purpose, **params):
        yield list(response.get(result_key, []))


def paginate(
    client_or_connection: Any, operation: str, result_key: str, purpose: str = "read", **params: Any
) -> Iterator[dict[str, Any]]:
    """Every item of a list call (e.g. paginate(conn, "ListAccounts", "Accounts"))."""
    for page in iter_pages(client_or_connection, operation, result_key, purpose, **params):
        yield from page
