"""What every reliability test asserts about the streams (and workflow histories) it leaves behind; the
patient user who drives journeys through a disruption; and a stack of real `pathway worker` processes
on one task queue, with a PostgreSQL store and an SMTP sink, for the tests that kill or stop them."""

import asyncio
import contextlib
import os
import signal
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.store_activities import AppendEventsInput, AppendEventsResult
from domain.errors import RuleViolation
from domain.identity import case_id_for
from domain.model import Stage
from domain.state import CaseState
from domain.tasks import TaskKind
from service.staff import StaffCommands
from store.event_store import EventStore
from tests.cli.support import PATHWAY, free_port
from tests.conftest import TEST_MASTER_KEYS_TEXT, TEST_PAYLOAD_KEYS_TEXT, case_commands
from tests.store.conftest import POSTGRES_ADMIN_URL, PostgresServer
from tests.workflows.journey import JOURNEY, OUTCOMES, PRACTITIONER, open_case, open_task
from workflows.case_workflow import CaseWorkflow

# What a client sees while Temporal is away; the user tries again.
UNREACHABLE = (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError)
# ... and what a user who stops waiting for an answer sees (see PatientUser.patience).
NO_ANSWER = (*UNREACHABLE, TimeoutError)
# What may be recorded after a case closed: the send of a referral that was in flight, and its end.
FACTS_AFTER_CLOSURE = {"ReferralSent", "ReferralSendFailed"}
# How often a PatientUser tries one command, a second or more apart, before the test fails.
ATTEMPTS = 120
# How long a `pathway worker` of a WorkerStack has to finish in-flight activities after SIGTERM.
GRACEFUL_SECONDS = 20


async def assert_stream_whole(store: EventStore, case_id: str, task_completions: int, closed: bool = True) -> None:
    """Seq 1..n, one CaseOpened (and one CaseClosed, if `closed`, followed only by what became of
    referrals whose send was in flight), `task_completions` TaskCompleted, no event id twice, the
    chain verifies and the projections equal a fresh fold."""
    events = await store.read_stream(case_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), case_id
    types = [e.event.type for e in events]
    assert types.count("CaseOpened") == 1 and types[0] == "CaseOpened", types
    if closed:
        assert types.count("CaseClosed") == 1, types
        after_closure = types[types.index("CaseClosed") + 1 :]
        assert set(after_closure) <= FACTS_AFTER_CLOSURE, types
    else:
        assert "CaseClosed" not in types, types
    assert types.count("TaskCompleted") == task_completions, types
    assert len({e.event_id for e in events}) == len(events), f"duplicate event ids in {case_id}"
    report = await store.verify_chain(case_id)
    assert report.ok, report
    differences = await store.projection_differences(case_id)
    assert differences == [], differences
    record = await store.get_case(case_id)
    assert record is not None
    if closed:
        assert record.stage == Stage.CLOSED


@dataclass
class HistoryFacts:
    """What a case workflow's history shows of the disruption it came through."""

    append_retries: int  # append attempts after the first (an attempt lost with its worker, say)
    workflow_task_timeouts: int  # workflow tasks that timed out (their worker gone)


async def assert_history_whole(client: Client, store: EventStore, case_id: str) -> HistoryFacts:
    """The case workflow COMPLETED with the stream's version, and its history agrees with the stream:
    every stored event was scheduled for appending exactly once, in stream order, and each append
    activity completed once (however many attempts it took), reporting the version its last event made.
    (A single run: the journeys here are far too short to continue as new.)"""
    handle = client.get_workflow_handle_for(CaseWorkflow.run, case_id)
    await handle.result()  # a closed case's run ends once its referrals' sends have reported
    description = await handle.describe()
    assert description.status is WorkflowExecutionStatus.COMPLETED, (case_id, description.status)
    history = await handle.fetch_history()
    scheduled: dict[int, AppendEventsInput] = {}
    results: dict[int, list[AppendEventsResult]] = defaultdict(list)
    facts = HistoryFacts(append_retries=0, workflow_task_timeouts=0)
    decode = client.data_converter.decode
    for event in history.events:
        match event.event_type:
            case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                attributes = event.activity_task_scheduled_event_attributes
                if attributes.activity_type.name == "append_events":
                    [append] = await decode(attributes.input.payloads, [AppendEventsInput])
                    scheduled[event.event_id] = append
            case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                started = event.activity_task_started_event_attributes
                if started.scheduled_event_id in scheduled:
                    facts.append_retries += started.attempt - 1
            case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                completed = event.activity_task_completed_event_attributes
                if completed.scheduled_event_id in scheduled:
                    [result] = await decode(completed.result.payloads, [AppendEventsResult])
                    results[completed.scheduled_event_id].append(result)
            case EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                facts.workflow_task_timeouts += 1
            case _:
                pass
    stream = await store.read_stream(case_id)
    appended = [(e.seq, e.event_id) for append in scheduled.values() for e in append.events]
    assert appended == [(e.seq, e.event_id) for e in stream], f"{case_id}: the history's appends are not the stream"
    for event_id, append in scheduled.items():
        assert [r.version for r in results[event_id]] == [append.events[-1].seq], (case_id, event_id)
    assert (await handle.result()).version == len(stream), case_id
    return facts


