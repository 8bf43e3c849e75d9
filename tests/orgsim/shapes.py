"""Check a boto3 answer against the operation's output shape in botocore's model."""

from __future__ import annotations

import datetime
from typing import Any

from botocore.model import Shape

from orgsim.model import compiled_pattern, operation


def check_output(operation_name: str, response: dict[str, Any]) -> None:
    shape = operation(operation_name).output_shape
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    if shape is None:
        assert body == {}, body
        return
    _walk(shape, body, operation_name)


def _walk(shape: Shape, value: Any, path: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), f"{path}: expected a structure, got {value!r}"
        unknown = set(value) - set(shape.members)
        assert not unknown, f"{path}: members not in the model: {unknown}"
        for name in shape.required_members:
            assert name in value, f"{path}: required member {name} missing"
        for name, item in value.items():
            _walk(shape.members[name], item, f"{path}.{name}")
    elif kind == "list":
        assert isinstance(value, list), f"{path}: expected a list"
        for i, item in enumerate(value):
            _walk(shape.member, item, f"{path}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict), f"{path}: expected a map"
    elif kind == "string":
        assert isinstance(value, str), f"{path}: expected a string, got {value!r}"
        if shape.enum:
            assert value in shape.enum, f"{path}: {value!r} not in {shape.enum}"
        pattern = shape.metadata.get("pattern")
        if pattern:
            assert compiled_pattern(pattern).match(value), f"{path}: {value!r} does not match {pattern}"
        if "min" in shape.metadata:
            assert len(value) >= shape.metadata["min"], path
        if "max" in shape.metadata:
            assert len(value) <= shape.metadata["max"], path
    elif kind == "timestamp":
        assert isinstance(value, datetime.datetime), f"{path}: expected a timestamp, got {value!r}"
    elif kind in ("integer", "long"):
        assert isinstance(value, int), path
    elif kind == "boolean":
        assert isinstance(value, bool), path
