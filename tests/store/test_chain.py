"""The hash chain: verify_chain passes an untouched journey and points at the first event that was altered."""

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from store import schema
from store.chain_check import ChainReport
from store.event_store import EventStore
from store.hashing import canonical_json, chain_hash
from tests.store.support import StoreCase, run_journey

EVENTS = 25  # events in the journey of tests.store.support


async def journey_case(store: EventStore) -> StoreCase:
    case = StoreCase(store)
    await run_journey(case)
    assert len(case.envelopes) == EVENTS
    return case


async def raw_event(store: EventStore, case_id: str, seq: int) -> Any:
    async with store.engine.connect() as conn:
        result = await conn.execute(
            select(schema.events).where(schema.events.c.case_id == case_id, schema.events.c.seq == seq)
        )
        return result.one()


async def execute(store: EventStore, sql: str, **params: Any) -> int:
    """Raw SQL, as someone with database access would tamper; returns the number of rows changed."""
    async with store.engine.begin() as conn:
        result = await conn.execute(text(sql), params)
        return result.rowcount


async def test_an_untouched_journey_verifies(store: EventStore) -> None:
    case = await journey_case(store)
    other = StoreCase(store)
    await other.open()

    assert await store.verify_chain(case.case_id) == ChainReport(case.case_id, EVENTS, ok=True)
    assert await store.verify_chain(other.case_id) == ChainReport(other.case_id, 3, ok=True)


@pytest.mark.parametrize("seq", [1, 8, EVENTS])
async def test_an_altered_body_is_reported_at_that_event(store: EventStore, seq: int) -> None:
    case = await journey_case(store)
    row = await raw_event(store, case.case_id, seq)
    body = json.loads(row.body)
    body["actor"]["staff_id"] = "someone-else"

    changed = await execute(
        store,
        "UPDATE events SET body = :body WHERE case_id = :case_id AND seq = :seq",
        body=canonical_json(body),
        case_id=case.case_id,
        seq=seq,
    )

    assert changed == 1
    report = await store.verify_chain(case.case_id)
    assert report.ok is False
    assert report.first_bad_seq == seq
    assert report.events == EVENTS
    assert report.problem is not None and "altered" in report.problem


async def test_a_one_character_change_is_reported(store: EventStore) -> None:
    case = await journey_case(store)
    seq = next(e.seq for e in case.envelopes if e.event.type == "ScreeningRecorded")

    await execute(
        store,
        'UPDATE events SET body = REPLACE(body, \'"risk_level":"medium"\', \'"risk_level":"high"\') '
        "WHERE case_id = :case_id AND seq = :seq",
        case_id=case.case_id,
        seq=seq,
    )

    assert '"risk_level":"high"' in (await raw_event(store, case.case_id, seq)).body
    report = await store.verify_chain(case.case_id)
    assert (report.ok, report.first_bad_seq) == (False, seq)


async def test_an_altered_body_with_its_hash_recomputed_breaks_the_next_link(store: EventStore) -> None:
    case = await journey_case(store)
    seq = next(e.seq for e in case.envelopes if e.event.type == "ScreeningRecorded")
    row = await raw_event(store, case.case_id, seq)
    body = row.body.replace('"risk_level":"medium"', '"risk_level":"low"')
    assert body != row.body

    await execute(
        store,
        "UPDATE events SET body = :body, hash = :hash WHERE case_id = :case_id AND seq = :seq",
        body=body,
        hash=chain_hash(row.prev_hash, body),
        case_id=case.case_id,
        seq=seq,
    )

    report = await store.verify_chain(case.case_id)
    assert (report.ok, report.first_bad_seq) == (False, seq + 1)
    assert report.problem is not None and "prev_hash" in report.problem


@pytest.mark.parametrize(("deleted", "reported"), [(1, 2), (12, 13), (EVENTS - 1, EVENTS)])
async def test_a_deleted_event_is_reported_as_a_sequence_gap(store: EventStore, deleted: int, reported: int) -> None:
    case = await journey_case(store)

    changed = await execute(
        store, "DELETE FROM events WHERE case_id = :case_id AND seq = :seq", case_id=case.case_id, seq=deleted
    )

    assert changed == 1
    report = await store.verify_chain(case.case_id)
    assert report.ok is False
    assert report.events == EVENTS - 1
    assert report.first_bad_seq == reported
    assert report.problem == f"sequence gap: expected seq {deleted}, found {reported}"


async def test_a_deleted_last_event_is_caught_by_the_projections(store: EventStore) -> None:
    """The chain alone cannot see a cut-off tail; the cases row (written with the append) still can."""
    case = await journey_case(store)

    await execute(store, "DELETE FROM events WHERE case_id = :case_id AND seq = :seq", case_id=case.case_id, seq=EVENTS)

    assert await store.verify_chain(case.case_id) == ChainReport(case.case_id, EVENTS - 1, ok=True)
    differences = await store.projection_differences(case.case_id)
    assert any(d.startswith("cases row") for d in differences)


