"""`pathway data retention ...` through the real CLI, against the dev server (real time).

A record expires years after it closed, so the closed cases are built in the store as they would be
after years: OpenCase then CloseCase decided by the domain rules with a clock set back, their
personal fields sealed under the person's data key as the system seals them."""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from cli.exits import ExitStatus
from cli.progress import CLEAR_LINE
from domain.commands import CloseCase, Command, OpenCase
from domain.decisions import DecisionContext
from domain.events import PersonalDataShredded
from domain.identity import case_id_for, person_id_for
from domain.model import SYSTEM_ACTOR, AgeBand, Person, ReferralSource, Setting
from domain.outcomes import ClosureOutcome, ClosureReason
from domain.personal import SHREDDED
from domain.rules import decide
from domain.state import CaseState, apply, empty_state
from domain.stream import envelop
from domain.timeline import UK
from store.event_store import EventStore
from store.person_keys import PersonKeys
from store.sealing import Sealer
from tests.cli.support import Completed, at_terminal, pathway
from tests.conftest import TEST_MASTER_KEYS, worker_for
from tests.workflows.journey import PRACTITIONER
from workers.settings import SHIPPED_CONFIG, load_config
from workflows.messages import RetentionReport

ID_KEY = "retention-cli-test-key"  # PATHWAY_ID_KEY: case ids and person ids derive from it
SITE = load_config(SHIPPED_CONFIG).site("demo")
NAME = "Ada Testperson"
SCHEDULE_ID = "pathway-retention"
UNDATED_CHILD = "a child's record with no date of birth: the birthday it is kept until is unknown"
FIRST_LINE = re.compile(
    r"retention as of \d{4}-\d{2}-\d{2} \d{2}:\d{2} (GMT|BST): examined (\d+) closed record\(s\); (.*)"
)


def years_ago(now: datetime, years: int) -> datetime:
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


@dataclass
class Seeded:
    store: EventStore
    sealer: Sealer
    env: dict[str, str]
    task_queue: str
    expired: str  # adult, closed 9 years ago: its 8 years are over
    recent: str  # adult, closed a year ago: kept 7 years more
    child: str  # a child's, no date of birth, closed 30 years ago: kept for review

    async def name_of(self, case_id: str) -> str | None:
        return (await self.sealer.open_for_case(await self.store.case_state(case_id), case_id)).person.name

    async def event_counts(self) -> dict[str, int]:
        return {case_id: len(await self.store.read_stream(case_id)) for case_id in await self.store.case_ids()}

    async def key_shredded(self, case_id: str) -> bool:
        person_id = person_id_for(ID_KEY.encode(), case_id)
        return (await self.sealer.keys.data_key(person_id)) is None


async def record(store: EventStore, state: CaseState, command: Command, at: datetime) -> CaseState:
    """Decide `command` as the case workflow does, at `at`, append the events and fold them in."""
    context = DecisionContext(now=at, new_id=lambda: str(uuid.uuid4()), site=SITE)
    envelopes = envelop(state, decide(state, command, context), command.actor, at, context.new_id)
    await store.append(state.case_id, envelopes)
    for envelope in envelopes:
        state = apply(state, envelope)
    return state


async def closed_case(
    store: EventStore, sealer: Sealer, closed_at: datetime, born: str | None, age_band: AgeBand = AgeBand.ADULT
) -> str:
    """A case opened two hours before `closed_at` and closed then, its personal fields sealed."""
    ref = f"CUST-{uuid.uuid4().hex[:6]}"
    case_id = case_id_for(ID_KEY.encode(), SITE.site_id, ref)
    person_id = person_id_for(ID_KEY.encode(), case_id)
    opening = OpenCase(
        actor=PRACTITIONER,
        site=SITE.site_id,
        setting=Setting.CUSTODY,
        source=ReferralSource.CUSTODY_STAFF,
        external_ref=ref,
        age_band=age_band,
        person=Person(name=NAME, date_of_birth=born),
    )
    closing = CloseCase(
        actor=PRACTITIONER, outcome=ClosureOutcome(reason=ClosureReason.PATHWAY_COMPLETE, note="closed long ago")
    )
    state = await record(
        store, empty_state(case_id), await sealer.seal(opening, person_id, case_id), closed_at - timedelta(hours=2)
    )
    state = await record(store, state, await sealer.seal(closing, person_id, case_id), closed_at)
    assert state.closed_at == closed_at and (await store.case_state(case_id)).closed_at == closed_at
    return case_id


