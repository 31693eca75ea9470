"""F5: a shredded person's data key must not be recoverable from the SQLite files, and those files
must be for the service's user only.

The attack: someone who can read the data directory (another account on the machine, a backup, a
copied disk) reads the wrapped data key of a shredded person from `pathway.db-wal` (SQLite keeps
old page images there until a checkpoint, and reuses the file without shortening it) or from the
free space of a database page, unwraps it with the master key, and reads the person's sealed name,
NHS number and address in every event. Before the fix the key stayed in the log for minutes after
`pathway data shred`, and the files were 0644 in a 0755 directory."""

import sqlite3
import stat
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from domain.model import Actor, Role
from store import schema, sqlite
from store.event_store import EventStore
from store.person_keys import PersonKeys
from store.shredding import shred_person
from tests.cli.support import pathway
from tests.conftest import TEST_MASTER_KEYS, TEST_MASTER_KEYS_TEXT
from tests.store.support import StoreCase, run_journey
from workers.settings import Settings

ADMIN = Actor(staff_id="ad-001", role=Role.ADMIN)
FRAGMENT = 8  # bytes of a key that count as found (a chance match in a few hundred kB: about 2**-45)


def raw_files(data_dir: Path) -> dict[str, bytes]:
    """The bytes of the database, its write-ahead log and its shared memory, whichever exist."""
    return {path.name: path.read_bytes() for path in sorted(data_dir.glob("pathway.db*"))}


def holding(files: dict[str, bytes], *secrets: bytes) -> list[str]:
    """The files holding any 8 bytes in a row of any of `secrets`: a fragment of a wrapped key left
    in a page's free space is enough to decrypt that much of the key (AES-GCM is a stream cipher)."""
    fragments = {secret[i : i + FRAGMENT] for secret in secrets for i in range(len(secret) - FRAGMENT + 1)}
    return [name for name, content in files.items() if any(fragment in content for fragment in fragments)]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def wrapped_key(store: EventStore, person_id: str) -> bytes | None:
    table = schema.person_keys
    async with store.engine.connect() as conn:
        found = (await conn.execute(select(table.c.wrapped_key).where(table.c.person_id == person_id))).scalar_one()
    return None if found is None else bytes(found)