class PatientUser:
    """Drives journeys and, when a command fails on the way or has no answer after `patience` seconds
    (None: waits as long as it takes), tries again the way a person would: looks at the case first, and
    does not complete a task the case already shows as done. A command given up on may still be
    recorded later: the next attempt then finds the task done, or is refused as the second of two. A
    task read from the store may be refused as unknown until its workflow catches up: again, later."""

    def __init__(self, cases: StaffCommands, store: EventStore, patience: float | None = None) -> None:
        self.cases = cases
        self.store = store
        self.patience = patience
        self.retries = 0
        self.failures: Counter[str] = Counter()  # why commands were tried again
        self.steps = 0  # tasks completed, over all journeys

    async def settled(self, case_id: str, done: Callable[[CaseState], bool]) -> CaseState:
        """The case as the store shows it once an earlier attempt has got through."""
        async with asyncio.timeout(120):
            while not done(state := await self.store.case_state(case_id)):
                await asyncio.sleep(0.3)
        return state

    async def _again(self, why: str) -> None:
        self.retries += 1
        self.failures[why] += 1
        await asyncio.sleep(1)

    async def _answer(self, call: Awaitable[CaseState]) -> CaseState:
        """What `call` answers; TimeoutError once the user's patience runs out."""
        async with asyncio.timeout(self.patience) as waiting:
            try:
                return await call
            except WorkflowUpdateRPCTimeoutOrCancelledError:
                if waiting.expired():  # the client's way of saying it was cancelled: the user gave up
                    raise TimeoutError from None
                raise

    @staticmethod
    def _why(failure: Exception) -> str:
        return "no answer" if isinstance(failure, TimeoutError) else type(failure).__name__

    def case_id(self, ref: str) -> str:
        return case_id_for(self.cases.case_id_key, "demo", ref)

    async def start(self, ref: str) -> CaseState:
        command = open_case(ref)
        for _ in range(ATTEMPTS):
            try:
                return await self._answer(self.cases.start_case(command))
            except NO_ANSWER as failure:
                await self._again(self._why(failure))
            except RuleViolation as rejection:
                # An earlier start is being recorded (see test_concurrent_commands: concurrent starts).
                assert rejection.rule == "case_already_open", rejection.message
                return await self.settled(self.case_id(ref), lambda state: state.stage is not None)
        raise AssertionError(f"could not start {ref}")

    async def complete(self, state: CaseState, kind: TaskKind) -> CaseState:
        task_id = open_task(state, kind)

        def done(current: CaseState) -> bool:
            return all(task.task_id != task_id for task in current.open_tasks)

        for attempt in range(ATTEMPTS):
            try:
                return await self._answer(self.cases.complete_task(task_id, OUTCOMES[kind], PRACTITIONER))
            except NO_ANSWER as failure:
                await self._again(self._why(failure))
                current = await self.store.case_state(state.case_id)
                if done(current):
                    return current
            except RuleViolation as rejection:
                if rejection.rule in ("task_unknown", "case_catching_up"):
                    # The store shows the task (the user read it there after giving up on the step before)
                    # but the case workflow has not taken in the append that opened it: the append's
                    # result waits for a workflow task (its worker died, the sticky queue timed out), or
                    # arrives in the same workflow task as this command, whose validator runs first.
                    # The command is refused before it is accepted, leaving no trace; the service says
                    # so as `case_catching_up` once its own few seconds of trying again have passed
                    # (a worker killed again meanwhile can take longer). Another moment, then.
                    await self._again(rejection.rule)
                    continue
                # The task is done already (the closure: the case is closed): an earlier attempt got through.
                assert rejection.rule in ("task_not_open", "case_not_open") and attempt, rejection.message
                return await self.settled(state.case_id, done)
        raise AssertionError(f"could not complete {task_id}")

    async def journey(self, ref: str) -> str:
        """Open a case and complete the standard journey; the case id, once the store shows it closed."""
        state = await self.start(ref)
        for kind in JOURNEY:
            state = await self.complete(state, kind)
            self.steps += 1
        state = await self.settled(state.case_id, lambda current: current.stage is Stage.CLOSED)
        return state.case_id


