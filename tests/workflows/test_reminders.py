"""Reminders before a task is due and escalations after, by workflow timers, delivered over SMTP,
on the time-skipping server. The demo site: consent due 5 minutes after identification, reminder 2
minutes before, escalation to the team lead 1 minute after."""

import uuid
from datetime import datetime, timedelta

from temporalio.testing import WorkflowEnvironment

from domain.commands import CloseCase, CompleteTask
from domain.outcomes import ClosureOutcome, ClosureReason
from domain.tasks import TaskKind
from store.event_store import EventStore
from store.notifications import NotificationLog
from tests.conftest import worker_for
from tests.workflows.conftest import Mailbox, settled_notifications
from tests.workflows.direct import changed, start
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_task
from tests.workflows.support import skip
from tests.workflows.test_golden_histories import HISTORIES, RECORDING
from workers.settings import SHIPPED_CONFIG, load_config
from workflows.case_workflow import CaseWorkflow

SITE = load_config(SHIPPED_CONFIG).site("demo")


async def test_reminder_then_escalation_arrive_by_email_at_their_times(
    time_skipping_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox
) -> None:
    env = time_skipping_env
    task_queue = f"reminders-{uuid.uuid4()}"
    async with worker_for(env.client, sqlite_store, task_queue, mailbox.mailer):
        handle = await start(env, task_queue)
        case_id = handle.id
        state = await handle.query(CaseWorkflow.state)
        consent = state.tasks[open_task(state, TaskKind.CONSENT)]
        assert consent.remind_at == consent.due_at - timedelta(minutes=2)
        assert consent.escalate_at == consent.due_at + timedelta(minutes=1)

        await skip(env, timedelta(minutes=2, seconds=50))
        assert mailbox.about(case_id) == []

        await skip(env, timedelta(seconds=20))  # past the reminder time
        [reminder] = await mailbox.wait_for(case_id, 1)
        assert reminder["Subject"].startswith("Reminder: consent task due")
        assert sorted(reminder["To"].split(", ")) == [
            "pr-001@demo.pathway.test",
            "pr-002@demo.pathway.test",
            "tl-001@demo.pathway.test",
        ]
        assert f"http://inbox.test/tasks/{consent.task_id}" in reminder.get_content()

        await skip(env, timedelta(minutes=3))  # past due and escalation
        reminder_again, escalation = await mailbox.wait_for(case_id, 2)
        assert reminder_again is reminder
        assert escalation["Subject"].startswith("Escalation: consent task overdue")
        assert escalation["To"] == "tl-001@demo.pathway.test"

        stored = await sqlite_store.read_stream(case_id)
        times: dict[str, datetime] = {e.event.type: e.occurred_at for e in stored if e.event.type != "TaskOpened"}
        # Timers fire at their time (the server may add a few milliseconds).
        for event_type, planned in [
            ("ReminderSent", consent.remind_at),
            ("TaskBecameOverdue", consent.due_at),
            ("TaskEscalated", consent.escalate_at),
        ]:
            assert planned is not None
            assert timedelta(0) <= times[event_type] - planned < timedelta(seconds=1), event_type
        notifications = await settled_notifications(NotificationLog(sqlite_store.engine), case_id, 2)
        assert [(n.kind, n.status) for n in notifications] == [("reminder", "sent"), ("escalation", "sent")]
        assert "Demo Person" not in reminder.get_content() and "CUST-" not in reminder.get_content()

        closing = CloseCase(actor=PRACTITIONER, outcome=ClosureOutcome(reason=ClosureReason.RELEASED_BEFORE_CONTACT))
        await handle.execute_update(CaseWorkflow.close_case, closing)
        await handle.result()
        if RECORDING:  # a golden history with reminder, overdue and escalation timers
            history = await handle.fetch_history()
            (HISTORIES / "case_workflow_reminders.json").write_text(history.to_json() + "\n")


async def test_a_task_done_in_time_sends_nothing(
    time_skipping_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox
) -> None:
    env = time_skipping_env
    task_queue = f"reminders-{uuid.uuid4()}"
    async with worker_for(env.client, sqlite_store, task_queue, mailbox.mailer):
        handle = await start(env, task_queue)
        await skip(env, timedelta(minutes=1))
        state = await handle.query(CaseWorkflow.state)
        for kind in (TaskKind.CONSENT, TaskKind.SCREENING):
            command = CompleteTask(actor=PRACTITIONER, task_id=open_task(state, kind), outcome=OUTCOMES[kind])
            state = await changed(handle, CaseWorkflow.complete_task, command)
        assessment = state.tasks[open_task(state, TaskKind.ASSESSMENT)]
        assert assessment.remind_at is not None

        await skip(env, timedelta(minutes=2))
        command = CompleteTask(actor=PRACTITIONER, task_id=assessment.task_id, outcome=OUTCOMES[TaskKind.ASSESSMENT])
        await handle.execute_update(CaseWorkflow.complete_task, command)
        state = await handle.query(CaseWorkflow.state)
        close = CompleteTask(
            actor=PRACTITIONER,
            task_id=open_task(state, TaskKind.SHARE_INFORMATION),
            outcome=OUTCOMES[TaskKind.SHARE_INFORMATION],
        )
        state = await changed(handle, CaseWorkflow.complete_task, close)

        # Hours later: the open referral-decision task has been reminded and escalated, but none of the
        # tasks completed in time ever produced a message.
        await skip(env, timedelta(hours=2))
        stored = await sqlite_store.read_stream(handle.id)
        reminded = {e.event.task_id for e in stored if e.event.type in ("ReminderSent", "TaskEscalated")}
        assert reminded == {open_task(state, TaskKind.REFERRAL_DECISION)}
        messages = await mailbox.wait_for(handle.id, 2)
        assert all("referral decision task" in m["Subject"] for m in messages)
