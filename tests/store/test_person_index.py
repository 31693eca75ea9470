"""The person index (store/person_index.py) and its migration, on SQLite and PostgreSQL."""

import base64
import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, update

from domain.person_match import MatchBasis
from store import schema
from store.event_store import EventStore
from store.keyring import KeyRing
from store.migrate import MIGRATIONS
from store.person_index import IndexHit, PersonIndex
from store.person_keys import PersonKeys
from store.sqlite import empty_wal
from tests.store.support import StoreCase

INDEX_KEY = b"test index key"
KEY_ID = "index-1"


def digest(text: str, key: bytes = INDEX_KEY) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def keys_of(person: str) -> list[tuple[MatchBasis, str]]:
    """A made-up person's three digests (one per basis)."""
    return [(basis, digest(f"{basis}:{person}")) for basis in MatchBasis]


def person_keys(store: EventStore) -> PersonKeys:
    master = KeyRing.parse(f"test-master {base64.b64encode(secrets.token_bytes(32)).decode()}")
    return PersonKeys(store.engine, master)


async def opened_case(store: EventStore) -> str:
    case = StoreCase(store)
    await case.open()
    return case.case_id


async def link(store: EventStore, case_id: str, person_id: str) -> None:
    """What the projector will write for a linked episode: its cases.person_id."""
    async with store.engine.begin() as conn:
        await conn.execute(update(schema.cases).where(schema.cases.c.case_id == case_id).values(person_id=person_id))


async def test_adding_the_same_entries_again_changes_nothing(store: EventStore) -> None:
    index = PersonIndex(store.engine)
    case_id = await opened_case(store)

    await index.add(case_id, keys_of("a"), KEY_ID)
    first = await index.entries_of(case_id)
    await index.add(case_id, keys_of("a"), KEY_ID)
    await index.add(case_id, keys_of("a")[:1], "index-2")  # same entry under another key: still the first

    assert await index.entries_of(case_id) == first
    assert sorted(first) == sorted((basis, hex_digest, KEY_ID) for basis, hex_digest in keys_of("a"))
    assert await index.key_ids() == {KEY_ID: 3}


@pytest.mark.parametrize("basis", list(MatchBasis))
async def test_each_basis_finds_the_episode_and_only_on_that_basis(store: EventStore, basis: MatchBasis) -> None:
    index = PersonIndex(store.engine)
    keys = person_keys(store)
    case_id, other = await opened_case(store), await opened_case(store)
    await keys.ensure("person-a", case_id)
    await keys.ensure("person-b", other)
    await index.add(case_id, keys_of("a"), KEY_ID)
    await index.add(other, keys_of("b"), KEY_ID)
    probe = dict(keys_of("a"))[basis]

    assert await index.find([(basis, probe)]) == [IndexHit(case_id, "person-a", basis)]
    wrong_basis = next(b for b in MatchBasis if b is not basis)
    assert await index.find([(wrong_basis, probe)]) == []
    assert await index.find([(basis, digest(f"{basis}:a", key=b"another key"))]) == []


async def test_the_person_is_the_linked_one_else_the_holder_of_the_episodes_own_key(store: EventStore) -> None:
    index = PersonIndex(store.engine)
    keys = person_keys(store)
    older, linked, unknown = await opened_case(store), await opened_case(store), await opened_case(store)
    await keys.ensure("person-a", older)
    await link(store, linked, "person-a")
    for case_id in (older, linked, unknown):
        await index.add(case_id, keys_of("a"), KEY_ID)
    await index.add("case-with-no-rows", keys_of("a"), KEY_ID)

    hits = await index.find(keys_of("a")[:2])

    expected = {IndexHit(case_id, "person-a", basis) for case_id in (older, linked) for basis, _ in keys_of("a")[:2]}
    assert set(hits) == expected and len(hits) == len(expected)


async def test_a_linked_episode_names_its_person_even_when_it_holds_a_key_of_its_own(store: EventStore) -> None:
    index = PersonIndex(store.engine)
    keys = person_keys(store)
    first, second = await opened_case(store), await opened_case(store)
    await keys.ensure("person-a", first)
    await keys.ensure("person-second", second)
    await link(store, second, "person-a")
    await index.add(second, keys_of("a"), KEY_ID)

    assert {hit.person_id for hit in await index.find(keys_of("a"))} == {"person-a"}