@pytest_asyncio.fixture(loop_scope="session")
async def seeded(temporal_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Seeded]:
    task_queue = f"retention-cli-{uuid.uuid4()}"
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    sealer = Sealer(PersonKeys(store.engine, TEST_MASTER_KEYS))
    now = datetime.now(UTC)
    seeded = Seeded(
        store=store,
        sealer=sealer,
        env={
            "PATHWAY_DATA_DIR": str(tmp_path),
            "PATHWAY_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
            "PATHWAY_TASK_QUEUE": task_queue,
            "PATHWAY_ID_KEY": ID_KEY,
        },
        task_queue=task_queue,
        expired=await closed_case(store, sealer, years_ago(now, 9), "1961-03-14"),
        recent=await closed_case(store, sealer, years_ago(now, 1), "1985-11-02"),
        child=await closed_case(store, sealer, years_ago(now, 30), None, AgeBand.CHILD),
    )
    for case_id in (seeded.expired, seeded.recent, seeded.child):
        assert await seeded.name_of(case_id) == NAME
        assert (await store.verify_chain(case_id)).ok and await store.projection_differences(case_id) == []
    try:
        async with worker_for(temporal_env.client, store, task_queue):
            yield seeded
    finally:
        await store.close()


def report_lines(run: Completed) -> tuple[re.Match[str], list[str]]:
    """The first line of a text report (its time varies), and the lines after it."""
    assert run.status == 0, run.stderr
    first, *rest = run.stdout.splitlines()
    matched = FIRST_LINE.fullmatch(first)
    assert matched is not None, first
    return matched, rest


async def retention_runs(client: Client, task_queue: str, expected: int) -> list[str]:
    """The ids of the workflows started on the test's task queue, once visibility shows `expected`."""
    query = f'TaskQueue="{task_queue}"'
    async with asyncio.timeout(20):
        while True:
            ids = sorted([execution.id async for execution in client.list_workflows(query)])
            if len(ids) >= expected:
                return ids
            await asyncio.sleep(0.2)


