"""The access audit: every read and write of a case through the API, kept in the store."""

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import schema


class AccessRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    access_id: str
    case_id: str
    staff_id: str
    role: str
    action: str
    purpose: str
    break_glass: bool
    at: datetime


class AccessLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(
        self, case_id: str, staff_id: str, role: str, action: str, purpose: str, break_glass: bool = False
    ) -> AccessRecord:
        record = AccessRecord(
            access_id=str(uuid.uuid4()),
            case_id=case_id,
            staff_id=staff_id,
            role=role,
            action=action,
            purpose=purpose,
            break_glass=break_glass,
            at=datetime.now(UTC),
        )
        async with self._engine.begin() as conn:
            await conn.execute(insert(schema.access_log), [record.model_dump()])
        return record

    async def list(self, case_id: str) -> list[AccessRecord]:
        query = select(schema.access_log).where(schema.access_log.c.case_id == case_id).order_by(schema.access_log.c.at)
        async with self._engine.connect() as conn:
            return [AccessRecord.model_validate(dict(row._mapping)) for row in await conn.execute(query)]
