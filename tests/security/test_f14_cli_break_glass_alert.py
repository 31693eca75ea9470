"""F14 of issue 15: a break-glass read through the CLI alerts the case's team leads like one through
the API. Before, the CLI process sent the alert itself and, having no mail server configured, marked
it "not_sent" ("no SMTP server is configured"): the team leads never heard. Now the service has the
worker send it, whichever interface read the case; the CLI below has no SMTP settings at all."""

import dataclasses
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.deps import status_for
from domain.errors import Rule, RuleViolation
from service.gateway import TemporalCaseGateway
from service.identity import principal_for_staff
from service.staff import StaffCommands
from store.event_store import EventStore
from store.notifications import NotificationLog
from tests.cli.support import pathway
from tests.conftest import worker_for
from tests.workflows.conftest import Mailbox, settled_notifications
from tests.workflows.journey import open_case
from workflows.messages import BreakGlassAlert

REASON = "Sam Example was moved to our custody suite overnight"
NORTH_TEAM_LEAD = "tl-001@demo.pathway.test"  # tl-001 leads demo and north in the shipped configuration


async def test_a_break_glass_read_through_the_cli_emails_the_sites_team_lead(
    temporal_env: WorkflowEnvironment, tmp_path: Path, mailbox: Mailbox
) -> None:
    task_queue = f"f14-{uuid.uuid4()}"
    env = {
        "PATHWAY_DATA_DIR": str(tmp_path),
        "PATHWAY_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "PATHWAY_TASK_QUEUE": task_queue,
        "PATHWAY_ID_KEY": "f14-test-key",
    }
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    try:
        async with worker_for(temporal_env.client, store, task_queue, mailbox.mailer):
            north = await pathway(
                "case", "start", "--site", "north", "--setting", "custody", "--source", "custody_staff",
                "--ref", "CUST/F14", "--as", "pr-002", "--age-band", "adult", "--json", env=env,
            )  # fmt: skip
            assert north.status == 0, north.stderr
            case_id = north.json()["case_id"]
            read = await pathway(
                "case", "show", case_id, "--as", "pr-001", "--break-glass-reason", REASON, "--json", env=env
            )  # fmt: skip
            assert read.status == 0, read.stderr

            [message] = await mailbox.wait_for(case_id, 1)
            assert message["To"] == NORTH_TEAM_LEAD
            body = message.get_content()
            assert "pr-001 (practitioner)" in body and "site north" in body
            assert REASON not in body and "Sam Example" not in body
            [alert] = await settled_notifications(NotificationLog(store.engine), case_id, 1)
            assert alert.kind == "break_glass"
            assert alert.status == "sent" and alert.recipients == (NORTH_TEAM_LEAD,)
    finally:
        await store.close()


@dataclass
class TemporalDown(TemporalCaseGateway):
    """The gateway with Temporal unreachable for starting the alert."""

    failure: Exception = dataclasses.field(default_factory=lambda: RuntimeError("Failed client connect"))

    async def alert(self, alert: BreakGlassAlert) -> None:
        raise self.failure


@pytest.mark.parametrize(
    "failure",
    [
        RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b""),
        RuntimeError("Failed client connect"),  # what a lazy client (the CLI's) raises
    ],
)
async def test_a_break_glass_read_nobody_can_be_told_of_is_not_shown(cases: StaffCommands, failure: Exception) -> None:
    state = await cases.start_case(open_case(f"F14/{uuid.uuid4().hex[:8]}"))
    gateway = cases.service.gateway
    assert isinstance(gateway, TemporalCaseGateway)
    down = TemporalDown(client=gateway.client, store=gateway.store, task_queue=gateway.task_queue, failure=failure)
    service = dataclasses.replace(cases.service, gateway=down)
    outside = principal_for_staff(cases.config, "lw-002")  # works at north; the case is at demo
    with pytest.raises(RuleViolation) as refused:
        await service.read_case(outside, state.case_id, REASON)
    assert refused.value.rule is Rule.ALERT_UNAVAILABLE and status_for(refused.value.rule) == 503
    # The attempt is recorded all the same: the read was asked for with a reason.
    [attempt] = [r for r in await cases.access_log(state.case_id) if r.staff_id == "lw-002"]
    assert attempt.break_glass and attempt.purpose == f"break-glass: {REASON}"
