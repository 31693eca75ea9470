"""Helpers shared by the workflow tests: runs of a workflow id, and checks of a case's stored stream."""

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from domain.state import CaseState, fold
from service.staff import StaffCommands
from workflows.search_attributes import ALL_KEYS, desired

# How long one skip may take in real time. The SDK's RPC default (30 s) is too short on a busy
# machine: a skip fires every timer it passes and waits for the work they start (workflow tasks, sends
# to the test mail server) before it answers.
SKIP_DEADLINE = timedelta(minutes=5)


async def until_closed(client: Client, workflow_id: str, deadline: timedelta = SKIP_DEADLINE) -> None:
    """Wait in real time, time skipping still locked, until `workflow_id` has closed. Before a skip,
    so that a workflow ending on a signal has committed the task that cancels its timers: the
    time-skipping server refuses a task that cancels a timer which fired while the task was with the
    worker (temporalio/sdk-java#3088), and the run is then stranded. (`result()` would unlock time
    skipping while it waits, and so invite that very race.)"""
    handle = client.get_workflow_handle(workflow_id)
    async with asyncio.timeout(deadline.total_seconds()):
        while (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
            await asyncio.sleep(0.05)


async def skip(env: WorkflowEnvironment, duration: timedelta) -> None:
    """`env.sleep(duration)` on the time-skipping server, with room to work under load."""
    request = SleepRequest()
    request.duration.FromTimedelta(duration)
    await env.client.test_service.unlock_time_skipping_with_sleep(request, timeout=SKIP_DEADLINE)


@dataclass(frozen=True)
class Run:
    run_id: str
    history: WorkflowHistory

    @property
    def last_event_type(self) -> EventType.ValueType:
        return self.history.events[-1].event_type

    def count(self, event_type: EventType.ValueType) -> int:
        return sum(1 for e in self.history.events if e.event_type == event_type)


async def runs_of(client: Client, workflow_id: str) -> list[Run]:
    """Every run of `workflow_id`, first to last, following each run's continued_execution_run_id back."""
    latest = await client.get_workflow_handle(workflow_id).describe()
    runs: list[Run] = []
    run_id = latest.run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append(Run(run_id, history))
        started = history.events[0]
        assert started.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
        run_id = started.workflow_execution_started_event_attributes.continued_execution_run_id
    runs.reverse()
    return runs


async def assert_stream_is_sound(cases: StaffCommands, case_id: str, state: CaseState) -> None:
    """The stored stream is gapless, unique, chained, projected, and folds to `state` (as its readers
    see it, personal fields opened, as the service answered)."""
    store = cases.store
    stored = await store.read_stream(case_id)
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    assert len({e.event_id for e in stored}) == len(stored), "an event id was recorded twice"
    chain = await store.verify_chain(case_id)
    assert chain.ok, chain
    assert await store.projection_differences(case_id) == []
    assert await cases.opened(fold(case_id, stored), case_id) == state
    assert state.version == len(stored)


async def assert_search_attributes_match(client: Client, state: CaseState) -> None:
    """The latest run's search attributes say what the case's state says they should."""
    description = await client.get_workflow_handle(state.case_id).describe()
    ours = {key.name for key in ALL_KEYS}  # not the server's own, such as BuildIds
    actual = {key.name: _comparable(value) for key, value in description.typed_search_attributes if key.name in ours}
    wanted = {name: _comparable(value) for name, value in desired(state).items() if value is not None}
    assert actual == wanted, (actual, wanted)


def _comparable(value: object) -> object:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, tuple):
        return list(value)
    return value
