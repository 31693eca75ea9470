"""The auditors' web pages, signed in with the session cookie: a case's timeline (as it stands, or as
it was known at a moment), the same as a standalone document, its person's story across their
episodes, and the export of the whole record.

They go through the same service calls as /api/audit, so the same rules hold (auditors only, cases
of their sites) and every read is written to the case's access log. The export's purpose is posted,
never put in a URL: it may name the person."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.audit_routes import AsOf
from api.deps import ServicesDep
from api.documents import export_html, timeline_html
from api.forms import FormProblems, as_sentence
from api.web import SignedIn, SignedInDep, page, posted_form
from domain.errors import Rule, RuleViolation

router = APIRouter(include_in_schema=False)


@router.get("/cases/{case_id}/audit", response_class=HTMLResponse)
async def timeline_page(
    request: Request, case_id: str, user: SignedInDep, found: ServicesDep, as_of: AsOf = None
) -> HTMLResponse:
    timeline = await found.pathway.audit.timeline(user.principal, case_id, as_of)
    return page(request, "audit_timeline.html", {"user": user, "timeline": timeline})


@router.get("/people/{person_or_case}/audit", response_class=HTMLResponse)
async def person_page(request: Request, person_or_case: str, user: SignedInDep, found: ServicesDep) -> HTMLResponse:
    story = await found.pathway.audit.person_timeline(user.principal, person_or_case)
    return page(request, "audit_person.html", {"user": user, "story": story})


@router.get("/cases/{case_id}/audit/document", response_class=HTMLResponse)
async def timeline_document(case_id: str, user: SignedInDep, found: ServicesDep, as_of: AsOf = None) -> HTMLResponse:
    return HTMLResponse(timeline_html(await found.pathway.audit.timeline(user.principal, case_id, as_of)))


@router.get("/cases/{case_id}/export", response_class=HTMLResponse)
async def export_form(request: Request, case_id: str, user: SignedInDep, found: ServicesDep) -> HTMLResponse:
    await found.pathway.audit.require_auditor(user.principal, case_id)
    return _export_page(request, user, case_id)


@router.post("/cases/{case_id}/export")
async def export_record(request: Request, case_id: str, user: SignedInDep, found: ServicesDep) -> Response:
    form = await posted_form(request, user)
    purpose = str(form.get("purpose") or "")
    try:
        export = await found.pathway.audit.export(user.principal, case_id, purpose)
    except RuleViolation as refused:
        if refused.rule != Rule.INVALID_INPUT:
            raise
        problems = FormProblems(fields={"purpose": as_sentence(refused.message)})
        return _export_page(request, user, case_id, purpose, problems, status_code=422)
    return HTMLResponse(export_html(export))


def _export_page(
    request: Request,
    user: SignedIn,
    case_id: str,
    purpose: str = "",
    problems: FormProblems | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {"user": user, "case_id": case_id, "purpose": purpose, "problems": problems or FormProblems()}
    return page(request, "audit_export.html", context, status_code=status_code)
