"""Every error AWS can answer with reaches the user as a sentence, and the model drives choices."""

from __future__ import annotations

import pytest

from orgportal import aws


def test_every_error_code_of_every_operation_has_a_plain_sentence() -> None:
    model = aws.service_model()
    missing = {
        (operation, error.name)
        for operation in model.operation_names
        for error in model.operation_model(operation).error_shapes
        if error.name not in aws.ERROR_SENTENCES
    }
    assert missing == set()


@pytest.mark.parametrize("exception", aws.REASON_EXCEPTIONS)
def test_every_reason_of_constraint_and_input_errors_has_a_plain_sentence(exception: str) -> None:
    reasons = aws.service_model().shape_for(exception).members["Reason"].enum
    assert reasons, exception
    assert [reason for reason in reasons if reason not in aws.REASON_SENTENCES] == []


def test_an_error_with_a_reason_reads_as_two_sentences_without_aws_jargon() -> None:
    error = aws.AwsError(
        code="ConstraintViolationException",
        message="raw",
        reason="RESPONSIBILITY_TRANSFER_MAX_INBOUND_QUOTA_VIOLATION",
        request_id="req-1",
        http_status=400,
    )
    assert error.user_message.startswith("AWS refused because a limit")
    assert "inbound quota" in error.user_message
    assert "Exception" not in error.user_message
    assert not error.transient


def test_throttling_and_server_errors_are_transient() -> None:
    assert aws.AwsError(code="TooManyRequestsException").transient
    assert aws.AwsError(code="Whatever", http_status=503).transient
    assert not aws.AwsError(code="AccessDeniedException", http_status=400).transient


def test_enum_choices_and_constraints_come_from_the_service_model() -> None:
    values = [value for value, _ in aws.enum_choices("PolicyType")]
    assert "SERVICE_CONTROL_POLICY" in values
    assert values == list(aws.service_model().shape_for("PolicyType").enum)
    constraints = aws.shape_constraints("ResponsibilityTransferName")
    assert constraints["min"] == 1 and constraints["max"] == 128 and constraints["sensitive"] is True
    assert constraints["pattern"]
