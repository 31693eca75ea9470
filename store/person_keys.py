"""Each person's data key (envelope encryption) and crypto-shredding; store/sealing.py seals and
opens with these keys.

A data key is 32 random bytes, stored only wrapped by the newest master key (AES-GCM, bound to the
person id). The master keys rotate by adding one and re-wrapping (`rewrap`): no event is rewritten.
Keys are read from the database on every use and never cached, so a shred takes effect in every
process at once. A shred leaves no copy of the key in the database files either (store/sqlite.py):
SQLite zeroes what is overwritten (`secure_delete`), and its write-ahead log is emptied after."""

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.model import Stage
from store import schema
from store.keyring import KeyRing
from store.sqlite import empty_wal

log = logging.getLogger(__name__)


class PersonUnknown(Exception):
    pass


@dataclass(frozen=True)
class ShredResult:
    person_id: str
    case_id: str
    shredded_at: datetime
    already: bool  # it had been shredded before; nothing changed now
    # Why SQLite's write-ahead log may still hold the destroyed key (it could not be emptied); None
    # when it was emptied, or the store is not SQLite. Shredding again tries again.
    wal_problem: str | None = None
    other_cases: tuple[str, ...] = ()  # the person's other episodes, shredded with this one


class PersonKeys:
    def __init__(self, engine: AsyncEngine, master: KeyRing) -> None:
        self._engine = engine
        self._master = master

    async def ensure(self, person_id: str, case_id: str) -> bytes | None:
        """The person's data key, made on first use; None once they have been shredded."""
        found = await self._row(person_id)
        if found is None:
            key = secrets.token_bytes(32)
            master_id, wrapped = self._master.seal(key, person_id.encode())
            row = {
                "person_id": person_id,
                "case_id": case_id,
                "master_key_id": master_id,
                "wrapped_key": wrapped,
                "created_at": datetime.now(UTC),
            }
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(insert(schema.person_keys), [row])
                return key
            except IntegrityError:  # made at the same moment by another command: use that one
                found = await self._row(person_id)
                assert found is not None
        return self._unwrap(found)

    async def data_key(self, person_id: str) -> bytes | None:
        """The person's data key, or None if they were shredded (or never had one)."""
        found = await self._row(person_id)
        return None if found is None else self._unwrap(found)

    async def person_of(self, case_id: str) -> str | None:
        query = select(schema.person_keys.c.person_id).where(schema.person_keys.c.case_id == case_id)
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def status(self, person_id: str) -> tuple[str, datetime | None]:
        """The person's case, and when their key was shredded (None while it exists)."""
        found = await self._row(person_id)
        if found is None:
            raise PersonUnknown(f"there is no person {person_id}")
        return found.case_id, found.shredded_at

    async def shred(self, person_id: str, staff_id: str) -> ShredResult:
        """Destroy the person's data key, and then every copy of it left in SQLite's write-ahead log.
        Shredding twice changes nothing in the table and says so (but empties the log again, in case
        the first time could not). No reason is kept here: it may name the person, and the case's
        PersonalDataShredded event records it."""
        table = schema.person_keys
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            changed = await conn.execute(
                update(table)
                .where(table.c.person_id == person_id, table.c.shredded_at.is_(None))
                .values(wrapped_key=None, master_key_id=None, shredded_at=now, shredded_by=staff_id)
            )
            row = (await conn.execute(select(table).where(table.c.person_id == person_id))).one_or_none()
        if row is None:
            raise PersonUnknown(f"there is no person {person_id}")
        wal_problem = await empty_wal(self._engine)
        if wal_problem is not None:
            log.warning("shredded key may remain on disk", extra={"person_id": person_id, "problem": wal_problem})
        return ShredResult(person_id, row.case_id, row.shredded_at, changed.rowcount == 0, wal_problem)

    async def closed_cases_with_keys(self, after: str | None, limit: int) -> list[tuple[str, str]]:
        """(case id, person id) of closed cases whose person still has a data key, in case id order,
        the page after `after`: the candidates for the end of retention."""
        keys, cases = schema.person_keys, schema.cases
        query = (
            select(cases.c.case_id, keys.c.person_id)
            .join(keys, keys.c.case_id == cases.c.case_id)
            .where(cases.c.stage == Stage.CLOSED.value, keys.c.shredded_at.is_(None))
            .order_by(cases.c.case_id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(cases.c.case_id > after)
        async with self._engine.connect() as conn:
            return [(row.case_id, row.person_id) for row in (await conn.execute(query)).all()]

    async def rewrap(self) -> int:
        """Wrap every data key under the newest master key, so older master keys can be retired."""
        table = schema.person_keys
        current = self._master.current_id
        query = select(table).where(table.c.wrapped_key.is_not(None), table.c.master_key_id != current)
        count = 0
        async with self._engine.begin() as conn:
            for row in (await conn.execute(query)).all():
                key = self._master.open(row.master_key_id, row.wrapped_key, row.person_id.encode())
                master_id, wrapped = self._master.seal(key, row.person_id.encode())
                await conn.execute(
                    update(table)
                    .where(table.c.person_id == row.person_id)
                    .values(master_key_id=master_id, wrapped_key=wrapped)
                )
                count += 1
        return count

    async def _row(self, person_id: str) -> Any:
        query = select(schema.person_keys).where(schema.person_keys.c.person_id == person_id)
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).one_or_none()

    def _unwrap(self, row: Any) -> bytes | None:
        if row.wrapped_key is None:
            return None
        return self._master.open(row.master_key_id, row.wrapped_key, row.person_id.encode())
