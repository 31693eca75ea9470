"""The notifications table: what was sent to whom about which task, and whether it arrived."""

import builtins
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.model import Stage
from store import schema

NotificationStatus = Literal["pending", "sent", "failed", "not_sent"]


class NotificationRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    notification_id: str
    case_id: str
    task_id: str | None
    kind: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    status: NotificationStatus
    attempts: int
    error: str | None
    created_at: datetime
    sent_at: datetime | None


class NotificationLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(
        self,
        notification_id: str,
        case_id: str,
        task_id: str | None,
        kind: str,
        recipients: list[str],
        subject: str,
        body: str,
    ) -> NotificationRecord:
        """Record a notification once; recording the same id again returns what is there."""
        row = {
            "notification_id": notification_id,
            "case_id": case_id,
            "task_id": task_id,
            "kind": kind,
            "recipients": json.dumps(recipients),
            "subject": subject,
            "body": body,
            "status": "pending",
            "attempts": 0,
            "error": None,
            "created_at": datetime.now(UTC),
            "sent_at": None,
        }
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(schema.notifications), [row])
        except IntegrityError:
            pass  # a retried activity: the first attempt recorded it
        found = await self.get(notification_id)
        assert found is not None
        return found

    async def get(self, notification_id: str) -> NotificationRecord | None:
        found = await self.list(notification_id=notification_id)
        return found[0] if found else None

    async def list(self, *, notification_id: str | None = None, case_id: str | None = None) -> list[NotificationRecord]:
        query = select(schema.notifications).order_by(schema.notifications.c.created_at)
        if notification_id is not None:
            query = query.where(schema.notifications.c.notification_id == notification_id)
        if case_id is not None:
            query = query.where(schema.notifications.c.case_id == case_id)
        return await self._records(query)

    async def sent_about_open_cases(self, kind: str) -> builtins.list[NotificationRecord]:
        """The messages of `kind` that were delivered, about cases not closed yet (oldest first)."""
        sent = schema.notifications.c
        query = (
            select(schema.notifications)
            .join(schema.cases, schema.cases.c.case_id == sent.case_id)
            .where(sent.kind == kind, sent.status == "sent", schema.cases.c.stage != Stage.CLOSED.value)
            .order_by(sent.created_at)
        )
        return await self._records(query)

    async def _records(self, query: Select[Any]) -> builtins.list[NotificationRecord]:
        async with self.engine.connect() as conn:
            rows = [dict(row._mapping) for row in await conn.execute(query)]
        for row in rows:
            row["recipients"] = tuple(json.loads(row["recipients"]))
        return [NotificationRecord.model_validate(row) for row in rows]

    async def mark(self, notification_id: str, status: NotificationStatus, error: str | None = None) -> None:
        values: dict[str, object] = {
            "status": status,
            "error": error,
            "attempts": schema.notifications.c.attempts + 1,
        }
        if status == "sent":
            values["sent_at"] = datetime.now(UTC)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(schema.notifications)
                .where(schema.notifications.c.notification_id == notification_id)
                .values(**values)
            )
