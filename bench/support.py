"""What every benchmark needs: its own Temporal dev server, a store, keys, and a results row."""

import asyncio
import base64
import contextlib
import csv
import dataclasses
import math
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.mailer import SmtpMailer
from cli.demo import ADULT_OUTCOMES, JOURNEY
from domain.commands import OpenCase
from domain.config import PathwayConfig
from domain.errors import Rule, RuleViolation
from domain.model import Actor, AgeBand, Person, ReferralSource, Role, Setting
from domain.state import CaseState
from domain.tasks import TaskKind
from service.staff import StaffCommands
from store.event_store import EventStore
from store.keyring import KeyRing
from workers.binaries import installed_binary
from workers.bootstrap import pathway_service
from workers.client import data_converter
from workers.settings import SHIPPED_CONFIG, load_config
from workers.worker import build_worker
from workflows.search_attributes import ALL_KEYS

RESULTS = Path(__file__).parent / "results"


def new_key_ring(name: str) -> tuple[KeyRing, str]:
    """A fresh key ring and its text (for CLI subprocesses)."""
    text = f"{name} {base64.b64encode(secrets.token_bytes(32)).decode()}"
    return KeyRing.parse(text), text


async def start_temporal(payload_keys: KeyRing) -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        data_converter=data_converter(payload_keys),
        search_attributes=ALL_KEYS,
        dev_server_existing_path=installed_binary("temporal"),
        dev_server_log_level="error",
    )


def machine() -> str:
    return f"{platform.node()} ({os.cpu_count()} cpus, {platform.machine()}, Python {platform.python_version()})"


def commit() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return found.stdout.strip() or "unknown"


