"""The API's routes: tasks (inbox views, claim, reassign, complete) and cases (start, find, read,
change, close, export, access log).

Each route checks its input and hands the signed-in person's request to the service (service/),
which applies the role x action matrix, the site scope, sealing and the access record. A route that
reads or changes a case answers with its version as the `ETag`; a change with `If-Match` is refused
(412) once the case has moved past that version, by the workflow as it decides (no window between
the check and the change). Listings come in pages (api/pagination.py)."""

from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import TypeAdapter

from api.deps import ExpectedVersionDep, PrincipalDep, Services, ServicesDep, set_etag
from api.pagination import DEFAULT_LIMIT, Cursor, Direction, Limit, Pages
from api.problems import REFUSALS
from api.schemas import (
    BreakGlassBody,
    ChangeCohortBody,
    CompleteTaskBody,
    FindCaseBody,
    ReassignTaskBody,
    RecordDateOfBirthBody,
    RecordJusticeOutcomeBody,
    RecordReferralOutcomeBody,
    RecordReleaseDateBody,
    RequestCourtReportBody,
    StartCaseBody,
)
from domain.access import Principal
from domain.commands import (
    ChangeCohort,
    CloseCase,
    OpenCase,
    RecordJusticeOutcome,
    RecordReferralOutcome,
    RecordReleaseDate,
    RequestCourtReport,
)
from domain.fhir_terms import FHIR_JSON
from domain.outcomes import ClosureOutcome
from domain.state import CaseState
from service.cases import (
    AccessEntry,
    CaseChange,
    CaseView,
    StartedCase,
    TaskDetail,
    TaskView,
    inbox_order,
    index_order,
)
from service.fhir import fhir_export, fhir_person_export
from store.records import CaseRecord, TaskRecord

router = APIRouter(prefix="/api", responses=REFUSALS)

BREAK_GLASS_IN_URL = (
    'post a break-glass reason to /api/cases/{case_id}/break-glass, {"reason": ...}: what is written '
    "about a person is never put in a URL, where browser histories and access logs would keep it"
)
REFERENCE_IN_URL = (
    "find a case by reference with POST, the site and reference in a JSON body: "
    "a reference in a URL is kept in browser histories and access logs"
)
INBOX_PAGES = Pages(inbox_order, TypeAdapter(tuple[Direction, tuple[bool, int, datetime, str]]))
INDEX_PAGES = Pages(index_order, TypeAdapter(tuple[Direction, tuple[datetime, str]]))
State = TypeVar("State", bound=CaseState)


