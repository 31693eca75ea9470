"""The event store: idempotent, hash-chained appends with projections updated in the same transaction."""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import delete, event, insert, make_url, select, union
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from domain.events import EventEnvelope, StoredEvent
from domain.state import CaseState, fold
from store import schema
from store.hashing import GENESIS_HASH, canonical_json, chain_hash
from store.projections import case_record, task_records
from store.records import CaseRecord, TaskRecord

_stored_event = TypeAdapter(StoredEvent)


class AppendConflict(Exception):
    """The stream does not continue where the caller expected: another writer, or a lost event."""


@dataclass(frozen=True)
class ChainReport:
    case_id: str
    events: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None
    first_bad_event_id: str | None = None
    # The last row's hash, as stored (it commits to the stream before it); not part of the verdict.
    head_hash: str = field(default=GENESIS_HASH, compare=False)


@dataclass(frozen=True)
class RebuildReport:
    cases: int
    tasks: int
    changed: list[tuple[str, str]]  # (table, key) of each row that differs from the one it replaced


class EventStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    def connect(
        cls, url: str, *, read_only: bool = False, pool_size: int | None = None, max_overflow: int | None = None
    ) -> "EventStore":
        """With `read_only` the database itself refuses every write (and SQLite does not create a missing
        file): for verification, which must change nothing even by mistake. `pool_size` and `max_overflow`
        (PATHWAY_DATABASE_POOL_SIZE, _MAX_OVERFLOW) size a PostgreSQL pool; SQLite ignores them."""
        if url.startswith("sqlite"):
            engine = create_async_engine(_read_only_sqlite(url) if read_only else url, connect_args={"timeout": 30})
            event.listen(engine.sync_engine, "connect", _sqlite_read_pragmas if read_only else _sqlite_pragmas)
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

    async def append(self, case_id: str, envelopes: Sequence[EventEnvelope]) -> int:
        """Append to a case stream; returns the stream's version. The same events again are a no-op."""
        if not envelopes:
            raise ValueError("nothing to append")
        if any(e.case_id != case_id for e in envelopes):
            raise ValueError("every event must belong to the stream it is appended to")
        try:
            async with self.engine.begin() as conn:
                return await self._append(conn, case_id, envelopes)
        except (IntegrityError, AppendConflict) as error:
            # A concurrent writer got there first; it may have been our own earlier attempt. It may also
            # have committed between our duplicate check and our read of the head (so we saw a moved-on
            # stream rather than a unique violation): look again, now that it has committed.
            async with self.engine.connect() as conn:
                if await self._already_appended(conn, case_id, envelopes):
                    return await self._version(conn, case_id)
            if isinstance(error, AppendConflict):
                raise
            raise AppendConflict(f"stream {case_id} changed while appending seq {envelopes[0].seq}") from None

    async def _append(self, conn: AsyncConnection, case_id: str, envelopes: Sequence[EventEnvelope]) -> int:
        if await self._already_appended(conn, case_id, envelopes):
            return await self._version(conn, case_id)
        head = (
            await conn.execute(
                select(schema.events.c.seq, schema.events.c.hash)
                .where(schema.events.c.case_id == case_id)
                .order_by(schema.events.c.seq.desc())
                .limit(1)
            )
        ).first()
        version, prev_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
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
        await conn.execute(insert(schema.events), rows)
        state = fold(case_id, await self._read(conn, case_id))
        await self._project(conn, state)
        return state.version

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
        row = (
            await conn.execute(
                select(schema.events.c.seq)
                .where(schema.events.c.case_id == case_id)
                .order_by(schema.events.c.seq.desc())
                .limit(1)
            )
        ).first()
        return row.seq if row else 0

    async def _read(self, conn: AsyncConnection, case_id: str) -> list[StoredEvent]:
        result = await conn.execute(
            select(schema.events.c.body, schema.events.c.prev_hash, schema.events.c.hash)
            .where(schema.events.c.case_id == case_id)
            .order_by(schema.events.c.seq)
        )
        return [_stored(row) for row in result]

    async def _project(self, conn: AsyncConnection, state: CaseState) -> None:
        case_row = case_record(state).model_dump()
        case_row["cohorts"] = ",".join(case_row["cohorts"])
        await conn.execute(delete(schema.cases).where(schema.cases.c.case_id == state.case_id))
        await conn.execute(insert(schema.cases), [case_row])
        await conn.execute(delete(schema.tasks).where(schema.tasks.c.case_id == state.case_id))
        task_rows = []
        for record in task_records(state):
            row = record.model_dump()
            row["candidate_roles"] = ",".join(row["candidate_roles"])
            task_rows.append(row)
        if task_rows:
            await conn.execute(insert(schema.tasks), task_rows)

    async def rebuild_projections(self) -> "RebuildReport":
        """Drop every projected row and fold every stream again, in one transaction (readers see the
        old rows or the new, never none); report which rows came out different from those replaced."""
        async with self.engine.begin() as conn:
            before = await _projected_rows(conn)
            await conn.execute(delete(schema.tasks))
            await conn.execute(delete(schema.cases))
            query = select(schema.events.c.case_id).distinct().order_by(schema.events.c.case_id)
            case_ids = [row.case_id for row in await conn.execute(query)]
            for case_id in case_ids:
                await self._project(conn, fold(case_id, await self._read(conn, case_id)))
            after = await _projected_rows(conn)
        changed = sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
        tasks = sum(1 for table, _ in after if table == "tasks")
        return RebuildReport(cases=len(case_ids), tasks=tasks, changed=changed)

    async def read_stream(self, case_id: str) -> list[StoredEvent]:
        async with self.engine.connect() as conn:
            return await self._read(conn, case_id)

    async def case_state(self, case_id: str) -> CaseState:
        """The case as a fresh fold of its stored events."""
        return fold(case_id, await self.read_stream(case_id))

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
        head_hash = rows[-1].hash if rows else GENESIS_HASH
        found = _first_bad_event(case_id, rows)
        if found is None:
            return ChainReport(case_id, len(rows), ok=True, head_hash=head_hash)
        row, problem = found
        return ChainReport(
            case_id,
            len(rows),
            ok=False,
            first_bad_seq=row.seq,
            problem=problem,
            first_bad_event_id=row.event_id,
            head_hash=head_hash,
        )

    async def projection_differences(self, case_id: str) -> list[str]:
        """Where the stored projections differ from a fresh fold of the events (empty when they agree)."""
        state = await self.case_state(case_id)
        try:
            actual_case = await self.get_case(case_id)
            actual_tasks = {t.task_id: t for t in await self.list_tasks(case_id=case_id, status=None)}
        except ValidationError as error:  # a projection row changed into something no append writes
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            return [f"the projected rows are not valid records: {where}: {first['msg']}"]
        differences = []
        expected_case = case_record(state) if state.stage else None
        if expected_case != actual_case:
            differences.append(_difference("cases row", actual_case, expected_case))
        expected_tasks = {t.task_id: t for t in task_records(state)}
        for task_id in sorted(expected_tasks.keys() | actual_tasks.keys()):
            expected, actual = expected_tasks.get(task_id), actual_tasks.get(task_id)
            if expected != actual:
                differences.append(_difference(f"task {task_id}", actual, expected))
        return differences

    async def recorded_case_ids(self) -> list[str]:
        """Every case with events or projected rows: rows left behind by deleted events are found too."""
        query = union(select(schema.events.c.case_id), select(schema.cases.c.case_id), select(schema.tasks.c.case_id))
        async with self.engine.connect() as conn:
            return sorted(row.case_id for row in await conn.execute(query))


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


