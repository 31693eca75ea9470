"""The event store: idempotent, hash-chained appends with projections (and the change's access-log
row) written in the same transaction."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import delete, event, insert, select, union
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from domain.events import EventEnvelope, StoredEvent
from domain.state import CaseState, empty_state, fold
from domain.stream import apply_all
from store import schema, sqlite
from store.access_log import AccessChainReport, AccessEntry, change_access_id, check_access_log, write_access
from store.chain_check import ALTERED as ALTERED
from store.chain_check import BROKEN_LINK as BROKEN_LINK
from store.chain_check import ChainReport as ChainReport
from store.chain_check import HashedBody, chain_head, check_stream
from store.hashing import canonical_json, chain_hash
from store.projections import case_record, task_records
from store.records import CaseRecord, TaskRecord
from store.state_cache import StateCache

_stored_event = TypeAdapter(StoredEvent)


class AppendConflict(Exception):
    """The stream does not continue where the caller expected: another writer, or a lost event."""


@dataclass(frozen=True)
class Appended:
    version: int  # the stream's version after the append
    written: bool  # False when every event was already recorded (a retry of an append that committed)


@dataclass(frozen=True)
class RebuildReport:
    cases: int
    tasks: int
    changed: list[tuple[str, str]]  # (table, key) of each row that differs from the one it replaced


class EventStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._states = StateCache()
        # SQLite has one writer at a time. Appends from this process queue here rather than in
        # SQLite's busy handler, which sleeps in growing steps (up to 100 ms) between tries.
        self._one_writer = asyncio.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()

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
        from store.migrate import upgrade_to_head

        async with self.engine.begin() as conn:
            await conn.run_sync(upgrade_to_head)

    async def is_migrated(self) -> bool:
        """Whether the database has every migration; reads only (for commands that must not migrate)."""
        async with self.engine.connect() as conn:
            return await conn.run_sync(_at_head)

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
            async with self._one_writer, self.engine.begin() as conn:
                state = await self._append(conn, case_id, envelopes)
                if access is not None:
                    await write_access(conn, access, change_access_id(envelopes[0].event_id))
        except (IntegrityError, AppendConflict) as error:
            # A concurrent writer got there first; it may have been our own earlier attempt. It may also
            # have committed between our duplicate check and our read of the head (so we saw a moved-on
            # stream rather than a unique violation): look again, now that it has committed.
            async with self.engine.connect() as conn:
                if await self._already_appended(conn, case_id, envelopes):
                    return Appended(await self._version(conn, case_id), written=False)
            if isinstance(error, AppendConflict):
                raise
            raise AppendConflict(f"stream {case_id} changed while appending seq {envelopes[0].seq}") from None
        # Only a committed state is kept: one from a rolled-back transaction would run ahead of the rows.
        self._states.put(state)
        return Appended(state.version, written=True)

    async def _append(self, conn: AsyncConnection, case_id: str, envelopes: Sequence[EventEnvelope]) -> CaseState:
        """The case's state after the append.

        Events already recorded (a retried append) are not looked for first: they fail the seq check
        or the unique event id, and `append_reporting` then looks (fewer statements while SQLite's
        one write lock is held)."""
        version, prev_hash = await self._head(conn, case_id)
        expected = list(range(version + 1, version + 1 + len(envelopes)))
        if [e.seq for e in envelopes] != expected:
            raise AppendConflict(
                f"stream {case_id} is at version {version}; cannot append seqs {[e.seq for e in envelopes]}"
            )
        recorded_at = datetime.now(UTC)
        rows = []
        for envelope in envelopes:
            body = canonical_json(_body(envelope, recorded_at))
            digest = chain_hash(prev_hash, body)
            rows.append(_event_row(envelope, recorded_at, body, prev_hash, digest))
            prev_hash = digest
        state = apply_all(await self._state_at(conn, case_id, version), envelopes)
        await conn.execute(insert(schema.events), rows)
        await self._project(conn, state)
        return state

    async def _already_appended(self, conn: AsyncConnection, case_id: str, envelopes: Sequence[EventEnvelope]) -> bool:
        ids = [e.event_id for e in envelopes]
        found = {
            row.event_id: (row.case_id, row.seq)
            for row in await conn.execute(
                select(schema.events.c.event_id, schema.events.c.case_id, schema.events.c.seq).where(
                    schema.events.c.event_id.in_(ids)
                )
            )
        }
        if not found:
            return False
        if len(found) != len(ids) or any(found.get(e.event_id) != (case_id, e.seq) for e in envelopes):
            raise AppendConflict(f"events {ids} are partly or differently recorded in stream {case_id}")
        return True

    async def _version(self, conn: AsyncConnection, case_id: str) -> int:
        version, _ = await self._head(conn, case_id)
        return version

    async def _head(self, conn: AsyncConnection, case_id: str) -> tuple[int, str]:
        """The stream's version and the hash its next event must chain to."""
        return await chain_head(conn, schema.events, case_id)

    async def _read(self, conn: AsyncConnection, case_id: str, after: int = 0) -> list[StoredEvent]:
        """The stream's events after seq `after`, in order."""
        result = await conn.execute(
            select(schema.events.c.body, schema.events.c.prev_hash, schema.events.c.hash)
            .where(schema.events.c.case_id == case_id, schema.events.c.seq > after)
            .order_by(schema.events.c.seq)
        )
        return [_stored(row) for row in result]

    async def _state_at(self, conn: AsyncConnection, case_id: str, version: int) -> CaseState:
        """The fold of the stream as it stands at `version` (its head in this transaction): the kept
        state, if any, with only the events after it read and applied."""
        kept = self._states.get(case_id)
        if kept is None or kept.version > version:  # nothing kept, or the database went back (a restore)
            kept = empty_state(case_id)
        if kept.version == version:
            return kept
        return apply_all(kept, await self._read(conn, case_id, after=kept.version))

    async def _project(self, conn: AsyncConnection, state: CaseState) -> None:
        case_row = _case_row(case_record(state))
        dialect_insert = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
        upsert = dialect_insert(schema.cases).values(case_row)
        changes = {column: upsert.excluded[column] for column in case_row if column != "case_id"}
        await conn.execute(upsert.on_conflict_do_update(index_elements=[schema.cases.c.case_id], set_=changes))
        await conn.execute(delete(schema.tasks).where(schema.tasks.c.case_id == state.case_id))
        task_rows = [_task_row(record) for record in task_records(state)]
        if task_rows:
            await conn.execute(insert(schema.tasks), task_rows)

    async def rebuild_projections(self) -> "RebuildReport":
        """Drop every projected row and fold every stream again, in one transaction (readers see the
        old rows or the new, never none); report which rows came out different from those replaced.
        Streams are read a batch of cases at a time, one query per batch."""
        async with self.engine.begin() as conn:
            before = await _projected_rows(conn)
            await conn.execute(delete(schema.tasks))
            await conn.execute(delete(schema.cases))
            query = select(schema.events.c.case_id).distinct().order_by(schema.events.c.case_id)
            case_ids = [row.case_id for row in await conn.execute(query)]
            for start in range(0, len(case_ids), CASES_PER_READ):
                batch = case_ids[start : start + CASES_PER_READ]
                query = (
                    select(schema.events.c.case_id, schema.events.c.body)
                    .where(schema.events.c.case_id.in_(batch))
                    .order_by(schema.events.c.case_id, schema.events.c.seq)
                )
                for case_id, rows in groupby(await conn.execute(query), key=lambda row: str(row.case_id)):
                    await self._project(conn, fold(case_id, [HashedBody.model_validate_json(r.body) for r in rows]))
            after = await _projected_rows(conn)
        changed = sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
        tasks = sum(1 for table, _ in after if table == "tasks")
        return RebuildReport(cases=len(case_ids), tasks=tasks, changed=changed)

    async def read_stream(self, case_id: str) -> list[StoredEvent]:
        async with self.engine.connect() as conn:
            return await self._read(conn, case_id)

    async def case_state(self, case_id: str) -> CaseState:
        """The case as a fresh fold of every stored event (what audits and checks need)."""
        return fold(case_id, await self.read_stream(case_id))

    async def current_state(self, case_id: str) -> CaseState:
        """The case as of its last stored event, folding only the events since the state kept from the
        last append or read (what commands need: the same state, without re-reading a long stream)."""
        async with self.engine.connect() as conn:
            version = await self._version(conn, case_id)
            state = await self._state_at(conn, case_id, version)
        self._states.put(state)
        return state

    async def case_ids(self) -> list[str]:
        async with self.engine.connect() as conn:
            result = await conn.execute(select(schema.events.c.case_id).distinct().order_by(schema.events.c.case_id))
            return [row.case_id for row in result]

    async def get_case(self, case_id: str) -> CaseRecord | None:
        cases = await self.list_cases(case_id=case_id)
        return cases[0] if cases else None

    async def list_cases(
        self, *, case_id: str | None = None, stage: str | None = None, site: str | None = None
    ) -> list[CaseRecord]:
        query = select(schema.cases).order_by(schema.cases.c.opened_at, schema.cases.c.case_id)
        if case_id is not None:
            query = query.where(schema.cases.c.case_id == case_id)
        if stage is not None:
            query = query.where(schema.cases.c.stage == stage)
        if site is not None:
            query = query.where(schema.cases.c.site == site)
        async with self.engine.connect() as conn:
            return [_case_from_row(row) for row in await conn.execute(query)]

    async def get_task(self, task_id: str) -> TaskRecord | None:
        tasks = await self.list_tasks(task_id=task_id, status=None)
        return tasks[0] if tasks else None

    async def list_tasks(
        self,
        *,
        task_id: str | None = None,
        case_id: str | None = None,
        site: str | None = None,
        status: str | None = "open",
        overdue: bool | None = None,
    ) -> list[TaskRecord]:
        query = select(schema.tasks).order_by(schema.tasks.c.due_at, schema.tasks.c.task_id)
        filters: dict[str, Any] = {
            "task_id": task_id,
            "case_id": case_id,
            "site": site,
            "status": status,
            "overdue": overdue,
        }
        for column, value in filters.items():
            if value is not None:
                query = query.where(schema.tasks.c[column] == value)
        async with self.engine.connect() as conn:
            return [_task_from_row(row) for row in await conn.execute(query)]

    async def verify_chain(self, case_id: str) -> ChainReport:
        """Recompute the stream's hash chain and sequence, and check each event's columns against its
        hashed body; report the first event that does not fit and, in plain words, what happened to it
        (altered, reordered, deleted, inserted, moved from another stream). Reads only."""
        async with self.engine.connect() as conn:
            rows = list(
                await conn.execute(
                    select(schema.events).where(schema.events.c.case_id == case_id).order_by(schema.events.c.seq)
                )
            )
        return check_stream(case_id, rows).report

    async def verify_access(self, case_id: str) -> AccessChainReport:
        """Check the case's access log as `verify_chain` checks its events: each row's seq, link and
        hash, and its columns against its hashed body; report the first row that does not fit and what
        happened to it (altered, reordered, deleted, inserted). Reads only."""
        table = schema.access_log
        async with self.engine.connect() as conn:
            rows = list(await conn.execute(select(table).where(table.c.case_id == case_id).order_by(table.c.seq)))
        return check_access_log(case_id, rows)

    async def projection_differences(self, case_id: str) -> list[str]:
        """Where the stored projections differ from a fresh fold of the events (empty when they agree)."""
        state = await self.case_state(case_id)
        async with self.engine.connect() as conn:
            case_rows = list(await conn.execute(select(schema.cases).where(schema.cases.c.case_id == case_id)))
            task_rows = list(
                await conn.execute(select(schema.tasks).where(schema.tasks.c.case_id == case_id).order_by(*TASK_ORDER))
            )
        return _projection_differences(state, case_rows, task_rows)

    async def check_cases(self, case_ids: Sequence[str]) -> AsyncIterator["CaseCheck"]:
        """`verify_chain`, `verify_access` and, for each stream that verifies, `projection_differences`,
        for many cases (in the order given): what `pathway audit verify` checks. Reads a batch of cases
        at a time, each table in one query, and folds the bodies the chain check parsed. Reads only."""
        for start in range(0, len(case_ids), CASES_PER_READ):
            batch = list(case_ids[start : start + CASES_PER_READ])
            async with self.engine.connect() as conn:
                events = await _rows_by_case(conn, schema.events, batch, schema.events.c.seq)
                cases = await _rows_by_case(conn, schema.cases, batch)
                tasks = await _rows_by_case(conn, schema.tasks, batch, *TASK_ORDER)
                accesses = await _rows_by_case(conn, schema.access_log, batch, schema.access_log.c.seq)
            for case_id in batch:
                checked = check_stream(case_id, events.get(case_id, []))
                differences: list[str] = []
                # Only a whole chain is folded: a fold of tampered events would prove nothing about the projections.
                if checked.report.ok:
                    state = fold(case_id, checked.events)
                    differences = _projection_differences(state, cases.get(case_id, []), tasks.get(case_id, []))
                access_log = check_access_log(case_id, accesses.get(case_id, []))
                yield CaseCheck(checked.report, differences, access_log)

    async def recorded_case_ids(self) -> list[str]:
        """Every case with events, projected rows or access rows: rows left behind by deleted events
        are found too, and so is an access log whose case's events are all gone."""
        query = union(
            select(schema.events.c.case_id),
            select(schema.cases.c.case_id),
            select(schema.tasks.c.case_id),
            select(schema.access_log.c.case_id),
        )
        async with self.engine.connect() as conn:
            return sorted(row.case_id for row in await conn.execute(query))


