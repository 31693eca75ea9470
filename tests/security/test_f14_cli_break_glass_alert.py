"""F14 of issue 15: a break-glass read through the CLI alerts the case's team leads like one through
the API. Before, the CLI process sent the alert itself and, having no mail server configured, marked
it "not_sent" ("no SMTP server is configured"): the team leads never heard. Now the service has the
worker send it, whichever interface read the case; the CLI below has no SMTP settings at all."""

import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from store.event_store import EventStore
from store.notifications import NotificationLog
from tests.cli.support import pathway
from tests.conftest import worker_for
from tests.workflows.conftest import Mailbox

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
                "--ref", "CUST/F14", "--as", "pr-002", "--json", env=env,
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
            [alert] = [n for n in await NotificationLog(store.engine).list(case_id=case_id) if n.kind == "break_glass"]
            assert alert.status == "sent" and alert.recipients == (NORTH_TEAM_LEAD,)
    finally:
        await store.close()
