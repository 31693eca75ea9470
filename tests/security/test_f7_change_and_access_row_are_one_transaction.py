"""F7: a change that was recorded must never be missing from the access log.

The attack (or the accident): the process appending a change is killed after the events are written
and before its access row is (before the fix they were two transactions: the append, then
`AccessLog.record`), so the record shows a change that nobody is logged as having made. Now the
append activity's input carries the access entry, and the store writes the row in the transaction
of the events: a process killed between the two leaves neither, and the retried activity writes
both, once."""

import asyncio
import signal
import sys
from pathlib import Path

from sqlalchemy import func, select
from temporalio.testing import ActivityEnvironment

from activities.store_activities import AppendEventsInput, AppendEventsResult, StoreActivities
from store import schema
from store.access_log import AccessLog, change_access_id
from store.event_store import EventStore
from tests.store.access_support import entry
from tests.store.support import StoreCase, count_events

REPO = Path(__file__).parents[2]

# Appends as the append activity does, but the process is killed (SIGKILL, nothing runs after it)
# at the moment the access row is to be written, after the events were.
KILLED_MID_APPEND = """
import asyncio, os, signal, sys
from activities.store_activities import AppendEventsInput
from store import event_store

async def killed(*args):
    os.kill(os.getpid(), signal.SIGKILL)

async def main():
    event_store.write_access = killed
    given = AppendEventsInput.model_validate_json(sys.stdin.read())
    store = event_store.EventStore.connect(sys.argv[1])
    await store.append_reporting(given.case_id, given.events, given.access)

asyncio.run(main())
"""


async def access_rows(store: EventStore, case_id: str) -> int:
    query = select(func.count()).select_from(schema.access_log).where(schema.access_log.c.case_id == case_id)
    async with store.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def test_a_process_killed_between_the_events_and_the_access_row_records_neither(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}"
    store = EventStore.connect(url)
    try:
        await store.migrate()
        case = StoreCase(store)
        given = AppendEventsInput(
            case_id=case.case_id,
            events=case.envelopes_for_open(),
            access=entry(case.case_id, "start_case", purpose="custody alert"),
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", KILLED_MID_APPEND, url, cwd=REPO, stdin=asyncio.subprocess.PIPE
        )
        await process.communicate(given.model_dump_json().encode())
        assert process.returncode == -signal.SIGKILL

        assert (await count_events(store, case.case_id), await access_rows(store, case.case_id)) == (0, 0)

        # Temporal retries the activity with the same input: both are written, once.
        activities = StoreActivities(store)
        results = [await ActivityEnvironment().run(activities.append_events, given) for _ in range(2)]

        assert results == [AppendEventsResult(version=len(given.events))] * 2
        [record] = await AccessLog(store.engine).list(case.case_id)
        assert record.access_id == change_access_id(given.events[0].event_id)
        assert (record.action, record.purpose, record.staff_id) == ("start_case", "custody alert", "prac-1")
        assert await count_events(store, case.case_id) == len(given.events)
        assert (await store.verify_access(case.case_id)).ok
    finally:
        await store.close()
