"""A command whose workflow task failed before the workflow took it is tried again, never a 500.

A workflow task that carries an Update can fail in two ways, and either way the server drops the
Update with "workflow not ready" (FAILED_PRECONDITION): nothing was accepted or recorded.
- The server refuses the worker's completion of the task ("unexpected workflow task failure"): in
  CI, a property test's share_information met this under load (the server's update registry no
  longer knew the Update the worker accepted; its own message calls that transient). It is played
  here by a completion the server must refuse: an upsert of a search attribute nobody registered.
- The worker fails the task: it stalled past the SDK's deadlock timeout (2 s without yielding), or
  raised. The server tries the task again itself; when it fails again and again, the server holds
  the Update for a while (about 20 s on the dev server) and then drops it ("Workflow Task in
  failed state").
Now the gateway names it `case_catching_up` and the service sends the command again for a few
seconds, never cutting a try short, then answers "try again in a moment" (503 with Retry-After).

Both are played by a workflow interceptor's update handler, for as many tries as the test arms it:
to the SDK and the server, the same failed workflow tasks as the real thing.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from temporalio import client, worker, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import HandleUpdateInput, WorkflowInboundInterceptor, WorkflowInterceptorClassInput

from api.app import create_app
from domain.model import Role
from domain.tasks import TaskKind
from service.staff import StaffCommands
from store.event_store import EventStore
from tests.api.conftest import api_client, services_for, token
from tests.conftest import case_commands, worker_for
from tests.reliability.support import assert_stream_whole
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task

# A search attribute no server has registered: a completion that upserts it is refused.
UNREGISTERED = SearchAttributeKey.for_keyword("PathwayNeverRegistered")


@dataclass
class FailingWorkflowTasks(client.Interceptor, worker.Interceptor):
    """Fails the workflow task that carries each of the next `failures` Updates named `update`, by
    the server's refusal or the worker's own failure (on a client, so the worker the client polls
    with runs it: production's worker is built unchanged)."""

    update: str
    failures: int
    failed_by: Literal["server", "worker"] = "server"

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        armed = self

        class StallingInbound(WorkflowInboundInterceptor):
            async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
                if input.update == armed.update and armed.failures > 0:
                    armed.failures -= 1
                    if armed.failed_by == "worker":
                        raise RuntimeError("the worker stalled past its deadlock timeout")
                    workflow.upsert_search_attributes([UNREGISTERED.value_set("refused")])
                return await super().handle_update_handler(input)

        return StallingInbound


@asynccontextmanager
async def stalling_worker(
    env: WorkflowEnvironment, store: EventStore, failing: FailingWorkflowTasks
) -> AsyncIterator[StaffCommands]:
    """Staff against a worker as production builds it, with `failing` in its workflows."""
    task_queue = f"stalling-{uuid.uuid4()}"
    config = env.client.config()
    config["interceptors"] = [failing]
    stalling = client.Client(**config)
    async with worker_for(stalling, store, task_queue):
        yield case_commands(env, store, task_queue)


async def history_counts(cases: StaffCommands, case_id: str) -> tuple[int, int]:
    """Failed workflow tasks and accepted Updates in the case's history."""
    events = [e.event_type for e in (await cases.client.get_workflow_handle(case_id).fetch_history()).events]
    return (
        events.count(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED),
        events.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
    )


async def test_a_command_whose_workflow_task_failed_is_taken_on_the_next_try(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore
) -> None:
    failing = FailingWorkflowTasks("complete_task", failures=1)
    async with stalling_worker(temporal_env, sqlite_store, failing) as cases:
        state = await cases.start_case(open_case(f"STALL/{uuid.uuid4().hex[:8]}"))
        consent = open_task(state, TaskKind.CONSENT)

        answer = await cases.complete_task(consent, OUTCOMES[TaskKind.CONSENT], PRACTITIONER)

        assert failing.failures == 0  # the first try's workflow task did fail
        assert answer.stage == "screening" and answer.version > state.version
        failed, accepted = await history_counts(cases, state.case_id)
        assert failed >= 1 and accepted == 2  # open_case, and complete_task once
    await assert_stream_whole(sqlite_store, state.case_id, task_completions=1, closed=False)


async def test_a_case_opened_while_its_first_workflow_task_fails_is_opened_once(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore
) -> None:
    failing = FailingWorkflowTasks("open_case", failures=1)
    async with stalling_worker(temporal_env, sqlite_store, failing) as cases:
        state = await cases.start_case(open_case(f"STALL/{uuid.uuid4().hex[:8]}"))

        assert failing.failures == 0
        assert state.is_open and open_task(state, TaskKind.CONSENT)
        failed, accepted = await history_counts(cases, state.case_id)
        assert failed >= 1 and accepted == 1
    await assert_stream_whole(sqlite_store, state.case_id, task_completions=0, closed=False)


@pytest.mark.parametrize("failed_by", ["server", "worker"])
async def test_a_case_whose_workflow_tasks_keep_failing_answers_try_again_and_records_nothing(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore, failed_by: Literal["server", "worker"]
) -> None:
    failing = FailingWorkflowTasks("complete_task", failures=0, failed_by=failed_by)
    async with (
        stalling_worker(temporal_env, sqlite_store, failing) as cases,
        api_client(create_app(services_for(cases))) as api,
    ):
        state = await cases.start_case(open_case(f"STALL/{uuid.uuid4().hex[:8]}"))
        consent = open_task(state, TaskKind.CONSENT)
        stored = len(await sqlite_store.read_stream(state.case_id))
        failing.failures = 1000  # every try, for as long as the service keeps trying

        outcome = {"outcome": OUTCOMES[TaskKind.CONSENT]}
        headers = token("pr-001", Role.PRACTITIONER)
        answer = await api.post(f"/api/tasks/{consent}/complete", json=outcome, headers=headers)

        assert answer.status_code == 503 and answer.headers["retry-after"] == "5", answer.text
        assert answer.json()["rule"] == "case_catching_up"
        assert "try again in a moment" in answer.json()["detail"]
        assert failing.failures < 1000  # its workflow tasks did fail
        assert len(await sqlite_store.read_stream(state.case_id)) == stored
        assert (await history_counts(cases, state.case_id))[1] == 1  # only open_case was ever accepted

        # The worker recovers; the user tries again, as told, and the change is taken once.
        failing.failures = 0
        answer = await api.post(f"/api/tasks/{consent}/complete", json=outcome, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["stage"] == "screening"
    await assert_stream_whole(sqlite_store, state.case_id, task_completions=1, closed=False)
