"""Checking the projections: where a case's stored `cases` and `tasks` rows differ from what a fold
of its events says they must be, in plain words. The other half of verification, beside the chain
check (store/chain_check.py); store/verifier.py reads the rows and runs both."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Row

from domain.state import CaseState
from store.case_index import case_from_row, task_from_row
from store.projections import case_record, task_records
from store.projector import case_row, task_row
from store.records import CaseRecord, TaskRecord


def differences(state: CaseState, case_rows: Sequence[Row[Any]], task_rows: Sequence[Row[Any]]) -> list[str]:
    """Where a case's projected rows differ from the fold of its events. The rows are first held to
    the rows an append would write for `state`; only when they differ are they read as records and
    compared field by field, to say what differs (or that they are no valid records at all)."""
    expected_case = case_record(state) if state.stage else None
    expected_tasks = {t.task_id: t for t in task_records(state)}
    if _as_written(expected_case, expected_tasks.values()) == (
        [dict(row._mapping) for row in case_rows],
        sorted((dict(row._mapping) for row in task_rows), key=lambda row: str(row["task_id"])),
    ):
        return []
    try:
        actual_case = case_from_row(case_rows[0]) if case_rows else None
        actual_tasks = {t.task_id: t for t in map(task_from_row, task_rows)}
    except ValidationError as error:  # a projection row changed into something no append writes
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return [f"the projected rows are not valid records: {where}: {first['msg']}"]
    differences = []
    if expected_case != actual_case:
        differences.append(_difference("cases row", actual_case, expected_case))
    for task_id in sorted(expected_tasks.keys() | actual_tasks.keys()):
        expected, actual = expected_tasks.get(task_id), actual_tasks.get(task_id)
        if expected != actual:
            differences.append(_difference(f"task {task_id}", actual, expected))
    return differences


def _as_written(
    case: CaseRecord | None, tasks: Iterable[TaskRecord]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The case and task rows as an append writes them (equal rows are equal records; rows that are
    not equal are compared as records, so a change in how rows are written only costs time here)."""
    cases = [] if case is None else [case_row(case)]
    return cases, [task_row(task) for task in sorted(tasks, key=lambda task: task.task_id)]


def _difference(what: str, stored: BaseModel | None, expected: BaseModel | None) -> str:
    """A projected row against the fold, naming only the fields that differ when both exist."""
    if stored is None or expected is None:
        return f"{what}: stored {stored} but the events say {expected}"
    fields = [
        f"{name} stored {_plain(getattr(stored, name))} but the events say {_plain(getattr(expected, name))}"
        for name in type(stored).model_fields
        if getattr(stored, name) != getattr(expected, name)
    ]
    return f"{what}: " + "; ".join(fields)


def _plain(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple):
        return "(" + ", ".join(map(str, value)) + ")"
    return str(value)
