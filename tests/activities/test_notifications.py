"""notify_staff (activities/notifications.py) run in Temporal's ActivityEnvironment, with the shipped
configuration, a SQLite notifications table and a real SMTP server (aiosmtpd) on localhost."""

import logging
import uuid
from datetime import UTC, datetime

import aiosmtplib
import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.testing import ActivityEnvironment

from activities.mailer import SmtpMailer
from activities.notifications import NotificationActivities, NotificationRequest
from activities.outbox import NotificationResult
from domain.config import PathwayConfig
from domain.model import Role
from domain.tasks import CANDIDATE_ROLES, TaskKind
from store.notifications import NotificationLog, NotificationRecord
from tests.activities.conftest import Mailbox
from tests.cli.support import free_port
from workers.settings import SHIPPED_CONFIG, load_config

CONFIG: PathwayConfig = load_config(SHIPPED_CONFIG)
INBOX_URL = "http://inbox.test"
DUE_AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

PR_001 = "pr-001@demo.pathway.test"
PR_002 = "pr-002@demo.pathway.test"
LW_001 = "lw-001@demo.pathway.test"
LW_002 = "lw-002@north.pathway.test"
TL_001 = "tl-001@demo.pathway.test"


def closed_port_mailer() -> SmtpMailer:
    """A mailer pointing at a localhost port nothing listens on: every connection is refused."""
    return SmtpMailer(host="127.0.0.1", port=free_port(), sender="pathway@test")


def request(
    kind: str = "reminder",
    *,
    task_kind: TaskKind = TaskKind.CONSENT,
    site: str = "demo",
    assignee: str | None = None,
    candidate_roles: tuple[Role, ...] | None = None,
    notification_id: str | None = None,
) -> NotificationRequest:
    return NotificationRequest.model_validate(
        {
            "notification_id": notification_id or str(uuid.uuid4()),
            "case_id": f"case-{uuid.uuid4()}",
            "task_id": str(uuid.uuid4()),
            "kind": kind,
            "task_kind": task_kind,
            "site": site,
            "due_at": DUE_AT,
            "assignee": assignee,
            "candidate_roles": CANDIDATE_ROLES[task_kind] if candidate_roles is None else candidate_roles,
        }
    )


def offline(inbox_url: str = INBOX_URL) -> NotificationActivities:
    """For recipients() and render(), which touch neither the database nor SMTP (the engine never connects)."""
    return NotificationActivities(NotificationLog(create_async_engine("sqlite+aiosqlite://")), CONFIG, None, inbox_url)


def notifier(log: NotificationLog, mailer: SmtpMailer | None, inbox_url: str = INBOX_URL) -> NotificationActivities:
    return NotificationActivities(log, CONFIG, mailer, inbox_url)


async def notify(activities: NotificationActivities, req: NotificationRequest) -> NotificationResult:
    return await ActivityEnvironment().run(activities.notify_staff, req)


async def row(log: NotificationLog, notification_id: str) -> NotificationRecord:
    found = await log.get(notification_id)
    assert found is not None, f"no notification {notification_id} recorded"
    return found


# --- who is told --------------------------------------------------------------------------------------


def test_the_demo_staff_have_email_addresses() -> None:
    """The tests below rely on the shipped demo staff; fail clearly if that changes."""
    emails = {m.staff_id: m.email for m in CONFIG.staff}
    assert emails == {
        "pr-001": PR_001,
        "pr-002": PR_002,
        "lw-001": LW_001,
        "lw-002": LW_002,
        "tl-001": TL_001,
        "op-001": None,
        "ad-001": None,
        "au-001": None,
    }


@pytest.mark.parametrize(
    ("site", "task_kind", "roles", "expected"),
    [
        ("demo", TaskKind.CONSENT, None, [PR_001, PR_002, TL_001]),
        ("demo", TaskKind.CLOSURE, None, [PR_001, PR_002, TL_001]),
        ("north", TaskKind.SCREENING, None, [PR_002, TL_001]),
        ("demo", TaskKind.CONSENT, (Role.LINK_WORKER,), [LW_001]),
        ("north", TaskKind.CONSENT, (Role.LINK_WORKER,), [LW_002]),
        ("demo", TaskKind.CONSENT, (Role.AUDITOR,), []),  # the auditor has no email address
    ],
)
def test_reminder_for_an_unassigned_task_goes_to_site_staff_with_a_candidate_role(
    site: str, task_kind: TaskKind, roles: tuple[Role, ...] | None, expected: list[str]
) -> None:
    activities = offline()
    req = request(site=site, task_kind=task_kind, candidate_roles=roles)
    assert activities.recipients(req) == expected


@pytest.mark.parametrize(
    ("assignee", "expected"),
    [("pr-002", [PR_002]), ("tl-001", [TL_001]), ("lw-001", [LW_001]), ("au-001", []), ("nobody-here", [])],
)
def test_reminder_for_an_assigned_task_goes_to_the_assignee_only(assignee: str, expected: list[str]) -> None:
    activities = offline()
    assert activities.recipients(request(assignee=assignee)) == expected


