"""CaseWorkflow on a real local Temporal dev server, with the event store on SQLite."""

import asyncio
import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError

from domain.commands import CloseCase
from domain.errors import RuleViolation
from domain.model import Stage
from domain.outcomes import ClosureOutcome, ClosureReason
from domain.sla import add_service_minutes
from domain.state import fold
from domain.tasks import TaskKind
from service.staff import StaffCommands
from store.event_store import EventStore
from tests.workflows.journey import JOURNEY, OUTCOMES, PRACTITIONER, complete, open_case, open_task
from workflows.case_workflow import CaseWorkflow
from workflows.messages import CaseResult


def handle(cases: StaffCommands, case_id: str) -> WorkflowHandle[CaseWorkflow, CaseResult]:
    return cases.client.get_workflow_handle_for(CaseWorkflow.run, case_id)


async def accepted_updates(client: Client, case_id: str) -> int:
    history = await client.get_workflow_handle(case_id).fetch_history()
    return sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)


async def test_a_case_goes_from_identification_to_closure(cases: StaffCommands, sqlite_store: EventStore) -> None:
    state = await cases.start_case(open_case(f"CUST-{uuid.uuid4().hex[:8]}"))
    assert state.stage is Stage.SCREENING
    stages: list[Stage | None] = [state.stage]
    for kind in JOURNEY:
        state = await complete(cases, state, kind)
        stages.append(state.stage)
    assert stages == [
        Stage.SCREENING,
        Stage.SCREENING,
        Stage.ASSESSMENT,
        Stage.INFORMATION_SHARING,
        Stage.REFERRAL,
        Stage.REFERRAL,
        Stage.CLOSED,
    ]
    result = await handle(cases, state.case_id).result()
    assert result.close_reason == "pathway_complete"

    stored = await sqlite_store.read_stream(state.case_id)
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    assert await cases.opened(fold(state.case_id, stored), state.case_id) == state
    assert (await sqlite_store.verify_chain(state.case_id)).ok
    assert await sqlite_store.projection_differences(state.case_id) == []
    types = [e.event.type for e in stored]
    assert types.count("TaskCompleted") == len(JOURNEY)
    assert types[-1] == "CaseClosed"
    assert len(state.referrals) == 1 and len(state.disclosures) == 1


async def test_starting_the_same_referral_twice_returns_the_same_case(
    cases: StaffCommands, sqlite_store: EventStore
) -> None:
    ref = f"CUST-{uuid.uuid4().hex[:8]}"
    first = await cases.start_case(open_case(ref))
    second = await cases.start_case(open_case(ref))
    assert second.case_id == first.case_id
    assert second.version == first.version
    opened = [e for e in await sqlite_store.read_stream(first.case_id) if e.event.type == "CaseOpened"]
    assert len(opened) == 1
    assert ref not in first.case_id

    state = first
    for kind in JOURNEY:
        state = await complete(cases, state, kind)
    again = await cases.start_case(open_case(ref))
    assert again.case_id == first.case_id and again.stage is Stage.CLOSED


async def test_the_case_is_listed_by_its_search_attributes(cases: StaffCommands) -> None:
    state = await cases.start_case(open_case(f"CUST-{uuid.uuid4().hex[:8]}"))
    query = f"WorkflowId = '{state.case_id}' AND LdStage = 'screening' AND LdSite = 'demo' AND LdOverdue = false"
    # Visibility is eventually consistent: the upsert is in the history before the list shows it.
    async with asyncio.timeout(20):
        while (found := [w.id async for w in cases.client.list_workflows(query)]) != [state.case_id]:
            await asyncio.sleep(0.2)
    assert found == [state.case_id]
    description = await handle(cases, state.case_id).describe()
    attributes = {key.name: value for key, value in description.typed_search_attributes}
    assert attributes["LdSetting"] == "custody"
    assert attributes["LdNextDue"] == state.next_due


async def rejected(cases: StaffCommands, case_id: str, rule: str, call: object) -> None:
    """The command is refused with `rule`, and neither the store nor the history records anything."""
    events_before = len(await cases.store.read_stream(case_id))
    accepted_before = await accepted_updates(cases.client, case_id)
    with pytest.raises(RuleViolation) as refusal:
        await call  # type: ignore[misc]
    assert refusal.value.rule == rule, refusal.value.message
    assert len(await cases.store.read_stream(case_id)) == events_before
    assert await accepted_updates(cases.client, case_id) == accepted_before


