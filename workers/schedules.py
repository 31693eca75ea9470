"""Pathway's Temporal Schedules (retention, checkpoints) are kept as configuration says, the same way."""

import dataclasses
from typing import Literal

from temporalio.client import Client, Schedule, ScheduleAlreadyRunningError, ScheduleUpdate, ScheduleUpdateInput


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