@router.get("/tasks", summary="The inbox: open tasks of your sites, most urgent first, a page at a time")
async def list_tasks(
    request: Request,
    response: Response,
    principal: PrincipalDep,
    services: ServicesDep,
    view: TaskView = "team",
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> list[TaskRecord]:
    """The page's neighbours are in the `Link` header (rel first, prev, next)."""
    tasks = await services.pathway.cases.tasks(principal, view)
    return INBOX_PAGES.page(tasks, cursor, limit, request, response)


@router.get("/tasks/{task_id}", summary="One task of your sites (ETag: its case's version)")
async def read_task(task_id: str, response: Response, principal: PrincipalDep, services: ServicesDep) -> TaskDetail:
    detail = await services.pathway.cases.task(principal, task_id)
    set_etag(response, detail.case.version)
    return detail


@router.post("/tasks/{task_id}/claim", summary="Take a task as yours")
async def claim_task(
    task_id: str, response: Response, principal: PrincipalDep, services: ServicesDep, expected: ExpectedVersionDep
) -> CaseState:
    return _tagged(response, await services.pathway.cases.claim(principal, task_id, expected_version=expected))


@router.post("/tasks/{task_id}/reassign", summary="Give a task to someone else (team leads)")
async def reassign_task(
    task_id: str,
    body: ReassignTaskBody,
    response: Response,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: ExpectedVersionDep,
) -> CaseState:
    return _tagged(
        response, await services.pathway.cases.reassign(principal, task_id, body.assignee, expected_version=expected)
    )


@router.post("/tasks/{task_id}/complete", summary="Record a task's outcome; answers with the case's new state")
async def complete_task(
    task_id: str,
    body: CompleteTaskBody,
    response: Response,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: ExpectedVersionDep,
) -> CaseState:
    return _tagged(
        response, await services.pathway.cases.complete(principal, task_id, body.outcome, expected_version=expected)
    )


@router.post(
    "/cases",
    status_code=201,
    summary="Open a case (the same site and reference again finds it)",
    responses={200: {"description": "The site and reference already had this case", "model": StartedCase}},
)
async def start_case(
    body: StartCaseBody, request: Request, response: Response, principal: PrincipalDep, services: ServicesDep
) -> StartedCase:
    """201 with the case's URL in `Location`; or 200 with the case the site and reference already have
    (`found_existing`, with a `notice` naming it). Refused (409, rule case_past_sentence) once that
    case reached sentence."""
    opening = OpenCase(actor=principal.actor, **body.model_dump())
    started = await services.pathway.cases.start_case(principal, opening)
    if started.found_existing:
        response.status_code = 200
    else:
        response.headers["Location"] = str(request.url_for("read_case", case_id=started.case_id))
    return _tagged(response, started)


@router.get("/cases", summary="The case index of your sites, oldest first, a page at a time")
async def list_cases(
    request: Request,
    response: Response,
    principal: PrincipalDep,
    services: ServicesDep,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> list[CaseRecord]:
    """The page's neighbours are in the `Link` header (rel first, prev, next)."""
    return INDEX_PAGES.page(await services.pathway.cases.cases(principal), cursor, limit, request, response)


@router.post("/cases/by-reference", summary="Find a case by site and custody or court reference")
async def find_case(body: FindCaseBody, response: Response, principal: PrincipalDep, services: ServicesDep) -> CaseView:
    """The reference is in the body, never the URL; 404 alike for a reference that is not there and one
    outside your sites (without a break-glass reason)."""
    view = await services.pathway.cases.find_case(principal, body.site, body.ref, body.break_glass_reason)
    _tagged(response, view.state)
    return view


@router.get("/cases/by-reference", include_in_schema=False)
async def refuse_reference_in_url() -> None:
    """Refused, so that a client still sending the reference in the query string learns to post it
    (rather than finding "by-reference" read as a case id)."""
    raise HTTPException(405, REFERENCE_IN_URL, headers={"Allow": "POST"})


@router.get("/cases/{case_id}", summary="A case's summary and timeline (ETag: its version)")
async def read_case(
    case_id: str,
    response: Response,
    principal: PrincipalDep,
    services: ServicesDep,
    reason_in_url: Annotated[str | None, Query(alias="break_glass_reason", include_in_schema=False)] = None,
) -> CaseView:
    """A case outside your sites is read with `POST /api/cases/{case_id}/break-glass`."""
    if reason_in_url is not None:
        raise HTTPException(400, BREAK_GLASS_IN_URL)
    view = await services.pathway.cases.read_case(principal, case_id)
    _tagged(response, view.state)
    return view


@router.post(
    "/cases/{case_id}/break-glass",
    summary="Read a case outside your sites, saying why (recorded, and the site's team leads are alerted)",
)
async def break_glass(
    case_id: str, body: BreakGlassBody, response: Response, principal: PrincipalDep, services: ServicesDep
) -> CaseView:
    """The reason is posted, never put in the URL. A case in your sites is read as `GET` reads it."""
    view = await services.pathway.cases.read_case(principal, case_id, body.reason)
    _tagged(response, view.state)
    return view


@router.post(
    "/cases/{case_id}/date-of-birth",
    summary="Record the person's date of birth: it verifies their age and may move the case to the other pathway",
)
async def record_date_of_birth(
    case_id: str,
    body: RecordDateOfBirthBody,
    response: Response,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: ExpectedVersionDep,
) -> CaseState:
    born = body.date_of_birth.isoformat()
    return _tagged(
        response, await services.pathway.cases.record_date_of_birth(principal, case_id, born, expected_version=expected)
    )


@router.post("/cases/{case_id}/cohorts", summary="Put the person on a cohort's pathway or take them off it, saying why")
async def change_cohort(
    case_id: str,
    body: ChangeCohortBody,
    response: Response,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: ExpectedVersionDep,
) -> CaseState:
    change = ChangeCohort(actor=principal.actor, expected_version=expected, **body.model_dump())
    return await _change(services, principal, case_id, change, response)


@router.post(
    "/cases/{case_id}/justice-outcome",
    summary="Record a justice outcome as the case learns it (after a sentence, a new identification is refused)",
)
async def record_justice_outcome(
    case_id: str,
    body: RecordJusticeOutcomeBody,
    response: Response,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: ExpectedVersionDep,
) -> CaseState:
    learnt = RecordJusticeOutcome(actor=principal.actor, outcome=body.outcome, expected_version=expected)
    return await _change(services, principal, case_id, learnt, response)


@router.post(
    "/cases/{case_id}/release-date",
    summary="On a RECONNECT episode: the release date, which schedules engagement and the end of support",
)
async def record_release_date(
    case_id: str,
    body: RecordReleaseDateBody,
    response: Response,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: ExpectedVersionDep,
) -> CaseState:
    release = RecordReleaseDate(actor=principal.actor, release_on=body.release_on, expected_version=expected)
    return await _change(services, principal, case_id, release, response)


@router.post(
    "/cases/{case_id}/referrals/{referral_id}/outcome",
    summary="Record what came of a referral: accepted, rejected (with a reason), attended, engaged, ...",
)
async def record_referral_outcome(
    case_id: str,
    referral_id: str,
    body: RecordReferralOutcomeBody,
    response: Response,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: ExpectedVersionDep,
) -> CaseState:
    answer = RecordReferralOutcome(
        actor=principal.actor, referral_id=referral_id, expected_version=expected, **body.model_dump()
    )
    return await _change(services, principal, case_id, answer, response)


@router.post(
    "/cases/{case_id}/court-reports",
    summary="Ask for a court report for a hearing (again after an adjournment); answers with the case's new state",
)
async def request_court_report(
    case_id: str,
    body: RequestCourtReportBody,
    response: Response,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: ExpectedVersionDep,
) -> CaseState:
    request = RequestCourtReport(actor=principal.actor, expected_version=expected, **body.model_dump())
    return await _change(services, principal, case_id, request, response)


@router.post("/cases/{case_id}/close", summary="Close a case now, saying why (its open tasks are cancelled)")
async def close_case(
    case_id: str,
    body: ClosureOutcome,
    response: Response,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: ExpectedVersionDep,
) -> CaseState:
    closure = CloseCase(actor=principal.actor, outcome=body, expected_version=expected)
    return await _change(services, principal, case_id, closure, response)


@router.get(
    "/cases/{case_id}/fhir",
    summary="The case as an HL7 FHIR R4 Bundle for a receiving clinician (docs/fhir.md); the export is recorded",
    response_class=Response,
    responses={200: {"content": {FHIR_JSON: {}}, "description": "A FHIR Bundle (collection)"}},
)
async def export_fhir(case_id: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    bundle = await fhir_export(services.pathway.cases, principal, case_id)
    return Response(bundle.model_dump_json(exclude_none=True), media_type=FHIR_JSON)


@router.get(
    "/people/{person_or_case}/fhir",
    summary="A person (person-..., or the person of case-...) as an HL7 FHIR R4 Bundle: one Patient and each of "
    "their episodes in your sites (docs/fhir.md); the export is recorded on each",
    response_class=Response,
    responses={200: {"content": {FHIR_JSON: {}}, "description": "A FHIR Bundle (collection)"}},
)
async def export_person_fhir(person_or_case: str, principal: PrincipalDep, services: ServicesDep) -> Response:
    bundle = await fhir_person_export(services.pathway.people, principal, person_or_case)
    return Response(bundle.model_dump_json(exclude_none=True), media_type=FHIR_JSON)


@router.get("/cases/{case_id}/access", summary="Who read or changed a case, when and why (auditors)")
async def case_access(case_id: str, principal: PrincipalDep, services: ServicesDep) -> list[AccessEntry]:
    return await services.pathway.cases.case_access(principal, case_id)


async def _change(
    services: Services, principal: Principal, case_id: str, change: CaseChange, response: Response
) -> CaseState:
    return _tagged(response, await services.pathway.cases.change_case(principal, case_id, change))


def _tagged(response: Response, state: State) -> State:
    set_etag(response, state.version)
    return state
