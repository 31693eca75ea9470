"""Issue 16: someone who can write to the database forges an event into a case, recomputes every hash
after it and rebuilds the projections to match. The chain and the projections then verify, and a
checkpoint stored in the database is no help: the same person can delete it. Now the checkpoint
schedule delivers each signed checkpoint outside the database (a file in a directory its writers
cannot rewrite, and an email to the auditors), and `pathway audit verify --checkpoint` holds the
record to a delivered copy: the file, the email saved as .eml, or the directory of files. Each
checkpoint records the hash of every event new since the one before, so verification names the
forged event itself, not only the signed head after it.

Against the real stack: a Temporal dev server, the checkpoint schedule triggered, a worker as
production builds it, a local SMTP server, the `pathway` command as a subprocess; the forgery goes
around the store with SQL, as in tests/store/test_tamper.py."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio
from sqlalchemy import func, insert, select
from temporalio.client import ScheduleActionExecutionStartWorkflow, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.checkpoints import CheckpointSigner
from domain.config import CheckpointsConfig
from domain.tasks import TaskKind
from store import schema
from store.checkpoints import SigningKey
from store.event_store import EventStore
from store.hashing import canonical_json, chain_hash
from tests.cli.support import Completed, pathway
from tests.conftest import staff_driver
from tests.store.test_tamper import dump, event_row, shift, tamper
from tests.workflows.conftest import Mailbox
from tests.workflows.journey import PRACTITIONER, complete, open_case, open_task
from tests.workflows.test_checkpoint_workflow import checkpoint_mail, checkpoint_worker
from workers.checkpoint_schedule import CHECKPOINT_SCHEDULE_ID, ensure_checkpoint_schedule
from workflows.checkpoint_workflow import CheckpointWorkflow
from workflows.messages import CheckpointResult

AUDITOR = ("--as", "au-001")


@dataclass
class Anchored:
    """A store with two cases, and the checkpoint the schedule made of it, delivered as a file in
    its own directory (not the data directory) and as an email saved by an auditor."""

    store: EventStore
    data_dir: Path
    key: SigningKey
    directory: Path
    file: Path
    email: Path
    case_id: str  # the case the claim was made in, which the forger will change
    claim_seq: int
    other_case_id: str

    async def verify(self, *checkpoint: str) -> Completed:
        """`pathway audit verify --all`, held to a delivered checkpoint if one is given; the key is
        the one the auditors were given, not the configured one (they need only its public half)."""
        signed_by = ("--public-key", self.key.public.text) if checkpoint else ()
        env = {"PATHWAY_DATA_DIR": str(self.data_dir), "PATHWAY_TEMPORAL_ADDRESS": "localhost:1"}
        return await pathway("audit", "verify", "--all", *checkpoint, *signed_by, *AUDITOR, env=env)


async def scheduled_checkpoint(env: WorkflowEnvironment, task_queue: str) -> CheckpointResult:
    """Trigger the checkpoint schedule, as its interval would, and wait for the run it starts."""
    schedule_id = f"{CHECKPOINT_SCHEDULE_ID}-{uuid.uuid4()}"
    await ensure_checkpoint_schedule(env.client, task_queue, CheckpointsConfig(), schedule_id)
    handle = env.client.get_schedule_handle(schedule_id)
    try:
        await handle.trigger()
        async with asyncio.timeout(30):
            while not (recent := (await handle.describe()).info.recent_actions):
                await asyncio.sleep(0.2)
    finally:
        await handle.delete()
    started = recent[0].action
    assert isinstance(started, ScheduleActionExecutionStartWorkflow)
    return await env.client.get_workflow_handle_for(CheckpointWorkflow.run, started.workflow_id).result()


@pytest_asyncio.fixture(loop_scope="session")
async def anchored(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox, tmp_path: Path
) -> AsyncIterator[Anchored]:
    key, directory = SigningKey.parse(SigningKey.new_key_text()), tmp_path / "delivered"
    task_queue = f"anchored-{uuid.uuid4()}"
    signer = CheckpointSigner(key, directory)
    async with checkpoint_worker(temporal_env, sqlite_store, task_queue, mailbox.mailer, signer):
        cases = staff_driver(temporal_env.client, sqlite_store, task_queue)
        state = await cases.start_case(open_case(f"CUST-{uuid.uuid4().hex[:6]}"))
        state = await cases.claim_task(open_task(state, TaskKind.CONSENT), PRACTITIONER)
        claim_seq = state.version
        state = await complete(cases, state, TaskKind.CONSENT)  # the claim is well before the head
        other = await cases.start_case(open_case(f"CUST-{uuid.uuid4().hex[:6]}"))
        result = await scheduled_checkpoint(temporal_env, task_queue)
    assert result.email == "sent" and result.checkpoint.streams == 2
    [message] = checkpoint_mail(mailbox)
    saved = tmp_path / "checkpoint.eml"  # as an auditor's mail program saves it
    saved.write_bytes(message.as_bytes())
    yield Anchored(
        sqlite_store,
        tmp_path,
        key,
        directory,
        directory / result.checkpoint.file_name,
        saved,
        state.case_id,
        claim_seq,
        other.case_id,
    )


async def forge_a_claim(store: EventStore, case_id: str, claim_seq: int) -> str:
    """A careful forger's work: a claim of the task by an intruder, a copy of the real one, spliced in
    right after it; every later event renumbered, its hashed body too, and the whole chain after the
    forgery rehashed, as the store would have chained it; then the projections rebuilt from the forged
    stream. Returns the forged event's id."""
    async with store.engine.connect() as conn:
        last = (
            await conn.execute(select(func.max(schema.events.c.seq)).where(schema.events.c.case_id == case_id))
        ).scalar_one()
    original = await event_row(store, case_id, claim_seq)
    await shift(store, case_id, claim_seq + 1, by=1)
    forged_id = str(uuid.uuid4())
    body = json.loads(original.body) | {"event_id": forged_id, "seq": claim_seq + 1}
    body["actor"]["staff_id"] = "intruder"
    text = canonical_json(body)
    prev_hash = chain_hash(original.hash, text)
    row = dict(original._mapping) | {
        "event_id": forged_id,
        "seq": claim_seq + 1,
        "actor_id": "intruder",
        "body": text,
        "prev_hash": original.hash,
        "hash": prev_hash,
    }
    async with store.engine.begin() as conn:
        await conn.execute(insert(schema.events), [row])
    for seq in range(claim_seq + 2, last + 2):
        text = canonical_json(json.loads((await event_row(store, case_id, seq)).body) | {"seq": seq})
        digest = chain_hash(prev_hash, text)
        await tamper(
            store,
            "UPDATE events SET body = :b, prev_hash = :p, hash = :h WHERE case_id = :c AND seq = :s",
            b=text,
            p=prev_hash,
            h=digest,
            c=case_id,
            s=seq,
        )
        prev_hash = digest
    await store.rebuild_projections()
    return forged_id


