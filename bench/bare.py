"""The floors Pathway is measured against: minimal Temporal workflows that take the same traffic as a
Pathway journey, with no store, no codec, no pydantic converter and no domain logic. They run on
their own worker and task queue, on the same dev server as Pathway.

A journey's shape is counted from its histories (`count_shape`): for each Update, the stretch of
the case's history from its acceptance to the next Update's, by kind of work (activities, search
attribute upserts, timers, signals, child workflows, each child's own history counted the same way).
`ShapedWorkflow` replays a shape: the first Update starts it (update-with-start, as
`StaffCommands.start_case` does); each Update does its stretch's work and answers; the workflow
completes once the last Update has been answered and its children have completed.

Two floors come from one shape:
- the bare floor (`activities_only`): only the Updates and the activities, each Update running its
  stretch's activities and its children's one after another;
- the shape-matched floor: the whole shape, children, timers, upserts and signals included.
"""

import asyncio
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import SearchAttributeKey, WorkflowIDConflictPolicy
from temporalio.worker import Worker

# One of the attributes the benchmarks' dev server registers (bench.support.start_temporal). Not
# imported from workflows/: the sandbox would import our domain afresh for every floor workflow.
STAGE = SearchAttributeKey.for_keyword("LdStage")
CANCELLED_LATER = timedelta(days=1)  # a timer the shape cancels: it must not fire first
FIRES = timedelta(milliseconds=100)


@dataclass
class Work:
    """What one stretch of a workflow's history holds, counted by kind: an Update's stretch, or a
    child workflow's whole history (the children it starts counted in their own histories)."""

    activities: int = 0
    upserts: int = 0
    timers_started: int = 0
    timers_cancelled: int = 0
    timers_fired: int = 0
    signals_sent: int = 0
    signals_received: int = 0
    children: list["Work"] = field(default_factory=list)


COUNTED: dict[int, str] = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activities",
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: "upserts",
    EventType.EVENT_TYPE_TIMER_STARTED: "timers_started",
    EventType.EVENT_TYPE_TIMER_CANCELED: "timers_cancelled",
    EventType.EVENT_TYPE_TIMER_FIRED: "timers_fired",
    EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: "signals_sent",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signals_received",
}
KINDS = list(dict.fromkeys(COUNTED.values()))


@dataclass
class Shape:
    """A journey as its histories show it: its Updates' stretches, and the size of its histories
    (the case's and its children's), which the floors do not try to match."""

    steps: list[Work]
    workflows: int = 1
    events: int = 0
    workflow_tasks: int = 0
    history_bytes: int = 0

    def totals(self) -> Counter[str]:
        return totals(self.steps)

    def describe(self) -> str:
        lines = [f"{len(self.steps)} Updates; per Update:"]
        lines += [f"  {kind:<17} {[getattr(step, kind) for step in self.steps]}" for kind in KINDS]
        children = Counter(describe(child) for step in self.steps for child in step.children)
        lines += [f"  child workflows   {count} x {{{text}}}" for text, count in children.items()]
        lines.append(f"  in all: {dict(self.totals())}; {self.sizes()}")
        return "\n".join(lines)

    def sizes(self) -> str:
        return (
            f"{self.workflows} workflows, {self.events} history events, {self.workflow_tasks} workflow tasks, "
            f"{self.history_bytes / 1024:.0f} KiB of history"
        )


def totals(works: Iterable[Work]) -> Counter[str]:
    """Every kind summed over the works and, recursively, their children (counted as child_workflows)."""
    summed: Counter[str] = Counter()
    for work in works:
        summed.update({kind: getattr(work, kind) for kind in KINDS})
        summed.update(totals(work.children))
        summed["child_workflows"] += len(work.children)
    return summed


def describe(work: Work) -> str:
    return ", ".join(f"{kind} {getattr(work, kind)}" for kind in KINDS if getattr(work, kind))


def activities_only(steps: Sequence[Work]) -> list[Work]:
    """The bare floor of a shape: each Update runs its stretch's activities and its children's."""
    return [Work(activities=totals([step])["activities"]) for step in steps]


async def count_shape(client: Client, workflow_id: str) -> Shape:
    """The shape of a workflow from its history, its children's counted from theirs (each awaited
    to its completion first). Work before the first Update counts with the first."""
    shape = Shape(steps=[Work()])
    accepted = 0
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        shape.events += 1
        shape.history_bytes += event.ByteSize()
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            shape.workflow_tasks += 1
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            accepted += 1
            if accepted > 1:
                shape.steps.append(Work())
        elif kind := COUNTED.get(event.event_type):
            setattr(shape.steps[-1], kind, getattr(shape.steps[-1], kind) + 1)
        elif event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            child_id = event.start_child_workflow_execution_initiated_event_attributes.workflow_id
            await client.get_workflow_handle(child_id).result()
            child = await count_shape(client, child_id)
            [child_work] = child.steps  # a child taking Updates would need a shape of its own
            shape.steps[-1].children.append(child_work)
            shape.workflows += child.workflows
            shape.events += child.events
            shape.workflow_tasks += child.workflow_tasks
            shape.history_bytes += child.history_bytes
    return shape


