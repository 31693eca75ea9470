"""Migration 0006 on a database written by the earlier version: the access rows already there are
chained per case in the order they were recorded, new rows continue each chain, and the free-text
shred reasons are gone from person_keys."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from store import schema
from store.access_log import AccessChainReport, AccessLog
from store.event_store import EventStore
from store.hashing import GENESIS_HASH
from store.migrate import MIGRATIONS
from store.schema import UtcDateTime

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SAME_MOMENT = T0 + timedelta(minutes=5)

# access_log as migration 0003 made it.
OLD_ACCESS_LOG = sa.table(
    "access_log",
    *(sa.column(name, sa.String) for name in ("access_id", "case_id", "staff_id", "role", "action", "purpose")),
    sa.column("break_glass", sa.Boolean),
    sa.column("at", UtcDateTime),
)


def upgrade_to(revision: str) -> Any:
    def upgrade(connection: sa.Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    return upgrade


def old_row(case_id: str, access_id: str, at: datetime, purpose: str) -> dict[str, Any]:
    return {
        "access_id": access_id,
        "case_id": case_id,
        "staff_id": "pr-001",
        "role": "practitioner",
        "action": "read_case",
        "purpose": purpose,
        "break_glass": False,
        "at": at,
    }


async def test_existing_rows_are_chained_in_the_order_recorded_and_shred_reasons_cleared(fresh_url: str) -> None:
    store = EventStore.connect(fresh_url)
    try:
        async with store.engine.begin() as conn:
            await conn.run_sync(upgrade_to("0005"))
        first, second = sorted(str(uuid.uuid4()) for _ in range(2))  # the same moment: the id decides
        rows = [
            old_row("case-a", "late", T0 + timedelta(hours=1), "third"),
            old_row("case-a", second, SAME_MOMENT, "second, same moment"),
            old_row("case-a", "early", T0, "first"),
            old_row("case-b", "only", T0, "another case"),
            old_row("case-a", first, SAME_MOMENT, "first, same moment"),
        ]
        async with store.engine.begin() as conn:
            await conn.execute(sa.insert(OLD_ACCESS_LOG), rows)
            await conn.execute(
                sa.insert(schema.person_keys),
                [
                    {
                        "person_id": "person-1",
                        "case_id": "case-a",
                        "created_at": T0,
                        "shredded_at": T0,
                        "shredded_by": "ad-001",
                        "shred_reason": "Sam Example asked us to",
                    }
                ],
            )

        await store.migrate()

        log = AccessLog(store.engine)
        chain_a = await log.list("case-a")
        assert [(r.seq, r.purpose) for r in chain_a] == [
            (1, "first"),
            (2, "first, same moment"),
            (3, "second, same moment"),
            (4, "third"),
        ]
        assert chain_a[0].prev_hash == GENESIS_HASH
        assert [r.prev_hash for r in chain_a[1:]] == [r.hash for r in chain_a[:-1]]
        assert [(r.seq, r.prev_hash) for r in await log.list("case-b")] == [(1, GENESIS_HASH)]
        assert await store.verify_access("case-a") == AccessChainReport("case-a", 4, ok=True)
        assert await store.verify_access("case-b") == AccessChainReport("case-b", 1, ok=True)
        # New rows continue the chain; a sealed purpose fits.
        later = await log.record("case-a", "au-001", "auditor", "export", "sealed:v1:person-1:" + "x" * 1000)
        assert (later.seq, later.prev_hash) == (5, chain_a[-1].hash)
        assert (await store.verify_access("case-a")).ok
        async with store.engine.connect() as conn:
            reasons = (await conn.execute(sa.select(schema.person_keys.c.shred_reason))).scalars().all()
        assert reasons == [None]
    finally:
        await store.close()
