"""Starting a break-glass alert: what the service calls after recording a break-glass read."""

import contextlib

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows.alert_workflow import BreakGlassAlertWorkflow, break_glass_alert_workflow_id
from workflows.messages import BreakGlassAlert


async def start_break_glass_alert(client: Client, task_queue: str, alert: BreakGlassAlert) -> None:
    """Start the alert's workflow on the worker's task queue, once per alert id; it does not wait
    for the email, so a read is not held up by a slow mail server."""
    # Running or finished, a second start with the same alert id is refused (and ignored here), so one
    # read sends one alert, a retried call from the service included.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            BreakGlassAlertWorkflow.run,
            alert,
            id=break_glass_alert_workflow_id(alert.alert_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"break-glass alert: case {alert.case_id} at {alert.site}, read by {alert.staff_id}",
        )
