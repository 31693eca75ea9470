"""Logs carry no personal data: the redaction processor, through the real configured output."""

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from domain.model import Person
from workers.logging import configure_logging

NAME, NHS_NUMBER, NOTE = "Alexandra Example", "9434765919", "sleeps at the night shelter on Mill Lane"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The process's logging as production configures it (JSON), written to a buffer."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    output = io.StringIO()
    structlog.reset_defaults()
    configure_logging("json", stream=output)
    yield output
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    structlog.reset_defaults()


def written(output: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.getvalue().splitlines()]


def test_fields_named_like_personal_data_are_redacted(
    json_logs: io.StringIO,
) -> None:
    log = structlog.get_logger("test")
    log.info("case opened", case_id="case-0b5e", name=NAME, note=NOTE, person={"name": NAME}, count=2)
    [line] = written(json_logs)
    assert line["name"] == line["note"] == line["person"] == "[redacted]"
    assert line["case_id"] == "case-0b5e" and line["count"] == 2  # ids and counts stay readable
    assert NAME not in json.dumps(line) and NOTE not in json.dumps(line)


def test_nhs_numbers_and_refused_inputs_are_scrubbed_from_messages_and_tracebacks(
    json_logs: io.StringIO,
) -> None:
    log = structlog.get_logger("test")
    log.info(f"looked up 943 476 5919 and {NHS_NUMBER}")
    try:
        Person(nhs_number=NAME)
    except ValueError:
        log.exception("person refused")
    logging.getLogger("temporalio.activity").warning("failed for %s", NHS_NUMBER, extra={"reason": NOTE})
    lines = written(json_logs)
    text = json.dumps(lines)
    assert len(lines) == 3
    assert NHS_NUMBER not in text and "943 476 5919" not in text and NAME not in text and NOTE not in text
    assert "input_value=[redacted]" in str(lines[1]["exception"])  # the traceback itself is kept
    assert lines[2]["reason"] == "[redacted]" and lines[2]["event"] == "failed for [redacted]"
