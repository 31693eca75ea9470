"""CheckpointWorkflow: one scheduled checkpoint. A Temporal Schedule starts it every `[checkpoints]
every_minutes` (workers/checkpoint_schedule.py).

The worker verifies the whole record, signs the head of every stream and access log and writes the
signed document to the checkpoint directory (one activity, so the document never enters the
history: with many cases it would outgrow a payload), then emails that file to the auditors'
address (another, retried on its own). Where to deliver is the worker's configuration; the workflow
only orders the steps."""

from datetime import timedelta
from typing import Literal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.checkpoints import CheckpointActivities
    from workflows.messages import CheckpointInput, CheckpointResult

# Verification reads every stream (some 20,000 events a second); a large store takes minutes.
MAKE_TIMEOUT = timedelta(minutes=30)
HEARTBEAT_TIMEOUT = timedelta(minutes=2)
# A run gives up well within the hour, so a directory or mail server that is down makes that run
# fail visibly instead of holding back the next ones (the schedule skips a run while one is going).
MAKE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5), maximum_attempts=6
)
MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5), maximum_attempts=8
)


@workflow.defn
class CheckpointWorkflow:
    @workflow.run
    async def run(self, input: CheckpointInput) -> CheckpointResult:
        workflow.set_current_details("verifying the record and signing every head")
        made = await workflow.execute_activity_method(
            CheckpointActivities.make_checkpoint,
            input,
            start_to_close_timeout=MAKE_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=MAKE_RETRY,
            summary="verify the record, sign every head, write the checkpoint file",
        )
        workflow.set_current_details(f"checkpoint {made.checkpoint_id} written as {made.file_name}")
        email: Literal["sent", "not_sent", "failed"]
        try:
            emailed = await workflow.execute_activity_method(
                CheckpointActivities.email_checkpoint,
                made,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=MAIL_RETRY,
                summary="email the checkpoint to the auditors",
            )
            email = "sent" if emailed.status == "sent" else "not_sent"
        except ActivityError:
            # The file stands; the notifications table says the email failed and why.
            workflow.logger.warning("checkpoint not emailed", extra={"checkpoint_id": made.checkpoint_id})
            email = "failed"
        workflow.set_current_details(f"checkpoint {made.checkpoint_id}: file written, email {email}")
        return CheckpointResult(checkpoint=made, email=email)
