"""Time zones: every datetime the store hands back is timezone-aware UTC, on SQLite as on PostgreSQL."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import create_async_engine

from domain.tasks import TaskKind
from store import schema
from store.event_store import EventStore
from store.records import CaseRecord, TaskRecord
from tests.store.support import CONSENT_GIVEN, NORTH, StoreCase, run_journey

LONDON = ZoneInfo("Europe/London")
# Summer time: London is UTC+1, so a local wall-clock reading differs from the UTC one.
SUMMER_MORNING = datetime(2026, 7, 1, 10, 30, tzinfo=LONDON)


def assert_utc(value: datetime | None, what: str) -> None:
    assert value is not None, what
    assert value.tzinfo is not None, f"{what} is naive: {value!r}"
    assert value.utcoffset() == timedelta(0), f"{what} is not UTC: {value!r}"


def record_datetimes(record: CaseRecord | TaskRecord) -> dict[str, datetime]:
    return {name: value for name, value in record if isinstance(value, datetime)}


async def test_projection_datetimes_read_back_as_utc(store: EventStore) -> None:
    case = StoreCase(store, now=SUMMER_MORNING)
    await run_journey(case)
    assert case.now.utcoffset() == timedelta(hours=1)  # still London time: the journey stays in summer

    record = await store.get_case(case.case_id)
    tasks = await store.list_tasks(case_id=case.case_id, status=None)

    assert record is not None
    assert record.opened_at == SUMMER_MORNING
    assert record.closed_at == case.now
    datetimes = record_datetimes(record)
    assert set(datetimes) == {"opened_at", "closed_at"}  # next_due is None once closed
    for name, value in datetimes.items():
        assert_utc(value, f"cases.{name}")
    assert record.opened_at.hour == 9  # 10:30 in London is 09:30 UTC
    assert len(tasks) == 6
    for task in tasks:
        datetimes = record_datetimes(task)
        assert {"due_at", "opened_at", "closed_at"} <= set(datetimes)
        for name, value in datetimes.items():
            assert_utc(value, f"tasks.{name}")
    assert {t.task_id: t for t in tasks} == {t.task_id: t for t in await store.list_tasks(status=None)}


async def test_next_due_reads_back_as_utc(store: EventStore) -> None:
    case = StoreCase(store, now=SUMMER_MORNING)
    await case.open()

    record = await store.get_case(case.case_id)

    assert record is not None
    assert_utc(record.next_due, "cases.next_due")
    assert record.next_due == case.task(TaskKind.CONSENT).due_at


async def test_event_datetimes_read_back_aware_and_equal(store: EventStore) -> None:
    case = StoreCase(store, now=SUMMER_MORNING)
    await case.open()
    case.advance(minutes=10)
    await case.complete(TaskKind.CONSENT, CONSENT_GIVEN)

    stored = await store.read_stream(case.case_id)
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(schema.events.c.occurred_at, schema.events.c.recorded_at)
                .where(schema.events.c.case_id == case.case_id)
                .order_by(schema.events.c.seq)
            )
        ).all()

    assert len(stored) == len(rows) == 6
    for event, envelope, row in zip(stored, case.envelopes, rows, strict=True):
        assert_utc(event.recorded_at, "recorded_at")
        # occurred_at comes back from the hashed body exactly as given: the same instant, still aware.
        assert event.occurred_at.tzinfo is not None
        assert event.occurred_at == envelope.occurred_at
        assert_utc(row.occurred_at, "events.occurred_at column")
        assert_utc(row.recorded_at, "events.recorded_at column")
        assert row.occurred_at == envelope.occurred_at
        assert row.recorded_at == event.recorded_at
        # Embedded task times too.
        task = getattr(event.event, "task", None)
        if task is not None:
            assert task.due_at.tzinfo is not None and task.opened_at.tzinfo is not None


async def test_ordering_follows_the_instant_not_the_wall_clock(store: EventStore) -> None:
    """10:30 in London (09:30 UTC) is before 09:45 UTC, though its local reading sorts after."""
    london = StoreCase(store, now=SUMMER_MORNING)
    utc = StoreCase(store, now=datetime(2026, 7, 1, 9, 45, tzinfo=UTC))
    await utc.open()
    await london.open()

    assert [c.case_id for c in await store.list_cases()] == [london.case_id, utc.case_id]
    opened = [t.opened_at for t in await store.list_tasks()]
    assert opened == sorted(opened)
    assert [c.case_id for c in await store.list_cases(site=NORTH.site_id)] == [london.case_id, utc.case_id]


async def test_naive_datetimes_are_refused_and_nothing_is_written(store: EventStore) -> None:
    case = StoreCase(store)
    envelopes = case.envelopes_for_open()
    naive = [e.model_copy(update={"occurred_at": datetime(2026, 3, 2, 10, 0)}) for e in envelopes]

    with pytest.raises(StatementError, match="naive datetimes are not stored"):
        await store.append(case.case_id, naive)

    assert await store.read_stream(case.case_id) == []
    assert await store.get_case(case.case_id) is None


async def test_stored_datetimes_survive_a_different_postgres_session_time_zone(store: EventStore, backend: str) -> None:
    """On PostgreSQL the session's TimeZone must not leak into what is read back (SQLite has none)."""
    case = StoreCase(store, now=SUMMER_MORNING)
    await case.open()
    connect_args: dict[str, Any] = {}
    if backend == "postgres":
        connect_args = {"server_settings": {"timezone": "Pacific/Auckland"}}
    other = EventStore(create_async_engine(store.engine.url, connect_args=connect_args))
    try:
        record = await other.get_case(case.case_id)
        assert record is not None
        assert_utc(record.opened_at, "opened_at")
        assert record.opened_at == SUMMER_MORNING
        assert await other.read_stream(case.case_id) == await store.read_stream(case.case_id)
        # And what it writes reads back the same through the first store.
        await StoreCase(other, now=SUMMER_MORNING).open()
        opened = [c.opened_at for c in await store.list_cases()]
        assert opened == [SUMMER_MORNING, SUMMER_MORNING]
        for value in opened:
            assert_utc(value, "opened_at")
    finally:
        await other.engine.dispose()
