"""Appending to a case stream: exact round trips, idempotent retries, and conflicts that write nothing."""

import asyncio
import itertools
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.commands import ClaimTask, WithdrawConsent
from domain.events import EventEnvelope, StoredEvent
from domain.model import Cohort
from domain.state import CaseState
from domain.stream import apply_all
from domain.tasks import TaskKind
from store import schema
from store.chain_check import ChainReport
from store.event_store import EventStore
from store.hashing import GENESIS_HASH, canonical_json, chain_hash
from store.recorder import AppendConflict
from tests.store.support import CONSENT_GIVEN, PRACTITIONER, TEAM_LEAD, StoreCase, count_events, new_id, run_journey

ENVELOPE_FIELDS = set(EventEnvelope.model_fields)


def as_envelope(stored: StoredEvent) -> EventEnvelope:
    return EventEnvelope.model_validate(stored.model_dump(include=ENVELOPE_FIELDS))


async def raw_rows(store: EventStore, case_id: str) -> list[dict[str, object]]:
    async with store.engine.connect() as conn:
        result = await conn.execute(
            select(schema.events).where(schema.events.c.case_id == case_id).order_by(schema.events.c.seq)
        )
        return [dict(row._mapping) for row in result]


# --- append and read back -----------------------------------------------------------------------


async def test_appended_events_read_back_exactly(store: EventStore) -> None:
    case = StoreCase(store)
    before = datetime.now(UTC)
    opened = await case.open(cohorts=(Cohort.VETERAN, Cohort.WOMENS_PATHWAY))
    after = datetime.now(UTC)

    stored = await store.read_stream(case.case_id)

    assert [type(s) for s in stored] == [StoredEvent] * 3
    assert [as_envelope(s) for s in stored] == opened
    for s, envelope in zip(stored, opened, strict=True):
        assert s.event_id == envelope.event_id
        assert s.case_id == envelope.case_id == case.case_id
        assert s.seq == envelope.seq
        assert s.occurred_at == envelope.occurred_at
        assert s.actor == envelope.actor
        assert type(s.event) is type(envelope.event)
        assert s.event == envelope.event
        # Byte-for-byte the same JSON, not only equal after parsing.
        assert s.model_dump_json(include=ENVELOPE_FIELDS) == envelope.model_dump_json()
    # One batch, one transaction, one recorded_at, taken while append ran.
    assert len({s.recorded_at for s in stored}) == 1
    assert before <= stored[0].recorded_at <= after


async def test_hash_chain_starts_at_genesis_and_covers_the_stored_body(store: EventStore) -> None:
    case = StoreCase(store)
    opened = await case.open()
    claimed = await case.claim(TaskKind.CONSENT)
    envelopes = opened + claimed

    stored = await store.read_stream(case.case_id)
    rows = await raw_rows(store, case.case_id)

    assert [s.seq for s in stored] == [1, 2, 3, 4]
    assert stored[0].prev_hash == GENESIS_HASH == "0" * 64
    for previous, current in itertools.pairwise(stored):
        assert current.prev_hash == previous.hash
    # The second batch carries on from the first batch's last hash.
    assert stored[3].prev_hash == stored[2].hash
    assert len({s.hash for s in stored}) == 4
    for s, row, envelope in zip(stored, rows, envelopes, strict=True):
        body = row["body"]
        assert isinstance(body, str)
        assert s.hash == row["hash"] == chain_hash(s.prev_hash, body)
        assert s.prev_hash == row["prev_hash"]
        # The body is the canonical JSON of the envelope plus recorded_at, nothing else.
        expected = envelope.model_dump(mode="json") | {"recorded_at": json.loads(body)["recorded_at"]}
        assert json.loads(body) == expected
        assert body == canonical_json(expected)
        assert datetime.fromisoformat(json.loads(body)["recorded_at"]) == s.recorded_at


async def test_indexed_columns_match_the_envelopes(store: EventStore) -> None:
    case = StoreCase(store)
    await run_journey(case)

    rows = await raw_rows(store, case.case_id)
    stored = await store.read_stream(case.case_id)

    assert len(rows) == len(case.envelopes) == 25
    for row, envelope, s in zip(rows, case.envelopes, stored, strict=True):
        assert row["event_id"] == envelope.event_id
        assert row["case_id"] == case.case_id
        assert row["seq"] == envelope.seq
        assert row["type"] == envelope.event.type
        assert row["schema_version"] == envelope.event.schema_version == 1
        assert row["occurred_at"] == envelope.occurred_at
        assert row["recorded_at"] == s.recorded_at
        assert row["actor_id"] == envelope.actor.staff_id
        assert row["actor_role"] == envelope.actor.role


