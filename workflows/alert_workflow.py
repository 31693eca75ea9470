"""BreakGlassAlertWorkflow: one break-glass alert to the team leads of the site whose case was read.

The service starts it for every break-glass read, whichever interface the read came through, so the
alert leaves the same way each time: from the worker, which has the mailer (workflows/alert_start.py
starts it). Its workflow id comes from the read's access record, so the alert is sent once.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.alerts import AlertActivities
    from workflows.messages import BreakGlassAlert

# As the case's reminders and escalations (NOTIFY_RETRY): a mail server that is down for a while
# gets the alert when it is back, for about a day; after that the notifications table shows the failure.
ALERT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(hours=1), maximum_attempts=30
)


def break_glass_alert_workflow_id(alert_id: str) -> str:
    return f"break-glass-{alert_id}"


@workflow.defn
class BreakGlassAlertWorkflow:
    @workflow.run
    async def run(self, alert: BreakGlassAlert) -> str:
        """The alert's status in the notifications table: sent, not_sent (nobody to tell) or failed."""
        try:
            result = await workflow.execute_activity_method(
                AlertActivities.alert_break_glass,
                alert,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=ALERT_RETRY,
                summary=f"break-glass alert to the team leads of {alert.site}",
            )
        except ActivityError:
            # The read itself stands; the notifications table says the alert failed and why.
            workflow.logger.warning("break-glass alert not sent", extra={"case_id": alert.case_id})
            return "failed"
        return result.status
