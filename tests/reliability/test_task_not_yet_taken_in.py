"""A task the store already holds is never called unknown (issue 16).

An append can commit while the workflow has not yet taken in its result: the worker that ran it is
killed before it reports back, and the workflow learns of the new events only when that attempt times
out and is retried. Before, a command for a task opened by that append was refused `task_unknown`
for as long as that took. Now the service tries again for a few seconds, then answers "try again in
a moment" (503 with Retry-After), and the command succeeds once the workflow has caught up.

The killed worker is played by an append activity that commits and then never reports back (until
the test lets it go at the end): from Temporal's side, what a SIGKILL just after the commit leaves.
"""

import asyncio
import uuid

import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

import workers.worker
from activities.store_activities import AppendEventsInput, AppendEventsResult, StoreActivities
from api.app import create_app
from domain.model import Role
from domain.tasks import TaskKind
from store.event_store import EventStore
from tests.api.conftest import api_client, services_for, token
from tests.conftest import case_commands, worker_for
from tests.reliability.support import assert_stream_whole
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task

# The retried append (after the dead attempt's start-to-close timeout) brings the workflow up to date.
CATCH_UP_SECONDS = 60


async def test_a_task_the_store_holds_is_try_again_never_unknown(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed, let_go = asyncio.Event(), asyncio.Event()

    class KilledAfterCommit(StoreActivities):
        """The worker's append, which dies (never reports back) after its first commit of a completion."""

        armed = True

        @activity.defn(name="append_events")
        async def append_events(self, input: AppendEventsInput) -> AppendEventsResult:
            result = await super().append_events(input)
            if KilledAfterCommit.armed and any(e.event.type == "TaskCompleted" for e in input.events):
                KilledAfterCommit.armed = False
                committed.set()
                await let_go.wait()
            return result

    monkeypatch.setattr(workers.worker, "StoreActivities", KilledAfterCommit)
    task_queue = f"catching-up-{uuid.uuid4()}"
    cases = case_commands(temporal_env, sqlite_store, task_queue)
    async with (
        worker_for(temporal_env.client, sqlite_store, task_queue),
        api_client(create_app(services_for(cases))) as api,
    ):
        state = await cases.start_case(open_case(f"CATCH/{uuid.uuid4().hex[:8]}"))
        consent = open_task(state, TaskKind.CONSENT)
        consenting = asyncio.create_task(cases.complete_task(consent, OUTCOMES[TaskKind.CONSENT], PRACTITIONER))
        await asyncio.wait_for(committed.wait(), 30)
        # The store has the screening task (the append committed); the workflow does not, yet.
        [screening] = [t for t in await cases.store.list_tasks(case_id=state.case_id) if t.kind == "screening"]
        assert not consenting.done()

        outcome = {"outcome": OUTCOMES[TaskKind.SCREENING]}
        headers = token("pr-001", Role.PRACTITIONER)
        answer = await api.post(f"/api/tasks/{screening.task_id}/complete", json=outcome, headers=headers)
        assert answer.status_code == 503 and answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["rule"] == "case_catching_up" and answer.headers["retry-after"] == "5"
        assert "try again in a moment" in answer.json()["detail"]

        # The user tries again, as told, until the case has caught up: never "unknown" on the way.
        async with asyncio.timeout(CATCH_UP_SECONDS):
            while answer.status_code == 503:
                await asyncio.sleep(1)
                answer = await api.post(f"/api/tasks/{screening.task_id}/complete", json=outcome, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["stage"] == "assessment"
        await asyncio.wait_for(consenting, 10)
        let_go.set()
    await assert_stream_whole(sqlite_store, state.case_id, task_completions=2, closed=False)