BROKEN_LINK = "prev_hash does not match the hash of the event before it"
ALTERED = "hash does not match the event's content: the event was altered (or forged)"


def _first_bad_event(case_id: str, rows: Sequence[Row[Any]]) -> tuple[Row[Any], str] | None:
    """The first row (in seq order) that does not fit the chain, and what happened to it."""
    prev_hash = GENESIS_HASH
    for expected_seq, row in enumerate(rows, start=1):
        if row.seq != expected_seq:
            return row, f"sequence gap: expected seq {expected_seq}, found {row.seq}"
        if row.prev_hash != prev_hash or chain_hash(prev_hash, row.body) != row.hash:
            return _broken(case_id, rows, row, prev_hash)
        problem = _body_problem(row)
        if problem:
            return row, problem
        prev_hash = row.hash
    return None


def _broken(case_id: str, rows: Sequence[Row[Any]], row: Row[Any], prev_hash: str) -> tuple[Row[Any], str]:
    """What happened at the first row whose link or hash is wrong. Its hashed body says where it was
    written, and the other rows' links say what follows what: together they tell the kinds of
    tampering apart. Every row before `row` fits the chain, so seq n is at position n - 1."""
    if chain_hash(row.prev_hash, row.body) == row.hash:  # the event is as written, but not where it was written
        misplaced = _misplaced(case_id, rows, row)
        if misplaced is not None:
            return misplaced
    linked_past = next((other.seq for other in rows if other.seq > row.seq and other.prev_hash == prev_hash), None)
    if linked_past is not None:
        return row, _inserted(row.seq, linked_past - 1)
    if row.prev_hash == prev_hash:
        return row, ALTERED
    if chain_hash(prev_hash, row.body) == row.hash:
        return row, BROKEN_LINK
    if chain_hash(row.prev_hash, row.body) == row.hash:
        return row, f"{BROKEN_LINK}: the event before it was rewritten with its hash recomputed, or this link was"
    return row, f"{ALTERED}, and its prev_hash does not match the event before it"


