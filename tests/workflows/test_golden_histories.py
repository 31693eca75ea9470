"""Golden Temporal histories: recorded from real runs, replayed against the current workflow code.

A change to a workflow that is not replay-safe makes the replay fail here, before it can break the
cases running in production. To record the histories again (after a deliberate, versioned change):

    PATHWAY_RECORD_HISTORIES=1 .venv/bin/pytest tests/workflows/test_golden_histories.py

Without the variable the recording test still runs its journey and replays it, but writes nothing.
"""

import os
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from domain.commands import CloseCase, LinkPerson, UnlinkPerson
from domain.errors import RuleViolation
from domain.model import Person, Stage
from domain.outcomes import ClosureOutcome
from domain.tasks import TaskKind
from service.staff import StaffCommands
from tests.conftest import TEST_PAYLOAD_KEYS
from tests.workflows.altered_workflows import CaseWorkflowWithExtraTimer
from tests.workflows.journey import JOURNEY, OUTCOMES, PRACTITIONER, complete, open_case, open_task
from workers.client import data_converter
from workflows.case_workflow import CaseWorkflow
from workflows.registry import WORKFLOWS

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
JOURNEY_HISTORY = HISTORIES / "case_workflow_journey.json"
RECORDING = os.environ.get("PATHWAY_RECORD_HISTORIES") == "1"


def workflow_type(history: WorkflowHistory) -> str:
    started = history.events[0]
    assert started.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    return started.workflow_execution_started_event_attributes.workflow_type.name


def golden_histories() -> list[WorkflowHistory]:
    """Every committed history; the file name (without .json) stands in for the workflow id."""
    return [WorkflowHistory.from_json(path.stem, path.read_text()) for path in sorted(HISTORIES.glob("*.json"))]


def replayer(*workflows: type) -> Replayer:
    return Replayer(workflows=list(workflows), data_converter=data_converter(TEST_PAYLOAD_KEYS))


async def test_the_standard_journey_history(cases: StaffCommands) -> None:
    """Runs the standard journey; writes its history as a golden one when PATHWAY_RECORD_HISTORIES=1."""
    # Fixed, so a re-recording differs from the last only in ids and times. The case id is derived
    # from it with the test key, and each test session runs its own dev server.
    state = await cases.start_case(open_case("GOLDEN-JOURNEY-0001"))
    consent_task = open_task(state, TaskKind.CONSENT)
    with pytest.raises(RuleViolation) as refusal:  # validated away: it leaves nothing in the history
        await cases.complete_task(consent_task, OUTCOMES[TaskKind.SCREENING], PRACTITIONER)
    assert refusal.value.rule == "outcome_invalid"

    state = await complete(cases, state, TaskKind.CONSENT)
    state = await cases.claim_task(open_task(state, TaskKind.SCREENING), PRACTITIONER)
    assert OUTCOMES[TaskKind.SCREENING]["assessment_needed"] is True
    for kind in JOURNEY[1:]:
        state = await complete(cases, state, kind)
    assert state.stage is Stage.CLOSED

    handle = cases.client.get_workflow_handle_for(CaseWorkflow.run, state.case_id)
    assert (await handle.result()).close_reason == "pathway_complete"
    history = await handle.fetch_history()
    types = [e.event_type for e in history.events]
    assert types[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    assert types.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) == 1 + 1 + len(JOURNEY)
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW not in types

    await replayer(CaseWorkflow).replay_workflow(history)
    if RECORDING:
        JOURNEY_HISTORY.parent.mkdir(parents=True, exist_ok=True)
        JOURNEY_HISTORY.write_text(history.to_json() + "\n")


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.__name__)
def test_every_workflow_type_has_a_golden_history(workflow: type) -> None:
    recorded = {workflow_type(history) for history in golden_histories()}
    assert workflow.__name__ in recorded, (
        f"no golden history of {workflow.__name__} in {HISTORIES}: record one with PATHWAY_RECORD_HISTORIES=1"
    )


async def test_the_golden_histories_replay_against_the_current_code() -> None:
    histories = golden_histories()
    assert histories, f"no golden histories in {HISTORIES}"
    current = replayer(*WORKFLOWS)
    failures = {}
    for history in histories:
        result = await current.replay_workflow(history, raise_on_replay_failure=False)
        if result.replay_failure is not None:
            failures[history.workflow_id] = result.replay_failure
    assert failures == {}


async def test_the_golden_history_detects_a_change_that_is_not_replay_safe() -> None:
    histories = [h for h in golden_histories() if workflow_type(h) == "CaseWorkflow"]
    assert histories, f"no golden history of CaseWorkflow in {HISTORIES}"
    for history in histories:
        result = await replayer(CaseWorkflowWithExtraTimer).replay_workflow(history, raise_on_replay_failure=False)
        failure = result.replay_failure
        assert isinstance(failure, NondeterminismError), (history.workflow_id, failure)
        assert "Timer machine does not handle this event" in str(failure), failure


async def test_a_person_seen_before_history(cases: StaffCommands) -> None:
    """An episode whose name and date of birth suggest a person seen before: the match task
    confirmed, the link undone and made again by hand; then closed. Written as
    case_workflow_person_links.json when PATHWAY_RECORD_HISTORIES=1."""
    who = Person(name="Golden Example", date_of_birth="1970-01-02")
    seen = await cases.start_case(open_case("GOLDEN-PERSON-0001").model_copy(update={"person": who}))
    state = await cases.start_case(open_case("GOLDEN-PERSON-0002").model_copy(update={"person": who}))
    assert seen.person_id is not None
    confirmed = {"same_person_as": seen.person_id, "note": "same custody photograph"}
    state = await cases.complete_task(open_task(state, TaskKind.PERSON_MATCH), confirmed, PRACTITIONER)
    state = await cases.change(state.case_id, UnlinkPerson(actor=PRACTITIONER, reason="a cousin of the same name"))
    relinked = LinkPerson(actor=PRACTITIONER, person_id=seen.person_id, basis="confirmed with his mother")
    state = await cases.change(state.case_id, relinked)
    assert state.person_id == seen.person_id
    closing = ClosureOutcome.model_validate({"reason": "record_made_in_error"})
    await cases.close_case(state.case_id, CloseCase(actor=PRACTITIONER, outcome=closing))

    handle = cases.client.get_workflow_handle_for(CaseWorkflow.run, state.case_id)
    await handle.result()
    history = await handle.fetch_history()
    await replayer(CaseWorkflow).replay_workflow(history)
    if RECORDING:
        (HISTORIES / "case_workflow_person_links.json").write_text(history.to_json() + "\n")
