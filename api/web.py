"""The web inbox: server-rendered pages over the same service as the API, usable without JavaScript.

Pages read with GET; every change is a POSTed form carrying the session's CSRF token, answered with
a redirect (so a refresh never repeats it) or, when the input is wrong, the same page again with the
problems listed at the top and beside each question."""

import hmac
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from api.case_forms import case_forms
from api.deps import Services, ServicesDep, services, status_for
from api.forms import (
    FormInvalid,
    FormProblems,
    Group,
    Question,
    as_sentence,
    form_for,
    local_time,
    long_date,
    outcome_from_form,
    with_choices,
    words,
)
from api.people_pages import person_match_answers, person_match_form, seen_before, task_people
from api.schemas import RecordDateOfBirthBody, StartCaseBody
from api.session import COOKIE, SESSION_HOURS, csrf_token, session_principal, session_token
from domain.access import Action, Principal, allowed, break_glass_reason, may_work_on
from domain.commands import OpenCase
from domain.errors import Rule, RuleViolation
from domain.model import Role
from domain.tasks import OUTCOME_MODELS, TaskKind
from domain.timeline import UK, describe, written_text
from service.cases import TASK_VIEWS, CaseView, TaskDetail, TaskView
from service.identity import Unauthenticated
from service.people import Candidate

router = APIRouter(include_in_schema=False)
FIND_SITE_CHARACTERS, FIND_REF_CHARACTERS = 40, 64  # a site id's and a reference's longest (domain/commands.py)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["words"] = words
templates.env.globals.update(describe=describe, written_text=written_text)
templates.env.tests["question"] = lambda item: isinstance(item, Question)


class SignedIn(BaseModel):
    """The person on a page and the CSRF token their forms carry."""

    principal: Principal
    csrf: str

    @property
    def links(self) -> list[tuple[str, str]]:
        """The header's menu: only the pages this person's role can use."""
        role = self.principal.role
        pages = [
            ("/inbox", "Inbox", Action.LIST_TASKS),
            ("/cases", "Cases", Action.READ_CASE),
            ("/cases/new", "Start a case", Action.START_CASE),
            ("/reports", "Reports", Action.READ_REPORTS),
        ]
        return [(href, text) for href, text, action in pages if allowed(role, action)]


async def signed_in(request: Request) -> SignedIn:
    found = services(request)
    principal = await session_principal(request, found.verifier)
    return SignedIn(principal=principal, csrf=csrf_token(found.web_key, session_token(request) or ""))


SignedInDep = Annotated[SignedIn, Depends(signed_in)]


def page(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, template, context, status_code=status_code)


templates.env.filters["local_time"] = local_time


templates.env.filters["long_date"] = long_date
templates.env.filters["short_id"] = lambda case_id: str(case_id).removeprefix("case-")[:8]
templates.env.filters["local_date"] = lambda moment: moment.astimezone(UK).date()


async def posted_form(request: Request, user: SignedIn) -> FormData:
    """The form of a POST, once its CSRF token has been checked against the signed-in session's."""
    form = await request.form()
    sent = form.get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(user.csrf, sent):
        raise RuleViolation(Rule.FORM_EXPIRED, "this form has expired: go back, reload the page and try again")
    return form


def answers(form: FormData) -> dict[str, list[str]]:
    """A posted form's answers by question name, as `api.forms` reads them."""
    return {key: [str(value) for value in form.getlist(key)] for key in form if key != "csrf"}


@router.get("/")
async def home(user: SignedInDep) -> RedirectResponse:
    return RedirectResponse(_home_for(user.principal.role), status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, found: ServicesDep) -> HTMLResponse:
    return _login_page(request, found)


@router.post("/login")
async def login(request: Request, found: ServicesDep, staff_id: Annotated[str, Form(max_length=64)] = "") -> Response:
    if found.dev_sign_in is None:
        raise RuleViolation(Rule.NOT_AVAILABLE, "sign in through your organisation's single sign-on")
    try:
        member = found.pathway.config.staff_member(staff_id)
    except RuleViolation:
        return _login_page(request, found, "Choose who you are from the list", status_code=422)
    response = RedirectResponse(_home_for(member.role), status_code=303)
    response.set_cookie(
        COOKIE,
        found.dev_sign_in.token_for(member),
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=found.cookie_secure,
    )
    return response


