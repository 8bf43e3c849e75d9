"""The error room: one exception type that carries everything AWS puts in an error answer."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An AWS error answer: ``__type`` code, ``Message``, model members such as ``Reason``, HTTP status.

    AWS Organizations answers every client error with 400 (throttling included) and its own
    failures with 500, so ``status`` only needs overriding for the server side.
    """

    def __init__(
        self, code: str, message: str, *, reason: str | None = None, status: int = 400, **members: Any
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.members: dict[str, Any] = dict(members)
        if reason is not None:
            self.members["Reason"] = reason

    def body(self) -> dict[str, Any]:
        return {"__type": self.code, "Message": self.message, **self.members}


def invalid_input(reason: str, message: str) -> ApiError:
    return ApiError("InvalidInputException", message, reason=reason)


def constraint_violation(reason: str, message: str) -> ApiError:
    return ApiError("ConstraintViolationException", message, reason=reason)


def not_in_use() -> ApiError:
    return ApiError(
        "AWSOrganizationsNotInUseException",
        "Your account is not a member of an organization.",
    )


def access_denied(message: str = "You don't have permissions to access this resource.") -> ApiError:
    return ApiError("AccessDeniedException", message)
