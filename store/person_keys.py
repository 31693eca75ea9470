"""Each person's data key (envelope encryption), sealing and opening their personal fields, and
crypto-shredding.

A data key is 32 random bytes, stored only wrapped by the newest master key (AES-GCM, bound to the
person id). The master keys rotate by adding one and re-wrapping (`rewrap`): no event is rewritten.
Sealing is deterministic per person and value (the nonce is an HMAC of the plaintext under the
person's key), so sealing the same reference twice gives the same text and a retried command
seals the same way. Keys are read from the database on every use and never cached, so a shred
takes effect in every process at once."""

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.model import Stage
from domain.personal import map_personal, sealed_for
from store import schema
from store.keyring import NONCE_BYTES, KeyRing

Model = TypeVar("Model", bound=BaseModel)
SHREDDED = "[shredded]"  # what a sealed value reads as once its person's key is gone
TEXT, JSON = b"s", b"j"  # how a sealed leaf was written: text as it is, anything else as JSON


class PersonUnknown(Exception):
    pass


@dataclass(frozen=True)
class ShredResult:
    person_id: str
    case_id: str
    shredded_at: datetime
    already: bool  # it had been shredded before; nothing changed now


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

    async def shred(self, person_id: str, staff_id: str, reason: str) -> ShredResult:
        """Destroy the person's data key. Shredding twice changes nothing and says so."""
        table = schema.person_keys
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            changed = await conn.execute(
                update(table)
                .where(table.c.person_id == person_id, table.c.shredded_at.is_(None))
                .values(
                    wrapped_key=None, master_key_id=None, shredded_at=now, shredded_by=staff_id, shred_reason=reason
                )
            )
            row = (await conn.execute(select(table).where(table.c.person_id == person_id))).one_or_none()
        if row is None:
            raise PersonUnknown(f"there is no person {person_id}")
        return ShredResult(person_id, row.case_id, row.shredded_at, already=changed.rowcount == 0)

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


class Sealer:
    """Seals the personal fields of a model with one person's key, and opens them for reading."""

    def __init__(self, keys: PersonKeys) -> None:
        self.keys = keys

    async def seal(self, model: Model, person_id: str, case_id: str) -> Model:
        key = await self.keys.ensure(person_id, case_id)
        if key is None:
            raise PersonUnknown(f"the personal data of {person_id} was shredded; nothing more is recorded for them")
        return map_personal(model, lambda leaf: seal_leaf(key, person_id, leaf))

    async def open(self, model: Model) -> Model:
        """The model as people read it: sealed values opened, shredded ones reading "[shredded]"."""
        persons: set[str] = set()

        def collect(leaf: Any) -> Any:
            if isinstance(leaf, str) and (person := sealed_for(leaf)):
                persons.add(person)
            return leaf

        map_personal(model, collect)
        keys = {person: await self.keys.data_key(person) for person in persons}
        return map_personal(model, lambda leaf: open_leaf(keys, leaf))


def seal_leaf(key: bytes, person_id: str, leaf: Any) -> Any:
    if leaf is None or (isinstance(leaf, str) and sealed_for(leaf)):
        return leaf
    plain = TEXT + leaf.encode() if isinstance(leaf, str) else JSON + json.dumps(leaf, sort_keys=True).encode()
    nonce = hmac.new(key, plain, hashlib.sha256).digest()[:NONCE_BYTES]
    sealed = nonce + AESGCM(key).encrypt(nonce, plain, person_id.encode())
    return f"sealed:v1:{person_id}:{base64.urlsafe_b64encode(sealed).decode().rstrip('=')}"


def open_leaf(keys: dict[str, bytes | None], leaf: Any) -> Any:
    person_id = sealed_for(leaf) if isinstance(leaf, str) else None
    if person_id is None:
        return leaf
    key = keys.get(person_id)
    if key is None:
        return SHREDDED
    token = leaf.rsplit(":", 1)[1]
    sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    try:
        plain = AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], person_id.encode())
    except InvalidTag:
        return "[altered]"
    return plain[1:].decode() if plain[:1] == TEXT else json.loads(plain[1:])
