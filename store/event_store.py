"""The event store: idempotent, hash-chained appends with projections (and the change's access-log
row) written in the same transaction.

`EventStore` is the one object the rest of the code holds. It composes the store's parts, each
readable on its own: the recorder (store/recorder.py: appends, streams, heads, the state cache),
the projector (store/projector.py: the rows an append writes, rebuilds), the case index
(store/case_index.py: cases and tasks looked up and listed) and the verifier (store/verifier.py:
chains and projections checked). What it does itself is what spans the parts: an append's one
transaction, and opening, migrating and closing the database. The names code written against this
module imports from it (AppendConflict, CaseCheck, ChainReport, ...) it re-exports from their parts."""

from collections.abc import Sequence

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from domain.events import EventEnvelope
from domain.state import CaseState
from domain.stream import apply_all
from store import sqlite
from store.access_log import AccessEntry, change_access_id, write_access
from store.case_index import CaseIndex
from store.chain_check import ALTERED as ALTERED
from store.chain_check import BROKEN_LINK as BROKEN_LINK
from store.chain_check import ChainReport as ChainReport
from store.projector import Projector
from store.projector import RebuildReport as RebuildReport
from store.recorder import AppendConflict as AppendConflict
from store.recorder import Appended as Appended
from store.recorder import Recorder
from store.verifier import CaseCheck as CaseCheck
from store.verifier import Verifier


class EventStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._recorder = Recorder(engine)
        self._projector = Projector(engine)
        index = CaseIndex(engine)
        verifier = Verifier(engine, self._recorder)
        # The parts' reads and checks under the names the rest of the code uses: bound here rather
        # than wrapped, so that each is written, documented and typed once, in its part.
        self.read_stream = self._recorder.read_stream
        self.case_state = self._recorder.case_state
        self.current_state = self._recorder.current_state
        self.case_ids = self._recorder.case_ids
        self.get_case = index.get_case
        self.list_cases = index.list_cases
        self.get_task = index.get_task
        self.list_tasks = index.list_tasks
        self.verify_chain = verifier.verify_chain
        self.verify_access = verifier.verify_access
        self.projection_differences = verifier.projection_differences
        self.check_cases = verifier.check_cases
        self.since_heads = verifier.since_heads
        self.check_since = verifier.check_since
        self.recorded_case_ids = verifier.recorded_case_ids
        self.rebuild_projections = self._projector.rebuild

    @classmethod
    def connect(
        cls, url: str, *, read_only: bool = False, pool_size: int | None = None, max_overflow: int | None = None
    ) -> "EventStore":
        """With `read_only` the database itself refuses every write (and SQLite does not create a missing
        file): for verification, which must change nothing even by mistake. `pool_size` and `max_overflow`
        (PATHWAY_DATABASE_POOL_SIZE, _MAX_OVERFLOW) size a PostgreSQL pool; SQLite ignores them. A
        writable SQLite database file is made private (0600) before SQLite first opens it."""
        if url.startswith("sqlite"):
            if not read_only:
                sqlite.private_database(url)
            engine = create_async_engine(sqlite.read_only_url(url) if read_only else url, connect_args={"timeout": 30})
            event.listen(engine.sync_engine, "connect", sqlite.read_pragmas if read_only else sqlite.writable_pragmas)
        else:
            # asyncpg's way of setting the session's default; PostgreSQL then refuses any write.
            read_only_session = {"server_settings": {"default_transaction_read_only": "on"}}
            pool: dict[str, int] = {}
            if pool_size is not None:
                pool["pool_size"] = pool_size
            if max_overflow is not None:
                pool["max_overflow"] = max_overflow
            engine = create_async_engine(
                url, pool_pre_ping=True, connect_args=read_only_session if read_only else {}, **pool
            )
        return cls(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def migrate(self) -> None:
        # Alembic is imported only by the commands that migrate or check migrations.
        from store.migrate import upgrade_to_head

        async with self.engine.begin() as conn:
            await conn.run_sync(upgrade_to_head)

    async def is_migrated(self) -> bool:
        """Whether the database has every migration; reads only (for commands that must not migrate)."""
        from store.migrate import at_head

        async with self.engine.connect() as conn:
            return await conn.run_sync(at_head)

    async def append(self, case_id: str, envelopes: Sequence[EventEnvelope], access: AccessEntry | None = None) -> int:
        """Append to a case stream; returns the stream's version. The same events again are a no-op.
        With `access`, the change is recorded in the case's access log in the same transaction: never
        the events without their access row, nor the row without the events."""
        return (await self.append_reporting(case_id, envelopes, access)).version

    async def append_reporting(
        self, case_id: str, envelopes: Sequence[EventEnvelope], access: AccessEntry | None = None
    ) -> Appended:
        """`append`, also saying whether this call wrote the events (and the access row) or found them
        already recorded. The access row's id is derived from the first event's, and the events are
        written first: a retry that finds them recorded writes no second row."""
        if not envelopes:
            raise ValueError("nothing to append")
        if any(e.case_id != case_id for e in envelopes):
            raise ValueError("every event must belong to the stream it is appended to")
        if access is not None and access.case_id != case_id:
            raise ValueError("the access entry must be of the case appended to")
        try:
            # One transaction: the events, the rows they project and the access row stand or fall together.
            async with self._recorder.writing() as conn:
                version, prev_hash = await self._recorder.head_for(conn, case_id, envelopes)
                # Folded before the insert, which is where concurrent writers start waiting on this transaction.
                state = apply_all(await self._state_at(conn, case_id, version), envelopes)
                await self._recorder.write(conn, envelopes, prev_hash)
                await self._projector.project(conn, state)
                if access is not None:
                    await write_access(conn, access, change_access_id(envelopes[0].event_id))
        except (IntegrityError, AppendConflict) as collision:
            return await self._recorder.already_recorded(case_id, envelopes, collision)
        self._recorder.keep(state)
        return Appended(state.version, written=True)

    async def _state_at(self, conn: AsyncConnection, case_id: str, version: int) -> CaseState:
        """The case's state before the append: the recorder's, through here so a test can hold an append
        between its read of the head and its insert (tests/store/test_append.py)."""
        return await self._recorder.state_at(conn, case_id, version)
