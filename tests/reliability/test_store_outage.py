"""The store's PostgreSQL unreachable for a while (connection refused, open connections dropped):
appends fail and Temporal retries them; afterwards every case completes and every stream is whole."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from sqlalchemy import make_url
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from domain.model import Stage
from store.event_store import EventStore
from tests.cli.support import free_port
from tests.conftest import case_commands, worker_for
from tests.reliability.support import assert_stream_whole
from tests.store.conftest import POSTGRES_ADMIN_URL, PostgresServer
from tests.workflows.journey import JOURNEY, complete, open_case

JOURNEYS = 20
OUTAGE_SECONDS = 6


class TcpProxy:
    """A TCP proxy from 127.0.0.1:<port> to the database; `cut` refuses and drops connections until `restore`."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.accepted = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            self.writers.discard(writer)
            writer.transport.abort()

    async def cut(self) -> None:
        """Close the listener (new connections are refused) and drop every open connection."""
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()
        self.server = None

    async def restore(self) -> None:
        await self.start()


@pytest_asyncio.fixture(loop_scope="session")
async def database() -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database (its URL), dropped afterwards."""
    server = PostgresServer(POSTGRES_ADMIN_URL)
    url = await server.create_database()
    store = EventStore.connect(url)
    await store.migrate()
    await store.close()
    yield url
    await server.drop_all()


async def test_journeys_survive_the_store_going_away(temporal_env: WorkflowEnvironment, database: str) -> None:
    direct_url = make_url(database)
    proxy = TcpProxy(direct_url.host or "127.0.0.1", direct_url.port or 5432)
    await proxy.start()
    # The worker's store goes through the proxy; the test reads (and the client side reads) directly.
    worker_store = EventStore.connect(direct_url.set(port=proxy.port).render_as_string(hide_password=False))
    store = EventStore.connect(database)
    task_queue = f"store-outage-{uuid.uuid4()}"
    cases = case_commands(temporal_env, store, task_queue)
    steps_done = 0
    halfway = asyncio.Event()

    async def journey(number: int) -> str:
        nonlocal steps_done
        state = await cases.start_case(open_case(f"OUTAGE-{number:03}"))
        for kind in JOURNEY:
            state = await complete(cases, state, kind)
            steps_done += 1
            if steps_done >= JOURNEYS * len(JOURNEY) // 2:
                halfway.set()
        assert state.stage is Stage.CLOSED
        return state.case_id

    started = time.monotonic()
    try:
        async with worker_for(temporal_env.client, worker_store, task_queue):
            journeys = asyncio.ensure_future(asyncio.gather(*(journey(n) for n in range(JOURNEYS))))
            async with asyncio.timeout(120):
                await asyncio.wait(waiters(journeys, halfway), return_when="FIRST_COMPLETED")
            assert not journeys.done(), "the journeys finished before the outage"
            await proxy.cut()
            cut_at = time.monotonic()
            await asyncio.sleep(OUTAGE_SECONDS)  # the outage itself, not synchronisation
            steps_during_outage = steps_done
            await proxy.restore()
            outage = time.monotonic() - cut_at
            async with asyncio.timeout(180):
                case_ids = await journeys
    finally:
        if not journeys.done():
            journeys.cancel()
            with contextlib.suppress(BaseException):
                await journeys
        await worker_store.close()
        if proxy.server is not None:
            await proxy.cut()
    print(
        f"{JOURNEYS} journeys with the store unreachable for {outage:.1f}s: {time.monotonic() - started:.1f}s; "
        f"{steps_during_outage - JOURNEYS * len(JOURNEY) // 2} steps finished during the outage"
    )

    try:
        assert len(set(case_ids)) == JOURNEYS
        retried = 0
        for case_id in case_ids:
            await assert_stream_whole(store, case_id, task_completions=len(JOURNEY))
            history = await temporal_env.client.get_workflow_handle(case_id).fetch_history()
            retried += sum(
                1
                for event in history.events
                if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
                and event.activity_task_started_event_attributes.attempt > 1
            )
        # Appends were in flight when the store went away: some activity needed more than one attempt.
        assert retried > 0, "no activity was retried; the outage missed every append"
    finally:
        await store.close()


def waiters(journeys: "asyncio.Future[list[str]]", halfway: asyncio.Event) -> "list[asyncio.Future[Any]]":
    """The journeys and the halfway mark, to wait for whichever comes first."""
    return [journeys, asyncio.ensure_future(halfway.wait())]
