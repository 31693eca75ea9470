"""The Temporal Schedule that starts a retention run every day, kept as configuration says."""

from datetime import timedelta
from typing import Literal

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
)

from domain.config import RetentionConfig
from workers.schedules import ensure_schedule
from workflows.messages import RetentionInput
from workflows.retention_workflow import RetentionWorkflow

RETENTION_SCHEDULE_ID = "pathway-retention"


def retention_schedule(task_queue: str, config: RetentionConfig) -> Schedule:
    run_at = config.run_at
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RetentionWorkflow.run,
            RetentionInput(report_only=config.report_only),
            id=RETENTION_SCHEDULE_ID,  # the schedule adds the time of each run
            task_queue=task_queue,
            static_summary="Retention run" + (" (report only)" if config.report_only else ""),
            static_details="Shreds the personal data of closed records whose retention period has ended.",
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    hour=[ScheduleRange(run_at.hour)],
                    minute=[ScheduleRange(run_at.minute)],
                    second=[ScheduleRange(run_at.second)],
                )
            ],
            time_zone_name=config.timezone,
        ),
        # A run still going when the next is due is left to finish; a day missed while the server
        # was down is caught up once.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
        state=ScheduleState(note="Pathway retention (NHS Records Management Code periods, see [retention])"),
    )


async def ensure_retention_schedule(
    client: Client, task_queue: str, config: RetentionConfig, schedule_id: str = RETENTION_SCHEDULE_ID
) -> Literal["created", "updated"]:
    """Create the schedule, or bring an existing one in line with the configuration. An operator's
    pause (and its note) is kept."""
    return await ensure_schedule(client, schedule_id, retention_schedule(task_queue, config))
