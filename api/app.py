"""The FastAPI application: sign-in, error handling, and the services the routes use."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from api.auth import TokenVerifier, Unauthenticated
from domain.access import Principal
from domain.errors import RuleViolation
from workers.cases import CommandRejected
from workers.inbox import Inbox

# What each refused rule means for HTTP: who you are not allowed to be, what does not exist, what the
# input got wrong; every other rule is a conflict with the case's current state.
FORBIDDEN = {"role_not_allowed", "auditors_read_only", "task_assigned_to_other", "outside_your_sites"}
# (A reassignment to someone who cannot do the task, or works elsewhere, is a conflict: 409.)
NOT_FOUND = {"task_unknown", "case_unknown", "referral_unknown", "report_unknown", "unknown_site", "unknown_staff"}
UNPROCESSABLE = {"outcome_invalid", "invalid_command", "invalid_input"}


@dataclass
class Services:
    inbox: Inbox
    verifier: TokenVerifier


def create_app(services: Services) -> FastAPI:
    from api import routes

    app = FastAPI(
        title="Pathway",
        summary="Liaison and Diversion case workflows: tasks, cases and their records.",
        version="0.1.0",
    )
    app.state.services = services
    app.include_router(routes.router)

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(_: Request, error: Unauthenticated) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(CommandRejected)
    async def rejected(_: Request, error: CommandRejected) -> JSONResponse:
        return _refusal(error.rule, error.message)

    @app.exception_handler(RuleViolation)
    async def violation(_: Request, error: RuleViolation) -> JSONResponse:
        return _refusal(error.rule, error.message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        return _invalid([dict(e) for e in error.errors()])

    @app.exception_handler(ValidationError)
    async def invalid_model(_: Request, error: ValidationError) -> JSONResponse:
        return _invalid([dict(e) for e in error.errors()])

    return app


def services(request: Request) -> Services:
    found = request.app.state.services
    assert isinstance(found, Services)
    return found


def principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    return services(request).verifier.principal(authorization)


ServicesDep = Annotated[Services, Depends(services)]
PrincipalDep = Annotated[Principal, Depends(principal)]


def _refusal(rule: str, message: str) -> JSONResponse:
    if rule in FORBIDDEN:
        status = 403
    elif rule in NOT_FOUND:
        status = 404
    elif rule in UNPROCESSABLE:
        status = 422
    else:
        status = 409
    return JSONResponse({"error": message, "rule": rule}, status_code=status)


def _invalid(errors: list[dict[str, object]]) -> JSONResponse:
    fields: dict[str, str] = {}
    for problem in errors:
        location = [str(part) for part in problem.get("loc", ()) if part not in ("body", "query", "path")]  # type: ignore[attr-defined]
        fields[".".join(location) or "input"] = str(problem.get("msg", "not valid")).removeprefix("Value error, ")
    summary = "; ".join(f"{where}: {why}" for where, why in fields.items())
    return JSONResponse({"error": f"the input is not valid: {summary}", "fields": fields}, status_code=422)
