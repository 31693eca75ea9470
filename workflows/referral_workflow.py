"""ReferralWorkflow: one referral to one service, a child of its case.

It sends the referral (an idempotent activity), then waits for the service's answer: when none has
come by the chase time it asks the case to open a chase task, and by the escalation time to escalate.
The case workflow stays the single writer of the case's events: this workflow reports progress to
it by signal, and the case signals back once the referral is answered or the case closes.

A case that closes stops the chasing, not the send. The attempt under way runs to its end; if no
attempt has got the referral through yet (none made, or the last one failed and the next is waiting),
the waiting is called off and one last attempt made at once. What became of the send (sent, refused
by the service, or still not through after that last attempt) is reported to the case, which records
it before its run ends.
"""

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.referrals import ReferralActivities, SendReferralInput, SendReferralResult
    from domain.referral_times import chase_and_escalation_times
    from workflows.messages import ReferralInput, ReferralProgress, ReferralResult

SEND_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(hours=1))
# Once the case has closed: one attempt, with no waiting before it and none after.
LAST_TRY = RetryPolicy(maximum_attempts=1)
CASE_PROGRESS_SIGNAL = "referral_progress"
# One attempt to send: an SMTP conversation or an HTTP POST (each with a 30 s timeout of its own).
SEND_ATTEMPT_TIMEOUT = timedelta(minutes=2)
# Patches (tests/histories/README.md): each guards a change that running referrals' histories depend on.
FINISH_SEND_AFTER_CLOSURE = "finish-send-after-case-closes"


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
        # Runs started before the patch gave up a send under way when the case closed; their histories
        # say so, and replaying them takes that path again.
        finish_send = workflow.patched(FINISH_SEND_AFTER_CLOSURE)
        workflow.set_current_details(f"sending to {input.service.service_id}")
        # Calling the send off waits for the server's word (on the patched path): the attempt under
        # way (the activity does not heartbeat, so it never hears of the cancellation) runs to its
        # end, and its result or failure comes back here instead of being dropped.
        sending = asyncio.create_task(
            self._send(
                input,
                SEND_RETRY,
                f"send referral to {input.service.service_id}",
                workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
                if finish_send
                else workflow.ActivityCancellationType.TRY_CANCEL,
            )
        )
        await workflow.wait_condition(lambda: sending.done() or self._done)
        if not sending.done():  # the case closed while the referral was being sent
            sending.cancel()
            if not finish_send:
                workflow.set_current_details("case closed before the referral was sent")
                with contextlib.suppress(asyncio.CancelledError, ActivityError):
                    await sending
                return result
            workflow.set_current_details(f"case closed; finishing the send to {input.service.service_id}")
            with contextlib.suppress(asyncio.CancelledError, ActivityError):  # read from the task below
                await sending
            # (Cancelled outright only if the attempt ended in the very activation the call-off came.)
            if sending.cancelled() or _no_verdict(sending.exception()):
                # Nothing has got it through yet: one last attempt now. (The send is idempotent, so if
                # an attempt cut short did get it through, this one finds so and says "sent".)
                summary = f"last try to send referral to {input.service.service_id}: the case closed"
                sending = asyncio.create_task(self._send(input, LAST_TRY, summary))
                with contextlib.suppress(ActivityError):
                    await sending
        try:
            sent = sending.result()
        except ActivityError as failure:
            if finish_send and self._done and _no_verdict(failure):
                # The last attempt failed too, in a way worth trying again, but the case has closed:
                # the referral stays unsent, and the case need not wait for it any longer.
                workflow.set_current_details(f"case closed before the referral reached {input.service.service_id}")
                stopped = ReferralProgress(referral_id=input.referral_id, kind="send_stopped")
                await case.signal(CASE_PROGRESS_SIGNAL, stopped)
                return result
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
        # The same times the case views show (domain/referral_times.py), from the same function.
        chase_at, escalate_at = chase_and_escalation_times(input.calendar, input.timings, workflow.now())
        for kind, deadline in (("chase_due", chase_at), ("escalation_due", escalate_at)):
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

    async def _send(
        self,
        input: ReferralInput,
        retry_policy: RetryPolicy,
        summary: str,
        cancellation_type: workflow.ActivityCancellationType = workflow.ActivityCancellationType.TRY_CANCEL,
    ) -> SendReferralResult:
        return await workflow.execute_activity_method(
            ReferralActivities.send_referral,
            SendReferralInput(
                referral_id=input.referral_id, case_id=input.case_id, service=input.service, request=input.request
            ),
            start_to_close_timeout=SEND_ATTEMPT_TIMEOUT,
            retry_policy=retry_policy,
            cancellation_type=cancellation_type,
            summary=summary,
        )

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


def _no_verdict(failure: BaseException | None) -> bool:
    """Whether a send that has ended failed without the service's verdict: called off (between
    attempts, or an attempt failing after the call-off, which the server does not try again) or out
    of attempts, rather than refused (not retryable), which no further attempt would change."""
    if not isinstance(failure, ActivityError):
        return False
    cause = failure.cause
    return not (isinstance(cause, ApplicationError) and cause.non_retryable)
