"""Who is asking: the first of the service's four steps.

A Principal (staff id, role, sites) always comes from the staff directory. The CLI names a staff id
(`--as`); the API and the pages carry a signed token, which proves *who* (its `sub`) and nothing
more: a role or sites it claims must agree with the directory (sites may be fewer, never more), an
unknown staff id is not signed in, and a token must say when it expires, within the configured
maximum life, and must not have been signed out.

Dev mode signs tokens with a shared secret (HS256); production checks an OIDC issuer's signatures
through its JWKS URL.
"""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from domain.access import Principal
from domain.config import PathwayConfig, StaffMember
from domain.errors import RuleViolation
from domain.model import Role

ALGORITHMS_FROM_JWKS = ["RS256", "ES256"]
CLOCK_SKEW = timedelta(minutes=2)


class Unauthenticated(Exception):
    """No valid sign-in: the message says why, without echoing the token."""


def principal_for_staff(config: PathwayConfig, staff_id: str) -> Principal:
    """The principal of a person in the staff directory (the CLI's `--as`); unknown ids are refused."""
    return _principal(config.staff_member(staff_id))


def _principal(member: StaffMember) -> Principal:
    return Principal(staff_id=member.staff_id, role=member.role, sites=member.sites)


def issue_dev_token(
    secret: str, member: StaffMember, issuer: str, audience: str, hours: float = 12, now: datetime | None = None
) -> str:
    """A dev sign-in token for a member of the directory (its role and sites are the directory's)."""
    now = now or datetime.now(UTC)
    claims = {
        "sub": member.staff_id,
        "role": str(member.role),
        "sites": list(member.sites),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + timedelta(hours=hours),
        "jti": str(uuid.uuid4()),  # what signing out revokes
    }
    return jwt.encode(claims, secret, algorithm="HS256")


SignedOut = Callable[[str], Awaitable[bool]]  # whether a token id was revoked by signing out


class TokenVerifier:
    """Checks a bearer token and turns it into the principal the directory says it is."""

    def __init__(
        self,
        config: PathwayConfig,
        issuer: str,
        audience: str,
        *,
        secret: str | None = None,
        jwks_url: str | None = None,
        max_hours: float = 12,
        signed_out: SignedOut | None = None,
    ) -> None:
        if (secret is None) == (jwks_url is None):
            raise ValueError("configure exactly one of a shared secret (dev) or a JWKS URL (production)")
        self._config = config
        self._issuer = issuer
        self._audience = audience
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url) if jwks_url else None
        self._max_life = timedelta(hours=max_hours)
        self._signed_out = signed_out

    @property
    def max_hours(self) -> float:
        return self._max_life.total_seconds() / 3600

    async def principal(self, authorization: str | None) -> Principal:
        """The principal of an `Authorization: Bearer <token>` header."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthenticated("sign in: send an Authorization: Bearer <token> header")
        return await self.principal_of_token(authorization.split(" ", 1)[1].strip())

    async def principal_of_token(self, token: str) -> Principal:
        claims = self.claims(token)
        token_id = claims.get("jti")
        if self._signed_out is not None and isinstance(token_id, str) and await self._signed_out(token_id):
            raise Unauthenticated("you have signed out: sign in again")
        return self._from_directory(claims)

    def claims(self, token: str) -> dict[str, Any]:
        """The token's claims, once its signature, issuer, audience and times are checked."""
        try:
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = ALGORITHMS_FROM_JWKS
            else:
                assert self._secret is not None
                key, algorithms = self._secret, ["HS256"]
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub"]},
                leeway=CLOCK_SKEW,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("your sign-in has expired: sign in again") from None
        except jwt.MissingRequiredClaimError as missing:
            raise Unauthenticated(
                f"the sign-in token has no {missing.claim!r}: it must say who and until when"
            ) from None
        except jwt.PyJWTError:
            raise Unauthenticated("the sign-in token is not valid") from None
        issued = datetime.fromtimestamp(claims["iat"], UTC)
        expires = datetime.fromtimestamp(claims["exp"], UTC)
        if expires - issued > self._max_life:
            raise Unauthenticated(f"the sign-in token lasts longer than {self.max_hours:g} hours: sign in again")
        if issued > datetime.now(UTC) + CLOCK_SKEW:
            raise Unauthenticated("the sign-in token was issued in the future")
        return claims

    def _from_directory(self, claims: dict[str, Any]) -> Principal:
        try:
            member = self._config.staff_member(str(claims["sub"]))
        except RuleViolation:
            raise Unauthenticated("you are not in the staff directory: ask an administrator") from None
        if member.role is Role.SYSTEM:
            raise Unauthenticated("nobody signs in as the system")
        claimed_role, claimed_sites = claims.get("role"), claims.get("sites")
        if claimed_role is not None and claimed_role != member.role:
            raise Unauthenticated("the sign-in token claims a role the staff directory does not give you")
        if claimed_sites is None:
            return _principal(member)
        if not isinstance(claimed_sites, list) or not set(claimed_sites) <= set(member.sites):
            raise Unauthenticated("the sign-in token claims sites the staff directory does not give you")
        # A token may narrow a person to some of their sites, never widen them.
        sites = tuple(site for site in member.sites if site in claimed_sites)
        return Principal(staff_id=member.staff_id, role=member.role, sites=sites)