async def test_bad_commands_are_refused_and_leave_no_trace(cases: StaffCommands) -> None:
    state = await cases.start_case(open_case(f"CUST-{uuid.uuid4().hex[:8]}"))
    consent_task = open_task(state, TaskKind.CONSENT)

    # A screening outcome sent to the consent task: screening before consent.
    await rejected(
        cases,
        state.case_id,
        "outcome_invalid",
        cases.complete_task(consent_task, OUTCOMES[TaskKind.SCREENING], PRACTITIONER),
    )
    unknown_field = {**OUTCOMES[TaskKind.CONSENT], "shoe_size": 9}
    await rejected(
        cases, state.case_id, "outcome_invalid", cases.complete_task(consent_task, unknown_field, PRACTITIONER)
    )
    wrong_type = {"decision": "given", "scope": "everything"}
    await rejected(cases, state.case_id, "outcome_invalid", cases.complete_task(consent_task, wrong_type, PRACTITIONER))
    link_worker = cases.actor("lw-001")
    await rejected(
        cases,
        state.case_id,
        "role_not_allowed",
        cases.complete_task(consent_task, OUTCOMES[TaskKind.CONSENT], link_worker),
    )

    state = await complete(cases, state, TaskKind.CONSENT)
    # The consent task is done: completing it again is refused.
    await rejected(
        cases,
        state.case_id,
        "task_not_open",
        cases.complete_task(consent_task, OUTCOMES[TaskKind.CONSENT], PRACTITIONER),
    )
    with pytest.raises(RuleViolation) as unknown:
        await cases.complete_task("no-such-task", OUTCOMES[TaskKind.CONSENT], PRACTITIONER)
    assert unknown.value.rule == "task_unknown"

    state = await complete(cases, state, TaskKind.SCREENING)
    assessment_task = open_task(state, TaskKind.ASSESSMENT)
    closed = await cases.close_case(
        state.case_id,
        CloseCase(actor=PRACTITIONER, outcome=ClosureOutcome(reason=ClosureReason.RELEASED_BEFORE_CONTACT)),
    )
    assert closed.stage is Stage.CLOSED
    # An assessment on a closed case.
    await rejected(
        cases,
        state.case_id,
        "case_not_open",
        cases.complete_task(assessment_task, OUTCOMES[TaskKind.ASSESSMENT], PRACTITIONER),
    )


async def test_a_command_with_unknown_fields_is_refused_before_the_history(cases: StaffCommands) -> None:
    state = await cases.start_case(open_case(f"CUST-{uuid.uuid4().hex[:8]}"))
    raw = cases.client.get_workflow_handle(state.case_id)
    command = {
        "actor": {"staff_id": "pr-001", "role": "practitioner"},
        "task_id": open_task(state, TaskKind.CONSENT),
        "outcome": OUTCOMES[TaskKind.CONSENT],
        "also_delete_everything": True,
    }
    accepted_before = await accepted_updates(cases.client, state.case_id)
    with pytest.raises(WorkflowUpdateFailedError) as refusal:
        await raw.execute_update("complete_task", command)
    assert "Failed decoding arguments" in str(refusal.value.cause), refusal.value.cause
    assert await accepted_updates(cases.client, state.case_id) == accepted_before
    assert len(await cases.store.read_stream(state.case_id)) == state.version


async def test_due_times_count_only_the_sites_operating_hours(cases: StaffCommands) -> None:
    # Site "north" is staffed 08:00-20:00 London time: the workflow computes due times in the sandbox
    # with the site's time zone, e.g. an alert at 19:30 is due at 09:30 the next morning.
    state = await cases.start_case(open_case(f"CUST-{uuid.uuid4().hex[:8]}", site="north"))
    north = cases.config.site("north")
    assert state.opened_at is not None
    consent = state.tasks[open_task(state, TaskKind.CONSENT)]
    assert consent.due_at == add_service_minutes(north.operating_hours, state.opened_at, 120)
