"""The auditors' API: a case's timeline (as of any moment), its verification and its export, as JSON
or as a readable HTML document. Each read is written to the case's access log."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from api.deps import PrincipalDep, ServicesDep
from api.documents import export_html, timeline_html
from api.problems import REFUSALS
from api.schemas import ExportBody
from service.audit import CaseExport, CaseTimeline, Integrity, PersonTimeline
from service.replay import ReplayOutcome

router = APIRouter(prefix="/api/audit", responses=REFUSALS, tags=["audit"])
AsOf = Annotated[
    datetime | None, Query(description="The record as it was known at this time, with its zone (ISO 8601)")
]


@router.get("/cases/{case_id}/timeline", summary="A case's events in order, and its state (as of a moment)")
async def timeline(case_id: str, principal: PrincipalDep, services: ServicesDep, as_of: AsOf = None) -> CaseTimeline:
    return await services.pathway.audit.timeline(principal, case_id, as_of)


@router.get(
    "/people/{person_or_case}/timeline",
    summary="A person's story (person-..., or the person of case-...): their episodes, and the events of those "
    "in your sites merged in time order; an episode elsewhere shows only that it exists",
)
async def person_timeline(person_or_case: str, principal: PrincipalDep, services: ServicesDep) -> PersonTimeline:
    return await services.pathway.audit.person_timeline(principal, person_or_case)


@router.get(
    "/cases/{case_id}/timeline.html",
    summary="The timeline as a document",
    response_class=HTMLResponse,
    responses=REFUSALS,
)
async def timeline_document(
    case_id: str, principal: PrincipalDep, services: ServicesDep, as_of: AsOf = None
) -> HTMLResponse:
    return HTMLResponse(timeline_html(await services.pathway.audit.timeline(principal, case_id, as_of)))


@router.get("/cases/{case_id}/verify", summary="Recompute the case's hash chain and check its projections")
async def verify(case_id: str, principal: PrincipalDep, services: ServicesDep) -> Integrity:
    return await services.pathway.audit.verify(principal, case_id)


@router.get("/cases/{case_id}/replay", summary="Replay the case's Temporal histories against the current code")
async def replay(case_id: str, principal: PrincipalDep, services: ServicesDep) -> list[ReplayOutcome]:
    return await services.pathway.audit.replay(principal, case_id)


@router.post("/cases/{case_id}/export", summary="The whole record, for a subject access request or a court")
async def export(case_id: str, body: ExportBody, principal: PrincipalDep, services: ServicesDep) -> CaseExport:
    """The purpose is posted, never put in the URL (a GET is refused, 405, before anything is read); the
    export is recorded in the access log with it."""
    return await services.pathway.audit.export(principal, case_id, body.purpose)


@router.post(
    "/cases/{case_id}/export.html",
    summary="The whole record as a document",
    response_class=HTMLResponse,
    responses=REFUSALS,
)
async def export_document(
    case_id: str, body: ExportBody, principal: PrincipalDep, services: ServicesDep
) -> HTMLResponse:
    return HTMLResponse(export_html(await services.pathway.audit.export(principal, case_id, body.purpose)))