@pytest.mark.parametrize("assignee", [None, "pr-001"])
@pytest.mark.parametrize("site", ["demo", "north"])
def test_escalation_goes_to_the_team_leads_of_the_site(site: str, assignee: str | None) -> None:
    activities = offline()
    assert activities.recipients(request("escalation", site=site, assignee=assignee)) == [TL_001]


# --- what they are told ----------------------------------------------------------------------------


def test_reminder_text_names_the_case_task_and_inbox_link_only() -> None:
    activities = offline(INBOX_URL + "/")
    req = request(task_kind=TaskKind.SHARE_INFORMATION)

    subject, body = activities.render(req)

    assert subject == "Reminder: share information task due 2026-03-02 12:00 UTC"
    assert body == (
        "A share information task is due at 2026-03-02 12:00 UTC and is not done yet.\n\n"
        f"Case: {req.case_id}\n"
        f"Task: {req.task_id}\n"
        f"Open it in the inbox: http://inbox.test/tasks/{req.task_id}\n"
    )


def test_escalation_text() -> None:
    activities = offline()
    req = request("escalation", task_kind=TaskKind.REFERRAL_DECISION)

    subject, body = activities.render(req)

    assert subject == "Escalation: referral decision task overdue since 2026-03-02 12:00 UTC"
    assert body.startswith(
        "A referral decision task was due at 2026-03-02 12:00 UTC and is still open. It has been escalated to you.\n"
    )
    assert f"Case: {req.case_id}\n" in body
    assert f"Open it in the inbox: {INBOX_URL}/tasks/{req.task_id}\n" in body


def test_a_notification_request_cannot_carry_personal_data() -> None:
    """The activity only ever sees opaque ids, the task's kind and timing, and staff routing."""
    assert set(NotificationRequest.model_fields) == {
        "notification_id",
        "case_id",
        "task_id",
        "kind",
        "task_kind",
        "site",
        "due_at",
        "assignee",
        "candidate_roles",
    }


# --- sending ---------------------------------------------------------------------------------------


