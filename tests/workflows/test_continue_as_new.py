"""A long case that continues as new several times, on a dev server that suggests it early.

The server suggests continue-as-new once a run's history passes
`limit.historyCount.suggestContinueAsNew` events (default 4K in Server 1.32); here it is
SUGGEST_AFTER_EVENTS, so a few commands fill a run and the workflow hands its state snapshot on.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.commands import ShareInformation
from domain.errors import RuleViolation
from domain.model import Actor, Cohort, Role, Stage
from domain.outcomes import Disclosure, LawfulBasis, Recipient
from domain.state import CaseState, fold
from domain.tasks import TaskKind
from service.staff import StaffCommands
from store.event_store import EventStore
from tests.conftest import TEST_PAYLOAD_KEYS, case_commands, start_dev_server, worker_for
from tests.workflows.journey import JOURNEY, OUTCOMES, PRACTITIONER, TEAM_LEAD, open_case, open_task
from tests.workflows.support import Run, assert_search_attributes_match, assert_stream_is_sound, runs_of
from workers.client import data_converter
from workflows.case_workflow import CaseWorkflow
from workflows.messages import RUN_EVENTS_LIMIT, CaseInput, CaseResult
from workflows.ui_text import case_details, case_summary

SUGGEST_AFTER_EVENTS = 30
SECOND_PRACTITIONER = Actor(staff_id="pr-002", role=Role.PRACTITIONER)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def early_can_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server(
        "--dynamic-config-value", f"limit.historyCount.suggestContinueAsNew={SUGGEST_AFTER_EVENTS}"
    )
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(loop_scope="session")
async def long_cases(early_can_env: WorkflowEnvironment, sqlite_store: EventStore) -> AsyncIterator[StaffCommands]:
    task_queue = f"cases-can-{uuid.uuid4()}"
    async with worker_for(early_can_env.client, sqlite_store, task_queue):
        yield case_commands(early_can_env, sqlite_store, task_queue)


def disclosure(n: int) -> ShareInformation:
    """An ad-hoc disclosure: alternately by consent (court) and on a public-task basis (CPS)."""
    if n % 2:
        return ShareInformation(
            actor=PRACTITIONER,
            disclosure=Disclosure(
                recipient=Recipient.COURT,
                purpose=f"bail hearing update {n}",
                lawful_basis=LawfulBasis.CONSENT,
                summary="Engaging with the community mental health team.",
            ),
        )
    return ShareInformation(
        actor=TEAM_LEAD,
        disclosure=Disclosure(
            recipient=Recipient.CPS,
            purpose=f"charging decision {n}",
            lawful_basis=LawfulBasis.PUBLIC_TASK,
            summary="Vulnerabilities relevant to the charging decision.",
        ),
    )


class Driver:
    """Sends commands, checking each answer against the last, and counts those the case accepted."""

    def __init__(self, cases: StaffCommands) -> None:
        self.cases = cases
        self.accepted = 0
        self.state: CaseState | None = None

    def took(self, state: CaseState) -> CaseState:
        assert self.state is None or state.version >= self.state.version
        self.accepted += 1
        self.state = state
        return state

    @property
    def case_id(self) -> str:
        assert self.state is not None
        return self.state.case_id

    def handle(self) -> WorkflowHandle[CaseWorkflow, CaseResult]:
        return self.cases.client.get_workflow_handle_for(CaseWorkflow.run, self.case_id)

    async def check_live_state(self) -> None:
        """The latest run answers with exactly the fold of the stored stream, and is listed by it."""
        queried = await self.handle().query(CaseWorkflow.state)
        assert await self.cases.opened(queried, self.case_id) == self.state
        assert queried == fold(self.case_id, await self.cases.store.read_stream(self.case_id))
        await assert_search_attributes_match(self.cases.client, queried)

    async def claim_reassign_complete(self, kind: TaskKind, claimer: Actor, completer: Actor) -> None:
        assert self.state is not None
        task_id = open_task(self.state, kind)
        self.took(await self.cases.claim_task(task_id, claimer))
        assert self.state.tasks[task_id].assignee == claimer.staff_id
        self.took(await self.cases.claim_task(task_id, TEAM_LEAD))  # the team lead reassigns it to themself
        assert self.state.tasks[task_id].assignee == TEAM_LEAD.staff_id
        with pytest.raises(RuleViolation) as refusal:  # now nobody else can take it
            await self.cases.claim_task(task_id, claimer)
        assert refusal.value.rule == "task_assigned_to_other"
        before = self.state.version
        self.took(await self.cases.claim_task(task_id, TEAM_LEAD))  # claiming it again changes nothing
        assert self.state.version == before
        self.took(await self.cases.complete_task(task_id, OUTCOMES[kind], completer))


async def snapshots(runs: list[Run]) -> list[CaseState]:
    """The state snapshot each continued run started from."""
    found = []
    for run in runs[1:]:
        started = run.history.events[0].workflow_execution_started_event_attributes
        (decoded,) = await data_converter(TEST_PAYLOAD_KEYS).decode(started.input.payloads, [CaseInput])
        assert isinstance(decoded, CaseInput) and decoded.snapshot is not None
        found.append(decoded.snapshot)
    return found


async def test_a_long_case_continues_as_new_without_losing_or_repeating_an_event(
    long_cases: StaffCommands, sqlite_store: EventStore
) -> None:
    cases = long_cases
    drive = Driver(cases)
    drive.took(await cases.start_case(open_case(f"CUST-{uuid.uuid4().hex[:8]}")))

    await drive.claim_reassign_complete(TaskKind.CONSENT, PRACTITIONER, TEAM_LEAD)
    await drive.check_live_state()

    # One by one: each command is a few events of history, so the runs roll over as they go.
    for n in range(12):
        drive.took(await cases.share_information(drive.case_id, disclosure(n)))
        if n % 4 == 3:
            await drive.check_live_state()

    # A burst: commands that arrive together are serialised, and some are still in flight when the
    # server suggests continuing as new; every one must land exactly once, in this run or the next.
    burst = await asyncio.gather(*(cases.share_information(drive.case_id, disclosure(n)) for n in range(12, 24)))
    for state in sorted(burst, key=lambda s: s.version):
        drive.took(state)
    assert sorted(s.version for s in burst) == sorted({s.version for s in burst}), "two commands got one version"
    await drive.check_live_state()
    assert drive.state is not None
    assert len(drive.state.disclosures) == 24

    for kind in JOURNEY[1:-1]:
        await drive.claim_reassign_complete(kind, SECOND_PRACTITIONER, TEAM_LEAD)
        await drive.check_live_state()
    # The closure task: claimed by the practitioner, who completes it.
    closure = open_task(drive.state, TaskKind.CLOSURE)
    drive.took(await cases.claim_task(closure, PRACTITIONER))
    drive.took(await cases.complete_task(closure, OUTCOMES[TaskKind.CLOSURE], PRACTITIONER))
    assert drive.state.stage is Stage.CLOSED

    result = await drive.handle().result()
    assert result.close_reason == "pathway_complete"
    assert result.version == drive.state.version
    await drive.check_live_state()  # the closed run still answers queries
    await assert_stream_is_sound(drive.cases, drive.case_id, drive.state)

    runs = await runs_of(cases.client, drive.case_id)
    assert len(runs) >= 4, f"expected several continue-as-new runs, got {len(runs)}"
    for run in runs[:-1]:
        assert run.last_event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert runs[-1].last_event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    listed = [w.run_id async for w in cases.client.list_workflows(f"WorkflowId = '{drive.case_id}'")]
    assert sorted(listed) == sorted(run.run_id for run in runs)

    # Every accepted command was accepted and completed exactly once, in exactly one run.
    accepted = [r.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) for r in runs]
    completed = [r.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED) for r in runs]
    assert accepted == completed
    assert sum(accepted) == drive.accepted
    # A run hands over as soon as its handlers have finished, so it stays near the suggested size,
    # unless it took several commands at once (the burst): it accepts every command that arrives
    # while it waits for its handlers, before it continues as new.
    sizes = [len(r.history.events) for r in runs]
    assert all(size < 2 * SUGGEST_AFTER_EVENTS or n > 3 for size, n in zip(sizes, accepted, strict=True)), (
        sizes,
        accepted,
    )

    # Each run started from exactly the fold of the events recorded before it.
    stored = await sqlite_store.read_stream(drive.case_id)
    versions = []
    for snapshot in await snapshots(runs):
        assert snapshot == fold(drive.case_id, stored[: snapshot.version])
        versions.append(snapshot.version)
    assert versions == sorted(set(versions))


async def test_a_case_continues_as_new_once_its_run_reaches_the_event_limit(
    cases: StaffCommands, sqlite_store: EventStore
) -> None:
    """On a server that suggests nothing early, the case itself keeps each run short: a worker that
    picks it up replays at most about RUN_EVENTS_LIMIT events."""
    drive = Driver(cases)
    drive.took(await cases.start_case(open_case(f"CUST-{uuid.uuid4().hex[:8]}")))
    await drive.claim_reassign_complete(TaskKind.CONSENT, PRACTITIONER, TEAM_LEAD)
    for n in range(40):
        drive.took(await cases.share_information(drive.case_id, disclosure(n)))
    await drive.check_live_state()

    runs = await runs_of(cases.client, drive.case_id)
    assert len(runs) >= 2, f"{sum(len(r.history.events) for r in runs)} events stayed in one run"
    for run in runs[:-1]:
        assert run.last_event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        # It rolls over at the first quiet moment past the limit: one command's events at most beyond it.
        assert RUN_EVENTS_LIMIT <= len(run.history.events) < RUN_EVENTS_LIMIT + 30
    assert drive.state is not None and len(drive.state.disclosures) == 40
    await assert_stream_is_sound(drive.cases, drive.case_id, drive.state)


async def test_every_run_of_a_continued_case_shows_its_summary_and_details(long_cases: StaffCommands) -> None:
    """The first run has the static summary and details the service started it with. The server starts
    each later run without them (continue-as-new takes none, and none is copied over), so those runs
    show them at the head of their current details: the Temporal UI's "Summary & Details" shows them
    on every run, as summary and details on the first, as current details on the others."""
    cases = long_cases
    command = open_case(f"CUST-{uuid.uuid4().hex[:8]}").model_copy(update={"cohorts": (Cohort.VETERAN,)})
    state = await cases.start_case(command)
    state = await cases.complete_task(open_task(state, TaskKind.CONSENT), OUTCOMES[TaskKind.CONSENT], PRACTITIONER)
    for n in range(8):
        state = await cases.share_information(state.case_id, disclosure(n))
    runs = await runs_of(cases.client, state.case_id)
    assert len(runs) >= 3, f"expected several runs, got {len(runs)}"

    summary, details = case_summary(command), case_details(command)
    assert summary == "L&D case at demo (custody)"
    facts = details.splitlines()[:-1]  # all but the pointer to the current details
    assert facts == [
        "Site: demo",
        "Setting: custody",
        "Referral source: custody_staff",
        "Age band: adult",
        "Cohorts: veteran",
    ]
    for number, run in enumerate(runs):
        handle = cases.client.get_workflow_handle(state.case_id, run_id=run.run_id)
        described = await handle.describe()
        shown = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        live = shown.current_details.splitlines()
        if number == 0:
            assert (await described.static_summary(), await described.static_details()) == (summary, details)
            assert len(live) == 1 and live[0].startswith("stage: screening · site: demo")
        else:
            # What the server gives a continued run: no summary, no details.
            assert (await described.static_summary(), await described.static_details()) == (None, None)
            assert live[:-1] == [summary, *facts], live
            assert live[-1].startswith("stage: screening · site: demo")
