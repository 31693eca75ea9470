"""Replaying recorded Temporal histories against the current workflow code (`pathway audit replay`).

A history the code no longer reproduces (non-determinism) means the cases it belongs to would break
on their next workflow task, so auditors and CI replay before a deployment finds out.

Histories come from the server (one case with every run of its workflow and of its child workflows,
or whatever a visibility query lists) or from files. The Temporal CLI's `temporal workflow show
--output json` and the SDK's `WorkflowHistory.to_json()` write the same shape, `{"events": [...]}`
in protobuf JSON, so one reader takes both. Replaying changes nothing anywhere: the replayer runs the
workflow code locally against the events and compares the commands it issues with those recorded.
"""

import dataclasses
import functools
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from google.protobuf.json_format import ParseError
from pydantic import BaseModel, ConfigDict
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent, WorkflowExecutionStartedEventAttributes
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter, DefaultFailureConverter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer

from domain.errors import Rule, RuleViolation

CLOSING_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}

# The SDK reports a failed replay task as the debug print of the core's Failure; its message is the news.
CORE_FAILURE_MESSAGE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')
DIVERGING_EVENT = re.compile(r"HistoryEvent\(id: (\d+)")


class ReplayInputError(Exception):
    """What was asked for cannot be replayed: an unknown case, a bad query, a file that is no history."""


@dataclass(frozen=True)
class WorkflowCode:
    """The code histories are replayed against: the worker's workflows and data converter, or an
    altered workflow in tests."""

    workflows: Sequence[type]
    data_converter: DataConverter


class FailureKind(StrEnum):
    NONDETERMINISM = "nondeterminism"
    UNKNOWN_WORKFLOW_TYPE = "unknown_workflow_type"
    REPLAY_ERROR = "replay_error"


class ReplayFailure(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: FailureKind
    message: str
    event_id: int | None = None  # the event where code and history parted, when the SDK names it


class ReplayOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    workflow_id: str
    run_id: str
    workflow_type: str
    events: int
    # False for a run still going (or a file cut at its end, which looks the same): it replays as far as it goes.
    closed: bool
    failure: ReplayFailure | None = None


async def replay_histories(
    histories: AsyncIterator[WorkflowHistory], code: WorkflowCode
) -> AsyncIterator[ReplayOutcome]:
    """Replay each history, yielding in order whether the code reproduces it. Histories go to the
    replayer in batches on one replay worker each: a worker per history costs a third more time."""
    known_types = workflow_type_names(code.workflows)
    replayer = Replayer(
        workflows=code.workflows,
        data_converter=readable_failures(code.data_converter),
        runtime=quiet_runtime(),
        build_id=REPLAY_BUILD_ID,
    )
    async for batch in _batches(histories, REPLAY_BATCH):
        outcomes = [_outcome_before_replay(history, known_types) for history in batch]
        replayable = [history for history, outcome in zip(batch, outcomes, strict=True) if outcome.failure is None]
        async with replayer.workflow_replay_iterator(_each(replayable)) as replayed:
            results = [result async for result in replayed]
        failures = iter(result.replay_failure for result in results)
        for outcome in outcomes:
            if outcome.failure is None and (failure := next(failures)) is not None:
                outcome = outcome.model_copy(update={"failure": describe_failure(failure)})
            yield outcome


REPLAY_BATCH = 100
# Without a build id of its own, the replayer's first run hashes the bytecode of every loaded module
# (some 1,300, read back from disk: 0.1 to 0.4 s on the 2-CPU bench machine, once per process) only to
# name its replay worker. The name decides nothing in a replay: the core checks the commands.
REPLAY_BUILD_ID = "pathway-audit-replay"


def _outcome_before_replay(history: WorkflowHistory, known_types: set[str]) -> ReplayOutcome:
    """What a history is; with a failure already if the code has no such workflow type."""
    started = started_attributes(history)
    outcome = ReplayOutcome(
        workflow_id=history.workflow_id,
        run_id=history.run_id,
        workflow_type=started.workflow_type.name,
        events=len(history.events),
        closed=history.events[-1].event_type in CLOSING_EVENTS,
    )
    if outcome.workflow_type in known_types:
        return outcome
    failure = ReplayFailure(
        kind=FailureKind.UNKNOWN_WORKFLOW_TYPE,
        message=f"the code has no workflow type {outcome.workflow_type} (it has {', '.join(sorted(known_types))})",
    )
    return outcome.model_copy(update={"failure": failure})


async def _batches(histories: AsyncIterator[WorkflowHistory], size: int) -> AsyncIterator[list[WorkflowHistory]]:
    batch: list[WorkflowHistory] = []
    async for history in histories:
        batch.append(history)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _each(histories: Sequence[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        yield history


def workflow_type_names(workflows: Sequence[type]) -> set[str]:
    # The SDK keeps a workflow's registered name (`@workflow.defn(name=...)` or the class name) in its definition.
    return {name for cls in workflows if (name := workflow._Definition.must_from_class(cls).name)}


@functools.cache
def quiet_runtime() -> Runtime:
    """A runtime whose core does not log each failed replay task as a warning: the outcome says it once."""
    errors_only = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=errors_only)))


def readable_failures(converter: DataConverter) -> DataConverter:
    """The same converter, but a replay task's own failure keeps its message in clear: it never leaves
    this process, and the report must say what went wrong. Recorded failures decode as before."""
    return dataclasses.replace(converter, failure_converter_class=DefaultFailureConverter)


