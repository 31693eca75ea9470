"""Retention runs on the time-skipping server: cases close, years pass, and each record is shredded
on the day its class says, not before; a child's record that can't be dated is kept for review."""

import uuid
from datetime import date, datetime, time, timedelta

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.commands import CloseCase
from domain.identity import person_id_for
from domain.model import SYSTEM_ACTOR, AgeBand, Person
from domain.outcomes import ClosureOutcome
from domain.personal import SHREDDED
from domain.retention import RecordClass
from domain.tasks import TaskKind
from domain.timeline import UK
from store.event_store import EventStore
from store.person_keys import PersonKeys
from store.sealing import Sealer
from tests.conftest import TEST_MASTER_KEYS, worker_for
from tests.workflows.direct import SITE, Handle, complete, time_skipping_input
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case
from tests.workflows.support import skip
from tests.workflows.test_golden_histories import HISTORIES, RECORDING, replayer
from workflows.case_workflow import CaseWorkflow
from workflows.messages import RetentionInput, RetentionReport
from workflows.retention_workflow import RetentionWorkflow

PERSON_KEY = b"retention-test-person-key"
CLOSURE = CloseCase(actor=PRACTITIONER, outcome=ClosureOutcome(reason="pathway_complete", note="closed in the test"))


def years_before(day: date, years: int, days: int = 0) -> date:
    return years_after(day, -years) - timedelta(days=days)


def years_after(day: date, years: int) -> date:
    """The same day `years` later, or 1 March for a 29 February that year lacks."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), UK)


class Cases:
    """Cases opened with sealed personal data, as StaffCommands opens them, on one task queue."""

    def __init__(self, env: WorkflowEnvironment, store: EventStore, task_queue: str) -> None:
        self.env, self.store, self.task_queue = env, store, task_queue
        self.sealer = Sealer(PersonKeys(store.engine, TEST_MASTER_KEYS))
        self.last_run: WorkflowHandle[RetentionWorkflow, RetentionReport] | None = None

    async def open(self, born: date | None, age_band: AgeBand = AgeBand.ADULT) -> Handle:
        case_id = f"case-{uuid.uuid4()}"
        person = Person(name="Ada Testperson", date_of_birth=None if born is None else born.isoformat())
        opening = open_case(f"CUST-{uuid.uuid4().hex[:6]}").model_copy(update={"person": person, "age_band": age_band})
        sealed = await self.sealer.seal(opening, person_id_for(PERSON_KEY, case_id), case_id)
        handle = await self.env.client.start_workflow(
            CaseWorkflow.run, time_skipping_input(case_id, SITE), id=case_id, task_queue=self.task_queue
        )
        await handle.execute_update(CaseWorkflow.open_case, sealed)
        return handle

    async def closed(self, born: date | None, age_band: AgeBand = AgeBand.ADULT, *, screened: bool = False) -> str:
        handle = await self.open(born, age_band)
        if screened:  # the standard screening outcome finds a mental health need
            await complete(handle, TaskKind.CONSENT, OUTCOMES[TaskKind.CONSENT])
            await complete(handle, TaskKind.SCREENING, OUTCOMES[TaskKind.SCREENING])
        await handle.execute_update(CaseWorkflow.close_case, CLOSURE)
        return handle.id

    async def retention(self, **options: object) -> RetentionReport:
        self.last_run = await self.env.client.start_workflow(
            RetentionWorkflow.run,
            RetentionInput.model_validate(options),
            id=f"retention-{uuid.uuid4()}",
            task_queue=self.task_queue,
        )
        return await self.last_run.result()

    async def retention_on(self, as_of: datetime, **options: object) -> RetentionReport:
        """A run judging as of `as_of`, once the server's clock has reached it. The clock may already
        be past it: when the server is idle, time skipping jumps to the next timer anywhere, such as
        the still-open case's."""
        now = await self.env.get_current_time()
        if now < as_of:
            await skip(self.env, as_of - now)
        return await self.retention(as_of=as_of, **options)

    async def name_of(self, case_id: str) -> str | None:
        return (await self.sealer.open_for_case(await self.store.case_state(case_id), case_id)).person.name

    async def event_count(self, case_ids: list[str]) -> int:
        """The events of these cases: the closed ones (the open case's timers fire whenever the
        time-skipping server jumps ahead, which it does while a test waits)."""
        return sum([len(await self.store.read_stream(case_id)) for case_id in case_ids])


def expired_ids(report: RetentionReport) -> dict[str, tuple[RecordClass, ...]]:
    return {record.case_id: record.record_classes for record in report.expired}


