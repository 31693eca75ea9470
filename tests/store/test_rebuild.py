"""rebuild-projections: every case and task row, refolded from the events, comes out as it was; a row
that had drifted from the events is put right and named."""

from typing import Any

from sqlalchemy import select, text

from store import schema
from store.event_store import EventStore
from tests.store.support import StoreCase, run_journey


async def projected(store: EventStore) -> dict[str, list[tuple[Any, ...]]]:
    async with store.engine.connect() as conn:
        return {
            "cases": sorted(tuple(row) for row in await conn.execute(select(schema.cases))),
            "tasks": sorted(tuple(row) for row in await conn.execute(select(schema.tasks))),
        }


async def events(store: EventStore) -> list[tuple[Any, ...]]:
    async with store.engine.connect() as conn:
        return sorted(tuple(row) for row in await conn.execute(select(schema.events)))


async def test_a_rebuild_gives_back_exactly_the_projections_there_were(store: EventStore) -> None:
    journey = StoreCase(store)
    await run_journey(journey)
    opened = StoreCase(store)
    await opened.open()
    before, recorded = await projected(store), await events(store)
    assert len(before["cases"]) == 2 and before["tasks"]

    report = await store.rebuild_projections()

    assert await projected(store) == before
    assert (report.cases, report.tasks, report.changed) == (2, len(before["tasks"]), [])
    assert await events(store) == recorded  # the record itself is never touched


async def test_a_drifted_or_orphaned_row_is_rebuilt_from_the_events_and_named(store: EventStore) -> None:
    journey = StoreCase(store)
    await run_journey(journey)
    before = await projected(store)
    [task_id, *_] = [row[0] for row in before["tasks"]]
    async with store.engine.begin() as conn:
        await conn.execute(text("UPDATE cases SET stage = 'identified' WHERE case_id = :id"), {"id": journey.case_id})
        await conn.execute(text("UPDATE tasks SET assignee = 'someone-else' WHERE task_id = :id"), {"id": task_id})
        await conn.execute(
            text(
                "INSERT INTO cases (case_id, site, setting, source, age_band, cohorts, stage, opened_at, overdue, "
                "version) SELECT 'case-orphan', site, setting, source, age_band, cohorts, stage, opened_at, overdue, "
                "version FROM cases WHERE case_id = :id"
            ),
            {"id": journey.case_id},
        )
    assert await store.projection_differences(journey.case_id) != []

    report = await store.rebuild_projections()

    assert await projected(store) == before
    assert report.changed == sorted([("cases", journey.case_id), ("cases", "case-orphan"), ("tasks", task_id)])
    assert await store.projection_differences(journey.case_id) == []
