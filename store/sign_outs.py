"""Signed-out sign-ins: the id (`jti`) of each token whose holder signed out, until it would have
expired anyway. A token is a bearer credential, so deleting the cookie is not enough: a copy of it
must stop working too, in every API replica."""

from datetime import UTC, datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from store import schema


class SignOuts:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def revoke(self, token_id: str, expires_at: datetime) -> None:
        """The token stops working now; signing out twice changes nothing."""
        table = schema.signed_out_tokens
        async with self._engine.begin() as conn:
            # Past expiry a token is refused anyway: no need to keep its id.
            await conn.execute(delete(table).where(table.c.expires_at < datetime.now(UTC)))
            try:
                async with conn.begin_nested():
                    await conn.execute(insert(table), [{"token_id": token_id, "expires_at": expires_at}])
            except IntegrityError:
                pass

    async def revoked(self, token_id: str) -> bool:
        table = schema.signed_out_tokens
        async with self._engine.connect() as conn:
            found = await conn.execute(select(table.c.token_id).where(table.c.token_id == token_id))
            return found.first() is not None
