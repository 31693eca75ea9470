"""The SQLite store on disk: how its connections are set up, its files kept private, and its
write-ahead log emptied once a secret in it was destroyed.

SQLite keeps changed pages in `<db>-wal` until a checkpoint copies them into the database, and then
reuses that file without shortening it: a page as it was before a change (a person's wrapped data
key, before a shred) can be read from it long after. Two things make a destroyed key unrecoverable
from the files: every connection runs with `secure_delete`, so deleted or overwritten content is
zeroed in the pages rather than left in their free space, and after the shred `empty_wal` copies the
log into the database and truncates it to nothing.

The database file is made 0600 before SQLite first opens it (SQLite gives `-wal` and `-shm` the
database file's mode) and the data directory holding it and the dev secrets 0700: what is in them is
for the user the services run as, nobody else on the machine.
"""

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

PRIVATE_DIRECTORY, PRIVATE_FILE = 0o700, 0o600
BUSY_TIMEOUT_MS = 30_000  # how long a connection waits for another's write lock
# Emptying the log waits for readers of an older snapshot: a short wait each time, a few times.
WAL_TRIES, WAL_WAIT_MS = 5, 1_000
SIDE_FILES = ("-wal", "-shm", "-journal")


def writable_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
    read_pragmas(dbapi_connection, _record)


def read_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # No journal mode: setting one is a write, which a read-only connection refuses.
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def read_only_url(url: str) -> str:
    """The same database file opened read-only, as an SQLite URI (so a missing file is not created)."""
    parsed = make_url(url)
    if not parsed.database or parsed.database == ":memory:":
        raise ValueError("a read-only store needs a database file")
    return parsed.set(
        database=f"file:{quote(parsed.database)}", query={**parsed.query, "mode": "ro", "uri": "true"}
    ).render_as_string(hide_password=False)


def private_database(url: str) -> None:
    """Make the database file of an SQLite URL (and any `-wal`, `-shm` or `-journal` beside it) 0600,
    creating it empty if missing. In-memory and URI databases are left as they are, and so is a
    file whose directory does not exist (SQLite says so when it is opened)."""
    parsed = make_url(url)
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:") or parsed.query.get("uri"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return
    private_file(path)
    for suffix in SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            _tighten(side, PRIVATE_FILE)


def private_directory(path: Path) -> None:
    """Make `path` a directory only its owner can list or enter: created 0700, or tightened to it."""
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIRECTORY)


def private_file(path: Path) -> None:
    """Make `path` a file only its owner can read or write: created empty with 0600 (so nothing is
    ever written into it while others may read it), or an existing one tightened to that."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    _tighten(path, PRIVATE_FILE)


def _tighten(path: Path, allowed: int) -> None:
    """Take away every permission outside `allowed` (the group's and others'); add none."""
    mode = path.stat().st_mode & 0o777
    if mode & ~allowed:
        path.chmod(mode & allowed)


async def empty_wal(engine: AsyncEngine) -> str | None:
    """Copy SQLite's write-ahead log into the database and truncate it, so that no frame of it still
    holds what was just destroyed. A reader still on an older snapshot holds that up: it is tried
    `WAL_TRIES` times. None when the log is empty (or the store is not SQLite); otherwise why not."""
    if engine.dialect.name != "sqlite":
        return None
    frames = copied = 0
    for attempt in range(WAL_TRIES):
        if attempt:
            await asyncio.sleep(WAL_WAIT_MS / 1000)
        async with engine.connect() as conn:
            # Not the pool's long busy wait: between tries, other connections' readers can finish.
            await conn.exec_driver_sql(f"PRAGMA busy_timeout={WAL_WAIT_MS}")
            try:
                busy, frames, copied = tuple((await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one())
            finally:
                await conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if not busy:
            return None
    return (
        f"the write-ahead log could not be emptied after {WAL_TRIES} tries ({copied} of {frames} frames copied; "
        "another connection is still reading or writing): the destroyed key may stay in it until the next "
        "checkpoint; run the command again, or stop the other processes using the store"
    )