def _misplaced(case_id: str, rows: Sequence[Row[Any]], row: Row[Any]) -> tuple[Row[Any], str] | None:
    """An intact event in the wrong place: moved from another stream, copied, reordered, renumbered
    after a deletion, or found after events inserted before it."""
    claimed = _lenient_body(row)
    claimed_case, claimed_seq = claimed.get("case_id"), claimed.get("seq")
    if claimed_case is not None and claimed_case != case_id:
        return row, _moved(claimed_case, claimed_seq)
    seq_of_hash: dict[str, int] = {}
    for other in rows:
        seq_of_hash.setdefault(other.hash, other.seq)
    if seq_of_hash[row.hash] != row.seq:
        return row, f"a copy of the event at seq {seq_of_hash[row.hash]}: the same hashed event recorded twice"
    linked = seq_of_hash.get(row.prev_hash)
    if linked is not None and linked > row.seq:
        return row, (
            f"out of order: by its hashed body this is seq {claimed_seq}, and it follows the event now at seq "
            f"{linked}; the events were reordered"
        )
    if linked is not None and linked < row.seq - 1:
        return rows[linked], _inserted(linked + 1, row.seq - 1)
    if isinstance(claimed_seq, int) and claimed_seq > row.seq and linked is None:
        return row, (
            f"by its hashed body this is seq {claimed_seq}: {claimed_seq - row.seq} event(s) before it were "
            "deleted and the later ones renumbered"
        )
    return None


def _inserted(first: int, last: int) -> str:
    if first == last:
        return f"inserted: this event is not part of the chain; seq {last + 1} links to the event before it"
    return f"inserted: events {first} to {last} are not part of the chain; seq {last + 1} links to the one before them"


def _moved(claimed_case: object, claimed_seq: object) -> str:
    return f"moved: by its hashed body this is seq {claimed_seq} of stream {claimed_case}"


def _body_problem(row: Row[Any]) -> str | None:
    """A row whose hash holds: is its body an event, and do the columns beside it say the same?"""
    try:
        stored = _stored(row)
    except (ValueError, TypeError):  # not JSON, or not an event: rewritten with its hash recomputed
        return "the hashed body is not a readable event: it was rewritten and its hash recomputed"
    if stored.case_id != row.case_id:
        return _moved(stored.case_id, stored.seq)
    columns = (
        row.event_id,
        row.case_id,
        row.seq,
        row.type,
        row.schema_version,
        row.occurred_at,
        row.recorded_at,
        row.actor_id,
        row.actor_role,
    )
    in_body = (
        stored.event_id,
        stored.case_id,
        stored.seq,
        stored.event.type,
        stored.event.schema_version,
        stored.occurred_at,
        stored.recorded_at,
        stored.actor.staff_id,
        stored.actor.role,
    )
    if columns != in_body:
        return "indexed columns disagree with the hashed event body"
    return None


def _lenient_body(row: Row[Any]) -> dict[str, Any]:
    """The body's fields as far as it can be read, for saying where an event was written."""
    try:
        body = json.loads(row.body)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_read_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # No journal mode: setting one is a write, which a read-only connection refuses.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _read_only_sqlite(url: str) -> str:
    """The same database file opened read-only, as an SQLite URI (so a missing file is not created)."""
    parsed = make_url(url)
    if not parsed.database or parsed.database == ":memory:":
        raise ValueError("a read-only store needs a database file")
    return parsed.set(
        database=f"file:{quote(parsed.database)}", query={**parsed.query, "mode": "ro", "uri": "true"}
    ).render_as_string(hide_password=False)


def _at_head(connection: Connection) -> bool:
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from store.migrate import MIGRATIONS

    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    return set(MigrationContext.configure(connection).get_current_heads()) == set(heads)
