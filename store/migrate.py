"""Run the Alembic migrations from code: the store upgrades itself on start, no alembic.ini needed."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).parent / "migrations"


# Any fixed number: PostgreSQL advisory locks are named by a 64-bit key.
MIGRATION_LOCK = 0x70617468776179  # "pathway"


def upgrade_to_head(connection: Connection) -> None:
    """Several processes start at once (replicas on a release; CLI commands, the API and a worker on
    one SQLite file): the first to take the lock migrates and the others, once it commits, find
    nothing left to do. On PostgreSQL the lock is an advisory one; on SQLite it is the database's
    write lock, taken before the version table is read (the driver would begin a transaction only
    at the first write, and run DDL outside one: two migrations would both create the tables)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def at_head(connection: Connection) -> bool:
    """Whether the database has every migration; reads only (for commands that must not migrate)."""
    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    return set(MigrationContext.configure(connection).get_current_heads()) == set(heads)
