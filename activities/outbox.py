"""Sending an outbound message once and recording in the notifications table whether it went: the one
way reminders, escalations, break-glass alerts and checkpoint emails leave the worker."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel

from activities.mailer import Attachment, SmtpMailer
from store.notifications import NotificationLog
from workers.metrics import count_notification_failure


class NotificationResult(BaseModel):
    status: str
    recipients: list[str]


@dataclass(frozen=True)
class Outgoing:
    """A message to record and send. Its id is the notification's: a retried activity sends it once."""

    message_id: str
    case_id: str
    task_id: str | None
    kind: str
    recipients: list[str]
    subject: str
    body: str
    no_recipients: str  # why it is not sent when there is nobody to send it to
    attachments: tuple[Attachment, ...] = ()


async def deliver(log: NotificationLog, message_id: str, send: Callable[[], Awaitable[None]]) -> None:
    """Run `send`; a failure is recorded and raised again, so that the activity is retried."""
    try:
        await send()
    except Exception as error:
        await log.mark(message_id, "failed", f"{type(error).__name__}: {error}")
        raise
    await log.mark(message_id, "sent")


async def send_once(log: NotificationLog, mailer: SmtpMailer | None, message: Outgoing) -> NotificationResult:
    """Record the message, then send it unless an earlier attempt settled it. Nobody to send it to, or
    no mail server, is an outcome recorded as "not_sent", not a failure: retrying would not change it.
    A failed send is recorded, counted and raised, so the activity is retried."""
    record = await log.record(
        message.message_id,
        message.case_id,
        message.task_id,
        message.kind,
        message.recipients,
        message.subject,
        message.body,
    )
    if record.status in ("sent", "not_sent"):
        return NotificationResult(status=record.status, recipients=list(record.recipients))
    if not message.recipients:
        await log.mark(message.message_id, "not_sent", message.no_recipients)
        return NotificationResult(status="not_sent", recipients=[])
    if mailer is None:
        await log.mark(message.message_id, "not_sent", "no SMTP server is configured")
        return NotificationResult(status="not_sent", recipients=message.recipients)
    send = mailer.send
    try:
        await deliver(
            log,
            message.message_id,
            lambda: send(message.recipients, message.subject, message.body, message.message_id, message.attachments),
        )
    except Exception:
        count_notification_failure(message.kind)
        raise
    return NotificationResult(status="sent", recipients=message.recipients)
