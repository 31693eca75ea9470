"""F27 and F28: a FHIR receiver (or whoever controls its address) tries to change referrals that are
not its own through what it answers to the poll (docs/fhir.md, "Status updates from the receiver").

- F27: asked for the Task of its own referral, a receiver answers with a Task naming another referral
  (another service's, on the same case), alone or next to the real one, hoping the poll records it
  there. Nothing is recorded: the poll takes only an answer whose Tasks are all the one asked for.
  And were the poll fooled, the case workflow itself refuses an answer in a service's name to a
  referral made to another service: sent past the poll, the Update is refused.
- F28: the receiver redirects the read to another server that answers "accepted". The redirect is
  not followed: that server is never asked, and nothing is recorded.

On the real stack of tests/workers/test_fhir_task_poll.py: the dev server, a worker, the SQLite
store, real FHIR receivers on localhost."""

from typing import Any

import pytest

from domain.access import service_actor
from domain.commands import RecordReferralOutcome
from domain.errors import Rule, RuleViolation
from domain.fhir_terms import REFERRAL_TASK_SYSTEM
from domain.outcomes import ReferralStatus, ServiceType
from tests.fhir.receiver import FhirReceiver, running
from tests.fhir.validators import refuse_invalid
from tests.workers.test_fhir_task_poll import HOUSING, MENTAL_HEALTH, Stack, referred
from tests.workers.test_fhir_task_poll import receivers as receivers  # the fixtures
from tests.workers.test_fhir_task_poll import stack as stack


def forged_task(referral_id: str, status: str) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "id": "forged",
        "identifier": [{"system": REFERRAL_TASK_SYSTEM, "value": referral_id}],
        "status": status,
        "intent": "order",
    }


async def test_f27_a_task_of_another_referral_in_the_answer_changes_nothing(stack: Stack) -> None:
    case_id, [housing, mental_health] = await referred(
        stack, (HOUSING, ServiceType.HOUSING, "evicted"), (MENTAL_HEALTH, ServiceType.MENTAL_HEALTH, "psychosis")
    )
    before = len(await stack.store.read_stream(case_id))
    west = stack.west  # the mental health service's receiver

    # Only another referral's Task, then the real one with another's beside it.
    for answer in ([forged_task(housing, "accepted")], [west.task(mental_health), forged_task(housing, "rejected")]):
        west.answer_for[mental_health] = answer
        _, result = await stack.poll()
        polls = {p.service_id: p for p in result.services}
        assert polls[MENTAL_HEALTH].recorded == 0
        assert [(p.kind, p.referral_id) for p in polls[MENTAL_HEALTH].problems] == [("bad_answer", mental_health)]
        assert polls[HOUSING].recorded == 0
        assert len(await stack.store.read_stream(case_id)) == before
    state = await stack.store.current_state(case_id)
    assert {r.status for r in state.referrals} == {ReferralStatus.SENT}

    # Past the poll, straight to the case: the mental health service cannot answer the housing referral.
    with pytest.raises(RuleViolation) as refused:
        command = RecordReferralOutcome(
            actor=service_actor(MENTAL_HEALTH), referral_id=housing, status=ReferralStatus.ACCEPTED
        )
        await stack.cases.service.gateway.send(case_id, command)
    assert refused.value.rule is Rule.ROLE_NOT_ALLOWED
    assert len(await stack.store.read_stream(case_id)) == before


async def test_f28_a_redirected_read_is_not_followed(stack: Stack) -> None:
    case_id, [mental_health] = await referred(stack, (MENTAL_HEALTH, ServiceType.MENTAL_HEALTH, "self-harm"))
    before = len(await stack.store.read_stream(case_id))
    with running(FhirReceiver(refuse_invalid)) as elsewhere:
        elsewhere.answer_for[mental_health] = [forged_task(mental_health, "accepted")]
        stack.west.redirect_reads = f"{elsewhere.url}/Task?identifier={REFERRAL_TASK_SYSTEM}|{mental_health}"

        _, result = await stack.poll()

        assert elsewhere.reads == []
    [poll] = [p for p in result.services if p.service_id == MENTAL_HEALTH]
    [problem] = poll.problems
    assert (poll.recorded, problem.kind, problem.referral_id) == (0, "bad_answer", mental_health)
    assert "redirect" in problem.detail and "not followed" in problem.detail
    assert len(await stack.store.read_stream(case_id)) == before
