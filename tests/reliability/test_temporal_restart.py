"""The Temporal dev server (SQLite persistence) stopped and restarted in the middle of 20 journeys:
clients retry what failed as a user would, reading the case first, and every case completes whole."""

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from temporalio.client import Client
from temporalio.service import RPCError

from store.event_store import EventStore
from tests.cli.support import free_port
from tests.conftest import TEST_PAYLOAD_KEYS, staff_driver, worker_for
from tests.reliability.support import Journeys, PatientUser, assert_stream_whole
from tests.workflows.journey import JOURNEY
from workers.binaries import installed_binary
from workers.client import data_converter
from workflows.search_attributes import ALL_KEYS

JOURNEYS = 20


class DevServer:
    """`temporal server start-dev` on a SQLite file and a fixed port, so it can be stopped and started again."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.http_port = free_port()
        self.metrics_port = free_port()
        self.process: asyncio.subprocess.Process | None = None
        self.log = data_dir / "temporal.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        attributes = [arg for key in ALL_KEYS for arg in ("--search-attribute", f"{key.name}={key._metadata_type}")]
        with self.log.open("ab") as output:
            self.process = await asyncio.create_subprocess_exec(
                installed_binary("temporal"),
                "server",
                "start-dev",
                "--db-filename",
                str(self.data_dir / "temporal.db"),
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--http-port",
                str(self.http_port),
                "--metrics-port",
                str(self.metrics_port),
                "--headless",
                "--log-level",
                "warn",
                *attributes,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )

    async def connect(self) -> Client:
        """A client, once the server answers (it is polled, up to a minute)."""
        async with asyncio.timeout(60):
            while True:
                assert self.process is not None and self.process.returncode is None, self.log.read_text()
                with contextlib.suppress(RuntimeError):
                    client = await Client.connect(self.address, data_converter=data_converter(TEST_PAYLOAD_KEYS))
                    await client.service_client.check_health()
                    return client
                await asyncio.sleep(0.3)

    async def wait_serving(self, client: Client) -> None:
        async with asyncio.timeout(60):
            while True:
                with contextlib.suppress(RPCError):
                    await client.service_client.check_health()
                    return
                await asyncio.sleep(0.3)

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(30):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@pytest_asyncio.fixture(loop_scope="session")
async def dev_server(tmp_path: Path) -> AsyncIterator[DevServer]:
    server = DevServer(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_journeys_survive_a_temporal_server_restart(dev_server: DevServer, sqlite_store: EventStore) -> None:
    client = await dev_server.connect()
    task_queue = f"restart-{uuid.uuid4()}"
    cases = staff_driver(client, sqlite_store, task_queue)
    user = PatientUser(cases, sqlite_store)
    refs = [f"RESTART-{number:03}" for number in range(JOURNEYS)]
    started = time.monotonic()
    async with worker_for(client, sqlite_store, task_queue), Journeys(user, refs) as journeys:
        await journeys.reach(journeys.total_steps // 2)
        stopped_at = time.monotonic()
        await dev_server.stop()
        assert dev_server.process is not None and dev_server.process.returncode is not None
        await dev_server.start()
        await dev_server.wait_serving(client)
        away = time.monotonic() - stopped_at
        case_ids = await journeys.finish(240)
    print(
        f"{JOURNEYS} journeys with the Temporal server away for {away:.1f}s: {time.monotonic() - started:.1f}s, "
        f"{user.retries} commands tried again"
    )

    assert len(set(case_ids)) == JOURNEYS
    for case_id in case_ids:
        await assert_stream_whole(sqlite_store, case_id, task_completions=len(JOURNEY))
