"""The FastAPI application: sign-in, error handling, and the services the routes and pages use.

Under /api every refusal is JSON; anywhere else it is a page. Both say in plain words what was
wrong, with a 4xx status: 401 not signed in, 403 not allowed, 404 not found (or not yours to see),
409 not possible in the case's current state, 422 bad input."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import structlog
from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from api.auth import TokenVerifier, Unauthenticated
from api.limits import BodySizeLimit
from api.session import DevSignIn
from domain.access import Principal
from domain.errors import RuleViolation
from store.keyring import KeyRingError
from workers.cases import CommandRejected
from workers.codec import EncryptionCodec
from workers.health import metrics_response, readiness_response, store_problem, temporal_problem
from workers.inbox import Inbox

# What each refused rule means for HTTP: who you are not allowed to be, what does not exist, what the
# input got wrong; every other rule is a conflict with the case's current state.
FORBIDDEN = {"role_not_allowed", "auditors_read_only", "task_assigned_to_other", "outside_your_sites", "form_expired"}
# (A reassignment to someone who cannot do the task, or works elsewhere, is a conflict: 409.)
NOT_FOUND = {
    "task_unknown",
    "case_unknown",
    "referral_unknown",
    "report_unknown",
    "unknown_site",
    "unknown_staff",
    "not_available",
}
UNPROCESSABLE = {"outcome_invalid", "invalid_command", "invalid_input"}
KEYS_UNAVAILABLE = (
    "Personal data cannot be opened at the moment: a key is missing on the server. "
    "The operators have been alerted in the service log; please try again later."
)
log = structlog.get_logger(__name__)

# The NHS.UK frontend, installed by `make` from npm (package.json); never committed.
NHSUK_FRONTEND = Path(__file__).resolve().parent.parent / "node_modules" / "nhsuk-frontend" / "dist" / "nhsuk"
OWN_STATIC = Path(__file__).resolve().parent / "static"


@dataclass
class Services:
    inbox: Inbox
    verifier: TokenVerifier
    web_key: bytes  # signs the pages' CSRF tokens
    codec: EncryptionCodec  # the Temporal payload codec, for the codec endpoint
    dev_sign_in: DevSignIn | None = None  # the dev web login; None behind single sign-on
    temporal_ui_origin: str = "http://localhost:8233"  # may call the codec endpoint (CORS)
    frontend_dir: Path = NHSUK_FRONTEND
    # The text of this process's metrics exporter (workers/metrics.py); None where it has none.
    metrics_text: Callable[[], Awaitable[str]] | None = None


# Probes and Prometheus call these without signing in, so they answer with no personal data at all.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def create_app(services: Services) -> FastAPI:
    from api import audit_routes, codec, reports, routes, web

    app = FastAPI(
        title="Pathway",
        summary="Liaison and Diversion case workflows: tasks, cases and their records.",
        version="0.1.0",
    )
    app.state.services = services
    app.add_middleware(BodySizeLimit)

    @app.middleware("http")
    async def signed_in_first(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # FastAPI reads a body before it resolves dependencies; check the sign-in first, so that
        # someone not signed in learns only that, whatever they send (to a route that exists: an
        # unknown path or method still gets its 404 or 405).
        routed = any(route.matches(request.scope)[0] is Match.FULL for route in app.router.routes)
        public = request.url.path in PUBLIC_PATHS
        if routed and not public and request.url.path.startswith("/api/"):
            try:
                services.verifier.principal(request.headers.get("authorization"))
            except Unauthenticated as error:
                return await unauthenticated(request, error)
        return await call_next(request)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return PlainTextResponse("ok\n")

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        commands = services.inbox.commands
        problem = await store_problem(commands.store) or await temporal_problem(commands.client)
        return await readiness_response(problem)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return await metrics_response(services.metrics_text)

    app.include_router(routes.router)
    app.include_router(audit_routes.router)
    app.include_router(web.router)
    app.include_router(codec.router)
    app.include_router(reports.router)
    app.mount("/assets/nhsuk", StaticFiles(directory=services.frontend_dir, check_dir=False), name="nhsuk")
    app.mount("/static", StaticFiles(directory=OWN_STATIC), name="static")

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, error: Unauthenticated) -> Response:
        if _is_page(request):
            return web.unauthenticated_page(request, error)
        return JSONResponse({"error": str(error)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(CommandRejected)
    async def rejected(request: Request, error: CommandRejected) -> Response:
        return _refusal(request, error.rule, error.message)

    @app.exception_handler(RuleViolation)
    async def violation(request: Request, error: RuleViolation) -> Response:
        return _refusal(request, error.rule, error.message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        return _invalid(request, [dict(e) for e in error.errors()])

    @app.exception_handler(ValidationError)
    async def invalid_model(request: Request, error: ValidationError) -> Response:
        return _invalid(request, [dict(e) for e in error.errors()])

    @app.exception_handler(KeyRingError)
    async def keys_unavailable(request: Request, error: KeyRingError) -> Response:
        # A master key was taken out of the ring while data keys are still wrapped under it: no
        # personal data opens until it is put back. The operators' problem, so it is logged for them.
        log.error("personal data cannot be opened", error=str(error), path=request.url.path)
        message = KEYS_UNAVAILABLE
        if _is_page(request):
            from api import web

            return web.refusal_page(request, 503, message)
        return JSONResponse({"error": message, "rule": "keys_unavailable"}, status_code=503)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if _is_page(request):
            return web.refusal_page(request, error.status_code, str(error.detail))
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code, headers=error.headers)

    return app


def services(request: Request) -> Services:
    found = request.app.state.services
    assert isinstance(found, Services)
    return found


def principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    return services(request).verifier.principal(authorization)


ServicesDep = Annotated[Services, Depends(services)]
PrincipalDep = Annotated[Principal, Depends(principal)]


def _is_page(request: Request) -> bool:
    return not request.url.path.startswith(("/api", "/codec"))


def status_for(rule: str) -> int:
    """The HTTP status of a refused rule."""
    if rule in FORBIDDEN:
        return 403
    if rule in NOT_FOUND:
        return 404
    if rule in UNPROCESSABLE:
        return 422
    return 409


def _refusal(request: Request, rule: str, message: str) -> Response:
    status = status_for(rule)
    if _is_page(request):
        from api import web

        return web.refusal_page(request, status, message)
    return JSONResponse({"error": message, "rule": rule}, status_code=status)


def _invalid(request: Request, errors: list[dict[str, object]]) -> Response:
    fields: dict[str, str] = {}
    for problem in errors:
        location = [str(part) for part in problem.get("loc", ()) if part not in ("body", "query", "path")]  # type: ignore[attr-defined]
        fields[".".join(location) or "input"] = str(problem.get("msg", "not valid")).removeprefix("Value error, ")
    summary = "; ".join(f"{where}: {why}" for where, why in fields.items())
    if _is_page(request):
        from api import web

        return web.refusal_page(request, 422, f"The request is not valid: {summary}")
    return JSONResponse({"error": f"the input is not valid: {summary}", "fields": fields}, status_code=422)
