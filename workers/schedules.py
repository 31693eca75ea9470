"""Pathway's Temporal Schedules (retention, checkpoints, the FHIR poll) are kept as configuration
says, the same way."""

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.types import MethodAsyncSingleParam


@dataclass(frozen=True)
class IntervalJob:
    """A workflow a schedule starts every `every`, with what the Temporal UI shows of it."""

    workflow: MethodAsyncSingleParam[Any, Any, Any]  # its run method
    input: Any
    every: timedelta
    summary: str
    details: str
    note: str


def interval_schedule(job: IntervalJob, schedule_id: str, task_queue: str) -> Schedule:
    """A schedule for a job that does the whole of its work as things are when it runs (a checkpoint
    signs every head as it is, a poll reads every Task as it is): a run still going when the next is
    due is left to finish, and after the server was down one run catches up, since more would add
    nothing."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            job.workflow,
            job.input,
            id=schedule_id,  # the schedule adds the time of each run
            task_queue=task_queue,
            static_summary=job.summary,
            static_details=job.details,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=job.every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=job.every),
        state=ScheduleState(note=job.note),
    )


async def ensure_schedule(client: Client, schedule_id: str, wanted: Schedule) -> Literal["created", "updated"]:
    """Create the schedule, or bring an existing one in line with `wanted` (its action, times and
    policy). Its state is the operator's: a pause, and the note saying why, are kept."""
    try:
        await client.create_schedule(schedule_id, wanted)
        return "created"
    except ScheduleAlreadyRunningError:

        def keep_state(current: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=dataclasses.replace(wanted, state=current.description.schedule.state))

        await client.get_schedule_handle(schedule_id).update(keep_state)
        return "updated"
