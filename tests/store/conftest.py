"""Fixtures for the event store tests: a migrated EventStore on SQLite and on PostgreSQL.

PostgreSQL is required, never optional: if the server cannot be reached the postgres tests fail
(CI must not go green by skipping them). The server is 127.0.0.1:5432 as user postgres with trust
auth unless PATHWAY_TEST_POSTGRES_URL names another (a SQLAlchemy URL of an admin database).
Each session creates its own uniquely named database and drops it at the end; every test starts
from empty tables.
"""

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import URL, make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from store import schema
from store.event_store import EventStore

POSTGRES_ADMIN_URL = os.environ.get(
    "PATHWAY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", "postgres"]


class PostgresServer:
    """Creates uniquely named test databases on first use and drops them all at the end of the session."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url: URL = make_url(admin_url)
        self.created: list[str] = []
        self.failure: str | None = None
        self._shared: str | None = None

    async def _admin(self, statement: str) -> None:
        engine = create_async_engine(
            self.admin_url, isolation_level="AUTOCOMMIT", connect_args={"timeout": 10}, poolclass=NullPool
        )
        try:
            async with engine.connect() as conn:
                await conn.execute(text(statement))
        finally:
            await engine.dispose()

    async def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL. Fails the test if the server is unreachable."""
        if self.failure is not None:
            pytest.fail(self.failure, pytrace=False)
        name = f"pathway_test_{secrets.token_hex(6)}"
        try:
            await self._admin(f'CREATE DATABASE "{name}"')
        except Exception as error:
            where = self.admin_url.render_as_string(hide_password=True)
            self.failure = (
                f"PostgreSQL is unreachable at {where}: {type(error).__name__}: {error}\n"
                "The event store tests need a PostgreSQL server (CI requires it, so they fail rather than skip). "
                "Start one on 127.0.0.1:5432 (user postgres, trust auth) or set PATHWAY_TEST_POSTGRES_URL."
            )
        if self.failure is not None:
            pytest.fail(self.failure, pytrace=False)
        self.created.append(name)
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    async def shared_database(self) -> str:
        """The session's migrated database, created on first use."""
        if self._shared is None:
            url = await self.create_database()
            store = EventStore.connect(url)
            try:
                await store.migrate()
            finally:
                await store.close()
            self._shared = url
        return self._shared

    async def drop_all(self) -> None:
        while self.created:
            name = self.created.pop()
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgres_server() -> AsyncIterator[PostgresServer]:
    server = PostgresServer(POSTGRES_ADMIN_URL)
    yield server
    await server.drop_all()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_url(backend: str, tmp_path: Path, postgres_server: PostgresServer) -> str:
    """The URL of a brand-new, empty (unmigrated) database on `backend`."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    return await postgres_server.create_database()


@pytest_asyncio.fixture(loop_scope="session")
async def store(backend: str, tmp_path: Path, postgres_server: PostgresServer) -> AsyncIterator[EventStore]:
    """A migrated EventStore with no events, cases or tasks, on SQLite (a file) or PostgreSQL."""
    if backend == "sqlite":
        event_store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'events.db'}")
        await event_store.migrate()
    else:
        event_store = EventStore.connect(await postgres_server.shared_database())
        async with event_store.engine.begin() as conn:
            tables = ", ".join(table.name for table in schema.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables}"))
    try:
        yield event_store
    finally:
        await event_store.close()
