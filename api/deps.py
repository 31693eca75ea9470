"""What every route and page depends on: the services of the app, who is signed in, and how a
refusal's kind becomes an HTTP status. Imported by the routes and pages; imports none of them."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Header, Request

from api.session import DevSignIn
from domain.access import Principal
from domain.errors import Refusal, Rule
from service.identity import TokenVerifier
from service.pathway import Pathway
from workers.codec import EncryptionCodec

# The NHS.UK frontend, installed by `make` from npm (package.json); never committed.
NHSUK_FRONTEND = Path(__file__).resolve().parent.parent / "node_modules" / "nhsuk-frontend" / "dist" / "nhsuk"

STATUS: dict[Refusal, int] = {
    Refusal.FORBIDDEN: 403,
    Refusal.NOT_FOUND: 404,
    Refusal.INVALID: 422,
    Refusal.CONFLICT: 409,
    Refusal.UNAVAILABLE: 503,
}


@dataclass
class Services:
    pathway: Pathway
    verifier: TokenVerifier
    web_key: bytes  # signs the pages' CSRF tokens
    codec: EncryptionCodec  # the Temporal payload codec, for the codec endpoint
    dev_sign_in: DevSignIn | None = None  # the dev web login; None unless asked for (pathway dev, --dev-login)
    cookie_secure: bool = True  # the session cookie only over HTTPS (off only for plain-HTTP dev)
    temporal_ui_origin: str = "http://localhost:8233"  # may call the codec endpoint (CORS)
    frontend_dir: Path = NHSUK_FRONTEND
    # The text of this process's metrics exporter (workers/metrics.py); None where it has none.
    metrics_text: Callable[[], Awaitable[str]] | None = None


def services(request: Request) -> Services:
    found = request.app.state.services
    assert isinstance(found, Services)
    return found


async def principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    """Who signed the request: as the sign-in check before the route found it (api/app.py)."""
    checked = getattr(request.state, "principal", None)
    if isinstance(checked, Principal):
        return checked
    return await services(request).verifier.principal(authorization)


ServicesDep = Annotated[Services, Depends(services)]
PrincipalDep = Annotated[Principal, Depends(principal)]


def status_for(rule: Rule) -> int:
    """The HTTP status of a refused rule."""
    return STATUS[rule.refusal]


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(("/api", "/codec"))
