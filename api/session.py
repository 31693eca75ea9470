"""Web sign-in: the session cookie holds the same signed token the API takes as a bearer token.

The dev sign-in (DevSignIn: pick a demo user from the staff directory) exists only under `pathway
dev` or `pathway api --dev-login` on a loopback address (api/serve.py); in production the pages sit
behind the organisation's single sign-on proxy, which passes its token in the Authorization header.
Every form carries a CSRF token tied to the session."""

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Request

from domain.access import Principal
from domain.config import StaffMember
from service.identity import TokenVerifier, issue_dev_token

COOKIE = "pathway_session"
SESSION_HOURS = 10  # a working shift


@dataclass(frozen=True)
class DevSignIn:
    secret: str
    issuer: str
    audience: str

    def token_for(self, member: StaffMember) -> str:
        return issue_dev_token(self.secret, member, self.issuer, self.audience, SESSION_HOURS)


def session_token(request: Request) -> str | None:
    """The sign-in token of a page request: the session cookie, or a proxy's bearer token."""
    cookie = request.cookies.get(COOKIE)
    if cookie:
        return cookie
    header = request.headers.get("authorization", "")
    return header.split(" ", 1)[1].strip() if header.lower().startswith("bearer ") else None


async def session_principal(request: Request, verifier: TokenVerifier) -> Principal:
    """Who is signed in on a page request (the web pages and the codec endpoint)."""
    token = session_token(request)
    return await verifier.principal(f"Bearer {token}" if token else None)


def csrf_token(key: bytes, session: str) -> str:
    return hmac.new(key, session.encode(), hashlib.sha256).hexdigest()
