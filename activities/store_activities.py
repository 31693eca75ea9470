"""Appending a case's events to the event store (and its projections, in the same transaction)."""

import time

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.events import EventEnvelope
from store.access_log import AccessEntry
from store.event_store import EventStore
from store.recorder import AppendConflict
from workers.metrics import record_append_latency, record_written


class AppendEventsInput(BaseModel):
    case_id: str
    events: list[EventEnvelope]
    # The change's access-log row, written in the transaction of its events.
    access: AccessEntry | None = None


class AppendEventsResult(BaseModel):
    version: int


class StoreActivities:
    def __init__(self, store: EventStore) -> None:
        self._store = store

    @activity.defn(name="append_events")
    async def append_events(self, input: AppendEventsInput) -> AppendEventsResult:
        """Idempotent: a retry with the same event ids writes nothing new."""
        started = time.monotonic()
        try:
            appended = await self._store.append_reporting(input.case_id, input.events, input.access)
        except AppendConflict as conflict:
            raise ApplicationError(str(conflict), type="AppendConflict", non_retryable=True) from None
        record_append_latency(time.monotonic() - started)
        # Metrics count what this append wrote, not what a retry found already there.
        if appended.written:
            await record_written(self._store, input.case_id, input.events)
        activity.logger.info(
            "events appended",
            extra={
                "case_id": input.case_id,
                "version": appended.version,
                "types": [e.event.type for e in input.events],
            },
        )
        return AppendEventsResult(version=appended.version)
