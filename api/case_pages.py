"""The case page's forms (api/case_forms.py) posted. Each is checked for its CSRF token, handed to the
service call the CLI makes, and answered with a redirect to the case; or, refused, with the case page
again (an error summary, the message beside its question, what was typed kept), having changed nothing."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.case_forms import HEARING_TASK, case_forms, not_asked, refusal_problems
from api.deps import ServicesDep, status_for
from api.forms import FormInvalid, FormProblems, outcome_from_form
from api.web import SignedIn, SignedInDep, answers, case_view_page, posted_form, redirect
from domain.access import Principal
from domain.commands import (
    ChangeCohort,
    CloseCase,
    LinkPerson,
    RecordJusticeOutcome,
    RecordReferralOutcome,
    RecordReleaseDate,
    RequestCourtReport,
    UnlinkPerson,
)
from domain.errors import RuleViolation
from domain.outcomes import HearingOutcome
from domain.state import CaseState
from service.cases import CaseChange

router = APIRouter(include_in_schema=False)

Answers = dict[str, list[str]]
Change = TypeVar("Change", bound=CaseChange)


@router.post("/cases/{case_id}/referral-outcome")
async def record_referral_outcome(request: Request, case_id: str, user: SignedInDep, found: ServicesDep) -> Response:
    recorded = "Referral outcome recorded"
    return await _change(request, case_id, user, found, "referral-outcome", RecordReferralOutcome, recorded)


@router.post("/cases/{case_id}/court-report")
async def request_court_report(request: Request, case_id: str, user: SignedInDep, found: ServicesDep) -> Response:
    return await _change(request, case_id, user, found, "court-report", RequestCourtReport, "Court report requested")


@router.post("/cases/{case_id}/justice-outcome")
async def record_justice_outcome(request: Request, case_id: str, user: SignedInDep, found: ServicesDep) -> Response:
    recorded = "Justice outcome recorded"
    return await _change(request, case_id, user, found, "justice-outcome", RecordJusticeOutcome, recorded)


@router.post("/cases/{case_id}/cohort")
async def change_cohort(request: Request, case_id: str, user: SignedInDep, found: ServicesDep) -> Response:
    return await _change(request, case_id, user, found, "cohort", ChangeCohort, "Cohort changed")


@router.post("/cases/{case_id}/release-date")
async def record_release_date(request: Request, case_id: str, user: SignedInDep, found: ServicesDep) -> Response:
    recorded = "Release date recorded"
    return await _change(request, case_id, user, found, "release-date", RecordReleaseDate, recorded)


@router.post("/cases/{case_id}/close")
async def close_case(request: Request, case_id: str, user: SignedInDep, found: ServicesDep) -> Response:
    return await _change(request, case_id, user, found, "close", CloseCase, "Case closed")


@router.post("/cases/{case_id}/link-person")
async def link_person(request: Request, case_id: str, user: SignedInDep, found: ServicesDep) -> Response:
    """Through People.link: the person must have an episode in the reader's sites."""
    linked = "Linked to the person seen before"
    return await _change(request, case_id, user, found, "link-person", LinkPerson, linked, found.pathway.people.link)


@router.post("/cases/{case_id}/unlink-person")
async def unlink_person(request: Request, case_id: str, user: SignedInDep, found: ServicesDep) -> Response:
    unlinked = "Unlinked: this episode is no longer of the person seen before"
    people = found.pathway.people
    return await _change(request, case_id, user, found, "unlink-person", UnlinkPerson, unlinked, people.unlink)


@router.post("/cases/{case_id}/hearing-outcome")
async def record_hearing_outcome(request: Request, case_id: str, user: SignedInDep, found: ServicesDep) -> Response:
    """The outcome of the hearing's task (as `pathway task complete` records it), chosen by hearing."""

    async def complete(values: Answers) -> str:
        problems = FormProblems()
        task_id = next(iter(values.get(HEARING_TASK, ())), "")
        if not task_id:
            problems.fields[HEARING_TASK] = "Choose the hearing"
        try:
            outcome = outcome_from_form(HearingOutcome, values)
        except FormInvalid as invalid:
            problems.fields.update(invalid.problems.fields)
            problems.form.extend(invalid.problems.form)
        if problems:
            raise FormInvalid(problems)
        await found.pathway.cases.complete(user.principal, task_id, outcome, of_case=case_id)
        return "Hearing outcome recorded"

    return await _posted(request, case_id, user, found, "hearing-outcome", complete)


async def _change(
    request: Request,
    case_id: str,
    user: SignedIn,
    found: ServicesDep,
    slug: str,
    command: type[Change],
    notice: str,
    through: Callable[[Principal, str, Change], Awaitable[CaseState]] | None = None,
) -> Response:
    """A change the CLI sends with `_change` too: the command, with the signed-in person acting; sent
    `through` the service call that makes it (CaseService.change_case unless another says more)."""

    async def send(values: Answers) -> str:
        fixed = not_asked(user.principal.actor)
        change = command(**outcome_from_form(command, values, fixed))
        if through is None:
            await found.pathway.cases.change_case(user.principal, case_id, change)
        else:
            await through(user.principal, case_id, change)
        return notice

    return await _posted(request, case_id, user, found, slug, send)


async def _posted(
    request: Request,
    case_id: str,
    user: SignedIn,
    found: ServicesDep,
    slug: str,
    act: Callable[[Answers], Awaitable[str]],
) -> Response:
    values = answers(await posted_form(request, user))
    try:
        notice = await act(values)
    except FormInvalid as invalid:
        problems, refused = invalid.problems, None
    except RuleViolation as refusal:
        problems, refused = FormProblems(), refusal
    else:
        return redirect(f"/cases/{case_id}", notice=notice)
    # The case as it is now (a read, recorded: the page shows it again), with the form as it asks now.
    view = await found.pathway.cases.read_case(user.principal, case_id)
    status = 422
    if refused is not None:
        form = next((f for f in case_forms(view.state, user.principal.role) if f.slug == slug), None)
        problems, status = refusal_problems(refused, form), status_for(refused.rule)
    return await case_view_page(request, user, found, view, values=values, problems=problems, status_code=status)
