"""The recorder: each case's events, appended to its hash-chained stream and read back in order.

An append is written in steps (`writing`, `head_for`, `write`) so that `EventStore.append_reporting`
can put the projected rows and the access row in the same transaction as the events. The recorder
also keeps the last folded state of recently written cases (`StateCache`), so that an append or a
command folds only the events since; audits never use it (`case_state` folds afresh)."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.events import EventEnvelope, StoredEvent
from domain.state import CaseState, empty_state, fold
from domain.stream import apply_all
from store import schema
from store.chain_check import chain_head
from store.hashing import canonical_json, chain_hash
from store.state_cache import StateCache

_stored_event = TypeAdapter(StoredEvent)


class AppendConflict(Exception):
    """The stream does not continue where the caller expected: another writer, or a lost event."""


@dataclass(frozen=True)
class Appended:
    version: int  # the stream's version after the append
    written: bool  # False when every event was already recorded (a retry of an append that committed)


class Recorder:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._states = StateCache()
        # SQLite has one writer at a time. Appends from this process queue here rather than in
        # SQLite's busy handler, which sleeps in growing steps (up to 100 ms) between tries.
        self._one_writer = asyncio.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncConnection]:
        """The transaction of one append: committed when the block ends, rolled back if it raises."""
        async with self._one_writer, self.engine.begin() as conn:
            yield conn

    async def head_for(
        self, conn: AsyncConnection, case_id: str, envelopes: Sequence[EventEnvelope]
    ) -> tuple[int, str]:
        """The stream's version and the hash the first envelope must chain to, once the envelopes are
        found to continue the stream right after its head.

        Events already recorded (a retried append) are not looked for first: they fail the seq check
        here or the unique event id in `write`, and `already_recorded` then looks (fewer statements
        while SQLite's one write lock is held)."""
        version, prev_hash = await self.head(conn, case_id)
        if [e.seq for e in envelopes] != list(range(version + 1, version + 1 + len(envelopes))):
            raise AppendConflict(
                f"stream {case_id} is at version {version}; cannot append seqs {[e.seq for e in envelopes]}"
            )
        return version, prev_hash

    async def write(self, conn: AsyncConnection, envelopes: Sequence[EventEnvelope], prev_hash: str) -> None:
        """Insert the envelopes as events, each chained to the one before it, from `prev_hash` on."""
        recorded_at = datetime.now(UTC)
        rows = []
        for envelope in envelopes:
            body = canonical_json(_body(envelope, recorded_at))
            digest = chain_hash(prev_hash, body)
            rows.append(_event_row(envelope, recorded_at, body, prev_hash, digest))
            prev_hash = digest
        await conn.execute(insert(schema.events), rows)

    def keep(self, state: CaseState) -> None:
        """Keep a committed state for the next append or command to fold on from. (Only a committed
        one: a state from a rolled-back transaction would run ahead of the rows.)"""
        self._states.put(state)

    async def already_recorded(
        self, case_id: str, envelopes: Sequence[EventEnvelope], collision: IntegrityError | AppendConflict
    ) -> Appended:
        """What an append that collided with another writer means: that writer may have been our own
        earlier attempt. It may also have committed between our duplicate check and our read of the
        head (so we saw a moved-on stream rather than a unique violation): look again, now that it has
        committed. Raises AppendConflict when the events are not (all, and as given) recorded."""
        async with self.engine.connect() as conn:
            if await self._already_appended(conn, case_id, envelopes):
                return Appended(await self._version(conn, case_id), written=False)
        if isinstance(collision, AppendConflict):
            raise collision
        raise AppendConflict(f"stream {case_id} changed while appending seq {envelopes[0].seq}") from None

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

    async def head(self, conn: AsyncConnection, case_id: str) -> tuple[int, str]:
        """The stream's version and the hash its next event must chain to."""
        return await chain_head(conn, schema.events, case_id)

    async def _version(self, conn: AsyncConnection, case_id: str) -> int:
        version, _ = await self.head(conn, case_id)
        return version

    async def state_at(self, conn: AsyncConnection, case_id: str, version: int) -> CaseState:
        """The fold of the stream as it stands at `version` (its head in this transaction): the kept
        state, if any, with only the events after it read and applied."""
        kept = self._states.get(case_id)
        if kept is None or kept.version > version:  # nothing kept, or the database went back (a restore)
            kept = empty_state(case_id)
        if kept.version == version:
            return kept
        return apply_all(kept, await self.read(conn, case_id, after=kept.version))

    async def read(self, conn: AsyncConnection, case_id: str, after: int = 0) -> list[StoredEvent]:
        """The stream's events after seq `after`, in order, as `conn` sees them."""
        result = await conn.execute(
            select(schema.events.c.body, schema.events.c.prev_hash, schema.events.c.hash)
            .where(schema.events.c.case_id == case_id, schema.events.c.seq > after)
            .order_by(schema.events.c.seq)
        )
        return [_stored(row) for row in result]

    async def read_stream(self, case_id: str) -> list[StoredEvent]:
        async with self.engine.connect() as conn:
            return await self.read(conn, case_id)

    async def case_state(self, case_id: str) -> CaseState:
        """The case as a fresh fold of every stored event (what audits and checks need)."""
        return fold(case_id, await self.read_stream(case_id))

    async def current_state(self, case_id: str) -> CaseState:
        """The case as of its last stored event, folding only the events since the state kept from the
        last append or read (what commands need: the same state, without re-reading a long stream)."""
        async with self.engine.connect() as conn:
            version = await self._version(conn, case_id)
            state = await self.state_at(conn, case_id, version)
        self.keep(state)
        return state

    async def case_ids(self) -> list[str]:
        async with self.engine.connect() as conn:
            result = await conn.execute(select(schema.events.c.case_id).distinct().order_by(schema.events.c.case_id))
            return [row.case_id for row in result]


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