@pytest.mark.parametrize("seq", [1, 5, EVENTS])
async def test_a_changed_prev_hash_is_reported(store: EventStore, seq: int) -> None:
    case = await journey_case(store)

    await execute(
        store,
        "UPDATE events SET prev_hash = :prev WHERE case_id = :case_id AND seq = :seq",
        prev="f" * 64,
        case_id=case.case_id,
        seq=seq,
    )

    report = await store.verify_chain(case.case_id)
    assert (report.ok, report.first_bad_seq) == (False, seq)
    assert report.problem == "prev_hash does not match the hash of the event before it"


async def test_a_changed_hash_is_reported(store: EventStore) -> None:
    case = await journey_case(store)

    await execute(
        store,
        "UPDATE events SET hash = :hash WHERE case_id = :case_id AND seq = 7",
        hash="a" * 64,
        case_id=case.case_id,
    )

    report = await store.verify_chain(case.case_id)
    assert (report.ok, report.first_bad_seq) == (False, 7)
    assert report.problem is not None and "altered" in report.problem


async def test_swapped_events_are_reported(store: EventStore) -> None:
    case = await journey_case(store)
    for old, new in ((3, 1000), (4, 3), (1000, 4)):
        await execute(
            store,
            "UPDATE events SET seq = :new WHERE case_id = :case_id AND seq = :old",
            new=new,
            old=old,
            case_id=case.case_id,
        )

    report = await store.verify_chain(case.case_id)
    assert (report.ok, report.first_bad_seq) == (False, 3)


async def test_an_event_moved_to_another_stream_is_reported_in_both(store: EventStore) -> None:
    case = await journey_case(store)
    other = StoreCase(store)
    await other.open()

    await execute(
        store,
        "UPDATE events SET case_id = :other, seq = 4 WHERE case_id = :case_id AND seq = :seq",
        other=other.case_id,
        case_id=case.case_id,
        seq=EVENTS,
    )

    assert await store.verify_chain(case.case_id) == ChainReport(case.case_id, EVENTS - 1, ok=True)  # a cut tail
    moved = await store.verify_chain(other.case_id)
    assert (moved.ok, moved.first_bad_seq) == (False, 4)


# The columns beside the body are what SQL queries (audit by actor, by time, by type) read; each must
# agree with the hashed body, or a query could be misled while the chain still verifies.
COLUMN_TAMPERING: dict[str, dict[str, Any]] = {
    "type": {"type": "CaseClosed"},
    "event_id": {"event_id": "00000000-0000-0000-0000-000000000000"},
    "schema_version": {"schema_version": 2},
    "actor_id": {"actor_id": "someone-else"},
    "actor_role": {"actor_role": "admin"},
}


@pytest.mark.parametrize("values", COLUMN_TAMPERING.values(), ids=COLUMN_TAMPERING.keys())
async def test_an_indexed_column_that_disagrees_with_the_body_is_reported(
    store: EventStore, values: dict[str, Any]
) -> None:
    case = await journey_case(store)

    async with store.engine.begin() as conn:
        await conn.execute(
            update(schema.events)
            .where(schema.events.c.case_id == case.case_id, schema.events.c.seq == 6)
            .values(**values)
        )

    report = await store.verify_chain(case.case_id)
    assert (report.ok, report.first_bad_seq) == (False, 6)
    assert report.problem == "indexed columns disagree with the hashed event body"


@pytest.mark.parametrize("column", ["occurred_at", "recorded_at"])
async def test_a_shifted_time_column_is_reported(store: EventStore, column: str) -> None:
    case = await journey_case(store)
    row = await raw_event(store, case.case_id, 9)

    async with store.engine.begin() as conn:
        await conn.execute(
            update(schema.events)
            .where(schema.events.c.case_id == case.case_id, schema.events.c.seq == 9)
            .values({column: getattr(row, column) - timedelta(hours=1)})
        )

    report = await store.verify_chain(case.case_id)
    assert (report.ok, report.first_bad_seq) == (False, 9)
    assert report.problem == "indexed columns disagree with the hashed event body"


async def test_tampering_one_stream_leaves_the_others_verified(store: EventStore) -> None:
    case = await journey_case(store)
    other = StoreCase(store)
    await run_journey(other)

    await execute(
        store, "UPDATE events SET prev_hash = :p WHERE case_id = :case_id AND seq = 2", p="0" * 64, case_id=case.case_id
    )

    assert (await store.verify_chain(case.case_id)).ok is False
    assert await store.verify_chain(other.case_id) == ChainReport(other.case_id, EVENTS, ok=True)