async def test_each_record_is_shredded_when_its_class_says_and_not_before(
    time_skipping_env: WorkflowEnvironment, sqlite_store: EventStore
) -> None:
    env = time_skipping_env
    task_queue = f"retention-{uuid.uuid4()}"
    cases = Cases(env, sqlite_store, task_queue)
    async with worker_for(env.client, sqlite_store, task_queue):
        closed_on = (await env.get_current_time()).astimezone(UK).date()
        adult = await cases.closed(years_before(closed_on, 40))
        mental_health = await cases.closed(years_before(closed_on, 35), screened=True)
        born_15, born_17 = years_before(closed_on, 15, days=100), years_before(closed_on, 17, days=100)
        child_15 = await cases.closed(born_15, AgeBand.CHILD)
        child_17 = await cases.closed(born_17, AgeBand.CHILD)
        child_undated = await cases.closed(None, AgeBand.CHILD)
        still_open = (await cases.open(years_before(closed_on, 30))).id
        assert (await sqlite_store.case_state(adult)).closed_at is not None
        closed = [adult, mental_health, child_15, child_17, child_undated]

        # Looking 30 years ahead (a report may): every closed, dated record will have expired.
        ahead = start_of(years_after(closed_on, 30))
        events_before = await cases.event_count(closed)
        report = await cases.retention(as_of=ahead, report_only=True)
        assert expired_ids(report) == {
            adult: (RecordClass.ADULT_HEALTH,),
            mental_health: (RecordClass.ADULT_HEALTH, RecordClass.MENTAL_HEALTH),
            child_15: (RecordClass.CHILD,),
            child_17: (RecordClass.CHILD,),
        }
        assert [r.case_id for r in report.for_review] == [child_undated]
        assert "no date of birth" in report.for_review[0].reason
        assert report.examined == 5 and report.shredded == [] and report.report_only
        assert still_open not in str(report.model_dump())
        assert await cases.event_count(closed) == events_before and await cases.name_of(adult) == "Ada Testperson"

        # A run that shreds can't look ahead: refused, and nothing changed.
        with pytest.raises(WorkflowFailureError) as refused:
            await cases.retention(as_of=ahead)
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == "InvalidRetentionInput" and "future" in refused.value.cause.message
        assert await cases.event_count(closed) == events_before and await cases.name_of(adult) == "Ada Testperson"

        # A day before the adult record's 8 years end, nothing has expired; on the day, it has.
        report = await cases.retention_on(start_of(years_after(closed_on, 8) - timedelta(days=1)), page_size=2)
        assert report.expired == [] and report.examined == 5 and report.shredded == []
        report = await cases.retention_on(start_of(years_after(closed_on, 8)), page_size=2)  # three pages
        assert expired_ids(report) == {adult: (RecordClass.ADULT_HEALTH,)} and report.shredded == [adult]
        assert report.examined == 5 and [r.case_id for r in report.for_review] == [child_undated]
        assert cases.last_run is not None
        history = await cases.last_run.fetch_history()
        await replayer(RetentionWorkflow).replay_workflow(history)
        if RECORDING:  # a golden history with three pages, one shred and one record for review
            (HISTORIES / "retention_workflow_paged.json").write_text(history.to_json() + "\n")

        assert await cases.name_of(adult) == SHREDDED
        events = await sqlite_store.read_stream(adult)
        shredding = events[-1]
        assert shredding.event.type == "PersonalDataShredded" and shredding.actor == SYSTEM_ACTOR
        assert shredding.event.reason == "retention period ended (adult_health record)"
        assert (await sqlite_store.verify_chain(adult)).ok
        assert await sqlite_store.projection_differences(adult) == []
        for kept in (mental_health, child_15, child_17, child_undated, still_open):
            assert await cases.name_of(kept) == "Ada Testperson"

        # On the 26th birthday of the one 17 at the end, the 25th of the one 15, and 20 years after
        # the end for mental health; the undated child is never shredded.
        report = await cases.retention_on(start_of(years_after(born_17, 26)))
        assert report.shredded == [child_17] and report.examined == 4
        assert (await cases.retention_on(start_of(years_after(born_15, 25)))).shredded == [child_15]
        report = await cases.retention_on(start_of(years_after(closed_on, 20)))
        assert report.shredded == [mental_health] and report.examined == 2
        assert [r.case_id for r in report.for_review] == [child_undated]
        for shredded in (child_15, child_17, mental_health):
            assert await cases.name_of(shredded) == SHREDDED
            assert (await sqlite_store.verify_chain(shredded)).ok
        assert await cases.name_of(child_undated) == "Ada Testperson"
        assert await cases.name_of(still_open) == "Ada Testperson"

        # Again, as the schedule runs it (as of now): nothing left to do, nothing recorded twice.
        events_before = await cases.event_count(closed)
        again = await cases.retention()
        assert again.expired == [] and again.shredded == [] and again.examined == 1
        assert again.as_of >= start_of(years_after(closed_on, 20))
        assert await cases.event_count(closed) == events_before
