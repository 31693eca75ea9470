"""The blind index of people (issue 19): which earlier episodes a new episode's person may be.

Each entry is one digest of one episode's person (domain/person_match.py makes them; here they are
opaque): (basis, digest, case_id), with the id of the index key that made it, so a key rotation can
tell what is left under the old key. The digest is stored as its 32 raw bytes. A hit names the
episode and its person: `cases.person_id` once the episode is linked, else the holder of the
episode's own data key (`person_keys.case_id`, the older episodes). A shredded episode is never a
hit: shredding deletes its entries (`forget`; on SQLite `secure_delete`, store/sqlite.py, zeroes the
deleted digests in the pages), and its key's mark keeps out any a crash left. Shredding a person
shreds each of their episodes; shredding one episode leaves the person found through the others."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.person_match import MatchBasis
from store import schema

DIGEST_BYTES = 32  # HMAC-SHA256


@dataclass(frozen=True)
class IndexHit:
    case_id: str
    person_id: str
    basis: MatchBasis


def digest_bytes(digest: str) -> bytes:
    """A hex digest as stored. The message never repeats the value (it is a digest of personal data)."""
    try:
        raw = bytes.fromhex(digest)
    except ValueError:
        raw = b""
    if len(raw) != DIGEST_BYTES:
        raise ValueError(f"an index digest is {DIGEST_BYTES * 2} hex characters")
    return raw


def entry_rows(
    case_id: str, keys: Iterable[tuple[MatchBasis, str]], key_id: str, added_at: datetime
) -> list[dict[str, Any]]:
    """The person_index rows of an episode's digests."""
    return [
        {
            "basis": basis.value,
            "digest": digest_bytes(digest),
            "case_id": case_id,
            "key_id": key_id,
            "added_at": added_at,
        }
        for basis, digest in keys
    ]


async def insert_entries(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Insert index rows in the caller's transaction; a row already there is left as it is."""
    if not rows:
        return
    dialect_insert = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
    await conn.execute(dialect_insert(schema.person_index).on_conflict_do_nothing(), rows)


class PersonIndex:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, case_id: str, keys: Iterable[tuple[MatchBasis, str]], key_id: str) -> None:
        """Index the episode's digests under index key `key_id`. Adding the same again changes nothing."""
        rows = entry_rows(case_id, keys, key_id, datetime.now(UTC))
        async with self._engine.begin() as conn:
            await insert_entries(conn, rows)

    async def find(self, probes: Iterable[tuple[MatchBasis, str]]) -> list[IndexHit]:
        """Every episode with one of the probes' digests, and its person, in one query. Episodes whose
        person is unknown (no cases.person_id and no data key of their own) or shredded are left out."""
        wanted = [
            and_(schema.person_index.c.basis == basis.value, schema.person_index.c.digest == digest_bytes(digest))
            for basis, digest in probes
        ]
        if not wanted:
            return []
        entries, cases = schema.person_index, schema.cases
        own_key = schema.person_keys  # the episode's own data key
        person_id = func.coalesce(cases.c.person_id, own_key.c.person_id)
        # A shredded episode's entries are deleted as its key is destroyed (store/shredding.py); the
        # key's mark keeps one that a crash left behind out too. Other episodes of its person stay.
        query = (
            select(entries.c.case_id, entries.c.basis, person_id.label("person_id"))
            .select_from(entries)
            .outerjoin(cases, cases.c.case_id == entries.c.case_id)
            .outerjoin(own_key, own_key.c.case_id == entries.c.case_id)
            .where(or_(*wanted), person_id.is_not(None), own_key.c.shredded_at.is_(None))
            .order_by(entries.c.case_id, entries.c.basis)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [IndexHit(row.case_id, row.person_id, MatchBasis(row.basis)) for row in rows]

    async def forget(self, case_ids: Iterable[str]) -> int:
        """Delete every entry of these episodes (shredding); returns the rows deleted."""
        ids = list(case_ids)
        if not ids:
            return 0
        async with self._engine.begin() as conn:
            deleted = await conn.execute(delete(schema.person_index).where(schema.person_index.c.case_id.in_(ids)))
        return int(deleted.rowcount)

    async def episodes_of(self, person_id: str) -> list[str]:
        """The episodes of a person, oldest first: linked to them, or whose own person they are."""
        cases, keys = schema.cases, schema.person_keys
        query = (
            select(cases.c.case_id)
            .outerjoin(keys, keys.c.case_id == cases.c.case_id)
            .where(
                or_(cases.c.person_id == person_id, and_(cases.c.person_id.is_(None), keys.c.person_id == person_id))
            )
            .order_by(cases.c.opened_at, cases.c.case_id)
        )
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def indexed_cases(self) -> list[str]:
        """Every episode with entries (for a key rotation)."""
        query = select(schema.person_index.c.case_id).distinct().order_by(schema.person_index.c.case_id)
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def forget_other_keys(self, case_id: str, key_id: str) -> int:
        """Delete the episode's entries made under any index key but `key_id` (after a rotation)."""
        table = schema.person_index
        async with self._engine.begin() as conn:
            deleted = await conn.execute(delete(table).where(table.c.case_id == case_id, table.c.key_id != key_id))
        return int(deleted.rowcount)

    async def key_ids(self) -> dict[str, int]:
        """How many entries each index key made (what a rotation has left to redo)."""
        key_id = schema.person_index.c.key_id
        query = select(key_id, func.count()).group_by(key_id)
        async with self._engine.connect() as conn:
            return {row[0]: int(row[1]) for row in await conn.execute(query)}

    async def entries_of(self, case_id: str) -> list[tuple[MatchBasis, str, str]]:
        """The episode's entries: (basis, hex digest, index key id)."""
        table = schema.person_index
        query = (
            select(table.c.basis, table.c.digest, table.c.key_id)
            .where(table.c.case_id == case_id)
            .order_by(table.c.basis, table.c.digest)
        )
        async with self._engine.connect() as conn:
            return [(MatchBasis(row.basis), bytes(row.digest).hex(), row.key_id) for row in await conn.execute(query)]
