"""Migrations: idempotent, data-preserving, and building exactly the tables store/schema.py describes."""

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, select, text

from domain.tasks import TaskKind
from store import schema
from store.chain_check import ChainReport
from store.event_store import EventStore
from store.migrate import MIGRATIONS
from tests.store.support import StoreCase

TABLES = {"events", "cases", "tasks", "alembic_version"}


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


async def state_of(store: EventStore) -> tuple[set[str], list[str]]:
    """The tables in the database and the recorded alembic revisions."""
    async with store.engine.connect() as conn:
        tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        revisions = []
        if "alembic_version" in tables:
            revisions = list((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
        return tables, revisions


def schema_drift(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, schema.metadata))


async def test_migrating_an_empty_database_twice(fresh_url: str) -> None:
    store = EventStore.connect(fresh_url)
    try:
        assert (await state_of(store))[0] & TABLES == set()

        await store.migrate()
        first = await state_of(store)
        await store.migrate()
        second = await state_of(store)

        assert first == second
        assert first[0] >= TABLES
        assert first[1] == [head_revision()]
        case = StoreCase(store)
        await case.open()
        assert await store.verify_chain(case.case_id) == ChainReport(case.case_id, 3, ok=True)
    finally:
        await store.close()


async def test_the_migrated_tables_are_the_schema(store: EventStore) -> None:
    async with store.engine.connect() as conn:
        drift = await conn.run_sync(schema_drift)
    assert drift == []


async def test_migrating_again_keeps_the_data(store: EventStore) -> None:
    case = StoreCase(store)
    await case.open()
    before = await store.read_stream(case.case_id)
    record = await store.get_case(case.case_id)

    await store.migrate()
    await store.migrate()

    assert (await state_of(store))[1] == [head_revision()]
    assert await store.read_stream(case.case_id) == before
    assert await store.get_case(case.case_id) == record
    await case.claim(TaskKind.CONSENT)
    assert await store.verify_chain(case.case_id) == ChainReport(case.case_id, 4, ok=True)
    assert await store.projection_differences(case.case_id) == []


async def test_a_second_store_on_the_same_database_migrates_as_a_no_op(store: EventStore) -> None:
    case = StoreCase(store)
    await case.open()
    second = EventStore(store.engine)

    await second.migrate()

    async with store.engine.connect() as conn:
        count = (await conn.execute(select(schema.events.c.event_id))).all()
    assert len(count) == 3
    assert await second.read_stream(case.case_id) == await store.read_stream(case.case_id)


async def test_replicas_starting_together_migrate_once(fresh_url: str) -> None:
    """Four processes' stores migrate a new database at the same moment (replicas on PostgreSQL; CLI
    commands, the API and a worker on one SQLite file): all succeed, and the database ends at head
    with the tables made once."""
    stores = [EventStore.connect(fresh_url) for _ in range(4)]
    try:
        await asyncio.gather(*(store.migrate() for store in stores))
        tables, revisions = await state_of(stores[0])
        assert tables >= TABLES and revisions == [head_revision()]
        async with stores[0].engine.connect() as conn:
            assert await conn.run_sync(schema_drift) == []
    finally:
        for store in stores:
            await store.close()
