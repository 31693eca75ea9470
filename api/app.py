"""The FastAPI application: sign-in first, security headers, and one answer for every refusal.

Under /api every refusal is problem details (RFC 9457, api/problems.py); anywhere else it is a page.
Both say in plain words what was wrong, with a 4xx status (401 not signed in, 403 not allowed, 404
not found or not yours to see, 409 not possible in the case's current state, 412 the case changed
since the version asked for, 422 bad input) or 503 (with Retry-After) when it cannot be done now."""

from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from api import audit_pages, audit_routes, case_pages, codec, people_routes, problems, reports, routes, web
from api.deps import Services, is_page, status_for
from api.limits import BodySizeLimit
from api.problems import problem, violation_problem
from domain.errors import Refusal, Rule, RuleViolation, field_problems
from service.identity import Unauthenticated
from store.keyring import KeyRingError
from workers.health import metrics_response, readiness_response, store_problem, temporal_problem

KEYS_UNAVAILABLE = (
    "Personal data cannot be opened at the moment: a key is missing on the server. "
    "The operators have been alerted in the service log; please try again later."
)
log = structlog.get_logger(__name__)

OWN_STATIC = Path(__file__).resolve().parent / "static"
RETRY_AFTER_SECONDS = "5"  # what a 503 of the service (a case catching up, an alert not yet queued) asks
KEYS_RETRY_AFTER_SECONDS = "300"  # a missing master key waits for an operator to put it back
# Probes and Prometheus call these without signing in, so they answer with no personal data at all.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Files of the frontend may be cached; nothing else is (pages and answers carry personal data).
CACHEABLE = ("/assets/", "/static/")
# No scripts at all; styles from here (and the documents' own inline styles); the NHS.UK fonts; never
# framed (clickjacking), never posting anywhere else.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' https://assets.nhs.uk; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(services: Services) -> FastAPI:
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
                # Kept for the route (api/deps.py `principal`): the token is checked once per request.
                request.state.principal = await services.verifier.principal(request.headers.get("authorization"))
            except Unauthenticated as error:
                return await unauthenticated(request, error)
        return await call_next(request)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if not request.url.path.startswith(CACHEABLE):
            response.headers["Cache-Control"] = "no-store"
        if services.cookie_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return PlainTextResponse("ok\n")

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        pathway = services.pathway
        problem = await store_problem(pathway.cases.gateway.store) or await temporal_problem(pathway.audit.client)
        return await readiness_response(problem)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return await metrics_response(services.metrics_text)

    app.include_router(routes.router)
    app.include_router(people_routes.router)
    app.include_router(problems.router)
    app.include_router(audit_routes.router)
    app.include_router(web.router)
    app.include_router(case_pages.router)
    app.include_router(audit_pages.router)
    app.include_router(codec.router)
    app.include_router(reports.router)
    app.mount("/assets/nhsuk", StaticFiles(directory=services.frontend_dir, check_dir=False), name="nhsuk")
    app.mount("/static", StaticFiles(directory=OWN_STATIC), name="static")

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, error: Unauthenticated) -> Response:
        if is_page(request):
            return web.unauthenticated_page(request, error)
        return problem(401, str(error), headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RuleViolation)
    async def refused(request: Request, error: RuleViolation) -> Response:
        if is_page(request):
            answer: Response = web.refusal_page(request, status_for(error.rule), error.message)
        else:
            answer = violation_problem(error)
        if error.rule.refusal is Refusal.UNAVAILABLE:
            answer.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return answer

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        return _invalid(request, field_problems(error.errors()))

    @app.exception_handler(ValidationError)
    async def invalid_model(request: Request, error: ValidationError) -> Response:
        return _invalid(request, field_problems(error.errors()))

    @app.exception_handler(KeyRingError)
    async def keys_unavailable(request: Request, error: KeyRingError) -> Response:
        # A master key was taken out of the ring while data keys are still wrapped under it: no
        # personal data opens until it is put back. The operators' problem, so it is logged for them.
        log.error("personal data cannot be opened", error=str(error), path=request.url.path)
        if is_page(request):
            return web.refusal_page(request, 503, KEYS_UNAVAILABLE)
        retry = {"Retry-After": KEYS_RETRY_AFTER_SECONDS}
        return problem(503, KEYS_UNAVAILABLE, rule=Rule.KEYS_UNAVAILABLE, headers=retry)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if is_page(request):
            return web.refusal_page(request, error.status_code, str(error.detail))
        return problem(error.status_code, str(error.detail), headers=error.headers)

    return app


def _invalid(request: Request, fields: dict[str, str]) -> Response:
    summary = "; ".join(f"{where}: {why}" for where, why in fields.items())
    if is_page(request):
        return web.refusal_page(request, 422, f"The request is not valid: {summary}")
    return problem(422, f"the input is not valid: {summary}", rule=Rule.INVALID_INPUT, fields=fields)
