"""The case index: the cases and open tasks as the projections hold them, looked up and listed (what
inboxes, listings and commands read; audits fold the events instead)."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from store import schema
from store.records import CaseRecord, TaskRecord

TASK_ORDER = (schema.tasks.c.due_at, schema.tasks.c.task_id)  # how tasks are listed


class CaseIndex:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get_case(self, case_id: str) -> CaseRecord | None:
        cases = await self.list_cases(case_id=case_id)
        return cases[0] if cases else None

    async def list_cases(
        self, *, case_id: str | None = None, stage: str | None = None, site: str | None = None
    ) -> list[CaseRecord]:
        query = select(schema.cases).order_by(schema.cases.c.opened_at, schema.cases.c.case_id)
        if case_id is not None:
            query = query.where(schema.cases.c.case_id == case_id)
        if stage is not None:
            query = query.where(schema.cases.c.stage == stage)
        if site is not None:
            query = query.where(schema.cases.c.site == site)
        async with self.engine.connect() as conn:
            return [case_from_row(row) for row in await conn.execute(query)]

    async def get_task(self, task_id: str) -> TaskRecord | None:
        tasks = await self.list_tasks(task_id=task_id, status=None)
        return tasks[0] if tasks else None

    async def list_tasks(
        self,
        *,
        task_id: str | None = None,
        case_id: str | None = None,
        site: str | None = None,
        status: str | None = "open",
        overdue: bool | None = None,
    ) -> list[TaskRecord]:
        query = select(schema.tasks).order_by(*TASK_ORDER)
        filters: dict[str, Any] = {
            "task_id": task_id,
            "case_id": case_id,
            "site": site,
            "status": status,
            "overdue": overdue,
        }
        for column, value in filters.items():
            if value is not None:
                query = query.where(schema.tasks.c[column] == value)
        async with self.engine.connect() as conn:
            return [task_from_row(row) for row in await conn.execute(query)]


def case_from_row(row: Row[Any]) -> CaseRecord:
    """The record a cases row holds (the inverse of store.projector.case_row)."""
    data = dict(row._mapping)
    data["cohorts"] = tuple(filter(None, data["cohorts"].split(",")))
    return CaseRecord.model_validate(data)


def task_from_row(row: Row[Any]) -> TaskRecord:
    """The record a tasks row holds (the inverse of store.projector.task_row)."""
    data = dict(row._mapping)
    data["candidate_roles"] = tuple(filter(None, data["candidate_roles"].split(",")))
    return TaskRecord.model_validate(data)
