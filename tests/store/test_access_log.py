"""The access log as a hash chain per case: reads recorded on their own, changes recorded in the
transaction of their events (never one without the other, never twice for a retried append), and
seqs that stay unique and gap-free when many processes record at once."""

import asyncio
import itertools
from typing import Any

import pytest
from sqlalchemy import func, select

from domain.commands import ClaimTask
from domain.tasks import TaskKind
from store import event_store, schema
from store.access_log import AccessChainReport, AccessEntry, AccessLog, change_access_id
from store.event_store import EventStore
from store.hashing import GENESIS_HASH, chain_hash
from store.recorder import AppendConflict
from tests.store.access_support import LOGGED, access_row, entry, logged_case
from tests.store.support import PRACTITIONER, StoreCase, count_events

RECORDERS = 4  # processes recording reads at once (each its own engine and pool)
READS_EACH = 10


async def access_rows(store: EventStore, case_id: str | None = None) -> int:
    query = select(func.count()).select_from(schema.access_log)
    if case_id is not None:
        query = query.where(schema.access_log.c.case_id == case_id)
    async with store.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def test_reads_and_changes_are_one_chain_per_case_in_the_order_written(store: EventStore) -> None:
    logged = await logged_case(store)
    other = StoreCase(store)
    await other.open()
    elsewhere = await logged.log.record(other.case_id, "pr-001", "practitioner", "read_case", "care")

    records = await logged.records()

    assert [r.action for r in records] == [
        "read_case",
        "read_case",
        "claim_task",
        "read_case",
        "read_access_log",
        "export",
    ]
    assert [r.seq for r in records] == list(range(1, LOGGED + 1))
    assert records[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(records):
        assert after.prev_hash == before.hash
    first = await access_row(store, logged.case_id, 1)
    assert first.hash == chain_hash(GENESIS_HASH, first.body)
    assert (elsewhere.seq, elsewhere.prev_hash) == (1, GENESIS_HASH)  # another case: another chain
    assert await store.verify_access(logged.case_id) == AccessChainReport(logged.case_id, LOGGED, ok=True)
    assert await store.verify_access("case-unknown") == AccessChainReport("case-unknown", 0, ok=True)


async def test_a_change_is_recorded_with_its_events_under_an_id_from_the_first_event(store: EventStore) -> None:
    case = StoreCase(store)
    envelopes = case.envelopes_for_open()
    access = entry(case.case_id, "start_case", purpose="custody alert")

    appended = await store.append_reporting(case.case_id, envelopes, access=access)

    [record] = await AccessLog(store.engine).list(case.case_id)
    assert appended.written and appended.version == len(envelopes)
    assert record.access_id == change_access_id(envelopes[0].event_id)
    assert record.model_dump(include=set(AccessEntry.model_fields)) == access.model_dump()
    assert (record.seq, record.prev_hash) == (1, GENESIS_HASH)


async def test_a_retried_append_writes_no_second_access_row(store: EventStore) -> None:
    case = StoreCase(store)
    envelopes = case.envelopes_for_open()
    access = entry(case.case_id, "start_case")
    await store.append(case.case_id, envelopes, access=access)

    again = await store.append_reporting(case.case_id, envelopes, access=access)
    # Overlapping attempts of the same activity, as after a worker's timeout.
    overlapping = await asyncio.gather(*(store.append_reporting(case.case_id, envelopes, access) for _ in range(3)))

    assert not again.written and not any(attempt.written for attempt in overlapping)
    assert await access_rows(store, case.case_id) == 1
    assert await count_events(store, case.case_id) == len(envelopes)


async def test_overlapping_first_attempts_record_the_change_once(store: EventStore) -> None:
    case = StoreCase(store)
    envelopes = case.envelopes_for_open()
    access = entry(case.case_id, "start_case")

    attempts = await asyncio.gather(*(store.append_reporting(case.case_id, envelopes, access) for _ in range(4)))

    assert sum(attempt.written for attempt in attempts) == 1
    assert await access_rows(store, case.case_id) == 1
    assert (await store.verify_access(case.case_id)).ok


async def test_a_refused_append_records_no_access(store: EventStore) -> None:
    case = StoreCase(store)
    await case.open()
    stale = case.envelopes_for(ClaimTask(actor=PRACTITIONER, task_id=case.task(TaskKind.CONSENT).task_id))
    await store.append(case.case_id, stale)  # another writer got there first

    with pytest.raises(AppendConflict):
        await store.append(
            case.case_id, [e.model_copy(update={"event_id": "other"}) for e in stale], entry(case.case_id, "claim_task")
        )

    assert await access_rows(store, case.case_id) == 0


async def test_an_access_row_that_cannot_be_written_takes_its_events_with_it(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As if the process died between writing the events and the access row: neither is recorded,
    and the retry records both."""
    case = StoreCase(store)
    envelopes = case.envelopes_for_open()
    access = entry(case.case_id, "start_case")

    async def dies(*args: Any) -> Any:
        raise RuntimeError("the process stopped here")

    monkeypatch.setattr(event_store, "write_access", dies)
    with pytest.raises(RuntimeError):
        await store.append(case.case_id, envelopes, access=access)
    assert (await count_events(store, case.case_id), await access_rows(store, case.case_id)) == (0, 0)
    assert await store.get_case(case.case_id) is None

    monkeypatch.undo()
    assert (await store.append_reporting(case.case_id, envelopes, access=access)).written
    assert (await count_events(store, case.case_id), await access_rows(store, case.case_id)) == (len(envelopes), 1)


async def test_an_access_entry_of_another_case_is_refused(store: EventStore) -> None:
    case = StoreCase(store)

    with pytest.raises(ValueError, match="the access entry must be of the case appended to"):
        await store.append(case.case_id, case.envelopes_for_open(), access=entry("case-other", "start_case"))

    assert await count_events(store) == 0 and await access_rows(store) == 0


async def test_concurrent_writers_in_several_processes_keep_one_gap_free_chain(store: EventStore) -> None:
    """Reads recorded by several API processes (each its own engine) while changes are appended:
    every row gets its own seq, and the chain verifies."""
    case = StoreCase(store)
    await case.open()
    url = store.engine.url.render_as_string(hide_password=False)
    recorders = [EventStore.connect(url) for _ in range(RECORDERS)]
    try:

        async def reads(recorder: EventStore, n: int) -> None:
            log = AccessLog(recorder.engine)
            for i in range(READS_EACH):
                await log.record(case.case_id, f"pr-{n}", "practitioner", "read_case", f"read {i}")

        async def changes() -> None:
            for kind in (TaskKind.CONSENT,):
                claim = ClaimTask(actor=PRACTITIONER, task_id=case.task(kind).task_id)
                envelopes = case.envelopes_for(claim)
                await store.append(case.case_id, envelopes, access=entry(case.case_id, "claim_task"))

        await asyncio.gather(changes(), *(reads(recorder, n) for n, recorder in enumerate(recorders)))
    finally:
        for recorder in recorders:
            await recorder.close()

    records = await AccessLog(store.engine).list(case.case_id)
    assert [r.seq for r in records] == list(range(1, RECORDERS * READS_EACH + 2))
    assert await store.verify_access(case.case_id) == AccessChainReport(case.case_id, len(records), ok=True)


async def test_a_long_purpose_is_kept_whole(store: EventStore) -> None:
    """A purpose sealed with the person's key is far longer than the 500 characters a purpose had."""
    case = StoreCase(store)
    sealed = "sealed:v1:person-0:" + "x" * 4000

    record = await AccessLog(store.engine).record(case.case_id, "pr-001", "practitioner", "read_case", sealed)

    assert (await AccessLog(store.engine).list(case.case_id)) == [record]
    assert record.purpose == sealed and (await store.verify_access(case.case_id)).ok
