"""Serving the API from inside another asyncio program (`pathway dev`) or on its own (`pathway api`).

The password-less dev sign-in page (pick a staff id from the directory) exists only when asked for:
`pathway dev`, or `pathway api --dev-login`, and only on a loopback address. Otherwise the pages sit
behind the organisation's single sign-on, which passes its token in the Authorization header."""

import contextlib
import ipaddress
from collections.abc import Awaitable, Callable, Generator

import uvicorn

from api.app import create_app
from api.deps import Services
from api.session import DevSignIn
from service.pathway import Pathway
from workers.bootstrap import token_verifier
from workers.codec import EncryptionCodec
from workers.settings import Settings


class EmbeddedServer(uvicorn.Server):
    """Uvicorn without its own signal handling: the program around it decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class DevLoginRefused(Exception):
    """The dev sign-in was asked for where it must never run; the message says why."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_dev_login(settings: Settings, host: str) -> None:
    """The dev sign-in never runs with OIDC, nor on an address other machines can reach."""
    if settings.oidc_jwks_url:
        raise DevLoginRefused("the dev sign-in cannot be served with OIDC configured: people sign in through OIDC")
    if not is_loopback(host):
        raise DevLoginRefused(
            f"the dev sign-in lets anyone sign in as anyone: it is served on a loopback address only, not {host}"
        )


def api_services(
    settings: Settings,
    pathway: Pathway,
    *,
    dev_login: bool = False,
    host: str = "127.0.0.1",
    metrics_text: Callable[[], Awaitable[str]] | None = None,
) -> Services:
    """What the app needs. `dev_login` serves the password-less sign-in page (check_dev_login)."""
    if dev_login:
        check_dev_login(settings, host)
    dev_sign_in = DevSignIn(settings.token_secret, settings.jwt_issuer, settings.jwt_audience) if dev_login else None
    return Services(
        pathway=pathway,
        verifier=token_verifier(settings, pathway),
        web_key=settings.web_key,
        codec=EncryptionCodec(settings.payload_key_ring),
        dev_sign_in=dev_sign_in,
        cookie_secure=settings.cookie_secure,
        temporal_ui_origin=settings.temporal_ui_url,
        metrics_text=metrics_text,
    )


def api_server(services: Services, port: int, host: str = "127.0.0.1") -> EmbeddedServer:
    # log_config=None: uvicorn's lines go through the process's one logging setup (JSON in production).
    config = uvicorn.Config(create_app(services), host=host, port=port, log_level="warning", log_config=None)
    return EmbeddedServer(config)