class Journeys:
    """Journeys run at once by one patient user, for a test to disrupt partway through; leaving the
    `async with` block cancels any still running."""

    def __init__(self, user: PatientUser, refs: Sequence[str]) -> None:
        self.user = user
        self.total_steps = len(refs) * len(JOURNEY)
        self._each = [asyncio.ensure_future(user.journey(ref)) for ref in refs]
        self._all = asyncio.gather(*self._each)

    async def __aenter__(self) -> "Journeys":
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for journey in self._each:  # when one fails, gather leaves the others running
            journey.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self._each, return_exceptions=True)

    def _assert_running(self) -> None:
        if self._all.done():
            failure = None if self._all.cancelled() else self._all.exception()
            raise AssertionError("the journeys ended before the disruption") from failure

    async def reach(self, steps: int, seconds: float = 120) -> None:
        """Until `steps` tasks are completed in all; the journeys must still be running then."""
        async with asyncio.timeout(seconds):
            while self.user.steps < steps:
                self._assert_running()
                await asyncio.sleep(0.05)
        self._assert_running()

    async def finish(self, seconds: float) -> list[str]:
        """Every journey's case id, in the order of their references."""
        async with asyncio.timeout(seconds):
            return await self._all


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


class Mailbox:
    """An SMTP sink; with a `delay` it takes its time over each message (so a send can be caught in flight)."""

    def __init__(self, delay: float = 0) -> None:
        self.delay = delay
        self.receiving = threading.Event()  # the sink runs in aiosmtpd's own thread
        self.received: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.receiving.set()
        await asyncio.sleep(self.delay)
        assert isinstance(envelope.content, bytes)
        self.received.append(envelope.content)
        return "250 Message accepted for delivery"


@dataclass
class WorkerStack:
    """Real `pathway worker` processes on one task queue of the test dev server, sharing a fresh
    PostgreSQL store (as in production) and sending mail to one SMTP sink."""

    env: WorkflowEnvironment
    store: EventStore
    task_queue: str
    mailbox: Mailbox
    smtp_port: int
    directory: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    async def start_worker(self, name: str, **extra: str) -> WorkerProcess:
        """A new worker process, once it is ready (polling); its data directory and log are under `name`."""
        port = free_port()
        data_dir = self.directory / name
        data_dir.mkdir()
        log = data_dir / "worker.log"
        environment = {
            # With bytecode caching: the workflow sandbox imports the workflow modules afresh for every
            # workflow instance, which without a current .pyc means compiling them from source each time.
            **{name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"},
            "PATHWAY_TEMPORAL_ADDRESS": self.env.client.service_client.config.target_host,
            "PATHWAY_NAMESPACE": self.env.client.namespace,
            "PATHWAY_TASK_QUEUE": self.task_queue,
            "PATHWAY_DATA_DIR": str(data_dir),
            "PATHWAY_DATABASE_URL": self.store.engine.url.render_as_string(hide_password=False),
            "PATHWAY_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS_TEXT,
            "PATHWAY_MASTER_KEYS": TEST_MASTER_KEYS_TEXT,
            "PATHWAY_HEALTH_PORT": str(port),
            "PATHWAY_GRACEFUL_SHUTDOWN_SECONDS": str(GRACEFUL_SECONDS),
            "PATHWAY_METRICS_REFRESH_SECONDS": "1",
            "PATHWAY_SMTP_HOST": "127.0.0.1",
            "PATHWAY_SMTP_PORT": str(self.smtp_port),
            **extra,
        }
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                PATHWAY, "worker", env=environment, stdout=output, stderr=output
            )
        worker = WorkerProcess(process, port, log)
        self.workers.append(worker)
        await worker.wait_ready()
        return worker

    async def kill(self, worker: WorkerProcess) -> None:
        """SIGKILL: the process gets no chance to finish or report anything."""
        if worker.process.returncode is None:
            worker.process.send_signal(signal.SIGKILL)
            await worker.process.wait()

    def cases(self) -> StaffCommands:
        return case_commands(self.env, self.store, self.task_queue)


@contextlib.asynccontextmanager
async def worker_stack(env: WorkflowEnvironment, directory: Path, name: str) -> AsyncIterator[WorkerStack]:
    """A WorkerStack on task queue `name`-<uuid>; on leaving, its workers still running are killed
    and its database dropped."""
    server = PostgresServer(POSTGRES_ADMIN_URL)
    store = EventStore.connect(await server.create_database())
    mailbox = Mailbox()
    smtp_port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    stack = WorkerStack(env, store, f"{name}-{uuid.uuid4()}", mailbox, smtp_port, directory)
    try:
        await store.migrate()
        yield stack
    finally:
        for worker in stack.workers:
            await stack.kill(worker)
        controller.stop()
        await store.close()
        await server.drop_all()
