"""Every line a workflow or an activity writes carries its Temporal context, and replays write nothing.

A journey (custody -> consent -> screening -> assessment -> sharing -> a referral, sent by its own
child workflow -> closure) runs on a worker whose client adds a workflow interceptor that logs at
every step, from inside the workflow sandbox, through `workflow.logger` and through a plain
structlog logger: so there are workflow lines from the case and from its child, as well as the
activities' own lines. The process's logging is configured as production configures it and its
output is read back line by line.
"""

import asyncio
import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest
import pytest_asyncio
import structlog
import temporalio.client
from aiosmtpd.controller import Controller
from temporalio import workflow
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import (
    ExecuteWorkflowInput,
    HandleSignalInput,
    HandleUpdateInput,
    Interceptor,
    Replayer,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from activities.mailer import SmtpMailer
from domain.commands import OpenCase
from domain.model import Person
from domain.state import CaseState
from domain.tasks import TaskKind
from service.staff import StaffCommands
from store.event_store import EventStore
from tests.cli.support import free_port
from tests.conftest import TEST_PAYLOAD_KEYS, staff_driver, worker_for
from tests.workflows.conftest import Mailbox
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task
from workers.client import data_converter
from workers.logging import case_id_of, configure_logging
from workflows.referral_workflow import referral_workflow_id
from workflows.registry import WORKFLOWS

# What the journey is told about the person; none of it may reach the logs.
NAME, NHS_NUMBER, BORN = "Rosalind Testperson", "9434765919", "1984-03-02"
NOTE = "sleeps in the stairwell behind the bus station"
REASON = "low mood since the eviction from Orchard Court"
PERSONAL = (NAME, NHS_NUMBER, "943 476 5919", BORN, NOTE, REASON, "Orchard Court")

WORKFLOW_CODE_LOGGER = "tests.workflow_code"  # a non-replay-aware logger, called from workflow code
FROM_WORKFLOWS = {workflow.logger.logger.name, WORKFLOW_CODE_LOGGER}
ACTIVITY_LOGGER = "temporalio.activity"


class _LogEveryStep(WorkflowInboundInterceptor):
    """Logs from inside the workflow at its start and at every signal and update it handles."""

    def _log(self, what: str, name: str) -> None:
        workflow.logger.info(what, extra={"handler": name})
        structlog.get_logger(WORKFLOW_CODE_LOGGER).info(f"{what} (structlog)", handler=name)

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        self._log("workflow started", input.run_fn.__name__)
        return await super().execute_workflow(input)

    async def handle_signal(self, input: HandleSignalInput) -> None:
        self._log("signal handled", input.signal)
        await super().handle_signal(input)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        self._log("update handled", input.update)
        return await super().handle_update_handler(input)


class LogEveryStep(temporalio.client.Interceptor, Interceptor):
    """On a client, it reaches the workers made with that client."""

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        return _LogEveryStep


@dataclass
class Logs:
    output: io.StringIO

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.output.getvalue().splitlines()]

    def since(self, mark: int) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.output.getvalue()[mark:].splitlines()]

    def mark(self) -> int:
        return len(self.output.getvalue())

    async def wait_for(self, match: Callable[[dict[str, Any]], bool]) -> None:
        async with asyncio.timeout(30):
            while not any(match(line) for line in self.lines()):
                await asyncio.sleep(0.1)


@pytest.fixture
def configured() -> Iterator[Callable[[Literal["console", "json"]], io.StringIO]]:
    """Configures the process's logging as `configure_logging` does, into a buffer; restores it after."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level

    def configure(log_format: Literal["console", "json"]) -> io.StringIO:
        output = io.StringIO()
        structlog.reset_defaults()
        configure_logging(log_format, "INFO", stream=output)
        return output

    yield configure
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    structlog.reset_defaults()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on localhost, so referrals and notifications go out."""
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.mailer = SmtpMailer(host="127.0.0.1", port=controller.port, sender="pathway@test")
    yield box
    controller.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def logged_cases(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox
) -> AsyncIterator[StaffCommands]:
    """Case commands against a worker whose workflows log at every step (the `cases` fixture, plus
    the interceptor on the worker's client and a mail server)."""
    config = temporal_env.client.config()
    config["interceptors"] = [LogEveryStep()]
    client = Client(**config)
    task_queue = f"logs-{uuid.uuid4()}"
    async with worker_for(client, sqlite_store, task_queue, mailbox.mailer):
        yield staff_driver(client, sqlite_store, task_queue)


