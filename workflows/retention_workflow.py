"""RetentionWorkflow: one retention run. A Temporal Schedule starts it daily (workers/retention_schedule.py);
an admin can start one with `pathway data retention run`.

It pages through the closed cases that still hold personal data, in case id order; each page is
sorted into expired and for review (one activity), and the expired ones are shredded (another).
Shredding is idempotent, so a retried activity or a rerun of the same day repeats nothing. The
report names cases only by their opaque ids, and the record classes of what was shredded."""

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.retention import (
        FindExpiredInput,
        RetentionActivities,
        ShredExpiredInput,
    )
    from workflows.messages import RetentionInput, RetentionReport


def check_retention_input(input: RetentionInput, now: datetime) -> None:
    """A run that shreds can't look ahead: nothing is shredded before its time. A report may."""
    if input.as_of is not None and input.as_of > now and not input.report_only:
        raise ValueError(f"as_of {input.as_of.isoformat()} is in the future: only a report-only run may look ahead")


FIND_TIMEOUT = timedelta(minutes=10)
SHRED_TIMEOUT = timedelta(minutes=30)
HEARTBEAT_TIMEOUT = timedelta(minutes=2)


@workflow.defn
class RetentionWorkflow:
    def __init__(self) -> None:
        self._report: RetentionReport | None = None

    @workflow.run
    async def run(self, input: RetentionInput) -> RetentionReport:
        try:
            check_retention_input(input, workflow.now())
        except ValueError as refused:
            raise ApplicationError(str(refused), type="InvalidRetentionInput", non_retryable=True) from None
        as_of = input.as_of or workflow.now()
        self._report = input.report or RetentionReport(as_of=as_of, report_only=input.report_only)
        after = input.after_case_id
        workflow.set_current_details(
            self._report.summary() if input.report else f"as of {as_of:%Y-%m-%d %H:%M} UTC: finding expired records"
        )
        while True:
            page = await workflow.execute_activity_method(
                RetentionActivities.find_expired_records,
                FindExpiredInput(as_of=as_of, after_case_id=after, limit=input.page_size),
                start_to_close_timeout=FIND_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                summary="find records whose retention has ended",
            )
            self._report = self._report.with_page(page)
            if page.expired and not input.report_only:
                done = await workflow.execute_activity_method(
                    RetentionActivities.shred_expired_records,
                    ShredExpiredInput(records=page.expired),
                    start_to_close_timeout=SHRED_TIMEOUT,
                    heartbeat_timeout=HEARTBEAT_TIMEOUT,
                    summary=f"shred {len(page.expired)} expired record(s)",
                )
                self._report = self._report.with_shredding(done)
            workflow.set_current_details(self._report.summary())
            if page.next_after is None:
                return self._report
            after = page.next_after
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    input.model_copy(update={"as_of": as_of, "after_case_id": after, "report": self._report})
                )

    @workflow.query
    def progress(self) -> RetentionReport | None:
        return self._report
