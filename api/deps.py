"""What every route and page depends on: the services of the app, who is signed in, the version a
change is conditional on (If-Match) and how a refusal's kind becomes an HTTP status. Imported by
the routes and pages; imports none of them."""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, Response

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
    Refusal.STALE: 412,  # If-Match named a version the case has moved past
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


# The ETag of a case is its version (CaseState.version, the seq of its last event), quoted.
ETAG = re.compile(r'"(\d{1,18})"')


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


async def expected_version(
    if_match: Annotated[
        str | None,
        Header(description='The case\'s ETag as you read it (e.g. "12"): refused with 412 if the case changed since'),
    ] = None,
) -> int | None:
    """The case version a change is conditional on: None (unconditional) without If-Match or with `*`."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = ETAG.fullmatch(if_match.strip())
    if match is None:
        raise HTTPException(400, 'If-Match must be one ETag as this API gave it, e.g. "12", or *')
    return int(match[1])


ServicesDep = Annotated[Services, Depends(services)]
PrincipalDep = Annotated[Principal, Depends(principal)]
ExpectedVersionDep = Annotated[int | None, Depends(expected_version)]


def status_for(rule: Rule) -> int:
    """The HTTP status of a refused rule."""
    return STATUS[rule.refusal]


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(("/api", "/codec"))
