"""Every refusal is one exception with a rule id from one enum, and each rule says what kind of
refusal it is, so its HTTP status is never a guess (before, a rule missing from the API's lists
silently became 409)."""

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from api.deps import STATUS, status_for
from domain.errors import Refusal, Rule, RuleViolation
from service.gateway import with_rule_violations
from workflows.messages import CaseVersion


def test_every_kind_of_refusal_has_its_status_and_so_every_rule_does() -> None:
    assert set(STATUS) == set(Refusal)
    assert {status_for(rule) for rule in Rule} <= {403, 404, 409, 412, 422, 503}


@pytest.mark.parametrize(
    ("rule", "status"),
    [
        (Rule.ROLE_NOT_ALLOWED, 403),
        (Rule.OUTSIDE_YOUR_SITES, 403),
        (Rule.CASE_UNKNOWN, 404),
        (Rule.TASK_UNKNOWN, 404),
        (Rule.OUTCOME_INVALID, 422),
        (Rule.SEALED_INPUT, 422),
        (Rule.COMMAND_TOO_DEEP, 422),
        (Rule.CASE_NOT_OPEN, 409),
        (Rule.CLOSURE_GATE, 409),
        (Rule.ASSIGNEE_ELSEWHERE, 409),
        (Rule.KEYS_UNAVAILABLE, 503),
        (Rule.ALERT_UNAVAILABLE, 503),
        (Rule.CASE_VERSION_CHANGED, 412),
    ],
)
def test_a_rule_is_declared_with_the_kind_of_refusal_it_is(rule: Rule, status: int) -> None:
    assert status_for(rule) == status


async def refused_by_workflow(cause: ApplicationError) -> CaseVersion:
    raise WorkflowUpdateFailedError(cause)


async def test_a_workflow_refusal_keeps_its_rule() -> None:
    refusal = ApplicationError("the case is closed", "case_not_open", type="RuleViolation")
    with pytest.raises(RuleViolation) as refused:
        await with_rule_violations(refused_by_workflow(refusal))
    assert refused.value.rule is Rule.CASE_NOT_OPEN and refused.value.message == "the case is closed"


async def test_a_refusal_with_a_rule_nobody_declared_is_bad_input_never_a_conflict() -> None:
    # E.g. a worker of a newer release naming a rule this API does not know, or a command that did
    # not decode: the request is refused as invalid (422) with the workflow's message.
    for refusal in (
        ApplicationError("no such thing", "a_rule_from_the_future", type="RuleViolation"),
        ApplicationError("Failed decoding arguments"),
    ):
        with pytest.raises(RuleViolation) as refused:
            await with_rule_violations(refused_by_workflow(refusal))
        assert refused.value.rule is Rule.INVALID_COMMAND and status_for(refused.value.rule) == 422