CASES_PER_READ = 500  # cases whose rows one verification or rebuild query reads
TASK_ORDER = (schema.tasks.c.due_at, schema.tasks.c.task_id)  # as list_tasks orders them


@dataclass(frozen=True)
class CaseCheck:
    """One case as verification sees it: its chain, how its projections differ from a fold of its
    events (not looked at, so empty, when the chain does not verify), and its access log's chain."""

    chain: ChainReport
    projection_differences: list[str]
    access_log: AccessChainReport


async def _rows_by_case(
    conn: AsyncConnection, table: Any, case_ids: list[str], *order: Any
) -> dict[str, list[Row[Any]]]:
    query = select(table).where(table.c.case_id.in_(case_ids)).order_by(table.c.case_id, *order)
    result = await conn.execute(query)
    case_id_of = itemgetter(list(result.keys()).index("case_id"))  # by position: a row's attributes cost more
    return {case_id: list(rows) for case_id, rows in groupby(result, key=case_id_of)}


def _projection_differences(
    state: CaseState, case_rows: Sequence[Row[Any]], task_rows: Sequence[Row[Any]]
) -> list[str]:
    """Where a case's projected rows differ from the fold of its events. The rows are first held to
    the rows an append would write for `state`; only when they differ are they read as records and
    compared field by field, to say what differs (or that they are no valid records at all)."""
    expected_case = case_record(state) if state.stage else None
    expected_tasks = {t.task_id: t for t in task_records(state)}
    if _as_written(expected_case, expected_tasks.values()) == (
        [dict(row._mapping) for row in case_rows],
        sorted((dict(row._mapping) for row in task_rows), key=lambda row: str(row["task_id"])),
    ):
        return []
    try:
        actual_case = _case_from_row(case_rows[0]) if case_rows else None
        actual_tasks = {t.task_id: t for t in map(_task_from_row, task_rows)}
    except ValidationError as error:  # a projection row changed into something no append writes
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return [f"the projected rows are not valid records: {where}: {first['msg']}"]
    differences = []
    if expected_case != actual_case:
        differences.append(_difference("cases row", actual_case, expected_case))
    for task_id in sorted(expected_tasks.keys() | actual_tasks.keys()):
        expected, actual = expected_tasks.get(task_id), actual_tasks.get(task_id)
        if expected != actual:
            differences.append(_difference(f"task {task_id}", actual, expected))
    return differences


