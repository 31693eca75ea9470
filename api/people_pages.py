"""People across episodes on the web pages (issue 19): "seen before" on a case and on the tasks that
weigh a person's history, and the possible previous contact task's candidates and its choice.

What a reader sees of another episode is what service/people.py gives them: outside their sites, only
that it exists (when, in which setting, "another service"), with a link to the case's break-glass form."""

from dataclasses import replace
from typing import Any

from api.forms import FormInvalid, FormProblems, Group, Question, form_for, long_date, relabelled, with_choices
from domain.access import Principal
from domain.outcomes import PersonMatchOutcome
from domain.state import CaseState
from domain.tasks import TaskKind
from service.cases import TaskDetail
from service.people import Candidate, Episode, People

# The tasks whose work depends on what happened to the person before (issue 19).
SEEN_BEFORE_TASKS = frozenset({TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.COURT_REPORT})
CHOSEN_PERSON = "same_person_as"  # PersonMatchOutcome's question: which candidate this person is
CHOICE_HINT = "Choose one of the people above only if you are sure it is them: a likeness alone links no one"
NONE_OF_THEM = "none"  # its answer when they are none of the candidates (a blank answer is no answer)


async def seen_before(people: People, principal: Principal, state: CaseState) -> list[Episode]:
    """The person's other episodes, for a case of the reader's sites. A case read by breaking glass
    shows none: its person's episodes are for those who work with them."""
    if not principal.covers(state.site):
        return []
    return await people.seen_before(principal, state.case_id)


async def task_people(people: People, principal: Principal, detail: TaskDetail) -> dict[str, Any]:
    """What a task's page shows of the person's other episodes: "seen before" for the tasks that
    weigh them; for an open possible previous contact, its candidates side by side."""
    kind = TaskKind(detail.task.kind)
    shown: dict[str, Any] = {"seen_before": [], "candidates": []}
    if kind in SEEN_BEFORE_TASKS:
        shown["seen_before"] = await seen_before(people, principal, detail.case)
    if kind is TaskKind.PERSON_MATCH and detail.task.status == "open":
        shown["candidates"] = await people.candidates(principal, detail.task.task_id)
    return shown


def candidate_label(number: int, candidate: Candidate) -> str:
    """How the choice names a candidate: their card's number, initials and date of birth."""
    initials = candidate.initials or "initials not known"
    born = f", born {long_date(candidate.date_of_birth)}" if candidate.date_of_birth else ""
    return f"Person {number}: {initials}{born}"


def person_match_form(candidates: list[Candidate]) -> list[Question | Group]:
    """PersonMatchOutcome's form with the candidates to choose from, and "none of them", as one
    question that must be answered."""
    options = [(c.person_id, candidate_label(n, c)) for n, c in enumerate(candidates, start=1)]
    options.append((NONE_OF_THEM, "None of them: this is someone else"))
    items = with_choices(form_for(PersonMatchOutcome), CHOSEN_PERSON, options)
    items = relabelled(items, CHOSEN_PERSON, "Who is this person?", CHOICE_HINT)
    return [
        replace(item, required=True) if isinstance(item, Question) and item.name == CHOSEN_PERSON else item
        for item in items
    ]


def person_match_answers(values: dict[str, list[str]]) -> dict[str, list[str]]:
    """The posted choice as PersonMatchOutcome reads it ("none of them": no person); unanswered, refused."""
    chosen = [value for value in values.get(CHOSEN_PERSON, []) if value.strip()]
    if not chosen:
        raise FormInvalid(FormProblems(fields={CHOSEN_PERSON: "Choose who this person is, or none of them"}))
    if chosen[0] == NONE_OF_THEM:
        return {name: answer for name, answer in values.items() if name != CHOSEN_PERSON}
    return values
