"""The notifications table (store/notifications.py) on SQLite and PostgreSQL: recording is idempotent
by notification id, marking records the delivery, and listing filters by case."""

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select, update

from domain.model import Stage
from store import schema
from store.event_store import EventStore
from store.notifications import NotificationLog, NotificationRecord
from tests.store.support import StoreCase

RECIPIENTS = ["pr-001@demo.pathway.test", "tl-001@demo.pathway.test"]


def new_id() -> str:
    return str(uuid.uuid4())


def new_case_id() -> str:
    return f"case-{uuid.uuid4()}"


async def record(
    log: NotificationLog,
    notification_id: str,
    case_id: str,
    *,
    kind: str = "reminder",
    recipients: list[str] | None = None,
    subject: str = "Reminder: consent task due 2026-03-02 12:00 UTC",
    body: str = "A consent task is due.",
    task_id: str | None = None,
) -> NotificationRecord:
    return await log.record(
        notification_id,
        case_id,
        task_id if task_id is not None else new_id(),
        kind,
        RECIPIENTS if recipients is None else recipients,
        subject,
        body,
    )


async def row_count(store: EventStore) -> int:
    async with store.engine.connect() as conn:
        count = await conn.scalar(select(func.count()).select_from(schema.notifications))
    return int(count or 0)


async def test_record_stores_a_pending_notification(store: EventStore) -> None:
    log = NotificationLog(store.engine)
    notification_id, case_id, task_id = new_id(), new_case_id(), new_id()
    before = datetime.now(UTC)

    recorded = await record(log, notification_id, case_id, task_id=task_id, kind="escalation")

    after = datetime.now(UTC)
    assert recorded.notification_id == notification_id
    assert recorded.case_id == case_id
    assert recorded.task_id == task_id
    assert recorded.kind == "escalation"
    assert recorded.recipients == tuple(RECIPIENTS)
    assert recorded.subject == "Reminder: consent task due 2026-03-02 12:00 UTC"
    assert recorded.body == "A consent task is due."
    assert recorded.status == "pending"
    assert recorded.attempts == 0
    assert recorded.error is None
    assert recorded.sent_at is None
    assert recorded.created_at.tzinfo is not None
    assert before <= recorded.created_at <= after
    assert await log.get(notification_id) == recorded


async def test_recording_the_same_id_twice_keeps_one_row_and_the_first_content(store: EventStore) -> None:
    log = NotificationLog(store.engine)
    notification_id, case_id = new_id(), new_case_id()
    first = await record(log, notification_id, case_id, subject="first subject", body="first body")

    again = await record(
        log,
        notification_id,
        new_case_id(),
        kind="escalation",
        recipients=["someone-else@demo.pathway.test"],
        subject="second subject",
        body="second body",
    )

    assert again == first
    assert again.subject == "first subject" and again.body == "first body"
    assert again.recipients == tuple(RECIPIENTS)
    assert again.case_id == case_id
    assert await row_count(store) == 1
    assert await log.list() == [first]


async def test_recording_again_after_marking_returns_the_marked_row(store: EventStore) -> None:
    """A retried activity sees what the first attempt did, so it does not send twice."""
    log = NotificationLog(store.engine)
    notification_id, case_id = new_id(), new_case_id()
    await record(log, notification_id, case_id)
    await log.mark(notification_id, "sent")

    again = await record(log, notification_id, case_id, subject="changed")

    assert again.status == "sent"
    assert again.attempts == 1
    assert again.sent_at is not None
    assert again.subject != "changed"
    assert await row_count(store) == 1


async def test_concurrent_records_of_one_id_make_one_row(store: EventStore) -> None:
    log = NotificationLog(store.engine)
    notification_id, case_id = new_id(), new_case_id()

    results = await asyncio.gather(*(record(log, notification_id, case_id, body=f"body {n}") for n in range(5)))

    assert await row_count(store) == 1
    assert len({r.body for r in results}) == 1
    assert all(r == results[0] for r in results)


async def test_mark_sent_sets_status_attempts_and_sent_at(store: EventStore) -> None:
    log = NotificationLog(store.engine)
    notification_id = new_id()
    created = await record(log, notification_id, new_case_id())
    before = datetime.now(UTC)

    await log.mark(notification_id, "sent")

    after = datetime.now(UTC)
    marked = await log.get(notification_id)
    assert marked is not None
    assert marked.status == "sent"
    assert marked.attempts == 1
    assert marked.error is None
    assert marked.sent_at is not None
    assert marked.sent_at.tzinfo is not None
    assert before <= marked.sent_at <= after
    # Nothing else about it changes.
    unchanged = {"status", "attempts", "sent_at"}
    assert marked.model_dump(exclude=unchanged) == created.model_dump(exclude=unchanged)


