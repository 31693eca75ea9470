"""The verifier: whether a case's record is whole. Its event chain (store/chain_check.py), its
access log's chain (store/access_log.py) and its projections against a fold of its events
(store/projection_check.py), for one case or, a batch at a time, for many; or only what is new
since the heads a checkpoint signed (`since_heads`, `check_since`). Reads only."""

import contextlib
import functools
from collections.abc import AsyncIterator, Mapping, Sequence, Set
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, func, select, text, union
from sqlalchemy.engine import Result, Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.state import fold
from store import projection_check, schema
from store.access_log import AccessChainReport, check_access_log
from store.case_index import TASK_ORDER
from store.chain_check import START, ChainReport, Link, check_stream
from store.projector import CASES_PER_READ
from store.recorder import Recorder

# Chains whose (case_id, seq) ranges one statement ORs together: SQLite plans an OR of many ranges
# slowly (200 a statement read 10,000 chains' heads in 0.1 s).
HEADS_PER_QUERY = 200
RowsByCase = dict[str, list[Row[Any]]]


@dataclass(frozen=True)
class SinceHeads:
    """One chained table (the events, or the access log) against the heads a checkpoint signed."""

    # The chains with rows after their signed head, from that head; those begun since, from START.
    after: dict[str, Link]
    # The chains whose row at the signed head is gone or has another hash than signed.
    unlike: list[str]


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
        async with one_snapshot(self.engine) as conn:
            events = await self._recorder.read(conn, case_id)
            case_rows = await _rows_of_case(conn, schema.cases, case_id)
            task_rows = await _rows_of_case(conn, schema.tasks, case_id, *TASK_ORDER)
        return projection_check.differences(fold(case_id, events), case_rows, task_rows)

    async def check_cases(self, case_ids: Sequence[str]) -> AsyncIterator[CaseCheck]:
        """`verify_chain`, `verify_access` and, for each stream that verifies, `projection_differences`,
        for many cases (in the order given): what `pathway audit verify` checks. Reads a batch of cases
        at a time, each table in one query, and folds the bodies the chain check parsed. Reads only."""
        for start in range(0, len(case_ids), CASES_PER_READ):
            batch = list(case_ids[start : start + CASES_PER_READ])
            async with one_snapshot(self.engine) as conn:
                events = await _rows_by_case(conn, schema.events, batch, schema.events.c.seq)
                cases = await _rows_by_case(conn, schema.cases, batch)
                tasks = await _rows_by_case(conn, schema.tasks, batch, *TASK_ORDER)
                accesses = await _rows_by_case(conn, schema.access_log, batch, schema.access_log.c.seq)
            for case_id in batch:
                chain, differences = _stream_and_projections(case_id, events, cases, tasks)
                yield CaseCheck(chain, differences, check_access_log(case_id, accesses.get(case_id, [])))

    async def since_heads(
        self, heads: Mapping[str, Link], access_heads: Mapping[str, Link]
    ) -> tuple[SinceHeads, SinceHeads]:
        """The streams against the stream heads a checkpoint signed, and the access logs against its
        access-log heads: which have rows after their head, which are new since, and which no longer
        hold their head row as signed. Reads each signed head's row and what follows it (seq, hash:
        one index range per chain, `HEADS_PER_QUERY` to a statement) and every case id by one index
        seek each, not every row. Reads only."""
        async with self.engine.connect() as conn:
            return await _since(conn, schema.events, heads), await _since(conn, schema.access_log, access_heads)

    async def check_since(
        self, case_ids: Sequence[str], streams_whole: Set[str], access_after: Mapping[str, Link]
    ) -> AsyncIterator[CaseCheck]:
        """`check_cases` for what is new since a checkpoint, for each of `case_ids` (in the order
        given): the streams in `streams_whole` read and checked whole and their projections held to
        a fold of them (a fold needs every event), and each access log in `access_after` checked
        from the head given (its rows after it, linked from its hash). A case's events not in
        `streams_whole`, or its access log not in `access_after`, are not read: its chain is
        reported with no rows checked. Reads only."""
        for start in range(0, len(case_ids), CASES_PER_READ):
            batch = list(case_ids[start : start + CASES_PER_READ])
            whole = [case_id for case_id in batch if case_id in streams_whole]
            logs = {case_id: access_after[case_id] for case_id in batch if case_id in access_after}
            async with one_snapshot(self.engine) as conn:
                events = await _rows_by_case(conn, schema.events, whole, schema.events.c.seq)
                cases = await _rows_by_case(conn, schema.cases, whole)
                tasks = await _rows_by_case(conn, schema.tasks, whole, *TASK_ORDER)
                accesses = await _rows_from(
                    conn, schema.access_log, {case_id: head.seq + 1 for case_id, head in logs.items()}
                )
            for case_id in batch:
                if case_id in streams_whole:
                    chain, differences = _stream_and_projections(case_id, events, cases, tasks)
                else:  # no event of it is new
                    chain, differences = ChainReport(case_id, 0, ok=True), []
                access_log = check_access_log(case_id, accesses.get(case_id, []), logs.get(case_id, START))
                yield CaseCheck(chain, differences, access_log)

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


