"""The checks that need plaintext: what the service asks of a command before it seals it.

Everything else is decided by the workflow (domain/rules.py `decide`), which only ever sees sealed
personal fields. These are the few questions a sealed value cannot answer: is this text already
shaped like sealed data (it would be stored as it is, then opened with whichever person's key it
names), is the date of birth plausible and what age band does it give, and is a task's outcome
what its kind needs, does a rejected referral say why. Pure: the
caller gives today's date."""

from datetime import date
from typing import Any

from pydantic import BaseModel

from domain.age import band_at_identification
from domain.commands import OpenCase, RecordDateOfBirth, RecordReferralOutcome
from domain.errors import Rule, RuleViolation
from domain.identification import age_band_of
from domain.model import Actor
from domain.personal import sealed_lookalikes
from domain.rules import require_rejection_reason, task_to_complete
from domain.state import CaseState
from domain.tasks import parse_outcome
from domain.text_rules import birth_date_problem
from domain.timeline import UK


def refuse_sealed_lookalikes(value: Any) -> None:
    """Refuse input that holds text shaped like sealed data, anywhere in it."""
    found = sealed_lookalikes(value)
    if found:
        raise RuleViolation(
            Rule.SEALED_INPUT,
            f"{', '.join(found)}: text starting 'sealed:' is not accepted (it is how stored data is "
            "protected, never something typed in)",
        )


def check_change(command: BaseModel) -> None:
    """A change to a case, while what people wrote in it is plaintext."""
    refuse_sealed_lookalikes(command)
    if isinstance(command, RecordReferralOutcome):
        require_rejection_reason(command.status, command.reason.strip())


def check_opening(command: OpenCase, today: date) -> OpenCase:
    """A case to open, while its person's details are still plaintext: with a plausible date of birth,
    the band it gives on the day of identification (the age verified), else the band stated."""
    refuse_sealed_lookalikes(command)
    if command.person.date_of_birth is None:
        unverified = command.model_copy(update={"age_verified": False})
        age_band_of(unverified)  # refused here, before a case already open for the reference answers
        return unverified
    born = _plausible_birth_date(command.person.date_of_birth, today)
    identified_on = command.identified_at.astimezone(UK).date() if command.identified_at else today
    band = band_at_identification(born, identified_on, command.age_band)
    return command.model_copy(update={"age_band": band, "age_verified": True})


def check_date_of_birth(state: CaseState, command: RecordDateOfBirth, today: date) -> RecordDateOfBirth:
    """A date of birth learnt after the case opened, with the band it gives on the day the person was
    identified (a child who has turned 18 since stays on the youth pathway)."""
    refuse_sealed_lookalikes(command)
    if not state.is_open or state.identified_at is None:
        raise RuleViolation(Rule.CASE_NOT_OPEN, f"case {state.case_id} is {state.stage or 'not open'}")
    born = _plausible_birth_date(command.date_of_birth, today)
    band = band_at_identification(born, state.identified_at.astimezone(UK).date(), None)
    return command.model_copy(update={"age_band": band})


def _plausible_birth_date(text: str, today: date) -> date:
    born = date.fromisoformat(text)
    problem = birth_date_problem(born, today)
    if problem:
        raise RuleViolation(Rule.INVALID_INPUT, f"person.date_of_birth: {problem}")
    return born


def checked_outcome(state: CaseState, task_id: str, actor: Actor, outcome: dict[str, Any]) -> BaseModel:
    """A task's outcome checked while it is plaintext, in the order the workflow would refuse it:
    the task (open, yours to do), then the outcome's own rules for that task's kind."""
    refuse_sealed_lookalikes(outcome)
    if not state.is_open:
        raise RuleViolation(Rule.CASE_NOT_OPEN, f"case {state.case_id} is {state.stage}")
    task = task_to_complete(state, task_id, actor)
    return parse_outcome(task.kind, outcome)
