"""Bearer tokens: signed JWTs naming the staff id, role and sites of the person.

Dev mode signs and checks with a shared secret (HS256); production checks an OIDC issuer's
signatures through its JWKS URL (configuration only)."""

from datetime import UTC, datetime, timedelta

import jwt
from pydantic import ValidationError

from domain.access import Principal
from domain.model import Role

ALGORITHMS_FROM_JWKS = ["RS256", "ES256"]


class Unauthenticated(Exception):
    """No valid token: the message says why, without echoing the token."""


def issue_dev_token(
    secret: str, staff_id: str, role: Role, sites: tuple[str, ...], issuer: str, audience: str, hours: int = 12
) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": staff_id,
        "role": str(role),
        "sites": list(sites),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + timedelta(hours=hours),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


class TokenVerifier:
    def __init__(self, issuer: str, audience: str, secret: str | None = None, jwks_url: str | None = None) -> None:
        if (secret is None) == (jwks_url is None):
            raise ValueError("configure exactly one of a shared secret (dev) or a JWKS URL (production)")
        self._issuer = issuer
        self._audience = audience
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url) if jwks_url else None

    def principal(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthenticated("sign in: send an Authorization: Bearer <token> header")
        token = authorization.split(" ", 1)[1].strip()
        try:
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
                claims = jwt.decode(
                    token, key, algorithms=ALGORITHMS_FROM_JWKS, audience=self._audience, issuer=self._issuer
                )
            else:
                assert self._secret is not None
                claims = jwt.decode(
                    token, self._secret, algorithms=["HS256"], audience=self._audience, issuer=self._issuer
                )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("your sign-in has expired: sign in again") from None
        except jwt.PyJWTError:
            raise Unauthenticated("the sign-in token is not valid") from None
        try:
            principal = Principal(staff_id=claims["sub"], role=claims["role"], sites=tuple(claims["sites"]))
        except (KeyError, TypeError, ValidationError):
            raise Unauthenticated("the sign-in token does not say who you are, your role and your sites") from None
        if principal.role is Role.SYSTEM:
            raise Unauthenticated("nobody signs in as the system")
        return principal
