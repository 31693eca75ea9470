"""The Temporal Schedule that makes a checkpoint every `[checkpoints] every_minutes`, kept as
configuration says (workers/schedules.py keeps an operator's pause)."""

from datetime import timedelta
from typing import Literal

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)

from domain.config import CheckpointsConfig
from workers.schedules import ensure_schedule
from workflows.checkpoint_workflow import CheckpointWorkflow
from workflows.messages import CheckpointInput

CHECKPOINT_SCHEDULE_ID = "pathway-checkpoints"


def checkpoint_schedule(
    task_queue: str, config: CheckpointsConfig, schedule_id: str = CHECKPOINT_SCHEDULE_ID
) -> Schedule:
    every = timedelta(minutes=config.every_minutes)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            CheckpointWorkflow.run,
            # The signed document names the schedule as its maker.
            CheckpointInput(created_by=schedule_id),
            id=schedule_id,  # the schedule adds the time of each run
            task_queue=task_queue,
            static_summary="Checkpoint of the event store",
            static_details="Signs the head of every stream and access log, and delivers the signed checkpoint "
            "outside the database: a file in the checkpoint directory and an email to the auditors.",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # A run still going when the next is due is left to finish. After the server was down, one
        # checkpoint catches up: a single one signs every head as it is now, so more would add nothing.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=every),
        state=ScheduleState(note="Pathway checkpoints, delivered outside the database (see [checkpoints])"),
    )


async def ensure_checkpoint_schedule(
    client: Client, task_queue: str, config: CheckpointsConfig, schedule_id: str = CHECKPOINT_SCHEDULE_ID
) -> Literal["created", "updated"]:
    """Create the schedule, or bring an existing one in line with the configuration. An operator's
    pause (and its note) is kept."""
    return await ensure_schedule(client, schedule_id, checkpoint_schedule(task_queue, config, schedule_id))
