"""FhirTaskPollWorkflow: one poll of the FHIR receivers. A Temporal Schedule starts it every
`[fhir_poll] every_minutes` (workers/fhir_poll_schedule.py).

It lists the referrals worth asking about, then asks each service at once, one activity per service,
so a receiver that is down or slow holds back only its own referrals. What each found, recorded and
could not take in is the run's result; a service whose activity failed outright is named there too,
and asked again at the next poll. The case workflows are the writers of the changes: the activities
send them as commands, so this workflow's history holds only ids, counts and codes."""

import asyncio
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.fhir_task_poll import (
        FhirPollInput,
        FhirTaskPollActivities,
        PollProblem,
        ServicePoll,
        ServiceReferrals,
    )

LIST_TIMEOUT = timedelta(minutes=5)
# Each Task read has a 15 s timeout; a service with many open referrals takes a while.
POLL_TIMEOUT = timedelta(minutes=10)
HEARTBEAT_TIMEOUT = timedelta(minutes=1)
# A few tries for our own side (the store, Temporal); a receiver's trouble is reported, not retried,
# and the next poll is only minutes away.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(seconds=30), maximum_attempts=3)


class FhirPollResult(BaseModel):
    services: list[ServicePoll]


@workflow.defn
class FhirTaskPollWorkflow:
    @workflow.run
    async def run(self, input: FhirPollInput) -> FhirPollResult:
        workflow.set_current_details("listing the referrals delivered by FHIR")
        listed = await workflow.execute_activity_method(
            FhirTaskPollActivities.list_fhir_referrals,
            input,
            start_to_close_timeout=LIST_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RETRY,
            summary="list open referrals delivered by FHIR",
        )
        workflow.set_current_details(f"asking {len(listed.services)} FHIR services for their Tasks")
        polls = await asyncio.gather(*(self._poll(batch) for batch in listed.services))
        recorded = sum(poll.recorded for poll in polls)
        workflow.set_current_details(f"{len(polls)} services asked; {recorded} referral changes recorded")
        return FhirPollResult(services=list(polls))

    async def _poll(self, batch: ServiceReferrals) -> ServicePoll:
        service_id = batch.service.service_id
        try:
            return await workflow.execute_activity_method(
                FhirTaskPollActivities.poll_fhir_service,
                batch,
                start_to_close_timeout=POLL_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=RETRY,
                summary=f"read {len(batch.referrals)} Tasks from {service_id}",
            )
        except ActivityError as failure:
            workflow.logger.warning("a FHIR service's poll failed", extra={"service_id": service_id})
            cause = type(failure.cause).__name__ if failure.cause else "ActivityError"
            return ServicePoll(
                service_id=service_id, problems=[PollProblem(referral_id=None, kind="failed", detail=cause)]
            )