async def test_a_shredded_episode_is_no_hit_and_the_others_of_its_person_still_are(store: EventStore) -> None:
    """Shredding destroys one episode's key (store/shredding.py forgets its entries too); an entry a crash
    left behind is still no hit. The person's other episodes, linked to them, stay found."""
    index = PersonIndex(store.engine)
    keys = person_keys(store)
    first, linked, kept = await opened_case(store), await opened_case(store), await opened_case(store)
    await keys.ensure("person-a", first)
    await keys.ensure("person-k", kept)
    await link(store, linked, "person-a")
    for case_id in (first, linked, kept):
        await index.add(case_id, keys_of("a"), KEY_ID)

    await keys.shred("person-a", "lead-1")

    found = await index.find(keys_of("a"))
    expected = [IndexHit(linked, "person-a", b) for b in sorted(MatchBasis)]
    expected += [IndexHit(kept, "person-k", b) for b in sorted(MatchBasis)]
    assert sorted(found, key=str) == sorted(expected, key=str)
    assert set(await index.episodes_of("person-a")) == {first, linked}


async def test_forget_deletes_only_those_episodes_entries(store: EventStore) -> None:
    index = PersonIndex(store.engine)
    first, second = await opened_case(store), await opened_case(store)
    await index.add(first, keys_of("a"), KEY_ID)
    await index.add(second, keys_of("a"), "index-2")

    assert await index.forget([first]) == 3
    assert await index.forget([first]) == 0

    assert await index.entries_of(first) == []
    assert len(await index.entries_of(second)) == 3
    assert await index.key_ids() == {"index-2": 3}


async def test_a_digest_that_is_not_64_hex_characters_is_refused_without_repeating_it(store: EventStore) -> None:
    index = PersonIndex(store.engine)
    for bad in ("943476-5919", digest("a")[:-2], digest("a") + "00"):
        with pytest.raises(ValueError) as refused:
            await index.add("case-x", [(MatchBasis.NHS_NUMBER, bad)], KEY_ID)
        assert bad not in str(refused.value)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_forgotten_digests_are_left_nowhere_in_the_sqlite_files(store: EventStore) -> None:
    index = PersonIndex(store.engine)
    case_id = await opened_case(store)
    await index.add(case_id, keys_of("a"), KEY_ID)
    assert await empty_wal(store.engine) is None
    database = Path(str(store.engine.url.database))
    stored = [bytes.fromhex(hex_digest) for _, hex_digest in keys_of("a")]
    assert all(raw in database.read_bytes() for raw in stored)

    await index.forget([case_id])
    assert await empty_wal(store.engine) is None  # what a shred does after destroying a key

    files = [database, *database.parent.glob(database.name + "-*")]
    assert not any(raw in path.read_bytes() for raw in stored for path in files)


def migrate_to(revision: str, down: bool = False) -> Any:
    def run(connection: sa.Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

    return run


def shape(connection: sa.Connection) -> tuple[set[str], set[str]]:
    inspector = inspect(connection)
    return set(inspector.get_table_names()), {column["name"] for column in inspector.get_columns("cases")}


async def test_the_migration_goes_down_and_up_keeping_the_cases(fresh_url: str) -> None:
    store = EventStore.connect(fresh_url)
    try:
        await store.migrate()
        case_id = await opened_case(store)
        record = await store.get_case(case_id)
        await PersonIndex(store.engine).add(case_id, keys_of("a"), KEY_ID)

        async with store.engine.begin() as conn:
            await conn.run_sync(migrate_to("0007", down=True))
            tables, columns = await conn.run_sync(shape)
        assert "person_index" not in tables and "person_id" not in columns and "cases" in tables

        async with store.engine.begin() as conn:
            await conn.run_sync(migrate_to("0008"))
            tables, columns = await conn.run_sync(shape)
        assert "person_index" in tables and "person_id" in columns
        assert await store.get_case(case_id) == record
        assert await PersonIndex(store.engine).entries_of(case_id) == []
    finally:
        await store.close()
