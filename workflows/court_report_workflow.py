"""CourtReportWorkflow: one court report for one hearing, a child of its case.

The report's task, reminder and escalation are the case's (like every task). This workflow waits for
the report to be written and delivers it to each recipient; if the hearing comes first, it ends
undelivered (the case has already escalated the missed report). It reports delivery to the case,
which stays the single writer of the case's events.
"""

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.court_reports import CourtReportActivities, DeliverCourtReportInput
    from workflows.messages import CourtReportDelivery, CourtReportInput, CourtReportResult

DELIVERY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10))
CASE_DELIVERY_SIGNAL = "court_report_delivered"


def court_report_workflow_id(case_id: str, report_id: str) -> str:
    return f"{case_id}-report-{report_id}"


@workflow.defn
class CourtReportWorkflow:
    @workflow.init
    def __init__(self, input: CourtReportInput) -> None:
        self._submitted = False
        self._cancelled = False

    @workflow.run
    async def run(self, input: CourtReportInput) -> CourtReportResult:
        undelivered = CourtReportResult(report_id=input.report_id, delivered_to=())
        hearing = f"{input.hearing_at:%Y-%m-%d %H:%M} UTC"
        workflow.set_current_details(f"{input.purpose}: waiting for the report; hearing {hearing}")
        if input.hearing_at > workflow.now():
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._submitted or self._cancelled,
                    timeout=input.hearing_at - workflow.now(),
                    timeout_summary="court report due: written before the hearing",
                )
        if not self._submitted or self._cancelled:
            workflow.set_current_details(
                f"{input.purpose}: " + ("cancelled (case closed)" if self._cancelled else f"not written by {hearing}")
            )
            return undelivered
        workflow.set_current_details(f"{input.purpose}: delivering to {', '.join(str(r) for r in input.addresses)}")
        try:
            await self._deliver(input)
        except ActivityError:
            workflow.logger.warning("court report not delivered before the hearing", extra={"case_id": input.case_id})
            workflow.set_current_details(f"{input.purpose}: not delivered before the hearing {hearing}")
            return undelivered
        workflow.set_current_details(f"{input.purpose}: delivered; hearing {hearing}")
        delivery = CourtReportDelivery(report_id=input.report_id, recipients=tuple(input.addresses))
        await workflow.get_external_workflow_handle(input.case_id).signal(CASE_DELIVERY_SIGNAL, delivery)
        return CourtReportResult(report_id=input.report_id, delivered_to=delivery.recipients)

    async def _deliver(self, input: CourtReportInput) -> None:
        for recipient, address in input.addresses.items():
            await workflow.execute_activity_method(
                CourtReportActivities.deliver_court_report,
                DeliverCourtReportInput(
                    case_id=input.case_id,
                    report_id=input.report_id,
                    purpose=input.purpose,
                    hearing_at=input.hearing_at,
                    recipient=recipient,
                    address=address,
                ),
                start_to_close_timeout=timedelta(minutes=1),
                # Pointless once the hearing is over; the case shows the report as not delivered.
                schedule_to_close_timeout=max(input.hearing_at - workflow.now(), timedelta(minutes=1)),
                retry_policy=DELIVERY_RETRY,
                summary=f"deliver court report to {recipient}",
            )

    @workflow.signal
    def submitted(self) -> None:
        self._submitted = True

    @workflow.signal
    def cancel(self) -> None:
        """The case closed before the report was written."""
        self._cancelled = True
