"""The Temporal Schedule that makes a checkpoint every `[checkpoints] every_minutes`, kept as
configuration says (workers/schedules.py keeps an operator's pause)."""

from datetime import timedelta
from typing import Literal

from temporalio.client import Client, Schedule

from domain.config import CheckpointsConfig
from workers.schedules import IntervalJob, ensure_schedule, interval_schedule
from workflows.checkpoint_workflow import CheckpointWorkflow
from workflows.messages import CheckpointInput

CHECKPOINT_SCHEDULE_ID = "pathway-checkpoints"


def checkpoint_schedule(
    task_queue: str, config: CheckpointsConfig, schedule_id: str = CHECKPOINT_SCHEDULE_ID
) -> Schedule:
    job = IntervalJob(
        workflow=CheckpointWorkflow.run,
        # The signed document names the schedule as its maker.
        input=CheckpointInput(created_by=schedule_id),
        every=timedelta(minutes=config.every_minutes),
        summary="Checkpoint of the event store",
        details="Signs the head of every stream and access log, and delivers the signed checkpoint "
        "outside the database: a file in the checkpoint directory and an email to the auditors.",
        note="Pathway checkpoints, delivered outside the database (see [checkpoints])",
    )
    return interval_schedule(job, schedule_id, task_queue)


async def ensure_checkpoint_schedule(
    client: Client, task_queue: str, config: CheckpointsConfig, schedule_id: str = CHECKPOINT_SCHEDULE_ID
) -> Literal["created", "updated"]:
    """Create the schedule, or bring an existing one in line with the configuration. An operator's
    pause (and its note) is kept."""
    return await ensure_schedule(client, schedule_id, checkpoint_schedule(task_queue, config, schedule_id))
