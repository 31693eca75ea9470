"""`verify_since` (`pathway audit verify --since-checkpoint`): only what is new since the latest
checkpoint, held to its heads. Every stream and access log must still hold the head the checkpoint
signed; every event and access row after the heads is checked (a stream begun since, whole), and
the projections of the cases with new events against a fresh fold. Rows before the heads are not
read: that is what `--all` is for, and the last test shows the line between the two.

On SQLite and PostgreSQL; the store is filled through `EventStore.append` and `AccessLog.record`,
and tampered with behind its back as in tests/store/test_tamper.py."""

from dataclasses import dataclass
from datetime import UTC, datetime

from domain.commands import ClaimTask
from domain.tasks import TaskKind
from store.access_log import ACCESS_CHAIN
from store.chain_check import ALTERED
from store.checkpoints import Checkpoint, Checkpoints
from store.event_store import EventStore
from store.record_verification import Finding, SinceCheckpoint, Verification, sign_verified, verify_since
from tests.store.access_support import LOGGED, LoggedCase, access_row, change, logged_case
from tests.store.support import PRACTITIONER, StoreCase
from tests.store.test_tamper import (
    EVENTS,
    KEY,
    OTHER_KEY,
    SCREENING_SEQ,
    altered,
    dump,
    event_row,
    journey_case,
    rewrite,
    tamper,
)


@dataclass
class Since:
    """A store checkpointed, then moved on: `quiet` (a whole journey) has nothing new, `busy` has a
    claim (events and its first access row) after the checkpoint, `logged` has two reads more, and
    `newcomer` was opened and claimed after it."""

    store: EventStore
    checkpoint: Checkpoint
    quiet: StoreCase
    busy: StoreCase
    busy_head: int  # the busy stream's head in the checkpoint
    logged: LoggedCase
    newcomer: StoreCase

    async def verify(self) -> Verification:
        """`verify_since` against the stored checkpoint, checked to change nothing."""
        before = await dump(self.store)
        newest = await Checkpoints(self.store.engine).latest()
        assert newest is not None and newest.body.checkpoint_id == self.checkpoint.body.checkpoint_id
        verification = await verify_since(self.store, newest, KEY.public)
        assert await dump(self.store) == before
        return verification


async def moved_on(store: EventStore) -> Since:
    quiet = await journey_case(store)
    busy = StoreCase(store)
    await busy.open()
    logged = await logged_case(store)
    checkpoint = await sign_verified(store, KEY, "au-001", datetime.now(UTC), None, None)
    await Checkpoints(store.engine).save(checkpoint)
    busy_head = len(busy.envelopes)

    await change(busy, ClaimTask(actor=PRACTITIONER, task_id=busy.task(TaskKind.CONSENT).task_id), "claim_task")
    await logged.log.record(logged.case_id, "pr-001", "practitioner", "read_case", "care")
    await logged.log.record(logged.case_id, "tl-001", "team_lead", "read_case", "supervision")
    newcomer = StoreCase(store)
    await newcomer.open()
    await change(newcomer, ClaimTask(actor=PRACTITIONER, task_id=newcomer.task(TaskKind.CONSENT).task_id), "claim")
    return Since(store, checkpoint, quiet, busy, busy_head, logged, newcomer)


def findings(verification: Verification) -> list[Finding]:
    return [finding for result in verification.cases for finding in result.findings]


async def test_new_rows_after_an_untouched_checkpoint_verify_and_only_they_are_checked(store: EventStore) -> None:
    since = await moved_on(store)

    verification = await since.verify()

    assert verification.ok, verification.summary()
    [held] = verification.held_to
    assert held.checkpoint_id == since.checkpoint.body.checkpoint_id and held.problem is None
    new_busy = len(since.busy.envelopes) - since.busy_head
    assert verification.since == SinceCheckpoint(
        stream_heads=3,
        access_heads=1,
        new_events=new_busy + len(since.newcomer.envelopes),
        new_access_rows=1 + 2 + 1,  # busy's first access row, logged's two reads, the newcomer's claim
    )
    # The quiet case is not read; the busy and new streams are, whole (to fold them); logged's reads only.
    checked = {result.case_id: result.events for result in verification.cases}
    assert checked == {
        since.busy.case_id: len(since.busy.envelopes),
        since.logged.case_id: 0,
        since.newcomer.case_id: len(since.newcomer.envelopes),
    }


