"""What one command may carry, whatever the rules say of its content.

Beyond these limits a command that passed every rule could still never be recorded: the append
activity's input wraps the command's outcome a few levels deeper, and past 200 levels of JSON its
decoding fails on every retry, so the update never finishes and the case's lock is held for good; a
payload of a few MB is refused by Temporal when the workflow schedules the append (and every later
answer carries the case state). Nothing a person types comes near them: the API takes bodies of at
most 256 KB, and a sealed value is one string however deep its plaintext was.
(tests/reliability/test_hostile_input.py)
"""

from datetime import datetime

from domain.commands import Command
from domain.errors import Rule, RuleViolation

MAX_COMMAND_BYTES = 512 * 1024
MAX_COMMAND_DEPTH = 32


def check_command_limits(command: Command) -> None:
    """Refuse a command nested deeper than MAX_COMMAND_DEPTH, larger than MAX_COMMAND_BYTES as JSON,
    or with a time that has no time zone (which no rule could compare with the workflow's clock)."""
    depth = 0
    level: list[object] = [command.model_dump()]
    while level:
        depth += 1
        if depth > MAX_COMMAND_DEPTH:
            raise RuleViolation(
                Rule.COMMAND_TOO_DEEP, f"the command is nested more than {MAX_COMMAND_DEPTH} levels deep"
            )
        inner: list[object] = []
        for value in level:
            if isinstance(value, dict):
                inner.extend(value.values())
            elif isinstance(value, list | tuple):
                inner.extend(value)
            elif isinstance(value, datetime) and value.utcoffset() is None:
                raise RuleViolation(Rule.INVALID_INPUT, f"the time {value.isoformat()} has no time zone")
        level = inner
    size = len(command.model_dump_json().encode())
    if size > MAX_COMMAND_BYTES:
        raise RuleViolation(
            Rule.COMMAND_TOO_LARGE,
            f"the command is too large: {size // 1024} KB as JSON, at most {MAX_COMMAND_BYTES // 1024} KB",
        )
