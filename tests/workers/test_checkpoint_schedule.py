"""The checkpoint schedule on the real dev server: created every `[checkpoints] every_minutes` (hourly
by default), starting CheckpointWorkflow on the task queue, and kept in line with the configuration
without undoing an operator's pause. (tests/security/test_checkpoints_anchor_the_chain.py triggers
one and follows the checkpoint it makes.)"""

import uuid
from datetime import timedelta

from temporalio.client import ScheduleActionStartWorkflow, ScheduleHandle, ScheduleOverlapPolicy
from temporalio.testing import WorkflowEnvironment

from domain.config import CheckpointsConfig
from workers.checkpoint_schedule import CHECKPOINT_SCHEDULE_ID, ensure_checkpoint_schedule
from workers.settings import SHIPPED_CONFIG, load_config
from workflows.messages import CheckpointInput


async def interval_of(handle: ScheduleHandle) -> timedelta:
    [interval] = (await handle.describe()).schedule.spec.intervals
    return interval.every


async def test_the_schedule_runs_as_configured_and_keeps_an_operators_pause(temporal_env: WorkflowEnvironment) -> None:
    client = temporal_env.client
    task_queue, schedule_id = f"checkpoints-{uuid.uuid4()}", f"{CHECKPOINT_SCHEDULE_ID}-{uuid.uuid4()}"
    handle = client.get_schedule_handle(schedule_id)
    assert load_config(SHIPPED_CONFIG).checkpoints.every_minutes == CheckpointsConfig().every_minutes == 60
    assert await ensure_checkpoint_schedule(client, task_queue, CheckpointsConfig(), schedule_id) == "created"
    try:
        described = await handle.describe()
        assert await interval_of(handle) == timedelta(hours=1)
        assert described.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue, action.id) == ("CheckpointWorkflow", task_queue, schedule_id)
        [argument] = await client.data_converter.decode(action.args)
        assert CheckpointInput.model_validate(argument) == CheckpointInput(created_by=schedule_id)
        assert not described.schedule.state.paused
        first, second = described.info.next_action_times[:2]
        assert second - first == timedelta(hours=1)

        # An operator pauses it; a new interval is configured and applied; the pause and its note stay.
        await handle.pause(note="paused while the checkpoint bucket moves")
        changed = CheckpointsConfig(every_minutes=15, email="ig@example.org")
        assert await ensure_checkpoint_schedule(client, task_queue, changed, schedule_id) == "updated"
        described = await handle.describe()
        assert described.schedule.state.paused
        assert described.schedule.state.note == "paused while the checkpoint bucket moves"
        assert await interval_of(handle) == timedelta(minutes=15)
    finally:
        await handle.delete()