async def test_an_event_altered_after_the_checkpoint_is_named(store: EventStore) -> None:
    since = await moved_on(store)
    seq = since.busy_head + 1
    claim = await event_row(store, since.busy.case_id, seq)
    changed = await tamper(
        store,
        "UPDATE events SET body = REPLACE(body, :old, :new) WHERE case_id = :c AND seq = :s",
        old=f'"staff_id":"{PRACTITIONER.staff_id}"',
        new='"staff_id":"prac-666"',
        c=since.busy.case_id,
        s=seq,
    )
    assert changed == 1 and (await event_row(store, since.busy.case_id, seq)).body != claim.body

    verification = await since.verify()

    assert not verification.ok
    [finding] = findings(verification)
    assert finding == Finding(since.busy.case_id, seq, claim.event_id, "chain", ALTERED)
    assert verification.summary() == f"1 of 3 case(s) failed verification, first {finding.line()}"


async def test_an_event_deleted_after_the_checkpoint_and_a_forged_new_stream_are_found(store: EventStore) -> None:
    since = await moved_on(store)
    await tamper(
        store,
        "DELETE FROM events WHERE case_id = :c AND seq = :s",
        c=since.newcomer.case_id,
        s=len(since.newcomer.envelopes) - 1,
    )

    verification = await since.verify()

    [finding] = findings(verification)
    last = len(since.newcomer.envelopes)
    assert (finding.case_id, finding.seq, finding.check) == (since.newcomer.case_id, last, "chain")
    assert finding.problem == f"sequence gap: expected seq {last - 1}, found {last}"


async def test_a_head_the_checkpoint_signed_rewritten_with_its_hashes_recomputed_fails(store: EventStore) -> None:
    """The quiet stream has nothing new, and its chain verifies after the rewrite: only its head
    tells, and the hashes the checkpoint recorded name the event rewritten."""
    since = await moved_on(store)
    case_id = since.quiet.case_id
    screening = await event_row(store, case_id, SCREENING_SEQ)
    await rewrite(store, case_id, SCREENING_SEQ, '"urgency":"urgent"', '"urgency":"routine"', rehash_to=EVENTS)

    verification = await since.verify()

    assert (await store.verify_chain(case_id)).ok
    [finding] = findings(verification)
    assert finding == Finding(
        case_id,
        SCREENING_SEQ,
        screening.event_id,
        "checkpoint",
        altered(SCREENING_SEQ, screening.hash, since.checkpoint),
    )


async def test_a_cut_off_head_fails(store: EventStore) -> None:
    since = await moved_on(store)
    await tamper(store, "DELETE FROM events WHERE case_id = :c AND seq = :s", c=since.quiet.case_id, s=EVENTS)

    # Read whole once its head does not hold: its projections no longer fit the shorter stream either.
    finding, *projections = findings(await since.verify())

    assert (finding.case_id, finding.seq, finding.check) == (since.quiet.case_id, EVENTS, "checkpoint")
    assert projections and {(f.check, f.seq) for f in projections} == {("projection", EVENTS - 1)}
    assert finding.problem.startswith(f"event {EVENTS} was deleted: the checkpoint signed this stream at seq {EVENTS}")


async def test_an_access_row_tampered_after_the_checkpoint_is_named(store: EventStore) -> None:
    since = await moved_on(store)
    case_id, seq = since.logged.case_id, LOGGED + 1
    read = await access_row(store, case_id, seq)
    await tamper(
        store,
        "UPDATE access_log SET staff_id = 'nobody', body = REPLACE(body, :old, :new) WHERE case_id = :c AND seq = :s",
        old='"staff_id":"pr-001"',
        new='"staff_id":"nobody"',
        c=case_id,
        s=seq,
    )

    [finding] = findings(await since.verify())

    assert finding == Finding(case_id, seq, None, "access_log", ACCESS_CHAIN.altered, read.access_id)


async def test_an_access_head_rewritten_fails(store: EventStore) -> None:
    since = await moved_on(store)
    case_id = since.logged.case_id
    await tamper(
        store,
        "UPDATE access_log SET hash = :h WHERE case_id = :c AND seq = :s",
        h="0" * 64,
        c=case_id,
        s=LOGGED,
    )

    kinds = {(finding.check, finding.seq) for finding in findings(await since.verify())}

    assert ("access_checkpoint", LOGGED) in kinds


async def test_a_checkpoint_of_another_key_fails_and_rows_before_the_heads_are_not_read(store: EventStore) -> None:
    since = await moved_on(store)
    # Before the heads, in a stream with nothing new: what `verify --all` finds, and this does not.
    await tamper(
        store,
        "UPDATE events SET body = REPLACE(body, :old, :new) WHERE case_id = :c AND seq = :s",
        old='"urgency":"urgent"',
        new='"urgency":"routine"',
        c=since.quiet.case_id,
        s=SCREENING_SEQ,
    )

    ours = await since.verify()
    others = await verify_since(store, since.checkpoint, OTHER_KEY.public)

    assert ours.ok, ours.summary()
    assert not (await store.verify_chain(since.quiet.case_id)).ok
    assert not others.ok and others.summary().startswith(f"checkpoint {since.checkpoint.body.checkpoint_id} cannot be")
