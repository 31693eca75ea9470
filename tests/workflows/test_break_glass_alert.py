"""Break-glass alerts leave through the worker: BreakGlassAlertWorkflow on the real dev server, a worker
as production builds it, and a real SMTP server (aiosmtpd) on localhost receiving the mail."""

import uuid

import pytest
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment

from domain.model import Role
from store.access_log import AccessLog
from store.event_store import EventStore
from store.notifications import NotificationLog, NotificationRecord
from tests.conftest import INBOX_URL, TEST_MASTER_KEYS, worker_for
from tests.workflows.conftest import Mailbox
from tests.workflows.test_golden_histories import HISTORIES, RECORDING
from workers.settings import SHIPPED_CONFIG, load_config
from workers.worker import build_worker
from workflows.alert_start import start_break_glass_alert
from workflows.alert_workflow import BreakGlassAlertWorkflow, break_glass_alert_workflow_id
from workflows.messages import BreakGlassAlert

REASON = "Sam Example was transferred to our custody suite overnight"
TEAM_LEAD = "tl-001@demo.pathway.test"  # the shipped configuration's team lead at demo


async def break_glass_read(store: EventStore, site: str = "demo") -> BreakGlassAlert:
    """A break-glass read as the service records it: the reason goes to the access log, and the
    alert takes the access record's id and codes only."""
    case_id = f"case-{uuid.uuid4()}"
    read = await AccessLog(store.engine).record(
        case_id, "lw-002", Role.LINK_WORKER, "read_case", f"break-glass: {REASON}", break_glass=True
    )
    return BreakGlassAlert(
        alert_id=read.access_id, case_id=case_id, site=site, staff_id="lw-002", role=Role.LINK_WORKER
    )


async def alert_status(env: WorkflowEnvironment, alert: BreakGlassAlert) -> str:
    handle = env.client.get_workflow_handle_for(
        BreakGlassAlertWorkflow.run, break_glass_alert_workflow_id(alert.alert_id)
    )
    return await handle.result()


async def recorded(store: EventStore, alert: BreakGlassAlert) -> NotificationRecord:
    found = await NotificationLog(store.engine).get(alert.alert_id)
    assert found is not None, f"no notification {alert.alert_id} recorded"
    return found


def test_the_alert_cannot_carry_the_reason() -> None:
    codes = {"alert_id": "a", "case_id": "c", "site": "demo", "staff_id": "lw-002", "role": "link_worker"}
    with pytest.raises(ValidationError, match="reason"):
        BreakGlassAlert.model_validate({**codes, "reason": REASON})


async def test_the_site_team_lead_is_emailed_once_however_often_it_is_started(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox
) -> None:
    task_queue = f"alerts-{uuid.uuid4()}"
    async with worker_for(temporal_env.client, sqlite_store, task_queue, mailbox.mailer):
        alert = await break_glass_read(sqlite_store)
        await start_break_glass_alert(temporal_env.client, task_queue, alert)
        await start_break_glass_alert(temporal_env.client, task_queue, alert)  # while it may still run
        assert await alert_status(temporal_env, alert) == "sent"
        await start_break_glass_alert(temporal_env.client, task_queue, alert)  # after it finished
        assert await alert_status(temporal_env, alert) == "sent"

        # The mail server answered before the activity returned, so a second message would be here.
        [message] = mailbox.about(alert.case_id)
        assert message["To"] == TEAM_LEAD
        assert message["Subject"] == "Break-glass: a case of your site was read from outside it"
        assert message["Message-ID"] == f"<{alert.alert_id}@pathway>"
        body = message.get_content()
        assert "lw-002 (link_worker)" in body and "site demo" in body
        assert f"{INBOX_URL}/cases/{alert.case_id}/access" in body
        assert REASON not in body and "Sam Example" not in body

        notification = await recorded(sqlite_store, alert)
        assert (notification.kind, notification.status) == ("break_glass", "sent")
        assert notification.recipients == (TEAM_LEAD,)
        assert (notification.case_id, notification.task_id, notification.attempts) == (alert.case_id, None, 1)
        assert notification.body.splitlines() == body.splitlines()  # the mail's lines end in CRLF

        handle = temporal_env.client.get_workflow_handle(break_glass_alert_workflow_id(alert.alert_id))
        summary = await (await handle.describe()).static_summary()
        assert summary == f"break-glass alert: case {alert.case_id} at demo, read by lw-002"
        if RECORDING:
            history = await handle.fetch_history()
            (HISTORIES / "break_glass_alert_workflow_sent.json").write_text(history.to_json() + "\n")


async def test_a_site_without_a_team_lead_email_records_the_alert_as_not_sent(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox
) -> None:
    shipped = load_config(SHIPPED_CONFIG)
    staff = tuple(m.model_copy(update={"email": None}) if m.role is Role.TEAM_LEAD else m for m in shipped.staff)
    no_team_lead_email = shipped.model_copy(update={"staff": staff})
    task_queue = f"alerts-{uuid.uuid4()}"
    worker = build_worker(
        temporal_env.client, sqlite_store, task_queue, no_team_lead_email, mailbox.mailer, INBOX_URL, TEST_MASTER_KEYS
    )
    async with worker:
        alert = await break_glass_read(sqlite_store, site="north")
        await start_break_glass_alert(temporal_env.client, task_queue, alert)
        assert await alert_status(temporal_env, alert) == "not_sent"

    notification = await recorded(sqlite_store, alert)
    assert (notification.status, notification.recipients) == ("not_sent", ())
    assert notification.error == "the site has no team lead with an email"
    assert mailbox.messages == []
