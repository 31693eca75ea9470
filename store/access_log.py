"""The access audit: who read or changed which case, when and why, kept as one hash chain per case.

A read is recorded by `AccessLog.record`, in its own transaction. A change is recorded by
`EventStore.append` in the transaction of its events (an `AccessEntry`), so a change that was
recorded can never be missing from the log; its row's id comes from its first event's id, so a
retried append that finds its events recorded finds its access row too and writes neither again.

Each case's rows are chained like its events (store/chain_check.py): seq 1, 2, ... per case, and each
row's hash is SHA-256 over the previous row's hash and the row's canonical JSON (`body`, every other
column). `pathway audit verify` so finds a deleted, altered, inserted or reordered row, and a signed
checkpoint (which signs each case's last access row) a cut-off tail.

Rows are written by several processes at once (API and CLI processes record reads while the worker
appends changes), so the next seq and the hash to link to are read and written under a lock: on
PostgreSQL the case's transaction-scoped advisory lock, on SQLite the database's one write lock,
taken before the read (its driver opens a transaction only at the first write, so a read before it
could be overtaken by another writer).
"""

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy import false, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.access import change_access
from domain.commands import Command
from store import schema
from store.chain_check import START, BodyReader, ChainKind, Link, chain_head, first_bad_row
from store.hashing import canonical_json, chain_hash

# The id of a change's access row is derived from its first event's id (uuid5 in this namespace).
CHANGE_NAMESPACE = uuid.UUID("873ff9a5-d5d7-49c4-8ee1-2b6cb5b837de")
# PostgreSQL advisory lock of a case's access log: the two-key form, this class and hashtext(case id)
# (a key space apart from the single 64-bit key of the migration lock).
LOCK_CLASS = 0x61636373  # "accs"
# What each row's hash covers, besides the previous row's hash: every column but the chain's own.
HASHED_FIELDS = ("access_id", "case_id", "seq", "staff_id", "role", "action", "purpose", "break_glass", "at")


class AccessEntry(BaseModel):
    """A read or change of a case, to be recorded: who, in which role, did what, why and when. Its
    place in the case's log (seq, links) is given when it is written."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    staff_id: str
    role: str
    action: str
    purpose: str
    break_glass: bool = False
    at: AwareDatetime

    @classmethod
    def of_change(cls, case_id: str, command: Command, at: datetime) -> "AccessEntry | None":
        """The row for a person's command to a case, written in the transaction of its events (by the
        case's workflow, or by the service for a closed case); None for the system's own commands."""
        change = change_access(command)
        if change is None:
            return None
        action, purpose = change
        return cls(
            case_id=case_id,
            staff_id=command.actor.staff_id,
            role=command.actor.role,
            action=action,
            purpose=purpose,
            at=at,
        )


class AccessRecord(BaseModel):
    """A recorded access, as the log holds it: the entry, its place in the case's chain, and its links."""

    model_config = ConfigDict(frozen=True)

    access_id: str
    case_id: str
    seq: int
    staff_id: str
    role: str
    action: str
    purpose: str
    break_glass: bool
    at: datetime
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AccessChainReport:
    """One case's access log as verification sees it: the first row that does not fit, and what happened."""

    case_id: str
    rows: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None
    first_bad_access_id: str | None = None


def change_access_id(first_event_id: str) -> str:
    """The id of the access row recorded with an append whose first event has this id."""
    return str(uuid.uuid5(CHANGE_NAMESPACE, first_event_id))


def chained(values: Mapping[str, Any], seq: int, prev_hash: str) -> dict[str, Any]:
    """The chain's columns of a row with these `HASHED_FIELDS` (but seq), at `seq` after `prev_hash`."""
    body = _hashed_text({**values, "seq": seq})
    return {"seq": seq, "body": body, "prev_hash": prev_hash, "hash": chain_hash(prev_hash, body)}


async def write_access(conn: AsyncConnection, entry: AccessEntry, access_id: str) -> AccessRecord:
    """Write `entry` as the next row of its case's access log, in `conn`'s transaction, which holds
    the lock on that log until it ends."""
    table = schema.access_log
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(:lock_class, hashtext(:case_id))"),
            {"lock_class": LOCK_CLASS, "case_id": entry.case_id},
        )
    else:  # an UPDATE of nothing is a write: the transaction begins, holding SQLite's write lock
        await conn.execute(update(table).where(false()).values(seq=table.c.seq))
    seq, prev_hash = await chain_head(conn, table, entry.case_id)
    row = entry.model_dump() | {"access_id": access_id}
    row |= chained(row, seq + 1, prev_hash)
    await conn.execute(insert(table), [row])
    return AccessRecord.model_validate(row)


class AccessLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(
        self, case_id: str, staff_id: str, role: str, action: str, purpose: str, break_glass: bool = False
    ) -> AccessRecord:
        """Record a read (a change is recorded with its events: `EventStore.append`)."""
        entry = AccessEntry(
            case_id=case_id,
            staff_id=staff_id,
            role=role,
            action=action,
            purpose=purpose,
            break_glass=break_glass,
            at=datetime.now(UTC),
        )
        async with self._engine.begin() as conn:
            return await write_access(conn, entry, str(uuid.uuid4()))

    async def list(self, case_id: str) -> list[AccessRecord]:
        """The case's log in the order it was written."""
        table = schema.access_log
        query = select(table).where(table.c.case_id == case_id).order_by(table.c.seq)
        async with self._engine.connect() as conn:
            return [AccessRecord.model_validate(row._mapping) for row in await conn.execute(query)]


def check_access_log(case_id: str, rows: list[Any], after: Link = START) -> AccessChainReport:
    """Check one case's access log (every column of its rows, in seq order), as the events are
    checked: the whole log, or its rows after a head a checkpoint signed (`after`)."""
    found = first_bad_row(ACCESS_CHAIN, case_id, rows, [], after)
    if found is None:
        return AccessChainReport(case_id, len(rows), ok=True)
    row, problem = found
    return AccessChainReport(
        case_id, len(rows), ok=False, first_bad_seq=row.seq, problem=problem, first_bad_access_id=row.access_id
    )


def _hashed_text(values: Mapping[str, Any]) -> str:
    body = {name: values[name] for name in HASHED_FIELDS}
    body["at"] = body["at"].astimezone(UTC).isoformat().replace("+00:00", "Z")
    return canonical_json(body)


def _read_body(text: str, row: Any) -> dict[str, Any] | str:
    """A row whose hash holds: its body, or what is wrong with it (not a row's JSON, written for
    another case, or its columns no longer say what it says)."""
    try:
        body = json.loads(text)
    except ValueError:
        return ACCESS_CHAIN.unreadable
    if not isinstance(body, dict) or any(name not in body for name in HASHED_FIELDS):
        return ACCESS_CHAIN.unreadable
    if body["case_id"] != row.case_id:
        return ACCESS_CHAIN.moved(body["case_id"], body["seq"])
    if text != _hashed_text(row._mapping):
        return ACCESS_CHAIN.disagreeing
    return body


def _reader(_fields: list[str]) -> BodyReader[dict[str, Any]]:
    return _read_body


ACCESS_CHAIN = ChainKind[dict[str, Any]](row="access row", rows="access rows", chain="access log", reader=_reader)
