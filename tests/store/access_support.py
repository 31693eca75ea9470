"""Helpers for the access log tests: a case whose access log holds reads (`AccessLog.record`) and
changes (recorded by `EventStore.append` with their events), and raw access rows for tampering."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from domain.commands import ClaimTask, Command
from domain.stream import apply_all
from domain.tasks import TaskKind
from store import schema
from store.access_log import AccessEntry, AccessLog, AccessRecord
from store.event_store import EventStore
from tests.store.support import PRACTITIONER, StoreCase

LOGGED = 6  # rows in the access log of `logged_case`


def entry(case_id: str, action: str, purpose: str = "care", staff_id: str = PRACTITIONER.staff_id) -> AccessEntry:
    return AccessEntry(
        case_id=case_id,
        staff_id=staff_id,
        role=PRACTITIONER.role,
        action=action,
        purpose=purpose,
        at=datetime.now(UTC),
    )


async def change(case: StoreCase, command: Command, action: str) -> AccessEntry:
    """`command` on the case, its events appended with their access entry (as the append activity
    does); returns the entry."""
    envelopes = case.envelopes_for(command)
    access = entry(case.case_id, action)
    await case.store.append(case.case_id, envelopes, access=access)
    case.state = apply_all(case.state, envelopes)
    case.envelopes.extend(envelopes)
    return access


@dataclass
class LoggedCase:
    case: StoreCase
    log: AccessLog

    @property
    def case_id(self) -> str:
        return self.case.case_id

    async def records(self) -> list[AccessRecord]:
        return await self.log.list(self.case_id)


async def logged_case(store: EventStore) -> LoggedCase:
    """An opened case with `LOGGED` access rows: reads, a change (the consent claim), more reads."""
    case = StoreCase(store)
    await case.open()
    log = AccessLog(store.engine)
    await log.record(case.case_id, "pr-001", "practitioner", "read_case", "care")
    await log.record(case.case_id, "tl-001", "team_lead", "read_case", "supervision")
    claim = ClaimTask(actor=PRACTITIONER, task_id=case.task(TaskKind.CONSENT).task_id)
    await change(case, claim, "claim_task")
    await log.record(case.case_id, "pr-002", "practitioner", "read_case", "transferred here", break_glass=True)
    await log.record(case.case_id, "au-001", "auditor", "read_access_log", "audit")
    await log.record(case.case_id, "au-001", "auditor", "export", "subject access request")
    logged = LoggedCase(case, log)
    assert [r.seq for r in await logged.records()] == list(range(1, LOGGED + 1))
    return logged


async def access_row(store: EventStore, case_id: str, seq: int) -> Any:
    async with store.engine.connect() as conn:
        table = schema.access_log
        return (await conn.execute(select(table).where(table.c.case_id == case_id, table.c.seq == seq))).one()
