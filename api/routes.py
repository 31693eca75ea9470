"""The API's routes: tasks (inbox views, claim, reassign, complete) and cases (start, find, read, access log).

Each route checks its input and hands the signed-in person's request to the Inbox (workers/inbox.py),
which applies the role x action matrix, the site scope and the access audit."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from api.app import PrincipalDep, ServicesDep
from domain.commands import OpenCase
from domain.model import AgeBand, Cohort, Person, ReferralSource, Setting
from domain.state import CaseState
from store.access_log import AccessRecord
from store.records import CaseRecord, TaskRecord
from workers.inbox import CaseView, TaskDetail, TaskView


class ErrorBody(BaseModel):
    """Every refusal: a sentence a person understands, the rule it broke, and per-field messages."""

    error: str
    rule: str | None = None
    fields: dict[str, str] | None = None


REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "The request could not be read",
        401: "Not signed in, or the sign-in has expired",
        403: "Your role or sites do not allow it",
        404: "No such case or task in your sites",
        409: "Not possible in the case's current state (e.g. someone completed the task first)",
        413: "The request is too large",
        422: "The input is not valid (per-field messages in `fields`)",
    }.items()
}
router = APIRouter(prefix="/api", responses=REFUSALS)

BreakGlassReason = Annotated[
    str | None, Query(min_length=10, max_length=500, description="Needed to read a case outside your sites")
]


class CompleteTaskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: dict[str, JsonValue] = Field(description="The outcome; its schema depends on the task's kind")


class ReassignTaskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str = Field(min_length=1, max_length=64, description="Staff id of the person who takes the task")


class StartCaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: str = Field(min_length=1, max_length=40)
    setting: Setting
    source: ReferralSource
    external_ref: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9/._-]+$")
    age_band: AgeBand
    cohorts: tuple[Cohort, ...] = ()
    person: Person = Person()


@router.get("/tasks", summary="The inbox: open tasks of your sites, most urgent first")
async def list_tasks(principal: PrincipalDep, services: ServicesDep, view: TaskView = "team") -> list[TaskRecord]:
    return await services.inbox.tasks(principal, view)


@router.get("/tasks/{task_id}", summary="One task of your sites")
async def read_task(task_id: str, principal: PrincipalDep, services: ServicesDep) -> TaskDetail:
    return await services.inbox.task(principal, task_id)


@router.post("/tasks/{task_id}/claim", summary="Take a task as yours")
async def claim_task(task_id: str, principal: PrincipalDep, services: ServicesDep) -> CaseState:
    return await services.inbox.claim(principal, task_id)


@router.post("/tasks/{task_id}/reassign", summary="Give a task to someone else (team leads)")
async def reassign_task(
    task_id: str, body: ReassignTaskBody, principal: PrincipalDep, services: ServicesDep
) -> CaseState:
    return await services.inbox.reassign(principal, task_id, body.assignee)


@router.post("/tasks/{task_id}/complete", summary="Record a task's outcome; answers with the case's new state")
async def complete_task(
    task_id: str, body: CompleteTaskBody, principal: PrincipalDep, services: ServicesDep
) -> CaseState:
    return await services.inbox.complete(principal, task_id, body.outcome)


@router.post("/cases", status_code=201, summary="Open a case (the same site and reference again finds it)")
async def start_case(body: StartCaseBody, principal: PrincipalDep, services: ServicesDep) -> CaseState:
    return await services.inbox.start_case(principal, OpenCase(actor=principal.actor, **body.model_dump()))


@router.get("/cases", summary="The case index of your sites")
async def list_cases(principal: PrincipalDep, services: ServicesDep) -> list[CaseRecord]:
    return await services.inbox.cases(principal)


@router.get("/cases/by-reference", summary="Find a case by site and custody or court reference")
async def find_case(
    principal: PrincipalDep,
    services: ServicesDep,
    site: Annotated[str, Query(max_length=40)],
    ref: Annotated[str, Query(max_length=64)],
    break_glass_reason: BreakGlassReason = None,
) -> CaseView:
    return await services.inbox.find_case(principal, site, ref, break_glass_reason)


@router.get("/cases/{case_id}", summary="A case's summary and timeline")
async def read_case(
    case_id: str, principal: PrincipalDep, services: ServicesDep, break_glass_reason: BreakGlassReason = None
) -> CaseView:
    return await services.inbox.read_case(principal, case_id, break_glass_reason)


@router.get("/cases/{case_id}/access", summary="Who read or changed a case, when and why (auditors)")
async def case_access(case_id: str, principal: PrincipalDep, services: ServicesDep) -> list[AccessRecord]:
    return await services.inbox.case_access(principal, case_id)
