"""structlog, configured once per process: readable console lines in dev, JSON in production.

Standard-library records (the Temporal SDK's included) go through the same renderer, so one
process prints one format. Log fields carry ids and types only, never personal data.
"""

import logging
import re
import sys
from collections.abc import MutableMapping
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


def configure_logging(
    log_format: Literal["console", "json"] = "console", level: str = "INFO", stream: TextIO | None = None
) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Tracebacks become text here, so that they are scrubbed too before anything is written.
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
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *redaction, renderer],
        )
    )
    # The SDK's loggers carry workflow and activity ids as structured fields; repeating them in the
    # message text would only make every line longer.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