def _as_written(case: CaseRecord | None, tasks: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The case and task rows as `_project` writes them (equal rows are equal records; rows that are
    not equal are compared as records, so a change in how rows are written only costs time here)."""
    cases = [] if case is None else [_case_row(case)]
    return cases, [_task_row(task) for task in sorted(tasks, key=lambda task: task.task_id)]


def _case_row(record: CaseRecord) -> dict[str, Any]:
    """The cases row `_project` writes for `record` (the lists joined into one column)."""
    row = record.model_dump()
    row["cohorts"] = ",".join(row["cohorts"])
    return row


def _task_row(record: TaskRecord) -> dict[str, Any]:
    """The tasks row `_project` writes for `record`."""
    row = record.model_dump()
    row["candidate_roles"] = ",".join(row["candidate_roles"])
    return row


def _difference(what: str, stored: BaseModel | None, expected: BaseModel | None) -> str:
    """A projected row against the fold, naming only the fields that differ when both exist."""
    if stored is None or expected is None:
        return f"{what}: stored {stored} but the events say {expected}"
    fields = [
        f"{name} stored {_plain(getattr(stored, name))} but the events say {_plain(getattr(expected, name))}"
        for name in type(stored).model_fields
        if getattr(stored, name) != getattr(expected, name)
    ]
    return f"{what}: " + "; ".join(fields)


def _plain(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple):
        return "(" + ", ".join(map(str, value)) + ")"
    return str(value)


async def _projected_rows(conn: AsyncConnection) -> dict[tuple[str, str], tuple[Any, ...]]:
    rows: dict[tuple[str, str], tuple[Any, ...]] = {}
    for row in await conn.execute(select(schema.cases)):
        rows["cases", row.case_id] = tuple(row)
    for row in await conn.execute(select(schema.tasks)):
        rows["tasks", row.task_id] = tuple(row)
    return rows


def _body(envelope: EventEnvelope, recorded_at: datetime) -> dict[str, Any]:
    body = envelope.model_dump(mode="json")
    body["recorded_at"] = recorded_at.isoformat().replace("+00:00", "Z")
    return body


def _event_row(
    envelope: EventEnvelope, recorded_at: datetime, body: str, prev_hash: str, digest: str
) -> dict[str, Any]:
    return {
        "event_id": envelope.event_id,
        "case_id": envelope.case_id,
        "seq": envelope.seq,
        "type": envelope.event.type,
        "schema_version": envelope.event.schema_version,
        "occurred_at": envelope.occurred_at,
        "recorded_at": recorded_at,
        "actor_id": envelope.actor.staff_id,
        "actor_role": envelope.actor.role,
        "body": body,
        "prev_hash": prev_hash,
        "hash": digest,
    }


def _stored(row: Any) -> StoredEvent:
    return _stored_event.validate_python(json.loads(row.body) | {"prev_hash": row.prev_hash, "hash": row.hash})


def _case_from_row(row: Row[Any]) -> CaseRecord:
    data = dict(row._mapping)
    data["cohorts"] = tuple(filter(None, data["cohorts"].split(",")))
    return CaseRecord.model_validate(data)


def _task_from_row(row: Row[Any]) -> TaskRecord:
    data = dict(row._mapping)
    data["candidate_roles"] = tuple(filter(None, data["candidate_roles"].split(",")))
    return TaskRecord.model_validate(data)


def _at_head(connection: Connection) -> bool:
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from store.migrate import MIGRATIONS

    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    return set(MigrationContext.configure(connection).get_current_heads()) == set(heads)