def describe_failure(error: Exception) -> ReplayFailure:
    text = str(error)
    core_message = CORE_FAILURE_MESSAGE.search(text)
    message = core_message.group(1) if core_message else text
    diverging = DIVERGING_EVENT.search(message)
    nondeterministic = isinstance(error, workflow.NondeterminismError)
    return ReplayFailure(
        kind=FailureKind.NONDETERMINISM if nondeterministic else FailureKind.REPLAY_ERROR,
        message=message,
        event_id=int(diverging.group(1)) if diverging else None,
    )


async def case_histories(client: Client, case_id: str) -> AsyncIterator[WorkflowHistory]:
    """Every run of the case's workflow, first to last, then every run of each child workflow the
    runs started (and of their children). Found from the histories themselves rather than from
    visibility, which lags behind."""
    try:
        case_runs = await runs_first_to_last(client, case_id)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise RuleViolation(
                Rule.CASE_UNKNOWN,
                f"there is no case {case_id}: no workflow with that id in namespace {client.namespace}",
            ) from None
        raise
    pending = [case_runs]
    seen = {case_id}
    while pending:
        for history in pending.pop(0):
            yield history
            for child_id in children_started_by(history):
                if child_id not in seen:
                    seen.add(child_id)
                    pending.append(await runs_first_to_last(client, child_id))


async def runs_first_to_last(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """The latest run and those it continued from: each run's start names the one before it."""
    runs = [await client.get_workflow_handle(workflow_id).fetch_history()]
    while previous_run_id := started_attributes(runs[-1]).continued_execution_run_id:
        runs.append(await client.get_workflow_handle(workflow_id, run_id=previous_run_id).fetch_history())
    return runs[::-1]


def children_started_by(history: WorkflowHistory) -> list[str]:
    return [
        event.child_workflow_execution_started_event_attributes.workflow_execution.workflow_id
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED
    ]


async def listed_histories(client: Client, query: str) -> AsyncIterator[WorkflowHistory]:
    """Every run (continued-as-new runs included) visibility lists for the query; the empty query
    lists every workflow the namespace still keeps."""
    try:
        async for history in client.list_workflows(query).map_histories():
            yield history
    except RPCError as error:
        if error.status == RPCStatusCode.INVALID_ARGUMENT:
            raise ReplayInputError(f"Temporal cannot run the query {query!r}: {error.message}") from None
        raise


async def file_histories(paths: Sequence[Path]) -> AsyncIterator[WorkflowHistory]:
    """The histories in the files, every file read and checked before the first is handed out: one
    bad file stops the replay before it starts."""
    histories = [load_history_file(path) for path in paths]
    for history in histories:
        yield history


def load_history_file(path: Path) -> WorkflowHistory:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ReplayInputError(f"{path} is not JSON: it is not UTF-8 text") from None
    except OSError as error:
        raise ReplayInputError(f"cannot read {path}: {error.strerror}") from None
    if not text.strip():
        raise ReplayInputError(f"{path} is empty")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        # Cut off mid-string, the decoder points at where the string began rather than at the end.
        if error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string"):
            last_line = text.rstrip().count("\n") + 1
            raise ReplayInputError(
                f"{path} is cut off: its JSON ends at line {last_line} before it is complete"
            ) from None
        raise ReplayInputError(f"{path} is not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise ReplayInputError(
            f'{path} is JSON but not a Temporal history: it has no "events" list '
            "(export one with `temporal workflow show --workflow-id ID --output json`)"
        )
    if not document["events"]:
        raise ReplayInputError(f"{path} is a Temporal history with no events")
    try:
        history = WorkflowHistory.from_json("", document)
    except (ValueError, ParseError) as error:
        raise ReplayInputError(f"{path} is not a Temporal history: {error}") from None
    problem = history_problem(history)
    if problem:
        raise ReplayInputError(f"{path} {problem}")
    # Histories from the time-skipping test server do not name their workflow: the file name stands in.
    return WorkflowHistory(started_attributes(history).workflow_id or path.stem, history.events)


def history_problem(history: WorkflowHistory) -> str | None:
    """Why the events cannot be a whole run's history from its start, if they cannot. (The replayer
    itself hangs on a history that does not begin with the workflow's start.)"""
    first = history.events[0]
    if first.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED or first.event_id != 1:
        return (
            f"does not begin with the workflow's start: it begins with {event_name(first)}, not with event 1 "
            "WorkflowExecutionStarted (cut off at the start, or not a Temporal history)"
        )
    started = started_attributes(history)
    if not started.workflow_type.name or not started.original_execution_run_id:
        return "is not a history Temporal recorded: its start names no workflow type or run id"
    for expected_id, event in enumerate(history.events, start=1):
        if event.event_id != expected_id:
            return (
                f"is cut off or edited: event {expected_id - 1} is followed by {event_name(event)}, "
                f"not by event {expected_id}"
            )
        if event.event_type == EventType.EVENT_TYPE_UNSPECIFIED:
            return f"is not a history Temporal recorded: event {expected_id} has no event type"
    return None


def started_attributes(history: WorkflowHistory) -> WorkflowExecutionStartedEventAttributes:
    return history.events[0].workflow_execution_started_event_attributes


def event_name(event: HistoryEvent) -> str:
    if event.event_type not in EventType.values():
        return f"event {event.event_id} of unknown type {event.event_type}"
    kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").title().replace("_", "")
    return f"event {event.event_id} {kind}"