def caught(result: Completed, case_id: str, forged_seq: int, forged_id: str) -> bool:
    """Exit 1, the case named as failing against the checkpoint at the forged event (its seq and
    id: the first whose hash is not the one the checkpoint recorded there), the other case still fine."""
    lines = [line.strip() for line in result.stdout.splitlines()]
    named = f"{case_id} seq {forged_seq} (event {forged_id}): checkpoint: altered (its hash when checkpointed was "
    return (
        result.status == 1
        and any(line.startswith(f"{case_id}  ") and line.endswith("FAILED") for line in lines)
        and any(line.startswith(named) for line in lines)
        and result.stderr.startswith(f"error: 1 of 2 case(s) failed verification, first {named}")
    )


async def test_a_forged_event_passes_the_chain_but_not_a_delivered_checkpoint(anchored: Anchored) -> None:
    forged_id = await forge_a_claim(anchored.store, anchored.case_id, anchored.claim_seq)
    before = await dump(anchored.store)

    chain_only, from_file, from_email, from_directory = await asyncio.gather(
        anchored.verify(),
        anchored.verify("--checkpoint", str(anchored.file)),
        anchored.verify("--checkpoint", str(anchored.email)),
        anchored.verify("--checkpoint", str(anchored.directory)),
    )

    # The forgery is whole: chains, access logs and projections all verify.
    assert chain_only.status == 0, chain_only.stdout + chain_only.stderr
    assert "2 of 2 case(s) verified" in chain_only.stdout
    assert forged_id in {row[0] for row in before["events"]}
    # Each delivered copy names the case the forger changed, and the forged event in it: spliced in
    # right after the claim, where the checkpoint recorded another event's hash.
    for result in (from_file, from_email, from_directory):
        assert caught(result, anchored.case_id, anchored.claim_seq + 1, forged_id), result
        assert "the signature holds" in result.stdout
        assert f"{anchored.other_case_id}  " in result.stdout
    assert f"the checkpoint attached to {anchored.email}" in from_email.stdout
    assert (
        f"1 delivered checkpoint(s) in {anchored.directory}, held to together, oldest first: "
        f"{anchored.file.name} to {anchored.file.name}"
    ) in from_directory.stdout
    assert await dump(anchored.store) == before  # verifying changed nothing


async def test_the_next_scheduled_checkpoint_will_not_sign_over_a_rewrite(
    anchored: Anchored, temporal_env: WorkflowEnvironment, mailbox: Mailbox
) -> None:
    """The forger also deletes the checkpoints stored in the database, so that a new checkpoint would
    vouch for the rewrite. The schedule holds the record to the newest delivered file instead, and
    refuses to sign; nothing is delivered or stored."""
    forged_id = await forge_a_claim(anchored.store, anchored.case_id, anchored.claim_seq)
    await tamper(anchored.store, "DELETE FROM checkpoints")
    task_queue = f"anchored-{uuid.uuid4()}"
    signer = CheckpointSigner(anchored.key, anchored.directory)
    async with checkpoint_worker(temporal_env, anchored.store, task_queue, mailbox.mailer, signer):
        try:
            await scheduled_checkpoint(temporal_env, task_queue)
        except WorkflowFailureError as failed:
            refusal = failed.cause
    assert isinstance(refusal, ActivityError) and isinstance(refusal.cause, ApplicationError)
    assert refusal.cause.type == "RecordNotVerified" and refusal.cause.non_retryable
    assert refusal.cause.message.startswith(
        f"no checkpoint signed: 1 of 2 case(s) failed verification, first {anchored.case_id} seq "
        f"{anchored.claim_seq + 1} (event {forged_id}): checkpoint: altered (its hash when checkpointed was "
    )
    assert [path.name for path in anchored.directory.iterdir()] == [anchored.file.name]
    assert len(checkpoint_mail(mailbox)) == 1  # the first checkpoint's only
    assert (await dump(anchored.store))["checkpoints"] == []
