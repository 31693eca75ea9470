"""The worker's small HTTP server: /healthz, /readyz and /metrics for probes and Prometheus.

Nothing here needs sign-in, so nothing here may say anything about a case or a person: the answers are
a status word, a reason naming a component, and metric text labelled by site, stage and kind only."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Generator

import uvicorn
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import text
from temporalio.client import Client

from store.event_store import EventStore

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
CHECK_TIMEOUT_SECONDS = 3.0


async def store_problem(store: EventStore) -> str | None:
    """None when the store answers a trivial query, else why not (the error's class, no details)."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            async with store.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception as error:
        return f"the event store does not answer ({type(error).__name__})"
    return None


async def temporal_problem(client: Client) -> str | None:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            serving = await client.service_client.check_health()
    except Exception as error:
        return f"Temporal does not answer ({type(error).__name__})"
    return None if serving else "Temporal reports it is not serving"


class Readiness:
    """What the worker process is doing: starting, polling, or shutting down."""

    def __init__(self) -> None:
        self.store: EventStore | None = None
        self.client: Client | None = None
        self.polling = False
        self.stopping = False

    async def problem(self) -> str | None:
        if self.stopping:
            return "shutting down"
        if not self.polling or self.store is None or self.client is None:
            return "starting"
        return await store_problem(self.store) or await temporal_problem(self.client)


async def readiness_response(problem: str | None) -> Response:
    if problem:
        return PlainTextResponse(f"not ready: {problem}\n", status_code=503)
    return PlainTextResponse("ready\n")


async def metrics_response(metrics_text: Callable[[], Awaitable[str]] | None) -> Response:
    body = await metrics_text() if metrics_text else "# metrics are not enabled in this process\n"
    return Response(body, media_type=PROMETHEUS_TEXT)


def health_app(readiness: Readiness, metrics_text: Callable[[], Awaitable[str]]) -> FastAPI:
    app = FastAPI(title="Pathway worker", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> Response:
        return PlainTextResponse("ok\n")

    @app.get("/readyz")
    async def readyz() -> Response:
        return await readiness_response(await readiness.problem())

    @app.get("/metrics")
    async def metrics() -> Response:
        return await metrics_response(metrics_text)

    return app


class QuietServer(uvicorn.Server):
    """Uvicorn without its own signal handling: the worker decides when to stop (after shutdown)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def health_server(app: FastAPI, port: int, host: str = "0.0.0.0") -> QuietServer:
    """All interfaces by default: the orchestrator's probes and Prometheus come from outside the pod."""
    return QuietServer(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