def with_person(command: OpenCase) -> OpenCase:
    return command.model_copy(update={"person": Person(name=NAME, date_of_birth=BORN, nhs_number=NHS_NUMBER)})


async def complete(cases: StaffCommands, state: CaseState, kind: TaskKind, **extra: Any) -> CaseState:
    return await cases.complete_task(open_task(state, kind), {**OUTCOMES[kind], **extra}, PRACTITIONER)


async def journey(cases: StaffCommands, logs: Logs) -> CaseState:
    state = await cases.start_case(with_person(open_case(f"LOG-{uuid.uuid4().hex[:6]}")))
    state = await complete(cases, state, TaskKind.CONSENT)
    state = await complete(cases, state, TaskKind.SCREENING, note=NOTE)
    state = await complete(cases, state, TaskKind.ASSESSMENT)
    state = await complete(cases, state, TaskKind.SHARE_INFORMATION)
    referral = {"service": "mental_health", "reason": REASON, "urgency": "routine"}
    state = await complete(cases, state, TaskKind.REFERRAL_DECISION, referrals=[referral])
    # The referral is sent by its child workflow's activity; let it go out before the case closes.
    await logs.wait_for(lambda line: line.get("activity") == "send_referral" and line["event"] == "referral sent")
    return await complete(cases, state, TaskKind.CLOSURE)


def from_workflow_or_activity(line: dict[str, Any]) -> bool:
    return line.get("logger") in FROM_WORKFLOWS | {ACTIVITY_LOGGER}


def assert_context(line: dict[str, Any], case_id: str, task_queue: str) -> None:
    assert line.get("case_id") == case_id, line
    assert line.get("workflow_id", "").startswith(case_id) and line.get("run_id"), line
    assert line.get("workflow_type") in {"CaseWorkflow", "ReferralWorkflow"}, line
    assert line.get("task_queue") == task_queue and line.get("namespace"), line
    assert "temporal_workflow" not in line and "temporal_activity" not in line, line  # flattened
    if line["logger"] == ACTIVITY_LOGGER or "activity" in line:
        assert line.get("activity") and line.get("activity_id") and isinstance(line.get("attempt"), int), line


async def test_every_workflow_and_activity_line_of_a_journey_carries_its_context_and_no_personal_data(
    configured: Callable[[Literal["console", "json"]], io.StringIO], logged_cases: StaffCommands
) -> None:
    logs = Logs(configured("json"))
    state = await journey(logged_cases, logs)

    lines = logs.lines()
    ours = [line for line in lines if from_workflow_or_activity(line)]
    for line in ours:
        assert_context(line, state.case_id, logged_cases.task_queue)
    by_source = {(line["logger"], line["workflow_type"]) for line in ours}
    assert by_source >= {
        (workflow.logger.logger.name, "CaseWorkflow"),
        (workflow.logger.logger.name, "ReferralWorkflow"),  # a child: its case id is its id's prefix
        (WORKFLOW_CODE_LOGGER, "CaseWorkflow"),  # any logger called from workflow code gets the context
        (WORKFLOW_CODE_LOGGER, "ReferralWorkflow"),
        (ACTIVITY_LOGGER, "CaseWorkflow"),
        (ACTIVITY_LOGGER, "ReferralWorkflow"),
    }
    activities = {line["activity"] for line in ours if "activity" in line}
    assert {"append_events", "send_referral"} <= activities
    updates = {line.get("update_name") for line in ours if line["event"] == "update handled"}
    assert "complete_task" in updates  # an update handler's lines name the update

    text = logs.output.getvalue()
    for value in PERSONAL:
        assert value not in text


