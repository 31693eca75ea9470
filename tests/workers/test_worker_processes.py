"""Real `pathway worker` processes on one task queue and one PostgreSQL store: one is killed with
SIGKILL in the middle of 100 journeys and nothing is lost; SIGTERM stops a worker gracefully."""

import asyncio
import os
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.testing import WorkflowEnvironment

from domain.model import Stage
from domain.tasks import TaskKind
from store.event_store import EventStore
from tests.cli.support import PATHWAY, free_port
from tests.conftest import TEST_MASTER_KEYS_TEXT, TEST_PAYLOAD_KEYS_TEXT, case_commands
from tests.store.conftest import POSTGRES_ADMIN_URL, PostgresServer
from tests.workflows.journey import JOURNEY, complete, open_case

JOURNEYS = 100
GRACEFUL_SECONDS = 20


@pytest_asyncio.fixture(loop_scope="session")
async def postgres_store() -> AsyncIterator[EventStore]:
    """A fresh, migrated PostgreSQL database: two processes share it, as in production."""
    server = PostgresServer(POSTGRES_ADMIN_URL)
    store = EventStore.connect(await server.create_database())
    await store.migrate()
    yield store
    await store.close()
    await server.drop_all()


@dataclass
class WorkerProcess:
    process: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def readyz(self) -> int | None:
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                return (await http.get(f"{self.url}/readyz")).status_code
        except httpx.TransportError:
            return None

    async def wait_ready(self) -> None:
        async with asyncio.timeout(60):
            while await self.readyz() != 200:
                assert self.process.returncode is None, self.log.read_text()
                await asyncio.sleep(0.2)

    async def metrics(self) -> str:
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(f"{self.url}/metrics")).text


async def start_worker(
    env: WorkflowEnvironment, store: EventStore, task_queue: str, tmp_path: Path, name: str, **extra: str
) -> WorkerProcess:
    port = free_port()
    data_dir = tmp_path / name
    data_dir.mkdir()
    log = data_dir / "worker.log"
    environment = {
        **os.environ,
        "PATHWAY_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "PATHWAY_NAMESPACE": env.client.namespace,
        "PATHWAY_TASK_QUEUE": task_queue,
        "PATHWAY_DATA_DIR": str(data_dir),
        "PATHWAY_DATABASE_URL": store.engine.url.render_as_string(hide_password=False),
        "PATHWAY_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS_TEXT,
        "PATHWAY_MASTER_KEYS": TEST_MASTER_KEYS_TEXT,
        "PATHWAY_HEALTH_PORT": str(port),
        "PATHWAY_GRACEFUL_SHUTDOWN_SECONDS": str(GRACEFUL_SECONDS),
        "PATHWAY_METRICS_REFRESH_SECONDS": "1",
        **extra,
    }
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(PATHWAY, "worker", env=environment, stdout=output, stderr=output)
    worker = WorkerProcess(process, port, log)
    await worker.wait_ready()
    return worker


async def stop(worker: WorkerProcess) -> None:
    if worker.process.returncode is None:
        worker.process.kill()
        await worker.process.wait()


def appended(metrics_text: str) -> float:
    lines = [line for line in metrics_text.splitlines() if line.startswith("pathway_append_latency_seconds_count")]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


async def test_a_worker_killed_mid_run_loses_nothing(
    temporal_env: WorkflowEnvironment, postgres_store: EventStore, tmp_path: Path
) -> None:
    task_queue = f"two-workers-{uuid.uuid4()}"
    first = await start_worker(temporal_env, postgres_store, task_queue, tmp_path, "first")
    second = await start_worker(temporal_env, postgres_store, task_queue, tmp_path, "second")
    cases = case_commands(temporal_env, postgres_store, task_queue)
    steps_done = 0
    halfway = asyncio.Event()

    async def journey(number: int) -> str:
        nonlocal steps_done
        state = await cases.start_case(open_case(f"KILL-{number:03}"))
        for kind in JOURNEY:
            state = await complete(cases, state, kind)
            steps_done += 1
            if steps_done >= JOURNEYS * len(JOURNEY) // 2:
                halfway.set()
        assert state.stage is Stage.CLOSED
        return state.case_id

    started = time.monotonic()
    try:
        journeys = asyncio.gather(*(journey(n) for n in range(JOURNEYS)))
        await halfway.wait()
        assert appended(await first.metrics()) > 0, "the first worker did none of the work"
        first.process.send_signal(signal.SIGKILL)
        async with asyncio.timeout(240):
            case_ids = await journeys
    finally:
        await stop(first)
        await stop(second)
    assert first.process.returncode == -signal.SIGKILL
    print(f"{JOURNEYS} journeys with a worker killed halfway: {time.monotonic() - started:.1f}s")

    assert len(set(case_ids)) == JOURNEYS
    for case_id in case_ids:
        events = await postgres_store.read_stream(case_id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        types = [e.event.type for e in events]
        assert types.count("CaseOpened") == 1 and types.count("CaseClosed") == 1 and types[-1] == "CaseClosed"
        assert types.count("TaskCompleted") == len(JOURNEY)
        assert len({e.event_id for e in events}) == len(events)
        assert (await postgres_store.verify_chain(case_id)).ok
        assert await postgres_store.projection_differences(case_id) == []
        record = await postgres_store.get_case(case_id)
        assert record is not None and record.stage == Stage.CLOSED


class SlowMailbox:
    """An SMTP server that takes its time over each message, so a send is in flight when SIGTERM comes."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.receiving = threading.Event()
        self.received: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.receiving.set()
        await asyncio.sleep(self.delay)
        assert isinstance(envelope.content, bytes)
        self.received.append(envelope.content)
        return "250 Message accepted for delivery"


async def test_sigterm_stops_a_worker_gracefully(
    temporal_env: WorkflowEnvironment, postgres_store: EventStore, tmp_path: Path
) -> None:
    task_queue = f"sigterm-{uuid.uuid4()}"
    # Idle: it exits 0 at once.
    idle = await start_worker(temporal_env, postgres_store, task_queue, tmp_path, "idle")
    idle.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(GRACEFUL_SECONDS):
        assert await idle.process.wait() == 0

    # Busy: a referral email is being sent. It is marked not ready first, the send finishes, then it exits 0.
    mailbox = SlowMailbox(delay=4)
    smtp_port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    busy = await start_worker(
        temporal_env,
        postgres_store,
        task_queue,
        tmp_path,
        "busy",
        PATHWAY_SMTP_HOST="127.0.0.1",
        PATHWAY_SMTP_PORT=str(smtp_port),
    )
    try:
        cases = case_commands(temporal_env, postgres_store, task_queue)
        state = await cases.start_case(open_case("TERM-001"))
        for kind in JOURNEY[: JOURNEY.index(TaskKind.REFERRAL_DECISION) + 1]:
            state = await complete(cases, state, kind)
        async with asyncio.timeout(30):
            while not mailbox.receiving.is_set():
                await asyncio.sleep(0.05)
        busy.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(2):
            while (status := await busy.readyz()) == 200:
                await asyncio.sleep(0.05)
        assert status == 503 and busy.process.returncode is None and not mailbox.received
        async with asyncio.timeout(GRACEFUL_SECONDS):
            assert await busy.process.wait() == 0
    finally:
        await stop(busy)
        controller.stop()
    assert len(mailbox.received) == 1  # the send in flight finished before the worker left
    assert "worker stopped" in busy.log.read_text()
