"""The Temporal Schedule that polls the FHIR receivers every `[fhir_poll] every_minutes`, kept as
configuration says (workers/schedules.py keeps an operator's pause)."""

from datetime import timedelta
from typing import Literal

from temporalio.client import Client, Schedule

from activities.fhir_task_poll import FhirPollInput
from domain.config import FhirPollConfig
from workers.schedules import IntervalJob, ensure_schedule, interval_schedule
from workflows.fhir_task_poll_workflow import FhirTaskPollWorkflow

FHIR_POLL_SCHEDULE_ID = "pathway-fhir-task-poll"


def fhir_poll_schedule(task_queue: str, config: FhirPollConfig, schedule_id: str = FHIR_POLL_SCHEDULE_ID) -> Schedule:
    job = IntervalJob(
        workflow=FhirTaskPollWorkflow.run,
        input=FhirPollInput(started_by=schedule_id),
        every=timedelta(minutes=config.every_minutes),
        summary="Poll of the FHIR receivers",
        details="Reads the Task each service with delivery = fhir holds for an open referral, and "
        "records what changed on the referral (docs/fhir.md).",
        note="Pathway: status updates from FHIR receivers (see [fhir_poll])",
    )
    return interval_schedule(job, schedule_id, task_queue)


async def ensure_fhir_poll_schedule(
    client: Client, task_queue: str, config: FhirPollConfig, schedule_id: str = FHIR_POLL_SCHEDULE_ID
) -> Literal["created", "updated"]:
    """Create the schedule, or bring an existing one in line with the configuration. An operator's
    pause (and its note) is kept."""
    return await ensure_schedule(client, schedule_id, fhir_poll_schedule(task_queue, config, schedule_id))
