"""The bare baseline: a minimal Temporal workflow that takes the same number of Updates and runs the
same number of activities as a Pathway journey, with no store, no codec, no pydantic converter and
no domain logic. It runs on its own worker and task queue, on the same dev server as Pathway.

The first Update starts the workflow (update-with-start, as `StaffCommands.start_case` does); each
Update runs its planned number of no-op activities one after another and answers; the workflow
completes once the last Update has been answered.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker


@dataclass
class BarePlan:
    """How many no-op activities each Update runs, in order (its length is the number of Updates)."""

    activities_per_update: list[int] = field(default_factory=list)


@activity.defn
async def noop(step: int) -> int:
    return step


@workflow.defn
class BareWorkflow:
    @workflow.init
    def __init__(self, plan: BarePlan) -> None:
        self._plan = plan.activities_per_update
        self._answered = 0

    @workflow.run
    async def run(self, plan: BarePlan) -> int:
        await workflow.wait_condition(lambda: self._answered >= len(self._plan) and workflow.all_handlers_finished())
        return self._answered

    @workflow.update
    async def step(self, number: int) -> int:
        for _ in range(self._plan[number] if number < len(self._plan) else 1):
            await workflow.execute_activity(noop, number, start_to_close_timeout=timedelta(seconds=30))
        self._answered += 1
        return number


def bare_worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[BareWorkflow], activities=[noop])


async def start_bare(
    client: Client, task_queue: str, workflow_id: str, plan: BarePlan
) -> WorkflowHandle[BareWorkflow, int]:
    """Start a bare workflow with its first Update (update-with-start); returns its handle."""
    start = WithStartWorkflowOperation(
        BareWorkflow.run,
        plan,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    await client.execute_update_with_start_workflow(BareWorkflow.step, 0, start_workflow_operation=start)
    return await start.workflow_handle()


async def bare_journey(client: Client, task_queue: str, workflow_id: str, plan: Sequence[int]) -> None:
    """The whole plan: start with the first Update, send the rest one by one, wait for completion."""
    handle = await start_bare(client, task_queue, workflow_id, BarePlan(list(plan)))
    for number in range(1, len(plan)):
        await handle.execute_update(BareWorkflow.step, number)
    await handle.result()
