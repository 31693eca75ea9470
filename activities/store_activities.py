"""Appending a case's events to the event store (and its projections, in the same transaction)."""

import time

from pydantic import BaseModel
from sqlalchemy import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.events import EventEnvelope
from store import schema
from store.event_store import AppendConflict, EventStore
from workers.metrics import record_append_latency, record_written


class AppendEventsInput(BaseModel):
    case_id: str
    events: list[EventEnvelope]


class AppendEventsResult(BaseModel):
    version: int


class StoreActivities:
    def __init__(self, store: EventStore) -> None:
        self._store = store

    @activity.defn(name="append_events")
    async def append_events(self, input: AppendEventsInput) -> AppendEventsResult:
        """Idempotent: a retry with the same event ids writes nothing new."""
        # Metrics count what this append writes, not what a retry finds already there. (Two attempts
        # in flight at once, after a timed-out one, could both count: rare, and only a metric.)
        new = not await self._any_recorded(input.events)
        started = time.monotonic()
        try:
            version = await self._store.append(input.case_id, input.events)
        except AppendConflict as conflict:
            raise ApplicationError(str(conflict), type="AppendConflict", non_retryable=True) from None
        record_append_latency(time.monotonic() - started)
        if new:
            await record_written(self._store, input.case_id, input.events)
        activity.logger.info(
            "events appended",
            extra={"case_id": input.case_id, "version": version, "types": [e.event.type for e in input.events]},
        )
        return AppendEventsResult(version=version)

    async def _any_recorded(self, events: list[EventEnvelope]) -> bool:
        ids = [e.event_id for e in events]
        async with self._store.engine.connect() as conn:
            query = select(schema.events.c.event_id).where(schema.events.c.event_id.in_(ids)).limit(1)
            return (await conn.execute(query)).first() is not None
