"""The API's routes: tasks (inbox views, claim, complete) and cases (start, find, read, access log)."""

from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from api.alerts import alert_break_glass
from api.app import PrincipalDep, ServicesDep
from domain.access import Action, Principal, allowed, require_allowed
from domain.commands import OpenCase
from domain.errors import RuleViolation
from domain.events import StoredEvent
from domain.identity import case_id_for
from domain.model import AgeBand, Cohort, Person, ReferralSource, Setting
from domain.state import CaseState
from store.access_log import AccessRecord
from store.records import CaseRecord, TaskRecord

router = APIRouter(prefix="/api")

TaskView = Literal["mine", "team", "unassigned", "overdue", "due_today"]
PRIORITY_ORDER = {"emergency": 0, "urgent": 1, "routine": 2}
UK = ZoneInfo("Europe/London")


class CompleteTaskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: dict[str, JsonValue] = Field(description="The outcome; its schema depends on the task's kind")


class StartCaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: str = Field(min_length=1, max_length=40)
    setting: Setting
    source: ReferralSource
    external_ref: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9/._-]+$")
    age_band: AgeBand
    cohorts: tuple[Cohort, ...] = ()
    person: Person = Person()


class CaseView(BaseModel):
    state: CaseState
    timeline: list[StoredEvent]


@router.get("/tasks", summary="The inbox: tasks of your sites, most urgent first")
async def list_tasks(principal: PrincipalDep, services: ServicesDep, view: TaskView = "team") -> list[TaskRecord]:
    require_allowed(principal.actor, Action.LIST_TASKS)
    tasks = [t for site in principal.sites for t in await services.commands.store.list_tasks(site=site)]
    today = datetime.now(UK).date()
    chosen = [t for t in tasks if _in_view(t, view, principal, today)]
    return sorted(chosen, key=lambda t: (not t.overdue, PRIORITY_ORDER.get(t.priority, 9), t.due_at))


@router.post("/tasks/{task_id}/claim", summary="Take a task as yours")
async def claim_task(task_id: str, principal: PrincipalDep, services: ServicesDep) -> CaseState:
    require_allowed(principal.actor, Action.CLAIM_TASK)
    task = await _task_in_scope(task_id, principal, services)
    await services.access.record(task.case_id, principal.staff_id, principal.role, "claim_task", "work on a task")
    return await services.commands.claim_task(task_id, principal.actor)


class ReassignTaskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str = Field(min_length=1, max_length=64, description="Staff id of the person who takes the task")


@router.post("/tasks/{task_id}/reassign", summary="Give a task to someone else (team leads)")
async def reassign_task(
    task_id: str, body: ReassignTaskBody, principal: PrincipalDep, services: ServicesDep
) -> CaseState:
    require_allowed(principal.actor, Action.REASSIGN_TASK)
    task = await _task_in_scope(task_id, principal, services)
    await services.access.record(task.case_id, principal.staff_id, principal.role, "reassign_task", "team work")
    return await services.commands.reassign_task(task_id, body.assignee, principal.actor)


@router.post("/tasks/{task_id}/complete", summary="Record a task's outcome; answers with the case's new state")
async def complete_task(
    task_id: str, body: CompleteTaskBody, principal: PrincipalDep, services: ServicesDep
) -> CaseState:
    require_allowed(principal.actor, Action.COMPLETE_TASK)
    task = await _task_in_scope(task_id, principal, services)
    await services.access.record(task.case_id, principal.staff_id, principal.role, "complete_task", "work on a task")
    return await services.commands.complete_task(task_id, body.outcome, principal.actor)


@router.post("/cases", status_code=201, summary="Open a case (the same site and reference again finds it)")
async def start_case(body: StartCaseBody, principal: PrincipalDep, services: ServicesDep) -> CaseState:
    require_allowed(principal.actor, Action.START_CASE)
    if not principal.covers(body.site):
        raise RuleViolation("outside_your_sites", f"you do not work at site {body.site}")
    state = await services.commands.start_case(OpenCase(actor=principal.actor, **body.model_dump()))
    await services.access.record(state.case_id, principal.staff_id, principal.role, "start_case", "identification")
    return state


@router.get("/cases/by-reference", summary="Find a case by site and custody or court reference")
async def find_case(
    principal: PrincipalDep,
    services: ServicesDep,
    site: Annotated[str, Query(max_length=40)],
    ref: Annotated[str, Query(max_length=64)],
) -> CaseView:
    case_id = case_id_for(services.commands.case_id_key, site, ref)
    return await read_case(case_id, principal, services)


@router.get("/cases/{case_id}", summary="A case's summary and timeline")
async def read_case(
    case_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    break_glass_reason: Annotated[
        str | None, Query(min_length=10, max_length=500, description="Needed to read a case outside your sites")
    ] = None,
) -> CaseView:
    require_allowed(principal.actor, Action.READ_CASE)
    record = await _case(case_id, services)
    in_scope = record is not None and principal.covers(record.site)
    if record is None or (not in_scope and not _may_break_glass(principal, break_glass_reason)):
        # Out of scope looks the same as absent: nothing about another site's cases leaks.
        raise RuleViolation("case_unknown", f"there is no case {case_id} in your sites")
    purpose = "case work" if in_scope else f"break-glass: {break_glass_reason}"
    await services.access.record(
        case_id, principal.staff_id, principal.role, "read_case", purpose, break_glass=not in_scope
    )
    if not in_scope:
        await alert_break_glass(
            services.outbox,
            services.mailer,
            services.commands.config,
            services.inbox_url,
            case_id,
            record.site,
            principal,
        )
    timeline = await services.commands.store.read_stream(case_id)
    return CaseView(state=await services.commands.store.case_state(case_id), timeline=timeline)


@router.get("/cases/{case_id}/access", summary="Who read or changed a case, when and why (auditors)")
async def case_access(case_id: str, principal: PrincipalDep, services: ServicesDep) -> list[AccessRecord]:
    require_allowed(principal.actor, Action.READ_ACCESS_LOG)
    record = await _case(case_id, services)
    if record is None or not principal.covers(record.site):
        raise RuleViolation("case_unknown", f"there is no case {case_id} in your sites")
    await services.access.record(case_id, principal.staff_id, principal.role, "read_access_log", "audit")
    return await services.access.list(case_id)


def _in_view(task: TaskRecord, view: TaskView, principal: Principal, today: date) -> bool:
    match view:
        case "mine":
            return task.assignee == principal.staff_id
        case "unassigned":
            return task.assignee is None
        case "overdue":
            return task.overdue
        case "due_today":
            return task.due_at.astimezone(UK).date() == today
    return True


def _may_break_glass(principal: Principal, reason: str | None) -> bool:
    return reason is not None and allowed(principal.role, Action.BREAK_GLASS)


async def _case(case_id: str, services: ServicesDep) -> CaseRecord | None:
    return await services.commands.store.get_case(case_id)


async def _task_in_scope(task_id: str, principal: Principal, services: ServicesDep) -> TaskRecord:
    task = await services.commands.store.get_task(task_id)
    if task is None or not principal.covers(task.site):
        raise RuleViolation("task_unknown", f"there is no task {task_id} in your sites")
    return task
