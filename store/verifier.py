"""The verifier: whether a case's record is whole. Its event chain (store/chain_check.py), its
access log's chain (store/access_log.py) and its projections against a fold of its events
(store/projection_check.py), for one case or, a batch at a time, for many. Reads only."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, select, union
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.state import fold
from store import projection_check, schema
from store.access_log import AccessChainReport, check_access_log
from store.case_index import TASK_ORDER
from store.chain_check import ChainReport, check_stream
from store.projector import CASES_PER_READ
from store.recorder import Recorder


@dataclass(frozen=True)
class CaseCheck:
    """One case as verification sees it: its chain, how its projections differ from a fold of its
    events (not looked at, so empty, when the chain does not verify), and its access log's chain."""

    chain: ChainReport
    projection_differences: list[str]
    access_log: AccessChainReport


class Verifier:
    def __init__(self, engine: AsyncEngine, recorder: Recorder) -> None:
        self.engine = engine
        self._recorder = recorder  # folds a case afresh, for its projections to be held to

    async def verify_chain(self, case_id: str) -> ChainReport:
        """Recompute the stream's hash chain and sequence, and check each event's columns against its
        hashed body; report the first event that does not fit and, in plain words, what happened to it
        (altered, reordered, deleted, inserted, moved from another stream). Reads only."""
        async with self.engine.connect() as conn:
            rows = await _rows_of_case(conn, schema.events, case_id, schema.events.c.seq)
        return check_stream(case_id, rows).report

    async def verify_access(self, case_id: str) -> AccessChainReport:
        """Check the case's access log as `verify_chain` checks its events: each row's seq, link and
        hash, and its columns against its hashed body; report the first row that does not fit and what
        happened to it (altered, reordered, deleted, inserted). Reads only."""
        async with self.engine.connect() as conn:
            rows = await _rows_of_case(conn, schema.access_log, case_id, schema.access_log.c.seq)
        return check_access_log(case_id, rows)

    async def projection_differences(self, case_id: str) -> list[str]:
        """Where the stored projections differ from a fresh fold of the events (empty when they agree)."""
        state = await self._recorder.case_state(case_id)
        async with self.engine.connect() as conn:
            case_rows = await _rows_of_case(conn, schema.cases, case_id)
            task_rows = await _rows_of_case(conn, schema.tasks, case_id, *TASK_ORDER)
        return projection_check.differences(state, case_rows, task_rows)

    async def check_cases(self, case_ids: Sequence[str]) -> AsyncIterator[CaseCheck]:
        """`verify_chain`, `verify_access` and, for each stream that verifies, `projection_differences`,
        for many cases (in the order given): what `pathway audit verify` checks. Reads a batch of cases
        at a time, each table in one query, and folds the bodies the chain check parsed. Reads only."""
        for start in range(0, len(case_ids), CASES_PER_READ):
            batch = list(case_ids[start : start + CASES_PER_READ])
            async with self.engine.connect() as conn:
                events = await _rows_by_case(conn, schema.events, batch, schema.events.c.seq)
                cases = await _rows_by_case(conn, schema.cases, batch)
                tasks = await _rows_by_case(conn, schema.tasks, batch, *TASK_ORDER)
                accesses = await _rows_by_case(conn, schema.access_log, batch, schema.access_log.c.seq)
            for case_id in batch:
                checked = check_stream(case_id, events.get(case_id, []))
                differences: list[str] = []
                # Only a whole chain is folded: a fold of tampered events would prove nothing about the projections.
                if checked.report.ok:
                    state = fold(case_id, checked.events)
                    differences = projection_check.differences(state, cases.get(case_id, []), tasks.get(case_id, []))
                access_log = check_access_log(case_id, accesses.get(case_id, []))
                yield CaseCheck(checked.report, differences, access_log)

    async def recorded_case_ids(self) -> list[str]:
        """Every case with events, projected rows or access rows: rows left behind by deleted events
        are found too, and so is an access log whose case's events are all gone."""
        query = union(
            select(schema.events.c.case_id),
            select(schema.cases.c.case_id),
            select(schema.tasks.c.case_id),
            select(schema.access_log.c.case_id),
        )
        async with self.engine.connect() as conn:
            return sorted(row.case_id for row in await conn.execute(query))


async def _rows_of_case(conn: AsyncConnection, table: Table, case_id: str, *order: Any) -> list[Row[Any]]:
    return list(await conn.execute(select(table).where(table.c.case_id == case_id).order_by(*order)))


async def _rows_by_case(
    conn: AsyncConnection, table: Table, case_ids: list[str], *order: Any
) -> dict[str, list[Row[Any]]]:
    query = select(table).where(table.c.case_id.in_(case_ids)).order_by(table.c.case_id, *order)
    result = await conn.execute(query)
    case_id_of = itemgetter(list(result.keys()).index("case_id"))  # by position: a row's attributes cost more
    return {case_id: list(rows) for case_id, rows in groupby(result, key=case_id_of)}
