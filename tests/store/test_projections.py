"""The cases and tasks projections: written with every append, equal to a fresh fold, queryable."""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import Table, delete, insert, update

from domain.commands import ClaimTask, CloseCase
from domain.model import Cohort, Setting, Stage
from domain.outcomes import ClosureOutcome, ClosureReason
from domain.state import fold
from domain.tasks import TaskKind, TaskStatus
from store import schema, verifier
from store.event_store import EventStore
from store.projections import case_record, task_records
from store.records import CaseRecord, TaskRecord
from tests.store.support import (
    CONSENT_GIVEN,
    NORTH,
    PRACTITIONER,
    SCREENING,
    SOUTH,
    TEAM_LEAD,
    StoreCase,
    journey,
    new_case_id,
    new_id,
)


def by_id(tasks: list[TaskRecord]) -> dict[str, TaskRecord]:
    return {task.task_id: task for task in tasks}


async def assert_projections_match_a_fresh_fold(store: EventStore, case: StoreCase) -> None:
    state = fold(case.case_id, await store.read_stream(case.case_id))
    assert state == case.state
    assert await store.projection_differences(case.case_id) == []
    assert await store.get_case(case.case_id) == case_record(state)
    stored_tasks = await store.list_tasks(case_id=case.case_id, status=None)
    assert len(stored_tasks) == len(state.tasks)
    assert by_id(stored_tasks) == by_id(task_records(state))


async def test_projections_match_a_fresh_fold_after_every_append(store: EventStore) -> None:
    case = StoreCase(store)
    steps = []
    async for step in journey(case):
        steps.append(step)
        await assert_projections_match_a_fresh_fold(store, case)
        record = await store.get_case(case.case_id)
        assert record is not None
        assert record.version == case.state.version
        assert record.stage == case.state.stage
    assert steps[-1] == "closed"


async def test_projection_values_through_a_journey(store: EventStore) -> None:
    case = StoreCase(store)
    steps = journey(case)

    assert await anext(steps) == "opened"
    record = await store.get_case(case.case_id)
    assert record is not None
    assert (record.site, record.setting, record.source, record.age_band) == (
        "north",
        "custody",
        "custody_staff",
        "adult",
    )
    assert record.cohorts == (Cohort.VETERAN, Cohort.CARE_LEAVER)
    assert (record.stage, record.version, record.opened_at) == (Stage.SCREENING, 3, case.envelopes[0].occurred_at)
    assert (record.closed_at, record.close_reason, record.justice_outcome, record.overdue) == (None, None, None, False)
    [consent] = await store.list_tasks(case_id=case.case_id)
    assert (consent.kind, consent.status, consent.assignee, consent.site) == ("consent", "open", None, "north")
    assert consent.candidate_roles == ("practitioner", "team_lead")
    assert record.next_due == consent.due_at

    assert await anext(steps) == "consent claimed"
    task = await store.get_task(consent.task_id)
    assert task is not None and task.assignee == "prac-1"

    while await anext(steps) != "closure overdue":
        pass
    record = await store.get_case(case.case_id)
    assert record is not None and record.overdue is True
    [overdue] = await store.list_tasks(overdue=True)
    assert (overdue.kind, overdue.overdue, overdue.status) == ("closure", True, "open")

    assert await anext(steps) == "closed"
    record = await store.get_case(case.case_id)
    assert record is not None
    assert (record.stage, record.close_reason, record.justice_outcome) == (
        "closed",
        "pathway_complete",
        "conditional_caution",
    )
    assert record.closed_at == case.now
    assert (record.overdue, record.next_due) == (False, None)
    assert await store.list_tasks(case_id=case.case_id) == []
    done = await store.list_tasks(case_id=case.case_id, status="completed")
    assert len(done) == 6
    assert all(t.closed_by in ("prac-1", "lead-1") and t.closed_at is not None for t in done)


TAMPERING: dict[str, tuple[Any, str]] = {
    "case stage": (update(schema.cases).values(stage="closed"), "cases row"),
    "case version": (update(schema.cases).values(version=99), "cases row"),
    "case cohorts": (update(schema.cases).values(cohorts="veteran"), "cases row"),
    "case overdue": (update(schema.cases).values(overdue=True), "cases row"),
    "case row deleted": (delete(schema.cases), "cases row"),
    "task status": (update(schema.tasks).values(status="completed"), "task "),
    "task assignee": (update(schema.tasks).values(assignee="intruder"), "task "),
    "task row deleted": (delete(schema.tasks), "task "),
}


@pytest.mark.parametrize(("tampering", "mentions"), TAMPERING.values(), ids=TAMPERING.keys())
async def test_a_tampered_projection_shows_up_in_the_differences(
    store: EventStore, tampering: Any, mentions: str
) -> None:
    case, bystander = StoreCase(store), StoreCase(store)
    await case.open(cohorts=(Cohort.VETERAN, Cohort.CARE_LEAVER))
    await case.claim(TaskKind.CONSENT)
    await bystander.open()
    table = tampering.table

    async with store.engine.begin() as conn:
        result = await conn.execute(tampering.where(table.c.case_id == case.case_id))
    assert result.rowcount == 1

    differences = await store.projection_differences(case.case_id)
    assert len(differences) == 1
    assert differences[0].startswith(mentions)
    assert await store.projection_differences(bystander.case_id) == []
    # The events are untouched, so the chain still verifies: only the projection is wrong.
    assert (await store.verify_chain(case.case_id)).ok


