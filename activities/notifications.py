"""Telling staff about their tasks: reminders before a task is due, escalations to the team lead after.

Messages carry an opaque case reference and a link to the inbox, never personal data.
"""

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel
from temporalio import activity

from activities.mailer import SmtpMailer
from activities.outbox import NotificationResult, Outgoing, send_once
from domain.config import PathwayConfig
from domain.model import Role
from domain.tasks import TaskKind
from store.notifications import NotificationLog


class NotificationRequest(BaseModel):
    notification_id: str  # the id of the event that caused it, so a retry is recognised
    case_id: str
    task_id: str
    kind: Literal["reminder", "escalation"]
    task_kind: TaskKind
    site: str
    due_at: datetime
    assignee: str | None
    candidate_roles: tuple[Role, ...]


class NotificationActivities:
    def __init__(self, log: NotificationLog, config: PathwayConfig, mailer: SmtpMailer | None, inbox_url: str) -> None:
        self._log = log
        self._config = config
        self._mailer = mailer
        self._inbox_url = inbox_url.rstrip("/")

    @activity.defn(name="notify_staff")
    async def notify_staff(self, request: NotificationRequest) -> NotificationResult:
        recipients = self.recipients(request)
        subject, body = self.render(request)
        message = Outgoing(
            message_id=request.notification_id,
            case_id=request.case_id,
            task_id=request.task_id,
            kind=request.kind,
            recipients=recipients,
            subject=subject,
            body=body,
            no_recipients="nobody at the site has an email address",
        )
        result = await send_once(self._log, self._mailer, message)
        if result.status == "sent":
            activity.logger.info(
                "notification sent",
                extra={"case_id": request.case_id, "kind": request.kind, "recipient_count": len(recipients)},
            )
        return result

    def recipients(self, request: NotificationRequest) -> list[str]:
        if request.kind == "escalation":
            people = self._config.staff_at(request.site, (Role.TEAM_LEAD,))
        elif request.assignee:
            people = [m for m in self._config.staff if m.staff_id == request.assignee]
        else:
            people = self._config.staff_at(request.site, request.candidate_roles)
        return sorted({m.email for m in people if m.email})

    def render(self, request: NotificationRequest) -> tuple[str, str]:
        task = request.task_kind.replace("_", " ")
        due = f"{request.due_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        link = f"{self._inbox_url}/tasks/{request.task_id}"
        if request.kind == "reminder":
            subject = f"Reminder: {task} task due {due}"
            opening = f"A {task} task is due at {due} and is not done yet."
        else:
            subject = f"Escalation: {task} task overdue since {due}"
            opening = f"A {task} task was due at {due} and is still open. It has been escalated to you."
        body = f"{opening}\n\nCase: {request.case_id}\nTask: {request.task_id}\nOpen it in the inbox: {link}\n"
        return subject, body