@router.post("/logout")
async def logout(request: Request, user: SignedInDep, found: ServicesDep) -> RedirectResponse:
    """Signing out ends the sign-in everywhere: a copy of the token (cookie or bearer) stops working."""
    await posted_form(request, user)
    token = session_token(request)
    if token:
        claims = found.verifier.claims(token)
        token_id = claims.get("jti")
        if isinstance(token_id, str):
            await found.pathway.sign_outs.revoke(token_id, datetime.fromtimestamp(claims["exp"], UTC))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, httponly=True, samesite="lax", secure=found.cookie_secure)
    return response


@router.get("/signed-in", response_class=HTMLResponse)
async def signed_in_page(request: Request, user: SignedInDep, found: ServicesDep) -> HTMLResponse:
    """For roles with no case work (operators, admins): what signing in here gives them."""
    context = {
        "user": user,
        "may_decode": allowed(user.principal.role, Action.DECODE_PAYLOADS),
        "ui": found.temporal_ui_origin,
        "codec": str(request.base_url).rstrip("/") + "/codec",
    }
    return page(request, "signed_in.html", context)


@router.get("/inbox", response_class=HTMLResponse)
async def inbox_page(
    request: Request, user: SignedInDep, found: ServicesDep, view: TaskView = "team", notice: str = ""
) -> HTMLResponse:
    tasks = await found.pathway.cases.tasks(user.principal, view)
    handles = await found.pathway.cases.handles(user.principal, (task.case_id for task in tasks))
    today = datetime.now(UK).date()
    context = {"tasks": tasks, "handles": handles, "view": view, "views": TASK_VIEWS, "today": today}
    return page(request, "inbox.html", {"user": user, "notice": notice, **context})


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
async def task_page(
    request: Request, task_id: str, user: SignedInDep, found: ServicesDep, notice: str = ""
) -> Response:
    return await _task_page(
        request, found, await found.pathway.cases.task(user.principal, task_id), user, notice=notice
    )


@router.post("/tasks/{task_id}/claim")
async def claim(request: Request, task_id: str, user: SignedInDep, found: ServicesDep) -> RedirectResponse:
    await posted_form(request, user)
    await found.pathway.cases.claim(user.principal, task_id)
    return redirect(f"/tasks/{task_id}", notice="You have taken this task")


@router.post("/tasks/{task_id}/reassign")
async def reassign(request: Request, task_id: str, user: SignedInDep, found: ServicesDep) -> RedirectResponse:
    form = await posted_form(request, user)
    assignee = str(form.get("assignee") or "")
    if not assignee:
        raise RuleViolation(Rule.INVALID_INPUT, "choose the person who takes the task")
    await found.pathway.cases.reassign(user.principal, task_id, assignee)
    return redirect("/inbox", view="team", notice=f"Task given to {assignee}")


@router.post("/tasks/{task_id}/complete")
async def complete(request: Request, task_id: str, user: SignedInDep, found: ServicesDep) -> Response:
    values = answers(await posted_form(request, user))
    detail = await found.pathway.cases.task(user.principal, task_id)
    kind = TaskKind(detail.task.kind)
    try:
        posted = person_match_answers(values) if kind is TaskKind.PERSON_MATCH else values
        outcome = outcome_from_form(OUTCOME_MODELS[kind], posted)
        state = await found.pathway.cases.complete(user.principal, task_id, outcome)
    except FormInvalid as invalid:
        return await _task_page(request, found, detail, user, values, invalid.problems, status_code=422)
    except RuleViolation as refused:
        # The task may have moved on (someone else completed it): show it as it is now.
        current = await found.pathway.cases.task(user.principal, task_id)
        problems = FormProblems(form=[refused.message])
        status = status_for(refused.rule)
        return await _task_page(request, found, current, user, values, problems, status_code=status)
    notice = f"{words(detail.task.kind)} recorded; the case is now at {words(state.stage or '').lower()}"
    return redirect(f"/cases/{state.case_id}", notice=notice)


@router.get("/cases", response_class=HTMLResponse)
async def cases_page(request: Request, user: SignedInDep, found: ServicesDep) -> HTMLResponse:
    cases = await found.pathway.cases.cases(user.principal)
    handles = await found.pathway.cases.handles(user.principal, (case.case_id for case in cases))
    may_audit = allowed(user.principal.role, Action.AUDIT_CASE)
    context = {"user": user, "cases": cases, "handles": handles, "may_audit": may_audit}
    return page(request, "cases.html", context)