async def test_a_stray_task_row_shows_up_in_the_differences(store: EventStore) -> None:
    case = StoreCase(store)
    await case.open()
    [real] = await store.list_tasks(case_id=case.case_id)
    stray = real.model_copy(update={"task_id": new_id()}).model_dump()
    stray["candidate_roles"] = ",".join(stray["candidate_roles"])

    async with store.engine.begin() as conn:
        await conn.execute(insert(schema.tasks), [stray])

    [difference] = await store.projection_differences(case.case_id)
    assert difference.startswith(f"task {stray['task_id']}: stored ")
    assert difference.endswith("but the events say None")


async def test_a_later_append_rewrites_a_tampered_projection(store: EventStore) -> None:
    case = StoreCase(store)
    await case.open()
    async with store.engine.begin() as conn:
        await conn.execute(update(schema.cases).where(schema.cases.c.case_id == case.case_id).values(stage="closed"))
    assert await store.projection_differences(case.case_id) != []

    await case.claim(TaskKind.CONSENT)

    await assert_projections_match_a_fresh_fold(store, case)


async def test_projections_of_an_unknown_case_are_empty_and_agree(store: EventStore) -> None:
    assert await store.projection_differences("case-unknown") == []
    assert await store.get_case("case-unknown") is None
    assert await store.list_tasks(case_id="case-unknown", status=None) == []


async def test_get_case_and_get_task(store: EventStore) -> None:
    case = StoreCase(store)
    await case.open()
    task_id = case.task(TaskKind.CONSENT).task_id

    record = await store.get_case(case.case_id)
    task = await store.get_task(task_id)

    assert isinstance(record, CaseRecord) and record.case_id == case.case_id
    assert isinstance(task, TaskRecord) and (task.task_id, task.case_id) == (task_id, case.case_id)
    assert await store.get_case(new_case_id()) is None
    assert await store.get_task(new_id()) is None
    assert await store.get_case("") is None
    # get_task finds a task whatever its status.
    await case.complete(TaskKind.CONSENT, CONSENT_GIVEN)
    completed = await store.get_task(task_id)
    assert completed is not None and completed.status == TaskStatus.COMPLETED


async def cases_at_every_filter(store: EventStore) -> dict[str, StoreCase]:
    """Four cases, opened a minute apart: two north (screening, closed), two south (screening, assessment)."""
    north_open = StoreCase(store, site=NORTH)
    north_closed = StoreCase(store, site=NORTH, now=north_open.now.replace(minute=1))
    south_open = StoreCase(store, site=SOUTH, now=north_open.now.replace(minute=2))
    south_assessing = StoreCase(store, site=SOUTH, now=north_open.now.replace(minute=3))
    await north_open.open()
    await north_closed.open(setting=Setting.MAGISTRATES_COURT)
    await north_closed.complete(TaskKind.CONSENT, {"decision": "declined"})  # declined consent closes the case
    await south_open.open()
    await south_assessing.open(setting=Setting.COMMUNITY)
    await south_assessing.complete(TaskKind.CONSENT, CONSENT_GIVEN)
    await south_assessing.complete(TaskKind.SCREENING, SCREENING)
    return {
        "north_open": north_open,
        "north_closed": north_closed,
        "south_open": south_open,
        "south_assessing": south_assessing,
    }


async def test_list_cases_filters_by_stage_and_site(store: EventStore) -> None:
    cases = await cases_at_every_filter(store)

    async def ids(**filters: str) -> list[str]:
        return [record.case_id for record in await store.list_cases(**filters)]

    def named(*names: str) -> list[str]:
        return [cases[name].case_id for name in names]

    # Ordered by when each case opened.
    assert await ids() == named("north_open", "north_closed", "south_open", "south_assessing")
    assert await ids(stage="screening") == named("north_open", "south_open")
    assert await ids(stage="closed") == named("north_closed")
    assert await ids(stage="assessment") == named("south_assessing")
    assert await ids(stage="referral") == []
    assert await ids(site="north") == named("north_open", "north_closed")
    assert await ids(site="south") == named("south_open", "south_assessing")
    assert await ids(site="south", stage="screening") == named("south_open")
    assert await ids(site="north", stage="assessment") == []
    assert await ids(site="nowhere") == []
    closed = await store.get_case(cases["north_closed"].case_id)
    assert closed is not None and closed.close_reason == ClosureReason.CONSENT_DECLINED