def write_row(name: str, figures: Mapping[str, object]) -> Path:
    """Append one row (date, machine, commit, then the figures) to bench/results/NAME.csv. A figure
    the file has no column for yet adds the column (earlier rows leave it empty)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.csv"
    row = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(), "commit": commit()}
    row |= {key: str(value) for key, value in figures.items()}
    rows: list[dict[str, str]] = []
    columns = list(row)
    if path.exists():
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = [*(reader.fieldnames or []), *(key for key in row if key not in (reader.fieldnames or []))]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows([*rows, row])
    return path


# --- What the journey and latency benchmarks share -------------------------------------------------

PRACTITIONER = Actor(staff_id="pr-001", role=Role.PRACTITIONER)
# The standard journey of issue 9: start, consent, screening, assessment, information sharing,
# referral (two services: each referral runs its own child workflow and sends one referral), closure.
STANDARD_OUTCOMES: dict[TaskKind, dict[str, Any]] = ADULT_OUTCOMES
STANDARD_JOURNEY: list[TaskKind] = JOURNEY


def opening(number: int, prefix: str = "BENCH") -> OpenCase:
    return OpenCase(
        actor=PRACTITIONER,
        site="demo",
        setting=Setting.CUSTODY,
        source=ReferralSource.CUSTODY_STAFF,
        external_ref=f"{prefix}-{number:06d}",
        age_band=AgeBand.ADULT,
        person=Person(name=f"Bench Person {number}", date_of_birth="1985-06-01"),
    )


@dataclass
class PatientCommands(StaffCommands):
    """StaffCommands that, like a member of staff, try a start or a completion again after the
    service's `case_catching_up` (the case's worker has not taken its last change yet: on a machine
    loaded far past its CPUs, longer than the service's own few seconds of retrying). A refused
    command was not taken, so trying it again is safe; `catching_up` counts the refusals."""

    catching_up: int = 0
    pause_s: float = 1.0
    attempts: int = 30

    @classmethod
    def of(cls, cases: StaffCommands, config: PathwayConfig | None = None) -> Self:
        """`cases` made patient; with `config`, opening cases with its sites (the service hands a
        site's configuration to each case it starts)."""
        pathway = cases.pathway
        if config is not None:
            pathway = dataclasses.replace(pathway, cases=dataclasses.replace(cases.service, config=config))
        return cls(pathway, cases.client, cases.task_queue)

    async def _patiently(self, command: Callable[[], Awaitable[CaseState]]) -> CaseState:
        for _ in range(self.attempts - 1):
            try:
                return await command()
            except RuleViolation as refusal:
                if refusal.rule is not Rule.CASE_CATCHING_UP:
                    raise
                self.catching_up += 1
                await asyncio.sleep(self.pause_s)
        return await command()

    async def start_case(self, command: OpenCase) -> CaseState:
        return await self._patiently(lambda: super(PatientCommands, self).start_case(command))

    async def complete_task(self, task_id: str, outcome: dict[str, Any], actor: Actor) -> CaseState:
        return await self._patiently(lambda: super(PatientCommands, self).complete_task(task_id, outcome, actor))


@dataclass
class PathwayStack:
    """A dev server, a store in a temporary folder, a production worker on its own task queue and
    the StaffCommands that drive it, as `pathway dev` has them (payload codec included)."""

    env: WorkflowEnvironment
    store: EventStore
    cases: StaffCommands
    task_queue: str
    payload_keys: KeyRing
    cli_env: dict[str, str]  # what a `pathway` subprocess needs to reach the same store, server and keys
    mailer: SmtpMailer | None = None  # where the referrals' email goes (the stack's SMTP sink)


class MailSink:
    """An SMTP server that accepts every message and keeps none (the referrals' email)."""

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def pathway_stack(in_process_worker: bool = True, store_url: str | None = None) -> AsyncIterator[PathwayStack]:
    """Without `in_process_worker`, nothing runs the case task queue: start a `pathway worker`
    process on it (`worker_process`). The store is a new SQLite file unless `store_url` names an
    empty database (`postgres_database`), which the stack migrates and its worker processes use too."""
    smtp_port = free_port()
    mail = Controller(MailSink(), hostname="127.0.0.1", port=smtp_port)
    mail.start()
    try:
        mailer = SmtpMailer("127.0.0.1", smtp_port, "pathway@bench.invalid")
        async with _pathway_stack(mailer, in_process_worker, store_url) as stack:
            yield stack
    finally:
        mail.stop()


@asynccontextmanager
async def _pathway_stack(
    mailer: SmtpMailer, in_process_worker: bool = True, store_url: str | None = None
) -> AsyncIterator[PathwayStack]:
    payload_keys, payload_text = new_key_ring("bench-payload")
    master_keys, master_text = new_key_ring("bench-master")
    env = await start_temporal(payload_keys)
    try:
        with tempfile.TemporaryDirectory() as folder:
            store = EventStore.connect(store_url or f"sqlite+aiosqlite:///{Path(folder) / 'pathway.db'}")
            await store.migrate()
            task_queue = f"bench-{uuid.uuid4()}"
            config = load_config(SHIPPED_CONFIG)
            pathway = pathway_service(
                env.client,
                store,
                config,
                case_id_key=b"bench-case-id-key",
                task_queue=task_queue,
                master_keys=master_keys,
                index_keys=new_key_ring("bench-index")[0],
            )
            cases = StaffCommands(pathway, env.client, task_queue)
            try:
                worker = (
                    build_worker(env.client, store, task_queue, config, mailer, "http://inbox", master_keys)
                    if in_process_worker
                    else contextlib.nullcontext()
                )
                async with worker:
                    cli_env = {
                        "PATHWAY_DATA_DIR": folder,
                        "PATHWAY_PAYLOAD_KEYS": payload_text,
                        "PATHWAY_MASTER_KEYS": master_text,
                        "PATHWAY_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
                        "PATHWAY_TASK_QUEUE": task_queue,
                    }
                    if store_url is not None:
                        cli_env["PATHWAY_DATABASE_URL"] = store_url
                    yield PathwayStack(env, store, cases, task_queue, payload_keys, cli_env, mailer)
            finally:
                await store.close()
    finally:
        await env.shutdown()


@asynccontextmanager
async def postgres_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """A new, empty database `PREFIX_<random>` on the PostgreSQL server of `server_url` (the URL of a
    database there whose user may create databases), dropped at the end, connections and all; yields
    its SQLAlchemy URL (asyncpg)."""
    server = make_url(server_url)
    if server.drivername == "postgresql":
        server = server.set(drivername="postgresql+asyncpg")
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def plain_client(env: WorkflowEnvironment) -> Client:
    """A client of the same server with Temporal's default converter: no pydantic, no codec."""
    return await Client.connect(env.client.service_client.config.target_host, namespace=env.client.namespace)


async def in_parallel(count: int, concurrency: int, work: Callable[[int], Awaitable[object]]) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(number: int) -> None:
        async with gate:
            await work(number)

    await asyncio.gather(*(one(number) for number in range(count)))


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of `samples` (fraction 0.5 is the median, 0.99 the p99)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Comparison:
    figure: str
    pathway: float
    baseline: float
    unit: str
    # The target as (bound, higher_is_better): met when pathway/baseline >= bound (or <= bound).
    target: tuple[float, bool] | None = None

    @property
    def ratio(self) -> float:
        return self.pathway / self.baseline if self.baseline else math.inf

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        bound, higher_is_better = self.target
        return self.ratio >= bound if higher_is_better else self.ratio <= bound

    def target_text(self) -> str:
        if self.target is None:
            return "-"
        bound, higher_is_better = self.target
        return f"ratio {'>=' if higher_is_better else '<='} {bound:g}"


def print_table(rows: Sequence[Comparison]) -> None:
    header = f"{'figure':<28} {'Pathway':>12} {'baseline':>12} {'ratio':>7}  {'target':<12} met?"
    print(header)
    print("-" * len(header))
    for row in rows:
        met = "-" if row.met is None else ("yes" if row.met else "NO")
        print(
            f"{row.figure:<28} {row.pathway:>9.1f} {row.unit:<2} {row.baseline:>9.1f} {row.unit:<2} "
            f"{row.ratio:>7.2f}  {row.target_text():<12} {met}"
        )


# --- A production worker in its own process (for its resident memory) ------------------------------

PATHWAY_CLI = str(Path(sys.executable).parent / "pathway")
# This checkout, first on the worker's path: a virtualenv installed (editable) from another checkout
# would otherwise run that checkout's code in the worker, not the code being measured.
CHECKOUT = Path(__file__).resolve().parent.parent


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far, from /proc/PID/stat (0 if it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids() -> list[int]:
    """This process's child processes (the dev server, `pathway worker` processes), from /proc."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:  # gone since listed
            continue
        if parent == os.getpid():
            found.append(int(pid))
    return found


def machine_busy_seconds() -> float:
    """CPU time every CPU of the machine has spent busy so far (not idle or waiting on I/O), from /proc/stat."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Memory:
    """A process's resident memory now (VmRSS) and at its peak so far (VmHWM), in bytes."""

    rss: int
    peak: int


def process_memory(pid: int) -> Memory:
    """VmRSS and VmHWM of a process, from /proc/PID/status (Linux)."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024  # the kernel writes kB
    return Memory(rss=fields["VmRSS"], peak=fields["VmHWM"])


@dataclass
class WorkerProcess:
    """A `pathway worker` process of a stack, as tests/workers/test_worker_processes.py starts one."""

    process: asyncio.subprocess.Process
    health_url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def memory(self) -> Memory:
        return process_memory(self.pid)


@asynccontextmanager
async def worker_process(stack: PathwayStack, **extra: str) -> AsyncIterator[WorkerProcess]:
    """Run `pathway worker` on the stack's task queue, store, server and keys (the stack must have
    been made with `in_process_worker=False`), sending email to the stack's sink; `extra` adds or
    overrides environment variables. Ready once its /readyz answers 200; stopped with SIGTERM.

    Bytecode caching is on (PYTHONDONTWRITEBYTECODE dropped unless `extra` sets it): the workflow
    sandbox imports the workflow's module afresh for every new workflow instance, and without a
    current .pyc that means compiling workflows/case_workflow.py from source every time."""
    port = free_port()
    log = Path(stack.cli_env["PATHWAY_DATA_DIR"]) / f"worker-{port}.log"
    environment = {
        **{name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"},
        **stack.cli_env,
        "PATHWAY_NAMESPACE": stack.env.client.namespace,
        "PATHWAY_HEALTH_PORT": str(port),
        "PATHWAY_GRACEFUL_SHUTDOWN_SECONDS": "5",
        "PATHWAY_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")])),
    }
    if stack.mailer is not None:
        environment |= {"PATHWAY_SMTP_HOST": stack.mailer.host, "PATHWAY_SMTP_PORT": str(stack.mailer.port)}
    environment |= extra
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            PATHWAY_CLI, "worker", env=environment, stdout=output, stderr=output
        )
    worker = WorkerProcess(process, f"http://127.0.0.1:{port}", log)
    try:
        async with httpx.AsyncClient(timeout=2) as http, asyncio.timeout(60):
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"pathway worker exited with {process.returncode}:\n{log.read_text()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{worker.health_url}/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
        yield worker
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(30):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
