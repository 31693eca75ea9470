"""The Temporal dev server (SQLite persistence) stopped and restarted in the middle of 20 journeys:
clients retry what failed as a user would, reading the case first, and every case completes whole."""

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from domain.identity import case_id_for
from domain.model import Stage
from domain.state import CaseState
from domain.tasks import TaskKind
from store.event_store import EventStore
from store.person_keys import PersonKeys, Sealer
from tests.cli.support import free_port
from tests.conftest import TEST_CASE_ID_KEY, TEST_MASTER_KEYS, TEST_PAYLOAD_KEYS, worker_for
from tests.reliability.support import assert_stream_whole
from tests.workflows.journey import JOURNEY, OUTCOMES, PRACTITIONER, open_case, open_task
from workers.binaries import installed_binary
from workers.cases import CaseCommands, CommandRejected
from workers.client import data_converter
from workers.settings import SHIPPED_CONFIG, load_config
from workflows.search_attributes import ALL_KEYS

JOURNEYS = 20
# What a client sees while the server is away; the user tries again.
UNREACHABLE = (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError)


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


class PatientUser:
    """Drives journeys and, when the server is away, tries again the way a person would: looks at the
    case first, and does not complete a task the case already shows as done."""

    def __init__(self, cases: CaseCommands, store: EventStore) -> None:
        self.cases = cases
        self.store = store
        self.retries = 0

    async def settled(self, case_id: str, done: Callable[[CaseState], bool]) -> CaseState:
        """The case as the store shows it once an earlier attempt has got through."""
        async with asyncio.timeout(120):
            while not done(state := await self.store.case_state(case_id)):
                await asyncio.sleep(0.3)
        return state

    async def _again(self) -> None:
        self.retries += 1
        await asyncio.sleep(1)

    async def start(self, ref: str) -> CaseState:
        command = open_case(ref)
        case_id = self.cases_id(ref)
        for _ in range(60):
            try:
                return await self.cases.start_case(command)
            except UNREACHABLE:
                await self._again()
            except CommandRejected as rejection:
                # An earlier start is being recorded (see test_concurrent_commands: concurrent starts).
                assert rejection.rule == "case_already_open", rejection.message
                return await self.settled(case_id, lambda state: state.stage is not None)
        raise AssertionError(f"could not start {ref}")

    def cases_id(self, ref: str) -> str:
        return case_id_for(self.cases.case_id_key, "demo", ref)

    async def complete(self, state: CaseState, kind: TaskKind) -> CaseState:
        task_id = open_task(state, kind)

        def done(current: CaseState) -> bool:
            return all(task.task_id != task_id for task in current.open_tasks)

        for _ in range(60):
            try:
                return await self.cases.complete_task(task_id, OUTCOMES[kind], PRACTITIONER)
            except UNREACHABLE:
                await self._again()
                current = await self.store.case_state(state.case_id)
                if done(current):
                    return current
            except CommandRejected as rejection:
                # The task is done already: an earlier attempt reached the case before the server went.
                assert rejection.rule == "task_not_open" and self.retries, rejection.message
                return await self.settled(state.case_id, done)
        raise AssertionError(f"could not complete {task_id}")


async def test_journeys_survive_a_temporal_server_restart(dev_server: DevServer, sqlite_store: EventStore) -> None:
    client = await dev_server.connect()
    task_queue = f"restart-{uuid.uuid4()}"
    cases = CaseCommands(
        client=client,
        store=sqlite_store,
        config=load_config(SHIPPED_CONFIG),
        case_id_key=TEST_CASE_ID_KEY + task_queue.encode(),
        task_queue=task_queue,
        sealer=Sealer(PersonKeys(sqlite_store.engine, TEST_MASTER_KEYS)),
    )
    user = PatientUser(cases, sqlite_store)
    steps_done = 0
    halfway = asyncio.Event()

    async def journey(number: int) -> str:
        nonlocal steps_done
        state = await user.start(f"RESTART-{number:03}")
        for kind in JOURNEY:
            state = await user.complete(state, kind)
            steps_done += 1
            if steps_done >= JOURNEYS * len(JOURNEY) // 2:
                halfway.set()
        state = await user.settled(state.case_id, lambda current: current.stage is Stage.CLOSED)
        return state.case_id

    started = time.monotonic()
    async with worker_for(client, sqlite_store, task_queue):
        journeys = asyncio.ensure_future(asyncio.gather(*(journey(n) for n in range(JOURNEYS))))
        try:
            async with asyncio.timeout(120):
                await asyncio.wait(waiters(journeys, halfway), return_when="FIRST_COMPLETED")
            assert not journeys.done(), journeys.exception() if journeys.done() else ""
            stopped_at = time.monotonic()
            await dev_server.stop()
            assert dev_server.process is not None and dev_server.process.returncode is not None
            await dev_server.start()
            await dev_server.wait_serving(client)
            away = time.monotonic() - stopped_at
            async with asyncio.timeout(240):
                case_ids = await journeys
        finally:
            if not journeys.done():
                journeys.cancel()
                with contextlib.suppress(BaseException):
                    await journeys
    print(
        f"{JOURNEYS} journeys with the Temporal server away for {away:.1f}s: {time.monotonic() - started:.1f}s, "
        f"{user.retries} commands tried again"
    )

    assert len(set(case_ids)) == JOURNEYS
    for case_id in case_ids:
        await assert_stream_whole(sqlite_store, case_id, task_completions=len(JOURNEY))


def waiters(journeys: "asyncio.Future[list[str]]", halfway: asyncio.Event) -> "list[asyncio.Future[Any]]":
    """The journeys and the halfway mark, to wait for whichever comes first."""
    return [journeys, asyncio.ensure_future(halfway.wait())]
