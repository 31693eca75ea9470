"""The daily retention schedule on the real dev server: created as configured, kept in line with the
configuration without undoing an operator's pause, and running RetentionWorkflow on the worker."""

import asyncio
import uuid
from datetime import time

from temporalio.client import (
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
)
from temporalio.testing import WorkflowEnvironment

from domain.commands import CloseCase
from domain.config import RetentionConfig
from domain.outcomes import ClosureOutcome
from domain.timeline import UK
from service.staff import StaffCommands
from tests.workflows.journey import PRACTITIONER, open_case
from workers.retention_schedule import ensure_retention_schedule
from workflows.messages import RetentionInput, RetentionReport
from workflows.retention_workflow import RetentionWorkflow


async def test_the_schedule_is_kept_as_configured_and_runs_retention(
    temporal_env: WorkflowEnvironment, cases: StaffCommands
) -> None:
    client = temporal_env.client
    schedule_id = f"retention-{uuid.uuid4()}"
    handle = client.get_schedule_handle(schedule_id)
    assert await ensure_retention_schedule(client, cases.task_queue, RetentionConfig(), schedule_id) == "created"
    try:
        described = await handle.describe()
        spec, action = described.schedule.spec, described.schedule.action
        assert spec.time_zone_name == "Europe/London"
        [calendar] = spec.calendars
        assert [(r.start, r.end) for r in calendar.hour] == [(2, 2)]
        assert [(r.start, r.end) for r in calendar.minute] == [(30, 30)]
        assert described.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.workflow == "RetentionWorkflow" and action.task_queue == cases.task_queue
        [argument] = await client.data_converter.decode(action.args)
        assert RetentionInput.model_validate(argument) == RetentionInput(report_only=False)
        next_run = described.info.next_action_times[0].astimezone(UK)
        assert (next_run.hour, next_run.minute) == (2, 30)

        # An operator pauses it; a new configuration is applied; the pause and its note stay.
        await handle.pause(note="paused for an IG review")
        changed = RetentionConfig(run_at=time(3, 15), report_only=True)
        assert await ensure_retention_schedule(client, cases.task_queue, changed, schedule_id) == "updated"
        described = await handle.describe()
        assert described.schedule.state.paused and described.schedule.state.note == "paused for an IG review"
        [calendar] = described.schedule.spec.calendars
        assert [(r.start, r.end) for r in calendar.hour] == [(3, 3)]
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        [argument] = await client.data_converter.decode(action.args)
        assert RetentionInput.model_validate(argument).report_only

        # Run now: the worker runs the retention workflow and reports the one closed record it saw.
        state = await cases.start_case(open_case(f"CUST-{uuid.uuid4().hex[:6]}"))
        await cases.close_case(
            state.case_id, CloseCase(actor=PRACTITIONER, outcome=ClosureOutcome(reason="pathway_complete"))
        )
        await handle.unpause()
        await handle.trigger()
        async with asyncio.timeout(30):
            while not (recent := (await handle.describe()).info.recent_actions):
                await asyncio.sleep(0.2)
        started = recent[0].action
        assert isinstance(started, ScheduleActionExecutionStartWorkflow)
        run = client.get_workflow_handle_for(RetentionWorkflow.run, started.workflow_id)
        report = RetentionReport.model_validate(await run.result())
        assert report.report_only and report.examined == 1 and report.expired == [] and report.shredded == []
    finally:
        await handle.delete()
