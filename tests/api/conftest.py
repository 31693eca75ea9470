"""The API and web pages against a real worker and Temporal dev server: apps, tokens, a live server."""

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest_asyncio
import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.deps import Services
from api.serve import EmbeddedServer
from api.session import DevSignIn
from domain.model import Role
from service.identity import TokenVerifier
from service.staff import StaffCommands
from store.notifications import NotificationLog, NotificationRecord
from tests.conftest import TEST_PAYLOAD_KEYS
from workers.codec import EncryptionCodec

SECRET = "api-test-secret-that-is-long-enough-for-hs256"
ISSUER, AUDIENCE = "pathway-test", "pathway"
WEB_KEY = b"web-test-key"


def signed(claims: dict[str, Any], secret: str = SECRET) -> str:
    """A token with exactly these claims (issuer and audience added unless given), signed as ours."""
    return jwt.encode({"iss": ISSUER, "aud": AUDIENCE} | claims, secret, algorithm="HS256")


def token(
    staff_id: str, role: Role | None = None, sites: tuple[str, ...] | None = ("demo",), hours: float = 1
) -> dict[str, str]:
    """Sign-in headers for a staff member; `role` and `sites` are claimed as given (the service checks
    them against the staff directory: a token may narrow a person's sites, never widen them)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {"sub": staff_id, "iat": now, "exp": now + timedelta(hours=hours)}
    if role is not None:
        claims["role"] = str(role)
    if sites is not None:
        claims["sites"] = list(sites)
    return {"Authorization": f"Bearer {signed(claims)}"}


def services_for(cases: StaffCommands, dev_sign_in: bool = True) -> Services:
    """The app's services over the test's service, signing in as production does (the directory)."""
    return Services(
        pathway=cases.pathway,
        verifier=TokenVerifier(
            cases.config, ISSUER, AUDIENCE, secret=SECRET, signed_out=cases.pathway.sign_outs.revoked
        ),
        web_key=WEB_KEY,
        codec=EncryptionCodec(TEST_PAYLOAD_KEYS),
        dev_sign_in=DevSignIn(SECRET, ISSUER, AUDIENCE) if dev_sign_in else None,
        cookie_secure=False,  # the tests' client speaks plain HTTP
    )


def api_client(app: FastAPI) -> httpx.AsyncClient:
    """A client calling the app in-process; redirects are not followed, so tests see them."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pathway.test")


@pytest_asyncio.fixture(loop_scope="session")
async def api(cases: StaffCommands) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(create_app(services_for(cases))) as client:
        yield client


@dataclass
class LiveServer:
    url: str
    cases: StaffCommands


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest_asyncio.fixture(loop_scope="session")
async def live_server(cases: StaffCommands) -> AsyncIterator[LiveServer]:
    """The app served over real HTTP on a free port, for a real browser."""
    port = free_port()
    config = uvicorn.Config(create_app(services_for(cases)), host="127.0.0.1", port=port, log_level="warning")
    server = EmbeddedServer(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    yield LiveServer(url=f"http://127.0.0.1:{port}", cases=cases)
    server.should_exit = True
    await serving


async def break_glass_alert(cases: StaffCommands, case_id: str) -> NotificationRecord:
    """The alert the worker records for a break-glass read of the case (it runs a moment after the read)."""
    for _ in range(100):
        alerts = [n for n in await NotificationLog(cases.store.engine).list(case_id=case_id) if n.kind == "break_glass"]
        if alerts:
            [alert] = alerts
            return alert
        await asyncio.sleep(0.1)
    raise AssertionError(f"no break-glass alert was recorded for {case_id}")