@router.post("/cases/find")
async def find_case(request: Request, user: SignedInDep, found: ServicesDep) -> RedirectResponse:
    """Posted, not a query string: a custody or court reference is personal data, and a URL is kept
    in browser history and server access logs."""
    form = await posted_form(request, user)
    site, ref = (str(form.get(name) or "").strip() for name in ("site", "ref"))
    if not (0 < len(site) <= FIND_SITE_CHARACTERS and 0 < len(ref) <= FIND_REF_CHARACTERS):
        raise RuleViolation(Rule.INVALID_INPUT, "choose the site and enter the custody or court reference")
    view = await found.pathway.cases.find_case(user.principal, site, ref)
    return RedirectResponse(f"/cases/{view.state.case_id}", status_code=303)


@router.get("/cases/new", response_class=HTMLResponse)
async def new_case_page(request: Request, user: SignedInDep) -> HTMLResponse:
    return _new_case_page(request, user, {})


@router.post("/cases/new")
async def start_case(request: Request, user: SignedInDep, found: ServicesDep) -> Response:
    values = answers(await posted_form(request, user))
    try:
        body = StartCaseBody.model_validate(outcome_from_form(StartCaseBody, values))
        state = await found.pathway.cases.start_case(
            user.principal, OpenCase(actor=user.principal.actor, **body.model_dump())
        )
    except FormInvalid as invalid:
        return _new_case_page(request, user, values, invalid.problems, status_code=422)
    except ValidationError:
        return _new_case_page(request, user, values, FormProblems(form=["Check the answers"]), status_code=422)
    except RuleViolation as refused:
        problems = FormProblems(form=[refused.message])
        return _new_case_page(request, user, values, problems, status_code=status_for(refused.rule))
    if state.found_existing:  # the reference already had this case: say so, naming it
        return redirect(f"/cases/{state.case_id}", notice=f"Not opened again: {state.notice}")
    return redirect(f"/cases/{state.case_id}", notice="Case opened")


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(
    request: Request, case_id: str, user: SignedInDep, found: ServicesDep, notice: str = ""
) -> HTMLResponse:
    try:
        view = await found.pathway.cases.read_case(user.principal, case_id)
    except RuleViolation as refused:
        if refused.rule != "case_unknown":
            raise
        may_break_glass = allowed(user.principal.role, Action.BREAK_GLASS)
        context = {"user": user, "case_id": case_id, "may_break_glass": may_break_glass, "problems": FormProblems()}
        return page(request, "not_found.html", context, status_code=404)
    return await case_view_page(request, user, found, view, notice)


@router.post("/cases/{case_id}/break-glass", response_class=HTMLResponse)
async def break_glass(request: Request, case_id: str, user: SignedInDep, found: ServicesDep) -> HTMLResponse:
    form = await posted_form(request, user)
    reason = str(form.get("reason") or "")
    try:
        break_glass_reason(reason)
    except RuleViolation as refused:
        problems = FormProblems(fields={"reason": as_sentence(refused.message)})
        context = {"user": user, "case_id": case_id, "may_break_glass": True, "problems": problems}
        return page(request, "not_found.html", context, status_code=422)
    view = await found.pathway.cases.read_case(user.principal, case_id, reason)
    return await case_view_page(
        request, user, found, view, notice="Your reading of this case and your reason have been recorded"
    )


@router.post("/cases/{case_id}/date-of-birth")
async def record_date_of_birth(request: Request, case_id: str, user: SignedInDep, found: ServicesDep) -> Response:
    form = await posted_form(request, user)
    try:
        born = RecordDateOfBirthBody.model_validate({"date_of_birth": str(form.get("date_of_birth") or "")})
    except ValidationError:
        raise RuleViolation(Rule.INVALID_INPUT, "enter the date of birth as YYYY-MM-DD, e.g. 2008-03-31") from None
    await found.pathway.cases.record_date_of_birth(user.principal, case_id, born.date_of_birth.isoformat())
    return redirect(f"/cases/{case_id}", notice="Date of birth recorded: the age is verified")


@router.get("/cases/{case_id}/access", response_class=HTMLResponse)
async def access_page(request: Request, case_id: str, user: SignedInDep, found: ServicesDep) -> HTMLResponse:
    records = await found.pathway.cases.case_access(user.principal, case_id)
    return page(request, "access.html", {"user": user, "case_id": case_id, "records": records})


