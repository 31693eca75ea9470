"""Episodes of the same person: the link an NHS number makes when the case opens, the possible
previous contact a practitioner confirms or rejects, and a practitioner's own link and unlink.

An episode is always of one person: its own (`own_person_id`, whose data key seals its personal
data), or a person seen before it was linked to. Nothing links on a weak match: a name and date of
birth only open a task for a practitioner (domain/person_match.py)."""

from domain.access import Action, require_allowed
from domain.commands import LinkPerson, OpenCase, RecordDateOfBirth, UnlinkPerson
from domain.decisions import DecisionContext, new_task, require, setting_of
from domain.errors import Rule
from domain.events import DomainEvent, PersonLinked, PersonUnlinked, PossibleMatchRejected, TaskCompleted
from domain.outcomes import PersonMatchOutcome, Urgency
from domain.state import CaseState
from domain.tasks import Task, TaskKind


def people_at_opening(state: CaseState, command: OpenCase, ctx: DecisionContext) -> list[DomainEvent]:
    """After CaseOpened: the NHS number's link, or the task to check the possible previous contacts."""
    if command.same_person_as is not None and command.same_person_as != command.person_id:
        return [PersonLinked(person_id=command.same_person_as, basis="nhs_number", previous=command.person_id)]
    candidates = tuple(dict.fromkeys(p for p in command.possible_people if p != command.person_id))
    if candidates:
        return [new_task(ctx, TaskKind.PERSON_MATCH, command.setting, Urgency.ROUTINE, candidates=candidates)]
    return []


def people_after_date_of_birth(state: CaseState, command: RecordDateOfBirth, ctx: DecisionContext) -> list[DomainEvent]:
    """A date of birth learnt later may suggest people seen before: the same task as at opening, unless
    the episode is linked already or a match task is open."""
    candidates = tuple(
        dict.fromkeys(p for p in command.possible_people if p not in (state.person_id, state.own_person_id))
    )
    linked = state.person_id != state.own_person_id
    checking = any(t.kind is TaskKind.PERSON_MATCH for t in state.open_tasks)
    if not candidates or linked or checking:
        return []
    return [new_task(ctx, TaskKind.PERSON_MATCH, setting_of(state), Urgency.ROUTINE, candidates=candidates)]


def after_person_match(
    state: CaseState, task: Task, outcome: PersonMatchOutcome, done: TaskCompleted
) -> list[DomainEvent]:
    if outcome.same_person_as is None:
        return [PossibleMatchRejected(candidates=task.candidates), done]
    require(
        outcome.same_person_as in task.candidates,
        Rule.NOT_A_CANDIDATE,
        f"{outcome.same_person_as} is not one of the people this task suggests ({', '.join(task.candidates)})",
    )
    linked = PersonLinked(
        person_id=outcome.same_person_as, basis="confirmed_match", previous=state.person_id, note=outcome.note
    )
    return [linked, done]


def link_person(state: CaseState, command: LinkPerson) -> list[DomainEvent]:
    require_allowed(command.actor, Action.LINK_PERSON)
    require(
        command.person_id != state.person_id,
        Rule.ALREADY_THAT_PERSON,
        f"case {state.case_id} is already of {command.person_id}",
    )
    return [
        PersonLinked(person_id=command.person_id, basis="practitioner", previous=state.person_id, note=command.basis)
    ]


def unlink_person(state: CaseState, command: UnlinkPerson) -> list[DomainEvent]:
    require_allowed(command.actor, Action.LINK_PERSON)
    require(
        state.person_id is not None and state.person_id != state.own_person_id,
        Rule.NOT_LINKED,
        f"case {state.case_id} is not linked to a person seen before",
    )
    assert state.person_id is not None
    return [PersonUnlinked(person_id=state.person_id, reason=command.reason)]