async def test_a_whole_journey_round_trips_and_folds_to_the_same_state(store: EventStore) -> None:
    case = StoreCase(store)
    await run_journey(case)

    stored = await store.read_stream(case.case_id)

    assert [as_envelope(s) for s in stored] == case.envelopes
    assert await store.case_state(case.case_id) == case.state
    assert (await store.case_state(case.case_id)).version == 25
    assert [s.recorded_at for s in stored] == sorted(s.recorded_at for s in stored)


async def test_streams_are_separate(store: EventStore) -> None:
    first, second = StoreCase(store), StoreCase(store)
    await first.open()
    await second.open()
    await first.claim(TaskKind.CONSENT)

    assert [s.seq for s in await store.read_stream(first.case_id)] == [1, 2, 3, 4]
    assert [s.seq for s in await store.read_stream(second.case_id)] == [1, 2, 3]
    assert (await store.read_stream(second.case_id))[0].prev_hash == GENESIS_HASH
    assert await store.case_ids() == sorted([first.case_id, second.case_id])
    assert await store.read_stream("case-unknown") == []


async def test_append_refuses_an_empty_batch_or_events_of_another_stream(store: EventStore) -> None:
    case, other = StoreCase(store), StoreCase(store)
    opened = case.envelopes_for_open()

    with pytest.raises(ValueError, match="nothing to append"):
        await store.append(case.case_id, [])
    with pytest.raises(ValueError, match="belong to the stream"):
        await store.append(other.case_id, opened)

    assert await count_events(store) == 0


# --- idempotence --------------------------------------------------------------------------------


async def test_appending_the_same_envelopes_again_is_a_no_op(store: EventStore) -> None:
    case = StoreCase(store)
    opened = await case.open()
    claimed = await case.claim(TaskKind.CONSENT)
    before = await store.read_stream(case.case_id)
    case_row = await store.get_case(case.case_id)

    # A retried append (the activity ran twice) returns the stream's version and changes nothing.
    assert await store.append(case.case_id, claimed) == 4
    assert await store.append(case.case_id, opened) == 4
    assert await store.append(case.case_id, opened[1:]) == 4

    assert await store.read_stream(case.case_id) == before  # same recorded_at and hashes too
    assert await count_events(store) == 4
    assert await store.verify_chain(case.case_id) == ChainReport(case.case_id, 4, ok=True)
    assert await store.get_case(case.case_id) == case_row
    assert await store.projection_differences(case.case_id) == []


async def test_the_same_batch_appended_concurrently_is_stored_once(store: EventStore) -> None:
    case = StoreCase(store)
    opened = case.envelopes_for_open()

    versions = await asyncio.gather(store.append(case.case_id, opened), store.append(case.case_id, opened))

    assert list(versions) == [3, 3]
    assert await count_events(store, case.case_id) == 3
    assert [as_envelope(s) for s in await store.read_stream(case.case_id)] == opened
    assert await store.verify_chain(case.case_id) == ChainReport(case.case_id, 3, ok=True)
    assert await store.projection_differences(case.case_id) == []
    assert len(await store.list_cases()) == 1
    assert len(await store.list_tasks(status=None)) == 1


async def test_overlapping_retries_of_every_step_are_stored_once(store: EventStore) -> None:
    """Each command of a journey appended by six writers at once: every writer gets the version back.

    A writer whose duplicate check ran just before another's commit, and whose read of the head ran just
    after, sees a stream that has moved on; that is still its own batch, not a conflict.
    """
    case = StoreCase(store, writers=6)
    await run_journey(case)  # send() asserts that every writer got the batch's last seq back

    assert await count_events(store, case.case_id) == 25
    assert [as_envelope(s) for s in await store.read_stream(case.case_id)] == case.envelopes
    assert await store.verify_chain(case.case_id) == ChainReport(case.case_id, 25, ok=True)
    assert await store.projection_differences(case.case_id) == []


