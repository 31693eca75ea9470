"""The FHIR poll schedule on the real dev server: created every `[fhir_poll] every_minutes` (15 by
default, 2 in the shipped demo configuration), starting FhirTaskPollWorkflow on the task queue, kept
in line with the configuration without undoing an operator's pause, and made by `setup_temporal` as
`pathway setup` and `pathway dev` run it. (tests/workers/test_fhir_task_poll.py runs polls.)"""

import uuid
from datetime import timedelta

from temporalio.client import ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.testing import WorkflowEnvironment

from activities.fhir_task_poll import FhirPollInput
from domain.config import FhirPollConfig
from tests.workers.test_checkpoint_schedule import interval_of
from workers.fhir_poll_schedule import FHIR_POLL_SCHEDULE_ID, ensure_fhir_poll_schedule
from workers.settings import SHIPPED_CONFIG, load_config


def test_the_default_and_the_demo_interval() -> None:
    assert FhirPollConfig().every_minutes == 15
    assert load_config(SHIPPED_CONFIG).fhir_poll.every_minutes == 2


async def test_the_schedule_polls_as_configured_and_keeps_an_operators_pause(temporal_env: WorkflowEnvironment) -> None:
    client = temporal_env.client
    task_queue, schedule_id = f"fhir-poll-{uuid.uuid4()}", f"{FHIR_POLL_SCHEDULE_ID}-{uuid.uuid4()}"
    handle = client.get_schedule_handle(schedule_id)
    assert await ensure_fhir_poll_schedule(client, task_queue, FhirPollConfig(), schedule_id) == "created"
    try:
        described = await handle.describe()
        assert await interval_of(handle) == timedelta(minutes=15)
        assert described.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue, action.id) == ("FhirTaskPollWorkflow", task_queue, schedule_id)
        [argument] = await client.data_converter.decode(action.args)
        assert FhirPollInput.model_validate(argument) == FhirPollInput(started_by=schedule_id)
        assert not described.schedule.state.paused

        await handle.pause(note="paused while the housing system is migrated")
        assert await ensure_fhir_poll_schedule(client, task_queue, FhirPollConfig(every_minutes=5), schedule_id) == (
            "updated"
        )
        described = await handle.describe()
        assert described.schedule.state.paused
        assert described.schedule.state.note == "paused while the housing system is migrated"
        assert await interval_of(handle) == timedelta(minutes=5)
    finally:
        await handle.delete()
