"""The API and web pages against a real worker and Temporal dev server: apps, tokens, a live server."""

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest_asyncio
import uvicorn
from fastapi import FastAPI

from api.app import Services, create_app
from api.auth import TokenVerifier, issue_dev_token
from api.serve import EmbeddedServer
from api.session import DevSignIn
from domain.model import Role
from store.access_log import AccessLog
from store.notifications import NotificationLog
from tests.conftest import TEST_PAYLOAD_KEYS
from workers.cases import CaseCommands
from workers.codec import EncryptionCodec
from workers.inbox import Inbox

SECRET = "api-test-secret-that-is-long-enough-for-hs256"
ISSUER, AUDIENCE = "pathway-test", "pathway"
WEB_KEY = b"web-test-key"


def token(staff_id: str, role: Role, sites: tuple[str, ...] = ("demo",)) -> dict[str, str]:
    signed = issue_dev_token(SECRET, staff_id, role, sites, ISSUER, AUDIENCE)
    return {"Authorization": f"Bearer {signed}"}


def services_for(cases: CaseCommands) -> Services:
    inbox = Inbox(commands=cases, access=AccessLog(cases.store.engine), outbox=NotificationLog(cases.store.engine))
    return Services(
        inbox=inbox,
        verifier=TokenVerifier(ISSUER, AUDIENCE, secret=SECRET),
        web_key=WEB_KEY,
        codec=EncryptionCodec(TEST_PAYLOAD_KEYS),
        dev_sign_in=DevSignIn(SECRET, ISSUER, AUDIENCE),
    )


def api_client(app: FastAPI) -> httpx.AsyncClient:
    """A client calling the app in-process; redirects are not followed, so tests see them."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pathway.test")


@pytest_asyncio.fixture(loop_scope="session")
async def api(cases: CaseCommands) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(create_app(services_for(cases))) as client:
        yield client


@dataclass
class LiveServer:
    url: str
    cases: CaseCommands


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest_asyncio.fixture(loop_scope="session")
async def live_server(cases: CaseCommands) -> AsyncIterator[LiveServer]:
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