async def test_failed_attempts_count_up_and_a_later_success_clears_the_error(store: EventStore) -> None:
    log = NotificationLog(store.engine)
    notification_id = new_id()
    await record(log, notification_id, new_case_id())

    await log.mark(notification_id, "failed", "SMTPConnectError: connection refused")
    first = await log.get(notification_id)
    assert first is not None
    assert (first.status, first.attempts, first.error, first.sent_at) == (
        "failed",
        1,
        "SMTPConnectError: connection refused",
        None,
    )

    await log.mark(notification_id, "failed", "SMTPServerDisconnected: gone")
    second = await log.get(notification_id)
    assert second is not None
    assert (second.status, second.attempts, second.error) == ("failed", 2, "SMTPServerDisconnected: gone")

    await log.mark(notification_id, "sent")
    third = await log.get(notification_id)
    assert third is not None
    assert (third.status, third.attempts, third.error) == ("sent", 3, None)
    assert third.sent_at is not None


async def test_mark_not_sent_keeps_the_reason_and_no_sent_time(store: EventStore) -> None:
    log = NotificationLog(store.engine)
    notification_id = new_id()
    await record(log, notification_id, new_case_id())

    await log.mark(notification_id, "not_sent", "no SMTP server is configured")

    marked = await log.get(notification_id)
    assert marked is not None
    assert (marked.status, marked.attempts, marked.error, marked.sent_at) == (
        "not_sent",
        1,
        "no SMTP server is configured",
        None,
    )


async def test_mark_changes_only_its_own_row_and_unknown_ids_change_nothing(store: EventStore) -> None:
    log = NotificationLog(store.engine)
    one, other = new_id(), new_id()
    await record(log, one, new_case_id())
    await record(log, other, new_case_id())

    await log.mark(one, "sent")
    await log.mark(new_id(), "failed", "nobody")

    assert await row_count(store) == 2
    untouched = await log.get(other)
    assert untouched is not None
    assert (untouched.status, untouched.attempts, untouched.error) == ("pending", 0, None)
    assert await log.get(new_id()) is None


async def test_list_filters_by_case_in_the_order_recorded(store: EventStore) -> None:
    log = NotificationLog(store.engine)
    case_a, case_b = new_case_id(), new_case_id()
    a1 = await record(log, new_id(), case_a, kind="reminder")
    b1 = await record(log, new_id(), case_b, kind="reminder")
    a2 = await record(log, new_id(), case_a, kind="escalation")

    listed_a = await log.list(case_id=case_a)
    listed_b = await log.list(case_id=case_b)

    assert [(n.notification_id, n.kind) for n in listed_a] == [
        (a1.notification_id, "reminder"),
        (a2.notification_id, "escalation"),
    ]
    assert listed_b == [b1]
    assert await log.list(case_id=new_case_id()) == []
    assert [n.notification_id for n in await log.list()] == [a1.notification_id, b1.notification_id, a2.notification_id]
    assert await log.list(case_id=case_a, notification_id=b1.notification_id) == []
    assert await log.list(case_id=case_b, notification_id=b1.notification_id) == [b1]


async def test_recipients_round_trip_including_none(store: EventStore) -> None:
    log = NotificationLog(store.engine)
    nobody, one = new_id(), new_id()

    assert (await record(log, nobody, new_case_id(), recipients=[])).recipients == ()
    assert (await record(log, one, new_case_id(), recipients=["tl-001@demo.pathway.test"])).recipients == (
        "tl-001@demo.pathway.test",
    )


async def test_a_notification_without_a_task(store: EventStore) -> None:
    log = NotificationLog(store.engine)
    notification_id = new_id()
    recorded = await log.record(notification_id, new_case_id(), None, "reminder", RECIPIENTS, "subject", "body")
    assert recorded.task_id is None
    assert await log.get(notification_id) == recorded


async def test_sent_about_open_cases_lists_delivered_messages_of_a_kind_on_cases_not_closed(store: EventStore) -> None:
    """What the FHIR poll asks about (activities/fhir_task_poll.py): delivered, of its kind, case open."""
    log = NotificationLog(store.engine)
    open_case, closed_case = StoreCase(store), StoreCase(store)
    await open_case.open()
    await closed_case.open()
    async with store.engine.begin() as conn:
        await conn.execute(
            update(schema.cases).where(schema.cases.c.case_id == closed_case.case_id).values(stage=Stage.CLOSED.value)
        )
    wanted, pending, other_kind, on_closed = new_id(), new_id(), new_id(), new_id()
    for notification_id, case_id, kind in (
        (wanted, open_case.case_id, "referral_fhir"),
        (pending, open_case.case_id, "referral_fhir"),
        (other_kind, open_case.case_id, "referral_http"),
        (on_closed, closed_case.case_id, "referral_fhir"),
    ):
        await record(log, notification_id, case_id, kind=kind)
    for notification_id in (wanted, other_kind, on_closed):
        await log.mark(notification_id, "sent")

    found = await log.sent_about_open_cases("referral_fhir")

    assert [(r.notification_id, r.case_id, r.status) for r in found] == [(wanted, open_case.case_id, "sent")]
