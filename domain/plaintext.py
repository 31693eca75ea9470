"""The checks that need plaintext: what the service asks of a command before it seals it.

Everything else is decided by the workflow (domain/rules.py `decide`), which only ever sees sealed
personal fields. These are the few questions a sealed value cannot answer: is this text already
shaped like sealed data (it would be stored as it is, then opened with whichever person's key it
names), is the date of birth plausible, and is a task's outcome what its kind needs. Pure: the
caller gives today's date."""

from datetime import date
from typing import Any

from pydantic import BaseModel

from domain.commands import OpenCase
from domain.errors import Rule, RuleViolation
from domain.model import Actor
from domain.personal import sealed_lookalikes
from domain.rules import task_to_complete
from domain.state import CaseState
from domain.tasks import parse_outcome
from domain.text_rules import birth_date_problem


def refuse_sealed_lookalikes(value: Any) -> None:
    """Refuse input that holds text shaped like sealed data, anywhere in it."""
    found = sealed_lookalikes(value)
    if found:
        raise RuleViolation(
            Rule.SEALED_INPUT,
            f"{', '.join(found)}: text starting 'sealed:' is not accepted (it is how stored data is "
            "protected, never something typed in)",
        )


def check_opening(command: OpenCase, today: date) -> None:
    """A case to open, while its person's details are still plaintext."""
    refuse_sealed_lookalikes(command)
    born = command.person.date_of_birth
    if born is not None:
        problem = birth_date_problem(date.fromisoformat(born), today)
        if problem:
            raise RuleViolation(Rule.INVALID_INPUT, f"person.date_of_birth: {problem}")


def checked_outcome(state: CaseState, task_id: str, actor: Actor, outcome: dict[str, Any]) -> BaseModel:
    """A task's outcome checked while it is plaintext, in the order the workflow would refuse it:
    the task (open, yours to do), then the outcome's own rules for that task's kind."""
    refuse_sealed_lookalikes(outcome)
    if not state.is_open:
        raise RuleViolation(Rule.CASE_NOT_OPEN, f"case {state.case_id} is {state.stage}")
    task = task_to_complete(state, task_id, actor)
    return parse_outcome(task.kind, outcome)