async def _task_page(
    request: Request,
    found: Services,
    detail: TaskDetail,
    user: SignedIn,
    values: dict[str, list[str]] | None = None,
    problems: FormProblems | None = None,
    notice: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    people = await task_people(found.pathway.people, user.principal, detail)
    context = {
        **people,
        "user": user,
        "detail": detail,
        "task": detail.task,
        "case": detail.case,
        "form": _outcome_form(detail, people["candidates"]),
        "values": values or {},
        "problems": problems or FormProblems(),
        "notice": notice,
        "may_complete": may_work_on(user.principal.role, detail.task.candidate_roles),
        "may_reassign": allowed(user.principal.role, Action.REASSIGN_TASK),
    }
    return page(request, "task.html", context, status_code=status_code)


def _outcome_form(detail: TaskDetail, candidates: list[Candidate]) -> list[Question | Group]:
    """The task's outcome form. A contact offers only the goals the case's link work set (the domain
    refuses any other); all of them if it set none. A possible previous contact offers its candidates."""
    kind = TaskKind(detail.task.kind)
    if kind is TaskKind.PERSON_MATCH:
        return person_match_form(candidates)
    items = form_for(OUTCOME_MODELS[kind])
    support = detail.case.support
    if kind is TaskKind.CONTACT and support is not None and support.goals:
        items = with_choices(items, "goals_progressed", [(goal, words(goal)) for goal in support.goals])
    return items


def _new_case_page(
    request: Request,
    user: SignedIn,
    values: dict[str, list[str]],
    problems: FormProblems | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "user": user,
        "form": form_for(StartCaseBody),
        "values": values,
        "problems": problems or FormProblems(),
        "may_start": allowed(user.principal.role, Action.START_CASE),
    }
    return page(request, "new_case.html", context, status_code=status_code)


async def case_view_page(
    request: Request,
    user: SignedIn,
    found: Services,
    view: CaseView,
    notice: str = "",
    values: dict[str, list[str]] | None = None,
    problems: FormProblems | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The case page with the forms the person may use on it (`values` and `problems`: a refused post's)."""
    context = {"user": user, "state": view.state, "timeline": view.timeline, "notice": notice}
    context["seen_before"] = await seen_before(found.pathway.people, user.principal, view.state)
    context["referral_times"] = {times.referral_id: times for times in view.referral_times}
    context["may_read_access"] = allowed(user.principal.role, Action.READ_ACCESS_LOG)
    context["may_record_birth_date"] = allowed(user.principal.role, Action.RECORD_DATE_OF_BIRTH)
    context["forms"] = case_forms(view.state, user.principal.role)
    context["values"], context["problems"] = values or {}, problems or FormProblems()
    return page(request, "case.html", context, status_code=status_code)


def _login_page(request: Request, found: Services, problem: str = "", status_code: int = 200) -> HTMLResponse:
    # The directory is listed only for the dev sign-in: behind single sign-on it is nobody's business.
    dev = found.dev_sign_in is not None
    staff = sorted(found.pathway.config.staff, key=lambda m: (m.sites, m.role, m.staff_id)) if dev else []
    context = {"dev": dev, "staff": staff, "problems": FormProblems(fields={"staff_id": problem} if problem else {})}
    return page(request, "login.html", context, status_code=status_code)


def _home_for(role: Role) -> str:
    """Where a person starts: their inbox, the case index (auditors), or a page about their role."""
    if allowed(role, Action.LIST_TASKS):
        return "/inbox"
    return "/cases" if allowed(role, Action.READ_CASE) else "/signed-in"


def redirect(path: str, **query: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode(query)}" if query else path, status_code=303)


def unauthenticated_page(request: Request, error: Unauthenticated) -> Response:
    """A page asked for without a valid sign-in: to the sign-in page (a form post gets told why)."""
    if request.method == "GET":
        return RedirectResponse("/login", status_code=303)
    return page(request, "error.html", {"title": "Sign in again", "message": str(error)}, status_code=401)


def refusal_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    titles = {
        403: "You cannot do that",
        404: "Page not found",
        409: "That cannot be done now",
        422: "Check your answers",
    }
    title = titles.get(status_code, "There is a problem")
    return page(request, "error.html", {"title": title, "message": message}, status_code=status_code)
