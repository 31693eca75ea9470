"""A case's Updates answer with its version, not the whole state (issue 21).

The whole encrypted CaseState in every answer was the largest payload in each history. Now the
history holds `{case_id, version}` per Update, and the service reads the case from the store; a
worker of before, answering with the whole state, is still understood.
"""

import uuid
from typing import Any

from temporalio.api.enums.v1 import EventType

from domain.tasks import TaskKind
from service.staff import StaffCommands
from tests.workflows.journey import JOURNEY, complete, open_case
from workflows.messages import CaseVersion


async def test_each_update_in_the_history_answers_with_the_case_and_its_version_only(cases: StaffCommands) -> None:
    opened = await cases.start_case(open_case(f"ANSWER-{uuid.uuid4().hex[:8]}"))
    state = await complete(cases, opened, TaskKind.CONSENT)

    history = await cases.client.get_workflow_handle(state.case_id).fetch_history()
    answers = [
        e.workflow_execution_update_completed_event_attributes.outcome.success.payloads[0]
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
    ]
    decoded: list[Any] = await cases.client.data_converter.decode(answers, [dict] * len(answers))

    assert decoded == [
        {"case_id": state.case_id, "version": opened.version},
        {"case_id": state.case_id, "version": state.version},
    ]
    # What the service gave back is the case as the store holds it after the command.
    assert state == await cases.opened(await cases.store.current_state(state.case_id), state.case_id)


async def test_a_whole_state_answered_by_a_worker_of_before_parses_as_the_version(cases: StaffCommands) -> None:
    state = await cases.start_case(open_case(f"ANSWER-{uuid.uuid4().hex[:8]}"))
    converter = cases.client.data_converter

    [old_answer] = await converter.encode([state])
    [understood] = await converter.decode([old_answer], [CaseVersion])

    assert understood == CaseVersion(case_id=state.case_id, version=state.version)


async def test_every_command_of_the_journey_answers_in_the_workflow_task_after_its_append(
    cases: StaffCommands,
) -> None:
    """The referral decision and closure were the slowest commands: each waited a workflow task more,
    for the server to confirm the referral's workflow had started (or, at closure, had been told to
    stop chasing)."""
    state = await cases.start_case(open_case(f"ANSWER-{uuid.uuid4().hex[:8]}"))
    for kind in JOURNEY:
        state = await complete(cases, state, kind)
    handle = cases.client.get_workflow_handle(state.case_id)
    await handle.result()

    accepted_at: dict[str, int] = {}
    tasks_taken: dict[str, int] = {}
    events = list((await handle.fetch_history()).events)
    for at, e in enumerate(events):
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            accepted_at[e.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id] = at
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            update_id = e.workflow_execution_update_completed_event_attributes.meta.update_id
            between = events[accepted_at[update_id] : at]
            tasks_taken[update_id] = sum(
                1 for b in between if b.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
            )
    assert len(tasks_taken) == 1 + len(JOURNEY)
    assert set(tasks_taken.values()) == {1}, tasks_taken