@contextlib.asynccontextmanager
async def one_snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose reads all see the database as it stood at the first of them. A case's
    events and the rows projected from them are read by separate statements while appends go on
    (from other processes, too): read each in its own snapshot, an append committed between them
    would show as projections that differ from the events."""
    async with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # The driver begins a transaction only before a write; a read transaction is one snapshot.
            await conn.exec_driver_sql("BEGIN")
        else:
            # PostgreSQL's default, READ COMMITTED, takes a new snapshot for every statement.
            await conn.execution_options(isolation_level="REPEATABLE READ")
        yield conn


async def _since(conn: AsyncConnection, table: Table, heads: Mapping[str, Link]) -> SinceHeads:
    from_heads = {case_id: head.seq for case_id, head in heads.items()}
    found = await _rows_from(conn, table, from_heads, table.c.case_id, table.c.seq, table.c.hash)
    after: dict[str, Link] = {}
    unlike: list[str] = []
    for case_id, head in heads.items():
        stored = {row.seq: row.hash for row in found.get(case_id, [])}
        if stored.get(head.seq) != head.hash:
            unlike.append(case_id)
        if max(stored, default=0) > head.seq:
            after[case_id] = head
    for case_id in await _case_ids(conn, table):
        if case_id not in heads:  # a chain begun since the checkpoint: checked whole
            after[case_id] = START
    return SinceHeads(after, sorted(unlike))


def _stream_and_projections(
    case_id: str, events: RowsByCase, cases: RowsByCase, tasks: RowsByCase
) -> tuple[ChainReport, list[str]]:
    """A whole stream's chain, and how the case's projected rows differ from a fold of it."""
    checked = check_stream(case_id, events.get(case_id, []))
    # Only a whole chain is folded: a fold of tampered events would prove nothing about the projections.
    if not checked.report.ok:
        return checked.report, []
    state = fold(case_id, checked.events)
    return checked.report, projection_check.differences(state, cases.get(case_id, []), tasks.get(case_id, []))


async def _rows_of_case(conn: AsyncConnection, table: Table, case_id: str, *order: Any) -> list[Row[Any]]:
    return list(await conn.execute(select(table).where(table.c.case_id == case_id).order_by(*order)))


async def _rows_by_case(conn: AsyncConnection, table: Table, case_ids: list[str], *order: Any) -> RowsByCase:
    query = select(table).where(table.c.case_id.in_(case_ids)).order_by(table.c.case_id, *order)
    return _grouped(await conn.execute(query))


async def _rows_from(
    conn: AsyncConnection, table: Table, from_seqs: Mapping[str, int], *columns: ColumnElement[Any]
) -> RowsByCase:
    """The rows of each chain of `table` from the seq given for it on (its rows before are not read),
    in seq order: `columns` of them (case_id among them), or every column."""
    found: RowsByCase = {}
    case_ids = sorted(from_seqs)
    names = tuple(column.name for column in columns)
    for start in range(0, len(case_ids), HEADS_PER_QUERY):
        batch = case_ids[start : start + HEADS_PER_QUERY]
        values: dict[str, str | int] = {f"c{n}": case_id for n, case_id in enumerate(batch)}
        values |= {f"s{n}": from_seqs[case_id] for n, case_id in enumerate(batch)}
        found |= _grouped(await conn.execute(_ranges_query(table, names, len(batch)), values))
    return found


@functools.cache
def _ranges_query(table: Table, column_names: tuple[str, ...], ranges: int) -> Select[Any]:
    """The rows of `ranges` chains from a seq each on: `column_names` of them, or every column. Written
    as text (built and compiled as expressions, 200 ranges cost SQLAlchemy 27 ms a statement), and made
    once per size: a new statement of the same text cost as much again to parse for its parameters and
    key for the compiled cache (0.3 s of a 10,000-chain `verify --since-checkpoint`)."""
    condition = text(" OR ".join(f"(case_id = :c{n} AND seq >= :s{n})" for n in range(ranges)))
    columns = [table.c[name] for name in column_names] or list(table.c)
    return select(*columns).where(condition).order_by(table.c.case_id, table.c.seq)


def _grouped(result: Result[Any]) -> RowsByCase:
    case_id_of = itemgetter(list(result.keys()).index("case_id"))  # by position: a row's attributes cost more
    return {case_id: list(rows) for case_id, rows in groupby(result, key=case_id_of)}


async def _case_ids(conn: AsyncConnection, table: Table) -> list[str]:
    """Every case id in `table`, each found from the one before by an index seek (a loose index
    scan, as neither SQLite nor PostgreSQL does one for DISTINCT): one seek per case, not a read of
    every row."""
    column = table.c.case_id
    ids = select(func.min(column).label("case_id")).cte("ids", recursive=True)
    following = select(func.min(column)).where(column > ids.c.case_id).scalar_subquery()
    ids = ids.union_all(select(following).where(ids.c.case_id.is_not(None)))
    return [row.case_id for row in await conn.execute(select(ids.c.case_id).where(ids.c.case_id.is_not(None)))]
