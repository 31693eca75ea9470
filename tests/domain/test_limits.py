"""The limits every command is checked against before any rule (domain/limits.py)."""

from datetime import datetime

import pytest
from pydantic import JsonValue

from domain.commands import CompleteTask, RequestCourtReport
from domain.errors import RuleViolation
from domain.limits import MAX_COMMAND_BYTES, MAX_COMMAND_DEPTH, check_command_limits
from domain.outcomes import CourtReportPurpose, Recipient
from tests.domain.support import PRACTITIONER


def nested(levels: int) -> JsonValue:
    value: JsonValue = "deep"
    for _ in range(levels):
        value = [value]
    return value


def completion(answers: JsonValue) -> CompleteTask:
    return CompleteTask(actor=PRACTITIONER, task_id="task-1", outcome={"answers": answers})


def depth_of_command_around(answers_levels: int) -> int:
    """How deep the command is when its answers hold `answers_levels` nested lists."""
    # The command's fields (1), the outcome (2), the answers (3), then one level per list.
    return 3 + answers_levels


def test_a_command_at_the_depth_limit_passes_and_one_level_more_is_refused() -> None:
    levels = MAX_COMMAND_DEPTH - depth_of_command_around(0)
    check_command_limits(completion(nested(levels)))
    with pytest.raises(RuleViolation) as refused:
        check_command_limits(completion(nested(levels + 1)))
    assert refused.value.rule == "command_too_deep"


def test_a_command_over_the_size_limit_is_refused_with_its_size() -> None:
    check_command_limits(completion("x" * (MAX_COMMAND_BYTES - 1024)))
    with pytest.raises(RuleViolation) as refused:
        check_command_limits(completion("x" * MAX_COMMAND_BYTES))
    assert refused.value.rule == "command_too_large"
    assert "KB" in refused.value.message


def test_a_time_without_a_zone_is_refused() -> None:
    request = RequestCourtReport(
        actor=PRACTITIONER,
        purpose=CourtReportPurpose.BAIL_OR_REMAND,
        hearing_at=datetime(2026, 3, 2, 10, 0),
        recipients=(Recipient.COURT,),
    )
    with pytest.raises(RuleViolation) as refused:
        check_command_limits(request)
    assert refused.value.rule == "invalid_input"
