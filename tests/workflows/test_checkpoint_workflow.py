"""Scheduled checkpoints leave through the worker: CheckpointWorkflow on the real dev server, a worker
as production builds it (with a checkpoint key and directory), and a real SMTP server (aiosmtpd) on
localhost receiving the auditors' copy."""

import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.checkpoints import CHECKPOINTS_CASE_ID, CheckpointSigner
from activities.mailer import SmtpMailer
from domain.config import PathwayConfig
from store.checkpoints import Checkpoint, Checkpoints, SigningKey
from store.delivered_checkpoints import MEDIA_TYPE, read_delivered
from store.event_store import EventStore
from store.notifications import NotificationLog
from tests.conftest import INBOX_URL, TEST_MASTER_KEYS, staff_driver
from tests.workflows.conftest import Mailbox
from tests.workflows.journey import open_case
from tests.workflows.test_golden_histories import HISTORIES, RECORDING
from workers.settings import SHIPPED_CONFIG, load_config
from workers.worker import build_worker
from workflows.checkpoint_workflow import CheckpointWorkflow
from workflows.messages import CheckpointInput, CheckpointResult

AUDITORS = "auditors@demo.pathway.test"  # the shipped configuration's [checkpoints] email


def checkpoint_worker(
    env: WorkflowEnvironment,
    store: EventStore,
    task_queue: str,
    mailer: SmtpMailer | None,
    signer: CheckpointSigner | None,
    config: PathwayConfig | None = None,
) -> Worker:
    """A worker as `worker_from_settings` builds it: with the key and directory checkpoints need."""
    return build_worker(
        env.client,
        store,
        task_queue,
        config or load_config(SHIPPED_CONFIG),
        mailer,
        INBOX_URL,
        TEST_MASTER_KEYS,
        checkpoint_signer=signer,
    )


async def run_checkpoint(env: WorkflowEnvironment, task_queue: str) -> tuple[str, CheckpointResult]:
    """Run one checkpoint as the schedule starts it; its workflow id and result."""
    workflow_id = f"checkpoint-{uuid.uuid4()}"
    result = await env.client.execute_workflow(
        CheckpointWorkflow.run,
        CheckpointInput(created_by="pathway-checkpoints"),
        id=workflow_id,
        task_queue=task_queue,
    )
    return workflow_id, result


def checkpoint_mail(mailbox: Mailbox) -> list[EmailMessage]:
    return [m for m in mailbox.messages if m["Subject"].startswith("Pathway checkpoint")]


async def test_a_checkpoint_is_signed_filed_and_emailed_to_the_auditors(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox, tmp_path: Path
) -> None:
    key, directory = SigningKey.parse(SigningKey.new_key_text()), tmp_path / "delivered"
    task_queue = f"checkpoints-{uuid.uuid4()}"
    async with checkpoint_worker(
        temporal_env, sqlite_store, task_queue, mailbox.mailer, CheckpointSigner(key, directory)
    ):
        cases = staff_driver(temporal_env.client, sqlite_store, task_queue)
        opened = [await cases.start_case(open_case(f"CUST-{uuid.uuid4().hex[:6]}")) for _ in range(2)]
        workflow_id, result = await run_checkpoint(temporal_env, task_queue)

    made = result.checkpoint
    assert result.email == "sent"
    assert (made.streams, made.access_logs, made.key_fingerprint) == (2, 2, key.public.fingerprint)

    # The file: the one in the directory, named by time and id, signed by the key, and the very
    # document the store keeps.
    [path] = directory.iterdir()
    assert path.name == made.file_name and made.checkpoint_id in path.name
    delivered = Checkpoint.from_json(path.read_text())
    assert delivered.signature_problem(key.public) is None
    assert delivered.body.created_by == "pathway-checkpoints"
    assert {head.case_id for head in delivered.body.streams} == {state.case_id for state in opened}
    stored = await Checkpoints(sqlite_store.engine).latest()
    assert stored is not None and stored.to_json() == path.read_text()

    # The email: to the auditors, the file attached byte for byte, and no personal data or case ids.
    [message] = checkpoint_mail(mailbox)
    assert message["To"] == AUDITORS and message["Message-ID"] == f"<{made.checkpoint_id}@pathway>"
    [attachment] = list(message.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content_type()) == (made.file_name, MEDIA_TYPE)
    assert attachment.get_content() == path.read_bytes()
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert made.checkpoint_id in text and "pathway audit verify --all --checkpoint FILE" in text
    assert not any(state.case_id in text for state in opened)
    saved = tmp_path / "checkpoint.eml"
    saved.write_bytes(message.as_bytes())
    assert read_delivered(saved).checkpoint == delivered

    # Recorded like other mail, under a pseudo case id: a checkpoint is of every case.
    [notification] = await NotificationLog(sqlite_store.engine).list(case_id=CHECKPOINTS_CASE_ID)
    assert (notification.notification_id, notification.kind, notification.status) == (
        made.checkpoint_id,
        "checkpoint",
        "sent",
    )
    assert (notification.recipients, notification.task_id, notification.attempts) == ((AUDITORS,), None, 1)

    if RECORDING:
        history = await temporal_env.client.get_workflow_handle(workflow_id).fetch_history()
        (HISTORIES / "checkpoint_workflow_delivered.json").write_text(history.to_json() + "\n")


async def test_without_an_auditors_address_only_the_file_is_delivered(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox, tmp_path: Path
) -> None:
    shipped = load_config(SHIPPED_CONFIG)
    no_email = shipped.model_copy(update={"checkpoints": shipped.checkpoints.model_copy(update={"email": None})})
    signer = CheckpointSigner(SigningKey.parse(SigningKey.new_key_text()), tmp_path / "delivered")
    task_queue = f"checkpoints-{uuid.uuid4()}"
    async with checkpoint_worker(temporal_env, sqlite_store, task_queue, mailbox.mailer, signer, no_email):
        _, result = await run_checkpoint(temporal_env, task_queue)

    assert result.email == "not_sent" and result.checkpoint.streams == 0
    assert [path.name for path in signer.directory.iterdir()] == [result.checkpoint.file_name]
    assert checkpoint_mail(mailbox) == []
    # Nothing was meant to be sent, so nothing is recorded as unsent every hour.
    assert await NotificationLog(sqlite_store.engine).list(case_id=CHECKPOINTS_CASE_ID) == []


async def test_a_worker_without_a_checkpoint_key_fails_the_run_at_once_saying_why(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore
) -> None:
    task_queue = f"checkpoints-{uuid.uuid4()}"
    async with checkpoint_worker(temporal_env, sqlite_store, task_queue, None, None):
        with pytest.raises(WorkflowFailureError) as failed:
            await run_checkpoint(temporal_env, task_queue)

    assert isinstance(failed.value.cause, ActivityError)
    cause = failed.value.cause.cause
    assert isinstance(cause, ApplicationError) and cause.type == "CheckpointsNotConfigured"
    assert "PATHWAY_CHECKPOINT_KEY" in cause.message
    assert await Checkpoints(sqlite_store.engine).latest() is None
