"""structlog, configured once per process: readable console lines in dev, JSON in production.

Standard-library records (the Temporal SDK's included) go through the same renderer, so one
process prints one format. Log fields carry ids and types only, never personal data.

Every line written from workflow or activity code carries flat context fields: `workflow_id`,
`run_id`, `workflow_type`, `case_id`, `namespace`, `task_queue`, and on activity lines `activity`,
`activity_id` and `attempt`. They come from the `temporal_workflow` / `temporal_activity` dicts the
SDK's `workflow.logger` and `activity.logger` put on each record, or, for any other logger called
from inside a workflow or an activity, from `workflow.info()` / `activity.info()`. Lines a workflow
writes while it replays history (a worker restart, a `Replayer`) are dropped: they were written the
first time round.
"""

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal, TextIO

import structlog
from temporalio import activity, workflow

# Field names that hold, or may hold, what a person told us or who they are.
PERSONAL_KEYS = frozenset(
    {
        "name", "person", "person_name", "date_of_birth", "dob", "address", "nhs_number", "external_ref",
        "ref", "reference", "note", "notes", "reason", "summary", "purpose", "justification", "concerns",
        "presenting_needs", "recommendations", "answers", "outcome", "body", "text", "email", "recipients",
    }
)  # fmt: skip
REDACTED = "[redacted]"
# A pydantic error quotes the input it refused; an NHS number is ten digits, spaced 3-3-4 or not.
INPUT_VALUE = re.compile(r"input_value=.*?(?=, input_type=)", re.DOTALL)
NHS_NUMBER = re.compile(r"(?<![0-9A-Za-z-])\d{3}[ -]?\d{3}[ -]?\d{4}(?![0-9A-Za-z-])")


def scrub(text: str) -> str:
    return NHS_NUMBER.sub(REDACTED, INPUT_VALUE.sub(f"input_value={REDACTED}", text))


def redact_personal_data(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The last line of defence: log calls pass ids and types, but a field named like personal data,
    a refused input quoted in an error, or an NHS number in a message never reaches the output."""
    for key, value in list(event.items()):
        if key.lower() in PERSONAL_KEYS and value is not None:
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = scrub(value)
    return event


# Child workflow ids are `{case_id}-referral-{referral_id}` and `{case_id}-report-{report_id}`
# (workflows/referral_workflow.py, workflows/court_report_workflow.py); case ids are `case-<uuid>`.
CHILD_WORKFLOW_ID = re.compile(r"^(case-.+?)-(?:referral|report)-")
CASE_WORKFLOW_TYPE = "CaseWorkflow"


def case_id_of(workflow_type: str | None, workflow_id: str | None) -> str | None:
    """The case a workflow belongs to: its own id for a case, the id's prefix for a case's child."""
    if not workflow_id:
        return None
    if workflow_type == CASE_WORKFLOW_TYPE:
        return workflow_id
    child = CHILD_WORKFLOW_ID.match(workflow_id)
    return child.group(1) if child else None


def _live_activity_details() -> dict[str, Any] | None:
    if not activity.in_activity():
        return None
    info = activity.info()
    return {
        "activity_id": info.activity_id,
        "activity_type": info.activity_type,
        "attempt": info.attempt,
        "namespace": info.namespace,
        "task_queue": info.task_queue,
        "workflow_id": info.workflow_id,
        "workflow_run_id": info.workflow_run_id,
        "workflow_type": info.workflow_type,
    }


def _live_workflow_details() -> dict[str, Any] | None:
    if not workflow.in_workflow():
        return None
    info = workflow.info()
    return {
        "namespace": info.namespace,
        "run_id": info.run_id,
        "task_queue": info.task_queue,
        "workflow_id": info.workflow_id,
        "workflow_type": info.workflow_type,
    }


def add_temporal_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Lift the Temporal context of a line into flat fields (see the module docstring).

    The SDK's nested dicts are replaced by the flat fields; a field the call passed itself (a
    retention activity's `case_id`, say) is kept."""
    activity_details = event.pop("temporal_activity", None)
    workflow_details = event.pop("temporal_workflow", None)
    event.pop("activity_info", None)  # the SDK's `full_*_info_on_extra` objects: not for output
    event.pop("workflow_info", None)
    if activity_details is None and workflow_details is None:
        activity_details = _live_activity_details()
        workflow_details = None if activity_details else _live_workflow_details()
    context: dict[str, Any] = {}
    if isinstance(activity_details, Mapping):
        context = {
            "workflow_id": activity_details.get("workflow_id"),
            "run_id": activity_details.get("workflow_run_id"),
            "workflow_type": activity_details.get("workflow_type"),
            "activity": activity_details.get("activity_type"),
            "activity_id": activity_details.get("activity_id"),
            "attempt": activity_details.get("attempt"),
            "namespace": activity_details.get("namespace"),
            "task_queue": activity_details.get("task_queue"),
        }
    elif isinstance(workflow_details, Mapping):
        context = {
            "workflow_id": workflow_details.get("workflow_id"),
            "run_id": workflow_details.get("run_id"),
            "workflow_type": workflow_details.get("workflow_type"),
            "namespace": workflow_details.get("namespace"),
            "task_queue": workflow_details.get("task_queue"),
            "update_id": workflow_details.get("update_id"),
            "update_name": workflow_details.get("update_name"),
        }
    if context:
        context["case_id"] = case_id_of(context["workflow_type"], context["workflow_id"])
    for key, value in context.items():
        if value is not None:
            event.setdefault(key, value)
    return event


def not_replaying(record: logging.LogRecord) -> bool:
    """A logging filter: drops what workflow code logs while it replays history, from any logger.

    `workflow.logger` already skips replay (unless its `log_during_replay` is switched on, which is
    respected); this catches a structlog or stdlib logger called from workflow code by mistake."""
    if record.name == workflow.logger.logger.name and workflow.logger.log_during_replay:
        return True
    try:
        return not (workflow.in_workflow() and workflow.unsafe.is_replaying_history_events())
    except Exception:  # never lose a line because the replay state could not be read
        return True


class _PathwayHandler(logging.StreamHandler[TextIO]):
    """The one handler `configure_logging` installs, so that a second call replaces it."""


def configure_logging(
    log_format: Literal["console", "json"] = "console", level: str = "INFO", stream: TextIO | None = None
) -> None:
    """Route structlog and stdlib logging (the SDK's included) to one handler on the root logger.

    Called once per process (`pathway` CLI callback, `pathway dev`, the worker's `main`); calling it
    again replaces the handler, format and level, so no line is ever written twice."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Tracebacks become text here, so that they are scrubbed too before anything is written; the
    # redaction runs last before rendering, over every field, the Temporal context included.
    redaction: list[structlog.types.Processor] = [structlog.processors.format_exc_info, redact_personal_data]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if log_format == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _PathwayHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                add_temporal_context,
                *redaction,
                renderer,
            ],
        )
    )
    handler.addFilter(not_replaying)
    # The SDK's loggers carry workflow and activity ids as structured fields; repeating them in the
    # message text would only make every line longer.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    root = logging.getLogger()
    # One process, one format: whatever wrote to the root before (an earlier call's handler, a
    # library's basicConfig) is replaced.
    for previous in root.handlers[:]:
        root.removeHandler(previous)
        if isinstance(previous, _PathwayHandler):
            previous.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
