"""ReferralWorkflow: one referral to one service, a child of its case.

It sends the referral (an idempotent activity), then waits for the service's answer: when none has
come by the chase time it asks the case to open a chase task, and by the escalation time to escalate.
The case workflow stays the single writer of the case's events: this workflow reports progress to
it by signal, and the case signals back once the referral is answered or the case closes.
"""

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.referrals import ReferralActivities, SendReferralInput
    from domain.calendar import after
    from workflows.messages import ReferralInput, ReferralProgress, ReferralResult

SEND_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(hours=1))
CASE_PROGRESS_SIGNAL = "referral_progress"


def referral_workflow_id(case_id: str, referral_id: str) -> str:
    return f"{case_id}-referral-{referral_id}"


@workflow.defn
class ReferralWorkflow:
    @workflow.init
    def __init__(self, input: ReferralInput) -> None:
        self._done = False

    @workflow.run
    async def run(self, input: ReferralInput) -> ReferralResult:
        result = ReferralResult(referral_id=input.referral_id, sent=False, chased=False, escalated=False)
        case = workflow.get_external_workflow_handle(input.case_id)
        workflow.set_current_details(f"sending to {input.service.service_id}")
        sending = asyncio.create_task(
            workflow.execute_activity_method(
                ReferralActivities.send_referral,
                SendReferralInput(
                    referral_id=input.referral_id, case_id=input.case_id, service=input.service, request=input.request
                ),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=SEND_RETRY,
                summary=f"send referral to {input.service.service_id}",
            )
        )
        await workflow.wait_condition(lambda: sending.done() or self._done)
        if not sending.done():  # the case closed before the referral could be sent
            sending.cancel()
            workflow.set_current_details("case closed before the referral was sent")
            with contextlib.suppress(asyncio.CancelledError, ActivityError):
                await sending
            return result
        try:
            sent = sending.result()
        except ActivityError as failure:
            # Retrying cannot help (the service refused it, say): the case must find another way.
            reason = str(failure.cause) if failure.cause else str(failure)
            failed = ReferralProgress(referral_id=input.referral_id, kind="send_failed", reason=reason)
            workflow.set_current_details(f"not delivered to {input.service.service_id}; the case finds another way")
            await case.signal(CASE_PROGRESS_SIGNAL, failed)
            await workflow.wait_condition(lambda: self._done)
            return result
        await case.signal(
            CASE_PROGRESS_SIGNAL, ReferralProgress(referral_id=input.referral_id, kind="sent", channel=sent.channel)
        )
        result = result.model_copy(update={"sent": True})
        sent_at = workflow.now()
        timings = input.timings
        for kind, amount in (("chase_due", timings.chase_after), ("escalation_due", timings.escalate_after)):
            deadline = after(input.calendar, timings, sent_at, amount)
            what = "chase referral" if kind == "chase_due" else "escalate unanswered referral"
            workflow.set_current_details(
                f"sent by {sent.channel} to {input.service.service_id}; waiting for the answer; "
                f"{what} at {deadline:%Y-%m-%d %H:%M} UTC"
            )
            if await self._answered_by(deadline, what):
                workflow.set_current_details(f"answered or stopped; {input.service.service_id}")
                return result
            await case.signal(CASE_PROGRESS_SIGNAL, ReferralProgress(referral_id=input.referral_id, kind=kind))
            result = result.model_copy(update={"chased" if kind == "chase_due" else "escalated": True})
        workflow.set_current_details(f"chased and escalated; waiting for the answer from {input.service.service_id}")
        await workflow.wait_condition(lambda: self._done)
        workflow.set_current_details(f"answered or stopped; {input.service.service_id}")
        return result

    @workflow.signal
    def stop_chasing(self) -> None:
        """The service answered, or the case closed: nothing more to chase."""
        self._done = True

    async def _answered_by(self, deadline: datetime, what: str) -> bool:
        if deadline > workflow.now():
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._done,
                    timeout=deadline - workflow.now(),
                    timeout_summary=f"{what} unless the service answers",
                )
        return self._done
