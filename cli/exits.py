"""How a `pathway` command ends when it does not succeed: an exit status a script can act on, and one
line on stderr saying why, or with `--json` one JSON object on stdout (README "Exit statuses")."""

import json
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from enum import IntEnum
from typing import NoReturn, TypeVar

import typer

from domain.errors import Refusal, Rule, RuleViolation
from domain.text_rules import terminal_safe


class ExitStatus(IntEnum):
    OK = 0
    FAILED = 1  # something broke, or a check found the record wrong (audit verify, audit replay)
    USAGE = 2  # the command line or a value in it is not valid; click's own usage errors exit 2 too
    REFUSED = 3  # not allowed (role, sites), or not possible in the case's current state
    NOT_FOUND = 4  # no such case, task, person, site or staff member (or none you may see)
    UNAVAILABLE = 5  # cannot be done at the moment (Temporal unreachable, a case catching up): try again


# The --help epilog: what a script calling `pathway` can rely on.
EXIT_STATUSES = (
    "Exit statuses: 0 done; 1 failed (or audit verify/replay found the record wrong); 2 usage: the command "
    "line or a value in it is not valid; 3 refused: not allowed, or not possible in the case's current state; "
    "4 not found (or not one you may see); 5 unavailable for now, try again. With --json a refusal or failure "
    'is a JSON object on stdout: {"error": {"status", "exit_status", "rule", "message", "fields"}}.'
)

# Bad input is a usage error however deep it was found: either way, what was typed needs changing.
STATUS_OF_REFUSAL = {
    Refusal.INVALID: ExitStatus.USAGE,
    Refusal.FORBIDDEN: ExitStatus.REFUSED,
    Refusal.CONFLICT: ExitStatus.REFUSED,
    Refusal.STALE: ExitStatus.REFUSED,  # the CLI sends no expected version, but the map stays whole
    Refusal.NOT_FOUND: ExitStatus.NOT_FOUND,
    Refusal.UNAVAILABLE: ExitStatus.UNAVAILABLE,
}


FormatT = TypeVar("FormatT", bound=str)

# Whether the command being run was asked for JSON: one command runs per process.
_json_asked = ContextVar("json_asked", default=False)


def remember_json(asked: bool) -> bool:
    """The callback of every option that asks for JSON (`--json`, `pathway report --format json`), so
    that a refusal, a failure and progress know how to answer."""
    _json_asked.set(asked)
    return asked


def remember_format(chosen: FormatT) -> FormatT:
    """The callback of a `--format` option, one of whose formats is "json"."""
    remember_json(chosen == "json")
    return chosen


def json_requested() -> bool:
    return _json_asked.get()


def end(
    status: ExitStatus, message: str, rule: Rule | None = None, fields: Mapping[str, str] | None = None
) -> NoReturn:
    """Say why the command did not succeed, then exit with `status`. With --json the answer is JSON on
    stdout, where a program reading the command's output looks for it; stderr may carry log lines."""
    if json_requested():
        error = {
            "status": status.name.lower(),
            "exit_status": int(status),
            "rule": None if rule is None else str(rule),
            "message": message,
            "fields": dict(fields or {}),
        }
        # ASCII only, as every JSON answer: what was typed may be quoted in the message.
        sys.stdout.write(json.dumps({"error": error}, indent=2, ensure_ascii=True) + "\n")
    else:
        # A message may quote what was typed (an unknown staff id, say): never a control character raw.
        typer.echo(terminal_safe(f"error: {message}" + ("" if rule is None else f" (rule: {rule})")), err=True)
    raise typer.Exit(status)


def refused(violation: RuleViolation) -> NoReturn:
    end(STATUS_OF_REFUSAL[violation.rule.refusal], violation.message, violation.rule)


def usage_error(message: str) -> NoReturn:
    end(ExitStatus.USAGE, message)


def fail(message: str) -> NoReturn:
    end(ExitStatus.FAILED, message)


def unavailable(message: str) -> NoReturn:
    end(ExitStatus.UNAVAILABLE, message)
