"""The service-model room: everything orgsim knows about the API comes from botocore's own model.

Input validation walks the operation's input shape (required members, types, enums, patterns,
min/max lengths, numeric ranges, list sizes) and raises the InvalidInputException Reason AWS
uses. Nothing here names an operation, so a newer botocore with more enum values or operations
needs no code change.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

from orgsim.errors import ApiError, invalid_input


@functools.cache
def service_model(name: str = "organizations") -> ServiceModel:
    """botocore's model of Organizations (or of STS, the other service orgsim answers)."""
    return botocore.session.get_session().get_service_model(name)


def target_prefix() -> str:
    return str(service_model().metadata["targetPrefix"])


def operation_names() -> list[str]:
    return list(service_model().operation_names)


def operation(name: str) -> OperationModel:
    return service_model().operation_model(name)


def enum(shape_name: str) -> list[str]:
    """The values of an enum shape (``ActionType``, ``HandshakeState``...), as this botocore knows them."""
    return list(service_model().shape_for(shape_name).enum)


def exception_members(code: str) -> list[str]:
    """The members the model gives an exception shape (``Message``, ``Reason``, ``Type``...)."""
    try:
        return list(service_model().shape_for(code).members)
    except Exception:
        return ["Message"]


@functools.cache
def exception_message(code: str) -> str:
    """The first sentence of the model's documentation of an exception shape: AWS's message for it."""
    text = re.sub(r"<[^>]+>", "", service_model().shape_for(code).documentation or "")
    text = " ".join(text.split())
    sentence = re.match(r".+?[.!?](?=\s|$)", text)
    return sentence.group(0) if sentence else text


def model_error(code: str, **members: Any) -> ApiError:
    """The error `code` with the message the service model documents for it (AWS's own wording)."""
    return ApiError(code, exception_message(code), **members)


# The model's patterns are Java regexes. Python's `re` lacks Unicode property classes, so the few
# the model uses are mapped onto the nearest class `re` has (\w is letters+digits+_, \s spaces).
_JAVA_CLASSES = {r"\p{L}": r"\w", r"\p{N}": r"\w", r"\p{Z}": r"\s"}


def matches(shape_name: str, value: str) -> bool:
    """Whether `value` matches the pattern the model gives the string shape `shape_name`."""
    return bool(compiled_pattern(service_model().shape_for(shape_name).metadata["pattern"]).fullmatch(value))


@functools.cache
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    for java, python in _JAVA_CLASSES.items():
        pattern = pattern.replace(java, python)
    return re.compile(pattern)


def _serialization(message: str) -> ApiError:
    # AWS's JSON protocol front end answers a body of the wrong JSON type this way, before the service.
    return ApiError("SerializationException", message)


def validate(op: OperationModel, params: Any) -> None:
    """Check a request body against the operation's input shape; raise the error AWS gives."""
    shape = op.input_shape
    if shape is None:
        return
    if not isinstance(params, dict):
        raise _serialization("Start of structure or map found where not expected.")
    _check(shape, params, shape.name)


def _check(shape: Shape, value: Any, path: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise _serialization(f"Expected a structure at {path}.")
        for name in shape.required_members:
            if value.get(name) is None:
                raise invalid_input("INPUT_REQUIRED", f"You must specify a value for {name} ({path}).")
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                _check(member, value[name], name)
    elif kind == "list":
        if not isinstance(value, list):
            raise _serialization(f"Expected a list at {path}.")
        _range(shape, len(value), path, "MIN_LENGTH_EXCEEDED", "MAX_LENGTH_EXCEEDED")
        for item in value:
            if item is None:
                raise invalid_input("INVALID_LIST_MEMBER", f"{path} has an empty member.")
            _check(shape.member, item, path)
    elif kind == "map":
        if not isinstance(value, dict):
            raise _serialization(f"Expected a map at {path}.")
        for key, item in value.items():
            _check(shape.key, key, path)
            _check(shape.value, item, path)
    elif kind == "string":
        if not isinstance(value, str):
            raise _serialization(f"Expected a string at {path}.")
        enum_values = shape.enum
        if enum_values and value not in enum_values:
            raise invalid_input("INVALID_ENUM", f"{path} must be one of: {', '.join(enum_values)}.")
        _range(shape, len(value), path, "MIN_LENGTH_EXCEEDED", "MAX_LENGTH_EXCEEDED")
        pattern = shape.metadata.get("pattern")
        if pattern and not compiled_pattern(pattern).fullmatch(value):
            raise invalid_input("INVALID_PATTERN", f"{path} does not match the required pattern {pattern}.")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _serialization(f"Expected an integer at {path}.")
        _range(shape, value, path, "MIN_VALUE_EXCEEDED", "MAX_VALUE_EXCEEDED")
    elif kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _serialization(f"Expected a number at {path}.")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise _serialization(f"Expected a boolean at {path}.")
    elif kind == "timestamp":
        # JSON 1.1 sends epoch seconds; accept ISO 8601 text too, as AWS's front end does.
        parse_timestamp(value, path)


def _range(shape: Shape, n: int, path: str, too_small: str, too_big: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and n < low:
        raise invalid_input(too_small, f"{path} is below the minimum of {low}.")
    if high is not None and n > high:
        raise invalid_input(too_big, f"{path} exceeds the maximum of {high}.")


def parse_timestamp(value: Any, path: str = "Timestamp") -> float:
    if isinstance(value, bool):
        raise _serialization(f"Expected a timestamp at {path}.")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _serialization(f"Expected a timestamp at {path}.") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    raise _serialization(f"Expected a timestamp at {path}.")
