"""The projector: the `cases` and `tasks` rows an append writes for the case's new state, and the
rebuild of every such row from the events.

`case_row` and `task_row` are the one place a record becomes a row: appends and rebuilds write
them, and verification holds the stored rows to them (store/projection_check.py)."""

from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.state import CaseState, fold
from store import schema
from store.chain_check import HashedBody
from store.projections import case_record, task_records
from store.records import CaseRecord, TaskRecord

CASES_PER_READ = 500  # cases whose rows one verification or rebuild query reads


@dataclass(frozen=True)
class RebuildReport:
    cases: int
    tasks: int
    changed: list[tuple[str, str]]  # (table, key) of each row that differs from the one it replaced


class Projector:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def project(self, conn: AsyncConnection, state: CaseState) -> None:
        """Write the case's rows as `state` says they are, in the caller's transaction (an append's)."""
        row = case_row(case_record(state))
        dialect_insert = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
        upsert = dialect_insert(schema.cases).values(row)
        changes = {column: upsert.excluded[column] for column in row if column != "case_id"}
        await conn.execute(upsert.on_conflict_do_update(index_elements=[schema.cases.c.case_id], set_=changes))
        await conn.execute(delete(schema.tasks).where(schema.tasks.c.case_id == state.case_id))
        task_rows = [task_row(record) for record in task_records(state)]
        if task_rows:
            await conn.execute(insert(schema.tasks), task_rows)

    async def rebuild(self, progress: Callable[[str], None] | None = None) -> RebuildReport:
        """Drop every projected row and fold every stream again, in one transaction (readers see the
        old rows or the new, never none); report which rows came out different from those replaced.
        Streams are read a batch of cases at a time, one query per batch. `progress` is told each
        case id as it is folded."""
        async with self.engine.begin() as conn:
            before = await _projected_rows(conn)
            await conn.execute(delete(schema.tasks))
            await conn.execute(delete(schema.cases))
            query = select(schema.events.c.case_id).distinct().order_by(schema.events.c.case_id)
            case_ids = [row.case_id for row in await conn.execute(query)]
            for start in range(0, len(case_ids), CASES_PER_READ):
                batch = case_ids[start : start + CASES_PER_READ]
                query = (
                    select(schema.events.c.case_id, schema.events.c.body)
                    .where(schema.events.c.case_id.in_(batch))
                    .order_by(schema.events.c.case_id, schema.events.c.seq)
                )
                for case_id, rows in groupby(await conn.execute(query), key=lambda row: str(row.case_id)):
                    await self.project(conn, fold(case_id, [HashedBody.model_validate_json(r.body) for r in rows]))
                    if progress is not None:
                        progress(case_id)
            after = await _projected_rows(conn)
        changed = sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
        tasks = sum(1 for table, _ in after if table == "tasks")
        return RebuildReport(cases=len(case_ids), tasks=tasks, changed=changed)


def case_row(record: CaseRecord) -> dict[str, Any]:
    """The cases row written for `record` (the lists joined into one column)."""
    row = record.model_dump()
    row["cohorts"] = ",".join(row["cohorts"])
    return row


def task_row(record: TaskRecord) -> dict[str, Any]:
    """The tasks row written for `record`."""
    row = record.model_dump()
    row["candidate_roles"] = ",".join(row["candidate_roles"])
    return row


async def _projected_rows(conn: AsyncConnection) -> dict[tuple[str, str], tuple[Any, ...]]:
    rows: dict[tuple[str, str], tuple[Any, ...]] = {}
    for row in await conn.execute(select(schema.cases)):
        rows["cases", row.case_id] = tuple(row)
    for row in await conn.execute(select(schema.tasks)):
        rows["tasks", row.task_id] = tuple(row)
    return rows