async def test_reminder_is_sent_to_the_candidates_and_recorded(
    log: NotificationLog, mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    req = request()
    before = datetime.now(UTC)

    with caplog.at_level(logging.INFO):
        result = await notify(notifier(log, mailbox.mailer), req)

    assert result == NotificationResult(status="sent", recipients=[PR_001, PR_002, TL_001])
    [received] = mailbox.received
    assert sorted(received.rcpt_tos) == [PR_001, PR_002, TL_001]
    assert received.sender == "pathway@test"
    message = received.message
    assert message["From"] == "pathway@test"
    assert sorted(message["To"].split(", ")) == [PR_001, PR_002, TL_001]
    assert message["Message-ID"] == f"<{req.notification_id}@pathway>"
    assert message["Subject"] == "Reminder: consent task due 2026-03-02 12:00 UTC"
    content = message.get_content().replace("\r\n", "\n")  # SMTP lines end in CRLF
    assert req.case_id in content
    assert f"{INBOX_URL}/tasks/{req.task_id}" in content
    # Nothing but the rendered text: no personal data, nothing the request did not carry.
    assert content == notifier(log, None).render(req)[1]

    recorded = await row(log, req.notification_id)
    assert (recorded.status, recorded.attempts, recorded.error) == ("sent", 1, None)
    assert recorded.sent_at is not None and before <= recorded.sent_at <= datetime.now(UTC)
    assert recorded.case_id == req.case_id and recorded.task_id == req.task_id
    assert recorded.kind == "reminder"
    assert recorded.recipients == (PR_001, PR_002, TL_001)
    assert (recorded.subject, recorded.body) == (message["Subject"], content)

    # The log line says what happened without naming anyone.
    ours = [r for r in caplog.records if r.name == "temporalio.activity"]
    [line] = [r for r in ours if r.getMessage().startswith("notification sent")]
    assert getattr(line, "case_id", None) == req.case_id
    assert getattr(line, "recipient_count", None) == 3
    for record in ours:
        text = f"{record.getMessage()} {record.__dict__}"
        assert not any(address in text for address in (PR_001, PR_002, TL_001))


async def test_escalation_is_sent_to_the_team_lead(log: NotificationLog, mailbox: Mailbox) -> None:
    req = request("escalation", assignee="pr-001")

    result = await notify(notifier(log, mailbox.mailer), req)

    assert result == NotificationResult(status="sent", recipients=[TL_001])
    [received] = mailbox.received
    assert received.rcpt_tos == [TL_001]
    assert received.message["Subject"] == "Escalation: consent task overdue since 2026-03-02 12:00 UTC"
    assert (await row(log, req.notification_id)).kind == "escalation"


async def test_assigned_reminder_is_sent_to_the_assignee_only(log: NotificationLog, mailbox: Mailbox) -> None:
    result = await notify(notifier(log, mailbox.mailer), request(assignee="pr-002"))

    assert result == NotificationResult(status="sent", recipients=[PR_002])
    [received] = mailbox.received
    assert received.rcpt_tos == [PR_002]
    assert received.message["To"] == PR_002


async def test_running_twice_sends_one_email(log: NotificationLog, mailbox: Mailbox) -> None:
    req = request()
    first = await notify(notifier(log, mailbox.mailer), req)

    again = await notify(notifier(log, mailbox.mailer), req)  # a retry, even from another worker

    assert first == again == NotificationResult(status="sent", recipients=[PR_001, PR_002, TL_001])
    assert len(mailbox.received) == 1
    recorded = await row(log, req.notification_id)
    assert (recorded.status, recorded.attempts) == ("sent", 1)
    assert await log.list(case_id=req.case_id) == [recorded]


async def test_distinct_notifications_for_one_task_are_each_sent(log: NotificationLog, mailbox: Mailbox) -> None:
    reminder = request()
    escalation = reminder.model_copy(update={"notification_id": str(uuid.uuid4()), "kind": "escalation"})

    await notify(notifier(log, mailbox.mailer), reminder)
    await notify(notifier(log, mailbox.mailer), escalation)

    assert [r.rcpt_tos for r in mailbox.received] == [[PR_001, PR_002, TL_001], [TL_001]]
    assert [(n.kind, n.status) for n in await log.list(case_id=reminder.case_id)] == [
        ("reminder", "sent"),
        ("escalation", "sent"),
    ]


async def test_a_pending_row_left_by_a_crashed_attempt_is_sent_on_retry(log: NotificationLog, mailbox: Mailbox) -> None:
    req = request()
    activities = notifier(log, mailbox.mailer)
    subject, body = activities.render(req)
    await log.record(req.notification_id, req.case_id, req.task_id, req.kind, activities.recipients(req), subject, body)

    result = await notify(activities, req)

    assert result.status == "sent"
    assert len(mailbox.received) == 1
    assert (await row(log, req.notification_id)).attempts == 1


# --- not sent and failed ---------------------------------------------------------------------------


async def test_without_a_mailer_it_is_recorded_as_not_sent(log: NotificationLog) -> None:
    req = request()

    result = await notify(notifier(log, None), req)

    assert result == NotificationResult(status="not_sent", recipients=[PR_001, PR_002, TL_001])
    recorded = await row(log, req.notification_id)
    assert (recorded.status, recorded.attempts, recorded.error, recorded.sent_at) == (
        "not_sent",
        1,
        "no SMTP server is configured",
        None,
    )
    assert recorded.recipients == (PR_001, PR_002, TL_001)

    # Running it again changes nothing.
    assert await notify(notifier(log, None), req) == result
    assert await row(log, req.notification_id) == recorded


async def test_with_nobody_to_tell_it_is_recorded_as_not_sent(log: NotificationLog, mailbox: Mailbox) -> None:
    req = request(assignee="au-001")  # the auditor has no email address

    result = await notify(notifier(log, mailbox.mailer), req)

    assert result == NotificationResult(status="not_sent", recipients=[])
    assert mailbox.received == []
    recorded = await row(log, req.notification_id)
    assert (recorded.status, recorded.attempts, recorded.recipients) == ("not_sent", 1, ())
    assert recorded.error == "nobody at the site has an email address"


async def test_a_refused_connection_fails_the_activity_and_is_recorded(log: NotificationLog, mailbox: Mailbox) -> None:
    req = request()

    with pytest.raises(aiosmtplib.SMTPConnectError):
        await notify(notifier(log, closed_port_mailer()), req)

    recorded = await row(log, req.notification_id)
    assert (recorded.status, recorded.attempts, recorded.sent_at) == ("failed", 1, None)
    assert recorded.error is not None and recorded.error.startswith("SMTPConnectError: ")
    assert "127.0.0.1" in recorded.error

    # Temporal retries: another failure counts another attempt, then a working server delivers it once.
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await notify(notifier(log, closed_port_mailer()), req)
    assert (await row(log, req.notification_id)).attempts == 2

    result = await notify(notifier(log, mailbox.mailer), req)

    assert result == NotificationResult(status="sent", recipients=[PR_001, PR_002, TL_001])
    assert len(mailbox.received) == 1
    recorded = await row(log, req.notification_id)
    assert (recorded.status, recorded.attempts, recorded.error) == ("sent", 3, None)
    assert recorded.sent_at is not None


async def test_a_server_that_refuses_the_message_fails_the_activity(log: NotificationLog, mailbox: Mailbox) -> None:
    mailbox.reject_data = True
    req = request("escalation")

    with pytest.raises(aiosmtplib.SMTPDataError):
        await notify(notifier(log, mailbox.mailer), req)

    assert mailbox.received == []
    recorded = await row(log, req.notification_id)
    assert (recorded.status, recorded.attempts) == ("failed", 1)
    assert recorded.error is not None and recorded.error.startswith("SMTPDataError: ")
    assert "refused by policy" in recorded.error