async def test_only_an_admin_shreds_and_an_auditor_may_report(
    seeded: Seeded, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    before = await seeded.event_counts()
    # Refusals come before Temporal is reached: with no server to reach they are still refusals (3),
    # not Temporal being unavailable (5).
    unreachable = {**seeded.env, "PATHWAY_TEMPORAL_ADDRESS": "localhost:1"}
    for env in (seeded.env, unreachable):
        link_worker = await pathway("data", "retention", "run", "--as", "lw-001", env=env)
        assert link_worker.status == ExitStatus.REFUSED and link_worker.stdout == ""
        assert link_worker.stderr == (
            "error: a link_worker cannot shred a person's personal data (allowed: admin) (rule: role_not_allowed)\n"
        )
        auditor = await pathway("data", "retention", "run", "--as", "au-001", env=env)
        assert auditor.status == ExitStatus.REFUSED and auditor.stdout == ""
        assert auditor.stderr == (
            "error: an auditor cannot shred a person's personal data (allowed: admin) (rule: role_not_allowed)\n"
        )
        reader = await pathway("data", "retention", "run", "--report-only", "--as", "lw-001", env=env)
        assert reader.status == ExitStatus.REFUSED
        assert reader.stderr == (
            "error: a link_worker cannot report which records have reached the end of retention "
            "(allowed: auditor, admin) (rule: role_not_allowed)\n"
        )
        future = await pathway("data", "retention", "run", "--as", "ad-001", "--as-of", "2099-01-01", env=env)
        assert future.status == ExitStatus.USAGE and future.stdout == ""
        assert future.stderr == (
            "error: as_of 2099-01-01T00:00:00+00:00 is in the future: only a report-only run may look ahead\n"
        )

    report = await pathway("data", "retention", "run", "--as", "au-001", "--report-only", env=seeded.env)
    first, rest = report_lines(report)
    assert first.group(2) == "3"
    assert first.group(3) == "would shred 1 expired; 1 for review; 0 refused"
    assert rest == [
        f"  would shred   {seeded.expired}  (adult_health record)",
        f"  review        {seeded.child}  {UNDATED_CHILD}",
    ]
    assert NAME not in report.stdout and "1961" not in report.stdout
    # At a terminal the command polls the run's progress query while it waits: the same report, and a
    # progress line, if the run lasted long enough for one, is cleared.
    run_args = ("data", "retention", "run", "--as", "au-001", "--report-only")
    watched = await asyncio.to_thread(at_terminal, run_args, seeded.env, tmp_path)
    assert report_lines(Completed(watched.status, watched.stdout, watched.terminal))[1] == rest
    terminal = watched.terminal
    assert terminal == "" or (terminal.startswith(CLEAR_LINE + "examined ") and terminal.endswith(CLEAR_LINE))

    as_json = await pathway("data", "retention", "run", "--as", "au-001", "--report-only", "--json", env=seeded.env)
    assert as_json.status == 0, as_json.stderr
    parsed = RetentionReport.model_validate(as_json.json())
    assert parsed.report_only and parsed.examined == 3 and parsed.shredded == [] and parsed.refused == []
    assert [(r.case_id, r.record_classes) for r in parsed.expired] == [(seeded.expired, ("adult_health",))]
    assert [(r.case_id, r.reason) for r in parsed.for_review] == [(seeded.child, UNDATED_CHILD)]
    assert abs(parsed.as_of - datetime.now(UTC)) < timedelta(minutes=5)
    assert parsed.expired[0].person_id == person_id_for(ID_KEY.encode(), seeded.expired)

    # A report may look ahead: in 2099 the record closed a year ago has expired too.
    ahead = await pathway(
        "data", "retention", "run", "--as", "ad-001", "--report-only", "--as-of", "2099-01-01", "--json",
        env=seeded.env,
    )  # fmt: skip
    assert ahead.status == 0, ahead.stderr
    looked_ahead = RetentionReport.model_validate(ahead.json())
    assert looked_ahead.as_of == datetime(2099, 1, 1, tzinfo=UK) and looked_ahead.report_only
    assert sorted(r.case_id for r in looked_ahead.expired) == sorted([seeded.expired, seeded.recent])
    assert looked_ahead.shredded == [] and [r.case_id for r in looked_ahead.for_review] == [seeded.child]

    # A past day given as a date is that day's start, UK time.
    today = datetime.now(UK).date()
    on_day = await pathway(
        "data", "retention", "run", "--as", "au-001", "--report-only", "--as-of", today.isoformat(), env=seeded.env
    )
    zone = datetime.combine(today, time(), UK).strftime("%Z")
    assert on_day.status == 0, on_day.stderr
    assert on_day.stdout.splitlines()[0] == (
        f"retention as of {today.isoformat()} 00:00 {zone}: "
        "examined 3 closed record(s); would shred 1 expired; 1 for review; 0 refused"
    )

    # Nothing changed, and only the five runs that were allowed started a workflow.
    assert await seeded.event_counts() == before
    for case_id in (seeded.expired, seeded.recent, seeded.child):
        assert await seeded.name_of(case_id) == NAME and not await seeded.key_shredded(case_id)
    runs = await retention_runs(temporal_env.client, seeded.task_queue, 5)
    assert len(runs) == 5
    assert sum(run.startswith("pathway-retention-by-au-001-") for run in runs) == 4
    assert sum(run.startswith("pathway-retention-by-ad-001-") for run in runs) == 1


async def test_an_admin_run_shreds_what_has_expired_and_only_that(seeded: Seeded) -> None:
    before = await seeded.event_counts()
    shredding = await pathway("data", "retention", "run", "--as", "ad-001", env=seeded.env)
    first, rest = report_lines(shredding)
    assert first.group(2) == "3"
    assert first.group(3) == "shredded 1 of 1 expired; 1 for review; 0 refused"
    assert rest == [
        f"  shredded      {seeded.expired}  (adult_health record)",
        f"  review        {seeded.child}  {UNDATED_CHILD}",
    ]

    assert await seeded.name_of(seeded.expired) == SHREDDED and await seeded.key_shredded(seeded.expired)
    opened = await seeded.sealer.open_for_case(await seeded.store.case_state(seeded.expired), seeded.expired)
    assert opened.person.date_of_birth == SHREDDED and opened.external_ref == SHREDDED
    events = await seeded.store.read_stream(seeded.expired)
    assert len(events) == before[seeded.expired] + 1
    last = events[-1]
    assert isinstance(last.event, PersonalDataShredded) and last.actor == SYSTEM_ACTOR
    assert last.event.reason == "retention period ended (adult_health record)"
    assert last.event.person_id == person_id_for(ID_KEY.encode(), seeded.expired)
    assert abs(last.occurred_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert (await seeded.store.verify_chain(seeded.expired)).ok
    assert await seeded.store.projection_differences(seeded.expired) == []

    for kept in (seeded.recent, seeded.child):
        assert await seeded.name_of(kept) == NAME and not await seeded.key_shredded(kept)
        assert len(await seeded.store.read_stream(kept)) == before[kept]
        assert (await seeded.store.verify_chain(kept)).ok

    # Again: the shredded record is no longer a candidate; nothing is shredded or recorded twice.
    after = await seeded.event_counts()
    again = await pathway("data", "retention", "run", "--as", "ad-001", "--json", env=seeded.env)
    assert again.status == 0, again.stderr
    repeated = RetentionReport.model_validate(again.json())
    assert not repeated.report_only and repeated.examined == 2
    assert repeated.expired == [] and repeated.shredded == [] and repeated.refused == []
    assert [r.case_id for r in repeated.for_review] == [seeded.child]
    assert await seeded.event_counts() == after
    assert await seeded.name_of(seeded.recent) == NAME and await seeded.name_of(seeded.child) == NAME


async def test_the_daily_schedule_is_created_then_kept_in_line(
    seeded: Seeded, temporal_env: WorkflowEnvironment
) -> None:
    handle = temporal_env.client.get_schedule_handle(SCHEDULE_ID)
    try:
        auditor = await pathway("data", "retention", "schedule", "--as", "au-001", env=seeded.env)
        assert auditor.status == ExitStatus.REFUSED and auditor.stdout == ""
        assert auditor.stderr == (
            "error: an auditor cannot change the configuration (allowed: admin) (rule: role_not_allowed)\n"
        )
        with pytest.raises(RPCError) as missing:
            await handle.describe()
        assert missing.value.status is RPCStatusCode.NOT_FOUND

        created = await pathway("data", "retention", "schedule", "--as", "ad-001", env=seeded.env)
        assert created.status == 0, created.stderr
        assert created.stdout == (
            f"schedule {SCHEDULE_ID} created: daily at 02:30 Europe/London, shredding what has expired\n"
        )
        described = await handle.describe()
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow) and action.task_queue == seeded.task_queue
        assert action.workflow == "RetentionWorkflow"
        assert described.schedule.spec.time_zone_name == "Europe/London"
        [calendar] = described.schedule.spec.calendars
        assert [r.start for r in calendar.hour] == [2] and [r.start for r in calendar.minute] == [30]
        assert not described.schedule.state.paused

        # An operator pauses it; bringing it in line with the configuration keeps the pause.
        await handle.pause(note="paused by the operator")
        updated = await pathway("data", "retention", "schedule", "--as", "ad-001", env=seeded.env)
        assert updated.status == 0, updated.stderr
        assert updated.stdout == (
            f"schedule {SCHEDULE_ID} updated: daily at 02:30 Europe/London, shredding what has expired\n"
        )
        state = (await handle.describe()).schedule.state
        assert state.paused and state.note == "paused by the operator"
    finally:
        try:
            await handle.delete()
        except RPCError as error:  # never created: nothing to clean up
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
