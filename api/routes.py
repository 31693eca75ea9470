"""The API's routes: tasks (inbox views, claim, reassign, complete) and cases (start, find, read, access log).

Each route checks its input and hands the signed-in person's request to the service (service/),
which applies the role x action matrix, the site scope, sealing and the access record."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import PrincipalDep, ServicesDep
from api.schemas import (
    REFUSALS,
    ChangeCohortBody,
    CompleteTaskBody,
    ReassignTaskBody,
    RecordDateOfBirthBody,
    RecordJusticeOutcomeBody,
    RecordReleaseDateBody,
    StartCaseBody,
)
from domain.commands import ChangeCohort, OpenCase, RecordJusticeOutcome, RecordReleaseDate
from domain.state import CaseState
from service.cases import AccessEntry, CaseView, StartedCase, TaskDetail, TaskView
from store.records import CaseRecord, TaskRecord

router = APIRouter(prefix="/api", responses=REFUSALS)

# Its bounds are the service's (domain/access.py); this cap only keeps a query string short.
BreakGlassReason = Annotated[
    str | None, Query(max_length=2000, description="Needed to read a case outside your sites (10 to 500 characters)")
]


@router.get("/tasks", summary="The inbox: open tasks of your sites, most urgent first")
async def list_tasks(principal: PrincipalDep, services: ServicesDep, view: TaskView = "team") -> list[TaskRecord]:
    return await services.pathway.cases.tasks(principal, view)


@router.get("/tasks/{task_id}", summary="One task of your sites")
async def read_task(task_id: str, principal: PrincipalDep, services: ServicesDep) -> TaskDetail:
    return await services.pathway.cases.task(principal, task_id)


@router.post("/tasks/{task_id}/claim", summary="Take a task as yours")
async def claim_task(task_id: str, principal: PrincipalDep, services: ServicesDep) -> CaseState:
    return await services.pathway.cases.claim(principal, task_id)


@router.post("/tasks/{task_id}/reassign", summary="Give a task to someone else (team leads)")
async def reassign_task(
    task_id: str, body: ReassignTaskBody, principal: PrincipalDep, services: ServicesDep
) -> CaseState:
    return await services.pathway.cases.reassign(principal, task_id, body.assignee)


@router.post("/tasks/{task_id}/complete", summary="Record a task's outcome; answers with the case's new state")
async def complete_task(
    task_id: str, body: CompleteTaskBody, principal: PrincipalDep, services: ServicesDep
) -> CaseState:
    return await services.pathway.cases.complete(principal, task_id, body.outcome)


@router.post("/cases", status_code=201, summary="Open a case (the same site and reference again finds it)")
async def start_case(body: StartCaseBody, principal: PrincipalDep, services: ServicesDep) -> StartedCase:
    """The case opened; or the one the site and reference already have (`found_existing`, with a
    `notice` naming it). Refused (409, rule case_past_sentence) once that case reached sentence."""
    return await services.pathway.cases.start_case(principal, OpenCase(actor=principal.actor, **body.model_dump()))


@router.get("/cases", summary="The case index of your sites")
async def list_cases(principal: PrincipalDep, services: ServicesDep) -> list[CaseRecord]:
    return await services.pathway.cases.cases(principal)


@router.get("/cases/by-reference", summary="Find a case by site and custody or court reference")
async def find_case(
    principal: PrincipalDep,
    services: ServicesDep,
    site: Annotated[str, Query(max_length=40)],
    ref: Annotated[str, Query(max_length=64)],
    break_glass_reason: BreakGlassReason = None,
) -> CaseView:
    return await services.pathway.cases.find_case(principal, site, ref, break_glass_reason)


@router.get("/cases/{case_id}", summary="A case's summary and timeline")
async def read_case(
    case_id: str, principal: PrincipalDep, services: ServicesDep, break_glass_reason: BreakGlassReason = None
) -> CaseView:
    return await services.pathway.cases.read_case(principal, case_id, break_glass_reason)


@router.post(
    "/cases/{case_id}/date-of-birth",
    summary="Record the person's date of birth: it verifies their age and may move the case to the other pathway",
)
async def record_date_of_birth(
    case_id: str, body: RecordDateOfBirthBody, principal: PrincipalDep, services: ServicesDep
) -> CaseState:
    return await services.pathway.cases.record_date_of_birth(principal, case_id, body.date_of_birth.isoformat())


@router.post("/cases/{case_id}/cohorts", summary="Put the person on a cohort's pathway or take them off it, saying why")
async def change_cohort(
    case_id: str, body: ChangeCohortBody, principal: PrincipalDep, services: ServicesDep
) -> CaseState:
    change = ChangeCohort(actor=principal.actor, **body.model_dump())
    return await services.pathway.cases.change_case(principal, case_id, change)


@router.post(
    "/cases/{case_id}/justice-outcome",
    summary="Record a justice outcome as the case learns it (after a sentence, a new identification is refused)",
)
async def record_justice_outcome(
    case_id: str, body: RecordJusticeOutcomeBody, principal: PrincipalDep, services: ServicesDep
) -> CaseState:
    learnt = RecordJusticeOutcome(actor=principal.actor, outcome=body.outcome)
    return await services.pathway.cases.change_case(principal, case_id, learnt)


@router.post(
    "/cases/{case_id}/release-date",
    summary="On a RECONNECT episode: the release date, which schedules engagement and the end of support",
)
async def record_release_date(
    case_id: str, body: RecordReleaseDateBody, principal: PrincipalDep, services: ServicesDep
) -> CaseState:
    release = RecordReleaseDate(actor=principal.actor, release_on=body.release_on)
    return await services.pathway.cases.change_case(principal, case_id, release)


@router.get("/cases/{case_id}/access", summary="Who read or changed a case, when and why (auditors)")
async def case_access(case_id: str, principal: PrincipalDep, services: ServicesDep) -> list[AccessEntry]:
    return await services.pathway.cases.case_access(principal, case_id)