async def test_a_retry_that_finds_its_batch_committed_mid_append_returns_the_version(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race made deterministic: the late writer reads the stream's head, then the early writer (in
    another process: its own EventStore) commits the same batch, then the late writer inserts and
    collides with it."""
    case = StoreCase(store)
    await case.open()
    batch = case.envelopes_for(ClaimTask(actor=PRACTITIONER, task_id=case.task(TaskKind.CONSENT).task_id))
    other_process = EventStore.connect(store.engine.url.render_as_string(hide_password=False))
    late_read_head, early_done = asyncio.Event(), asyncio.Event()
    original = EventStore._state_at

    async def read_then_stall(self: EventStore, conn: AsyncConnection, case_id: str, version: int) -> CaseState:
        state = await original(self, conn, case_id, version)
        if self is store and not early_done.is_set():
            late_read_head.set()
            await early_done.wait()
        return state

    monkeypatch.setattr(EventStore, "_state_at", read_then_stall)

    async def late() -> int:
        return await store.append(case.case_id, batch)

    async def early() -> int:
        await late_read_head.wait()
        try:
            return await other_process.append(case.case_id, batch)
        finally:
            early_done.set()

    try:
        versions = await asyncio.wait_for(asyncio.gather(late(), early()), timeout=60)
    finally:
        await other_process.close()

    assert list(versions) == [4, 4]
    assert await count_events(store, case.case_id) == 4
    assert await store.verify_chain(case.case_id) == ChainReport(case.case_id, 4, ok=True)
    assert await store.projection_differences(case.case_id) == []


# --- conflicts ----------------------------------------------------------------------------------


async def assert_unchanged(store: EventStore, case_id: str, before: list[StoredEvent], events: int) -> None:
    assert await store.read_stream(case_id) == before
    assert await count_events(store) == events
    assert await store.verify_chain(case_id) == ChainReport(case_id, len(before), ok=True)
    assert await store.projection_differences(case_id) == []
    record = await store.get_case(case_id)
    assert record is not None
    assert record.version == len(before)


def renumbered(envelopes: list[EventEnvelope], first_seq: int) -> list[EventEnvelope]:
    return [e.model_copy(update={"seq": first_seq + i}) for i, e in enumerate(envelopes)]


@pytest.mark.parametrize("first_seq", [5, 9, 3, 2, 1], ids=["gap-1", "gap-5", "overlap-last", "overlap", "restart"])
async def test_a_batch_that_does_not_continue_the_stream_is_refused(store: EventStore, first_seq: int) -> None:
    case = StoreCase(store)
    await case.open()
    claimed = case.envelopes_for(ClaimTask(actor=PRACTITIONER, task_id=case.task(TaskKind.CONSENT).task_id))
    before = await store.read_stream(case.case_id)

    with pytest.raises(AppendConflict, match=r"version 3"):
        await store.append(case.case_id, renumbered(claimed, first_seq))

    await assert_unchanged(store, case.case_id, before, 3)
    # The right seq still goes in afterwards.
    assert await store.append(case.case_id, claimed) == 4


async def test_a_batch_with_a_gap_inside_writes_none_of_its_events(store: EventStore) -> None:
    case = StoreCase(store)
    await case.open()
    two = case.envelopes_for(ClaimTask(actor=PRACTITIONER, task_id=case.task(TaskKind.CONSENT).task_id)) * 2
    batch = [two[0], two[1].model_copy(update={"event_id": new_id(), "seq": 6})]
    before = await store.read_stream(case.case_id)

    with pytest.raises(AppendConflict):
        await store.append(case.case_id, batch)

    await assert_unchanged(store, case.case_id, before, 3)


async def test_a_stale_writer_is_refused(store: EventStore) -> None:
    """Two writers decided on the same version; the second to append must not overwrite or fork."""
    case = StoreCase(store)
    await case.open()
    task_id = case.task(TaskKind.CONSENT).task_id
    first = case.envelopes_for(ClaimTask(actor=PRACTITIONER, task_id=task_id))
    second = case.envelopes_for(ClaimTask(actor=TEAM_LEAD, task_id=task_id))
    assert [e.seq for e in first] == [e.seq for e in second] == [4]

    assert await store.append(case.case_id, first) == 4
    before = await store.read_stream(case.case_id)
    with pytest.raises(AppendConflict):
        await store.append(case.case_id, second)

    await assert_unchanged(store, case.case_id, before, 4)
    assert (await store.case_state(case.case_id)).tasks[task_id].assignee == PRACTITIONER.staff_id


async def test_concurrent_different_batches_for_the_same_seq_let_exactly_one_in(store: EventStore) -> None:
    case = StoreCase(store)
    await case.open()
    await case.complete(TaskKind.CONSENT, CONSENT_GIVEN)
    task_id = case.task(TaskKind.SCREENING).task_id
    claim = case.envelopes_for(ClaimTask(actor=PRACTITIONER, task_id=task_id))
    withdraw = case.envelopes_for(WithdrawConsent(actor=PRACTITIONER, reason="changed my mind"))

    results = await asyncio.gather(
        store.append(case.case_id, claim), store.append(case.case_id, withdraw), return_exceptions=True
    )

    winners = [r for r in results if r == 7]
    losers = [r for r in results if isinstance(r, AppendConflict)]
    assert (len(winners), len(losers)) == (1, 1), results
    won = claim if results[0] == 7 else withdraw
    stored = await store.read_stream(case.case_id)
    assert [as_envelope(s) for s in stored] == case.envelopes + won
    assert await store.verify_chain(case.case_id) == ChainReport(case.case_id, 7, ok=True)
    assert await store.projection_differences(case.case_id) == []


async def test_an_event_id_reused_at_another_seq_is_refused(store: EventStore) -> None:
    case = StoreCase(store)
    opened = await case.open()
    claimed = case.envelopes_for(ClaimTask(actor=PRACTITIONER, task_id=case.task(TaskKind.CONSENT).task_id))
    before = await store.read_stream(case.case_id)

    reused = [claimed[0].model_copy(update={"event_id": opened[0].event_id})]
    with pytest.raises(AppendConflict, match="differently recorded"):
        await store.append(case.case_id, reused)

    await assert_unchanged(store, case.case_id, before, 3)


async def test_an_event_id_reused_in_another_stream_is_refused(store: EventStore) -> None:
    case, other = StoreCase(store), StoreCase(store)
    opened = await case.open()
    theirs = other.envelopes_for_open()
    theirs[0] = theirs[0].model_copy(update={"event_id": opened[0].event_id})  # same seq 1, other stream

    with pytest.raises(AppendConflict):
        await store.append(other.case_id, theirs)

    assert await store.read_stream(other.case_id) == []
    assert await store.get_case(other.case_id) is None
    assert await store.case_ids() == [case.case_id]


async def test_a_batch_only_partly_recorded_is_refused(store: EventStore) -> None:
    case = StoreCase(store)
    opened = await case.open()
    claimed = case.envelopes_for(ClaimTask(actor=PRACTITIONER, task_id=case.task(TaskKind.CONSENT).task_id))
    before = await store.read_stream(case.case_id)

    with pytest.raises(AppendConflict, match="partly"):
        await store.append(case.case_id, [opened[2], *claimed])

    await assert_unchanged(store, case.case_id, before, 3)


async def test_an_event_id_twice_in_one_batch_is_refused(store: EventStore) -> None:
    case = StoreCase(store)
    await case.open()
    claimed = case.envelopes_for(ClaimTask(actor=PRACTITIONER, task_id=case.task(TaskKind.CONSENT).task_id))
    twice = [claimed[0], claimed[0].model_copy(update={"seq": 5})]
    before = await store.read_stream(case.case_id)

    with pytest.raises(AppendConflict):
        await store.append(case.case_id, twice)

    await assert_unchanged(store, case.case_id, before, 3)


async def test_conflicts_leave_the_local_fold_valid_for_a_retry(store: EventStore) -> None:
    """After a refused stale append, re-deciding on the stored state appends cleanly."""
    case = StoreCase(store)
    await case.open()
    stale = case.state
    task_id = case.task(TaskKind.CONSENT).task_id
    await case.claim(TaskKind.CONSENT)

    case.state = stale
    with pytest.raises(AppendConflict):
        await store.append(case.case_id, case.envelopes_for(ClaimTask(actor=TEAM_LEAD, task_id=task_id)))

    case.state = await store.case_state(case.case_id)
    retried = case.envelopes_for(ClaimTask(actor=TEAM_LEAD, task_id=task_id))
    assert await store.append(case.case_id, retried) == 5
    assert apply_all(case.state, retried).tasks[task_id].assignee == TEAM_LEAD.staff_id
    task = await store.get_task(task_id)
    assert task is not None and task.assignee == TEAM_LEAD.staff_id