async def test_replaying_a_journey_writes_no_workflow_lines(
    configured: Callable[[Literal["console", "json"]], io.StringIO], logged_cases: StaffCommands
) -> None:
    logs = Logs(configured("json"))
    state = await journey(logged_cases, logs)
    [referral] = state.referrals
    client = logged_cases.client
    # The case finishes once the referral's send has settled (it may still be recording that after the
    # journey's last command), and the referral once it has handled the closure's "stop chasing" (the
    # case need not wait for that): a live line must not fall in the replay's window.
    referral_id = referral_workflow_id(state.case_id, referral.referral_id)
    async with asyncio.timeout(60):
        await client.get_workflow_handle(state.case_id).result()
        await client.get_workflow_handle(referral_id).result()
    histories = [
        await client.get_workflow_handle(state.case_id).fetch_history(),
        await client.get_workflow_handle(referral_id).fetch_history(),
    ]
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=data_converter(TEST_PAYLOAD_KEYS), interceptors=[LogEveryStep()]
    )
    live = [line for line in logs.lines() if line.get("logger") in FROM_WORKFLOWS]
    assert live  # the first time round, the workflows did write

    mark = logs.mark()
    for history in histories:  # as a restarted worker would
        await replayer.replay_workflow(history)
    assert [line for line in logs.since(mark) if from_workflow_or_activity(line)] == []

    # The same replay with the SDK's replay suppression switched off does write `workflow.logger`'s
    # lines again (so the check above could fail), while the non-replay-aware logger stays quiet.
    workflow.logger.log_during_replay = True
    try:
        mark = logs.mark()
        await replayer.replay_workflow(histories[0])
        again = [line for line in logs.since(mark) if from_workflow_or_activity(line)]
    finally:
        workflow.logger.log_during_replay = False
    assert again and {line["logger"] for line in again} == {workflow.logger.logger.name}
    assert {line["event"] for line in again} <= {line["event"] for line in live}


async def test_replaying_the_golden_journey_history_writes_no_workflow_lines(
    configured: Callable[[Literal["console", "json"]], io.StringIO],
) -> None:
    from tests.workflows.test_golden_histories import JOURNEY_HISTORY

    logs = Logs(configured("json"))
    history = WorkflowHistory.from_json(JOURNEY_HISTORY.stem, JOURNEY_HISTORY.read_text())
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=data_converter(TEST_PAYLOAD_KEYS), interceptors=[LogEveryStep()]
    )
    await replayer.replay_workflow(history)
    assert [line for line in logs.lines() if from_workflow_or_activity(line)] == []


async def test_console_lines_are_readable_and_carry_the_same_fields(
    configured: Callable[[Literal["console", "json"]], io.StringIO], logged_cases: StaffCommands
) -> None:
    output = configured("console")
    state = await logged_cases.start_case(with_person(open_case(f"LOG-{uuid.uuid4().hex[:6]}")))
    state = await complete(logged_cases, state, TaskKind.CONSENT)
    state = await complete(logged_cases, state, TaskKind.SCREENING, note=NOTE)

    text = output.getvalue()
    appended = [line for line in text.splitlines() if "events appended" in line]
    assert appended and not text.lstrip().startswith("{")
    for line in appended:
        assert "[info     ] events appended" in line
        for field in (
            f"case_id={state.case_id}",
            f"workflow_id={state.case_id}",
            "workflow_type=CaseWorkflow",
            "activity=append_events",
            "attempt=1",
            f"task_queue={logged_cases.task_queue}",
        ):
            assert field in line, line
        assert "run_id=" in line
    started = [line for line in text.splitlines() if "update handled" in line and "temporalio.workflow" in line]
    assert started and all(f"case_id={state.case_id}" in line and "run_id=" in line for line in started)
    for value in PERSONAL:
        assert value not in text


def test_configuring_twice_leaves_one_handler_and_writes_each_line_once(
    configured: Callable[[Literal["console", "json"]], io.StringIO],
) -> None:
    configured("console")
    output = configured("json")  # as `pathway dev` does after the CLI's own callback
    logging.getLogger("temporalio.activity").warning("once")
    structlog.get_logger("test").warning("twice?")
    assert len(logging.getLogger().handlers) == 1
    assert [json.loads(line)["event"] for line in output.getvalue().splitlines()] == ["once", "twice?"]


@pytest.mark.parametrize(
    ("workflow_type", "workflow_id", "expected"),
    [
        ("CaseWorkflow", "case-6f1c2a9e-0000-4000-8000-000000000001", "case-6f1c2a9e-0000-4000-8000-000000000001"),
        ("ReferralWorkflow", "case-6f1c-referral-ref-1", "case-6f1c"),
        ("CourtReportWorkflow", "case-6f1c-report-rep-2", "case-6f1c"),
        ("RetentionWorkflow", "retention-2026-01-01", None),
        (None, None, None),
    ],
)
def test_the_case_a_workflow_belongs_to(
    workflow_type: str | None, workflow_id: str | None, expected: str | None
) -> None:
    assert case_id_of(workflow_type, workflow_id) == expected
