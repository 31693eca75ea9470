"""`pathway audit rebuild-projections` through the real CLI: admins only; says whether the rebuilt
rows came out as they were, and names the ones that had drifted."""

from pathlib import Path

from sqlalchemy import text

from cli.exits import ExitStatus
from store.event_store import EventStore
from tests.cli.support import pathway
from tests.store.support import StoreCase, run_journey


async def test_an_admin_rebuilds_the_projections_from_the_events(tmp_path: Path) -> None:
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    journey = StoreCase(store)
    await run_journey(journey)
    env = {"PATHWAY_DATA_DIR": str(tmp_path), "PATHWAY_TEMPORAL_ADDRESS": "localhost:1"}
    try:
        refused = await pathway("audit", "rebuild-projections", "--as", "au-001", env=env)
        assert refused.status == ExitStatus.REFUSED
        assert refused.stderr == (
            "error: an auditor cannot change the configuration (allowed: admin) (rule: role_not_allowed)\n"
        )

        rebuilt = await pathway("audit", "rebuild-projections", "--as", "ad-001", env=env)
        assert rebuilt.status == 0, rebuilt.stderr
        tasks = len(await store.list_tasks(case_id=journey.case_id, status=None))
        assert rebuilt.stdout == f"rebuilt 1 case(s) and {tasks} task(s) from the events, identical to before\n"

        async with store.engine.begin() as conn:
            await conn.execute(
                text("UPDATE cases SET overdue = NOT overdue WHERE case_id = :id"), {"id": journey.case_id}
            )
        drifted = await pathway("audit", "rebuild-projections", "--as", "ad-001", env=env)
        assert drifted.status == 0, drifted.stderr
        assert drifted.stdout.splitlines() == [
            f"  rebuilt differently: cases {journey.case_id}",
            f"rebuilt 1 case(s) and {tasks} task(s) from the events, 1 row(s) different from before",
        ]
        assert await store.projection_differences(journey.case_id) == []
    finally:
        await store.close()