async def test_list_tasks_filters_by_case_status_site_and_overdue(store: EventStore) -> None:
    cases = await cases_at_every_filter(store)
    north_open, south_open = cases["north_open"], cases["south_open"]
    # The north consent task passes its deadline and is marked overdue.
    north_open.advance(hours=3)
    await north_open.mark_overdue(TaskKind.CONSENT)

    all_tasks = await store.list_tasks(status=None)
    open_tasks = await store.list_tasks()
    assert len(all_tasks) == sum(len(case.state.tasks) for case in cases.values()) == 6
    # The default is the open inbox, ordered by due time.
    assert {t.task_id for t in open_tasks} == {t.task_id for case in cases.values() for t in case.state.open_tasks}
    assert len(open_tasks) == 3
    assert [t.due_at for t in open_tasks] == sorted(t.due_at for t in open_tasks)
    assert all(t.status == "open" for t in open_tasks)

    assert {t.status for t in await store.list_tasks(status="completed")} == {"completed"}
    assert len(await store.list_tasks(status="completed")) == 3
    assert [t.kind for t in await store.list_tasks(status="cancelled")] == []

    assert [t.task_id for t in await store.list_tasks(case_id=south_open.case_id)] == [
        south_open.task(TaskKind.CONSENT).task_id
    ]
    assert len(await store.list_tasks(case_id=cases["south_assessing"].case_id, status=None)) == 3
    assert await store.list_tasks(case_id=cases["north_closed"].case_id) == []
    assert len(await store.list_tasks(case_id=cases["north_closed"].case_id, status="completed")) == 1

    [overdue] = await store.list_tasks(overdue=True)
    assert (overdue.task_id, overdue.case_id) == (north_open.task(TaskKind.CONSENT).task_id, north_open.case_id)
    assert {t.task_id for t in await store.list_tasks(overdue=False)} == {t.task_id for t in open_tasks} - {
        overdue.task_id
    }
    assert await store.list_tasks(overdue=True, site="south") == []
    assert await store.list_tasks(overdue=True, status="completed") == []

    assert {t.case_id for t in await store.list_tasks(site="south")} == {
        south_open.case_id,
        cases["south_assessing"].case_id,
    }
    assert {t.site for t in await store.list_tasks(site="north", status=None)} == {"north"}

    north = await store.get_case(north_open.case_id)
    assert north is not None and north.overdue is True
    south = await store.get_case(south_open.case_id)
    assert south is not None and south.overdue is False


async def test_closing_early_cancels_the_open_tasks_in_the_projection(store: EventStore) -> None:
    case = StoreCase(store)
    await case.open()
    await case.complete(TaskKind.CONSENT, CONSENT_GIVEN)
    screening_task = case.task(TaskKind.SCREENING).task_id

    await case.send(CloseCase(actor=TEAM_LEAD, outcome=ClosureOutcome(reason=ClosureReason.TRANSFERRED)))

    await assert_projections_match_a_fresh_fold(store, case)
    [cancelled] = await store.list_tasks(status="cancelled")
    assert (cancelled.task_id, cancelled.closed_at, cancelled.closed_by) == (screening_task, case.now, None)
    assert await store.list_tasks(case_id=case.case_id) == []
    assert [c.case_id for c in await store.list_cases(stage="closed")] == [case.case_id]


async def differences_of_one(store: EventStore, case_id: str) -> list[str]:
    """As `pathway audit show` and the tests' checks read them."""
    return await store.projection_differences(case_id)


async def differences_in_a_batch(store: EventStore, case_id: str) -> list[str]:
    """As `pathway audit verify --all` reads them."""
    [checked] = [check async for check in store.check_cases([case_id])]
    assert checked.chain.ok, checked.chain
    return checked.projection_differences


# Each way of checking a case's projections, with the reader of rows it calls for the cases row.
CHECKS: dict[str, tuple[str, Callable[[EventStore, str], Awaitable[list[str]]]]] = {
    "one case": ("_rows_of_case", differences_of_one),
    "a batch of cases": ("_rows_by_case", differences_in_a_batch),
}


@pytest.mark.parametrize("check", CHECKS)
async def test_an_append_committed_while_a_case_is_verified_is_no_difference(
    store: EventStore, monkeypatch: pytest.MonkeyPatch, check: str
) -> None:
    """Verification reads a case's events, then the rows projected from them. Another process's append
    committing in between (a live system's worker) must not show as projections that lie: both are
    read as they stood together."""
    case = StoreCase(store)
    await case.open()
    batch = case.envelopes_for(ClaimTask(actor=PRACTITIONER, task_id=case.task(TaskKind.CONSENT).task_id))
    worker = EventStore.connect(store.engine.url.render_as_string(hide_password=False))
    reader_name, differences_of = CHECKS[check]
    read_rows = getattr(verifier, reader_name)
    appended: list[int] = []

    async def append_before_the_cases_row(conn: Any, table: Table, *args: Any) -> Any:
        if table is schema.cases and not appended:  # the events are read: another process appends
            appended.append(await worker.append(case.case_id, batch))
        return await read_rows(conn, table, *args)

    monkeypatch.setattr(verifier, reader_name, append_before_the_cases_row)
    try:
        assert await differences_of(store, case.case_id) == []
    finally:
        await worker.close()
    assert appended == [batch[-1].seq]

    record = await store.get_case(case.case_id)
    assert record is not None and record.version == batch[-1].seq  # the append is there to be seen now
    assert await differences_of(store, case.case_id) == []
