"""Delivering a written court report to each of its recipients, exactly once per recipient.

The message is a link to the report in the inbox, never the report itself: the recipient's secure
mailbox gets a notice, and the report is read (and its reading audited) where it is kept."""

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.mailer import SmtpMailer
from activities.outbox import deliver
from domain.outcomes import CourtReportPurpose, Recipient
from store.notifications import NotificationLog
from workers.metrics import count_notification_failure


class DeliverCourtReportInput(BaseModel):
    case_id: str
    report_id: str
    purpose: CourtReportPurpose
    hearing_at: datetime
    recipient: Recipient
    address: str


class CourtReportActivities:
    def __init__(self, log: NotificationLog, mailer: SmtpMailer | None, inbox_url: str) -> None:
        self._log = log
        self._mailer = mailer
        self._inbox_url = inbox_url.rstrip("/")

    @activity.defn(name="deliver_court_report")
    async def deliver_court_report(self, input: DeliverCourtReportInput) -> None:
        # One delivery per report and recipient: a retry finds it in the log and does not send again.
        delivery_id = str(uuid.uuid5(uuid.UUID(input.report_id), input.recipient))
        purpose = input.purpose.replace("_", " ")
        hearing = f"{input.hearing_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        subject = f"Liaison and Diversion court report ({purpose}) for the hearing at {hearing}"
        body = (
            f"A Liaison and Diversion court report is ready for the hearing at {hearing}.\n\n"
            f"Case: {input.case_id}\nPurpose: {purpose}\n"
            f"Read it here: {self._inbox_url}/reports/{input.report_id}\n"
        )
        record = await self._log.record(
            delivery_id, input.case_id, None, "court_report", [input.address], subject, body
        )
        if record.status == "sent":
            return
        try:
            await self._send(delivery_id, input.address, subject, body)
        except Exception:
            count_notification_failure("court_report")
            raise

    async def _send(self, delivery_id: str, address: str, subject: str, body: str) -> None:
        mailer = self._mailer
        if mailer is None:
            raise ApplicationError("no SMTP server is configured, so court reports cannot be delivered")
        await deliver(self._log, delivery_id, lambda: mailer.send([address], subject, body, delivery_id))