async def test_a_shredded_key_is_in_none_of_the_database_files(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", master_keys=TEST_MASTER_KEYS_TEXT)
    data_dir = settings.prepare_data_dir()
    store = EventStore.connect(settings.store_url)
    try:
        await store.migrate()
        keys = PersonKeys(store.engine, TEST_MASTER_KEYS)
        case = StoreCase(store)
        person_id = f"person-{uuid.uuid4()}"
        data_key = await keys.ensure(person_id, case.case_id)
        await run_journey(case)  # a case closed, as shredding needs; its events after the key's row
        wrapped = await wrapped_key(store, person_id)
        assert data_key is not None and wrapped is not None
        # The scan can see the key while it exists (here, in the write-ahead log).
        assert any(wrapped in content for content in raw_files(data_dir).values())

        done = await shred_person(store, keys, case.case_id, ADMIN, "record made in error")

        assert done.person_id == person_id and not done.already and done.wal_problem is None
        assert await wrapped_key(store, person_id) is None
        # Scanned while the store is still open, as it is under a running worker.
        files = raw_files(data_dir)
        assert "pathway.db" in files
        assert holding(files, wrapped, data_key) == []
        # The free-text reason is not kept beside the key (it may name the person).
        async with store.engine.connect() as conn:
            reason = (await conn.execute(select(schema.person_keys.c.shred_reason))).scalar_one()
        assert reason is None
        # Shredding again changes nothing and empties the log again.
        again = await shred_person(store, keys, person_id, ADMIN, "record made in error")
        assert again.already and again.wal_problem is None
    finally:
        await store.close()
    assert holding(raw_files(data_dir), wrapped, data_key) == []


async def test_a_reader_that_blocks_emptying_the_log_is_reported_and_a_second_shred_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "WAL_TRIES", 2)
    monkeypatch.setattr(sqlite, "WAL_WAIT_MS", 50)
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    try:
        await store.migrate()
        keys = PersonKeys(store.engine, TEST_MASTER_KEYS)
        person_id = f"person-{uuid.uuid4()}"
        await keys.ensure(person_id, "case-x")
        wrapped = await wrapped_key(store, person_id)
        assert wrapped is not None
        # Another process in the middle of a long read, from a snapshot with the key in the log.
        reader = sqlite3.connect(tmp_path / "pathway.db", isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM person_keys").fetchall()

        blocked = await keys.shred(person_id, ADMIN.staff_id)

        assert not blocked.already and blocked.wal_problem is not None
        assert blocked.wal_problem.startswith("the write-ahead log could not be emptied after 2 tries")
        reader.execute("COMMIT")
        reader.close()
        again = await keys.shred(person_id, ADMIN.staff_id)
        assert again.already and again.wal_problem is None
        assert holding(raw_files(tmp_path), wrapped) == []
    finally:
        await store.close()


async def test_every_connection_zeroes_what_it_deletes(tmp_path: Path) -> None:
    """`secure_delete`: a deleted or overwritten row's bytes are zeroed in the page, not left in its
    free space for the next checkpoint to copy into the database file."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}"
    writer = EventStore.connect(url)
    await writer.migrate()
    reader = EventStore.connect(url, read_only=True)
    try:
        for store in (writer, reader):
            async with store.engine.connect() as conn:
                assert (await conn.exec_driver_sql("PRAGMA secure_delete")).scalar() == 1
    finally:
        await reader.close()
        await writer.close()


async def test_the_data_directory_and_the_database_files_are_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", master_keys=TEST_MASTER_KEYS_TEXT)

    assert settings.case_id_key  # a dev secret: the data directory is made for it
    store = EventStore.connect(settings.store_url)
    try:
        await store.migrate()
        await StoreCase(store).open()  # the write-ahead log and shared memory exist now
        data_dir = settings.data_dir
        assert mode(data_dir) == 0o700
        assert {name: mode(data_dir / name) for name in raw_files(data_dir)} == {
            "pathway.db": 0o600,
            "pathway.db-shm": 0o600,
            "pathway.db-wal": 0o600,
        }
        assert mode(data_dir / "case-id.key") == 0o600
    finally:
        await store.close()


async def test_a_data_directory_left_readable_by_an_earlier_version_is_tightened(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    for name in ("pathway.db", "pathway.db-wal"):
        (data_dir / name).touch()
        (data_dir / name).chmod(0o644)
    (data_dir / "case-id.key").write_text("an old dev secret\n")
    settings = Settings(data_dir=data_dir, master_keys=TEST_MASTER_KEYS_TEXT)

    assert settings.case_id_key == b"an old dev secret"
    store = EventStore.connect(settings.store_url)
    await store.close()

    assert mode(data_dir) == 0o700
    assert mode(data_dir / "pathway.db") == mode(data_dir / "pathway.db-wal") == 0o600


async def test_the_cli_leaves_a_private_data_directory(tmp_path: Path) -> None:
    """`pathway audit checkpoint` on a new data directory: the database, the key it made, and the
    directory itself are the user's alone."""
    data_dir = tmp_path / "data"

    made = await pathway(
        "audit",
        "checkpoint",
        "--as",
        "au-001",
        env={"PATHWAY_DATA_DIR": str(data_dir), "PATHWAY_TEMPORAL_ADDRESS": "localhost:1"},
    )

    assert made.status == 0, made.stderr
    assert mode(data_dir) == 0o700
    assert {path.name: mode(path) for path in data_dir.iterdir() if path.is_file()} == {
        "pathway.db": 0o600,
        "checkpoint.key": 0o600,
    }