@activity.defn
async def noop(step: int) -> int:
    return step


class _Timers:
    """A floor workflow's timers: those its shape cancels, and those it lets fire."""

    def __init__(self) -> None:
        self.to_cancel: list[asyncio.Task[None]] = []
        self.firing: list[asyncio.Task[None]] = []

    def start(self, work: Work) -> None:
        for number in range(work.timers_started):
            fires = number < work.timers_fired
            timer = asyncio.create_task(workflow.sleep(FIRES if fires else CANCELLED_LATER))
            (self.firing if fires else self.to_cancel).append(timer)

    def cancel(self, count: int) -> int:
        """Cancel up to `count` timers, oldest first; returns how many. A timer cancelled in the
        workflow task that started it leaves no event at all, so callers cancel what they started
        only after some other work has taken a workflow task."""
        cancelled = self.to_cancel[:count]
        for timer in cancelled:
            timer.cancel()
        del self.to_cancel[:count]
        return len(cancelled)

    async def all_fired(self) -> None:
        await asyncio.gather(*self.firing)


async def activities_and_upserts(work: Work, step: int) -> None:
    for _ in range(work.activities):
        await workflow.execute_activity(noop, step, start_to_close_timeout=timedelta(seconds=30))
    for number in range(work.upserts):
        workflow.upsert_search_attributes([STAGE.value_set(f"{step}-{number}")])


@workflow.defn
class ShapedChild:
    """A child of the shape-matched floor: its timers started, its work, its signals to the parent;
    then it waits for the parent's signals and cancels its timers."""

    @workflow.init
    def __init__(self, work: Work) -> None:
        self._signals = 0

    @workflow.run
    async def run(self, work: Work) -> None:
        timers = _Timers()
        timers.start(work)
        await activities_and_upserts(work, 0)
        parent = workflow.info().parent
        assert parent is not None, "a shaped child is started by a ShapedWorkflow"
        for _ in range(work.signals_sent):
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(ShapedWorkflow.progress)
        await workflow.wait_condition(lambda: self._signals >= work.signals_received)
        timers.cancel(work.timers_cancelled)
        await timers.all_fired()

    @workflow.signal
    def progress(self) -> None:
        self._signals += 1


@workflow.defn
class ShapedWorkflow:
    """A floor: each Update does its stretch of the shape (running timers cancelled, new ones started,
    activities one after another, upserts, the rest of the cancellations, children started, signals
    to the children in turn) and answers."""

    @workflow.init
    def __init__(self, steps: list[Work]) -> None:
        self._steps = steps
        self._answered = 0
        self._timers = _Timers()
        self._children: list[workflow.ChildWorkflowHandle[ShapedChild, None]] = []

    @workflow.run
    async def run(self, steps: list[Work]) -> int:
        await workflow.wait_condition(lambda: self._answered >= len(self._steps) and workflow.all_handlers_finished())
        await asyncio.gather(*self._children, self._timers.all_fired())
        return self._answered

    @workflow.update
    async def step(self, number: int) -> int:
        work = self._steps[number]
        cancelled = self._timers.cancel(work.timers_cancelled)
        self._timers.start(work)
        await activities_and_upserts(work, number)
        self._timers.cancel(work.timers_cancelled - cancelled)  # those started in this stretch
        for child in work.children:
            child_id = f"{workflow.info().workflow_id}-child-{len(self._children)}"
            self._children.append(await workflow.start_child_workflow(ShapedChild.run, child, id=child_id))
        await asyncio.gather(
            *(self._children[n % len(self._children)].signal(ShapedChild.progress) for n in range(work.signals_sent))
        )
        self._answered += 1
        return number

    @workflow.signal
    def progress(self) -> None:
        """A child's signal: received, as the case receives its referrals' progress; nothing to do."""


def bare_worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[ShapedWorkflow, ShapedChild], activities=[noop])


async def start_floor(
    client: Client, task_queue: str, workflow_id: str, steps: Sequence[Work]
) -> WorkflowHandle[ShapedWorkflow, int]:
    """Start a floor workflow with its first Update (update-with-start); returns its handle."""
    start = WithStartWorkflowOperation(
        ShapedWorkflow.run,
        list(steps),
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    await client.execute_update_with_start_workflow(ShapedWorkflow.step, 0, start_workflow_operation=start)
    return await start.workflow_handle()


async def floor_journey(client: Client, task_queue: str, workflow_id: str, steps: Sequence[Work]) -> None:
    """The whole shape: start with the first Update, send the rest one by one, wait for completion."""
    handle = await start_floor(client, task_queue, workflow_id, steps)
    for number in range(1, len(steps)):
        await handle.execute_update(ShapedWorkflow.step, number)
    await handle.result()
