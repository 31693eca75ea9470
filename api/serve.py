"""Serving the API from inside another asyncio program (`pathway dev`) or on its own (`pathway api`)."""

import contextlib
from collections.abc import Awaitable, Callable, Generator

import uvicorn

from api.app import Services, create_app
from api.auth import TokenVerifier
from api.session import DevSignIn
from store.access_log import AccessLog
from store.notifications import NotificationLog
from workers.cases import CaseCommands
from workers.codec import EncryptionCodec
from workers.inbox import Inbox
from workers.settings import Settings
from workers.worker import mailer_for


class EmbeddedServer(uvicorn.Server):
    """Uvicorn without its own signal handling: the program around it decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def inbox_for(settings: Settings, commands: CaseCommands) -> Inbox:
    return Inbox(
        commands=commands,
        access=AccessLog(commands.store.engine),
        outbox=NotificationLog(commands.store.engine),
        mailer=mailer_for(settings),
        inbox_url=settings.inbox_url,
    )


def api_server(
    settings: Settings,
    commands: CaseCommands,
    port: int,
    metrics_text: Callable[[], Awaitable[str]] | None = None,
    host: str = "127.0.0.1",
) -> EmbeddedServer:
    verifier = TokenVerifier(
        settings.jwt_issuer,
        settings.jwt_audience,
        secret=None if settings.oidc_jwks_url else settings.token_secret,
        jwks_url=settings.oidc_jwks_url,
    )
    # The dev web login signs its own tokens, so it exists only where tokens are signed locally.
    dev_sign_in = (
        None if settings.oidc_jwks_url else DevSignIn(settings.token_secret, settings.jwt_issuer, settings.jwt_audience)
    )
    services = Services(
        inbox=inbox_for(settings, commands),
        verifier=verifier,
        web_key=settings.web_key,
        codec=EncryptionCodec(settings.payload_key_ring),
        dev_sign_in=dev_sign_in,
        temporal_ui_origin=settings.temporal_ui_url,
        metrics_text=metrics_text,
    )
    # log_config=None: uvicorn's lines go through the process's one logging setup (JSON in production).
    config = uvicorn.Config(create_app(services), host=host, port=port, log_level="warning", log_config=None)
    return EmbeddedServer(config)
