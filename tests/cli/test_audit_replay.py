"""`pathway audit replay`: histories fetched from a dev server (by case, by query, all of them) or read
from files (the Temporal CLI's own export, the golden histories) replay against the current code;
a history the code no longer reproduces is reported, and bad input is refused with one precise line.

`--all` means every run the namespace keeps. So it runs on a dev server of this module's own, holding
just the demo cases and two journeys: on the session's shared server it would also replay what other
tests left there, and its result would depend on which tests ran before. That server suggests
continue-as-new early, so a case has several runs, and the replay by case must find them all.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.store_activities import StoreActivities
from cli.demo import seed_demo_cases
from cli.exits import ExitStatus
from domain.state import CaseState
from service.replay import (
    FailureKind,
    ReplayInputError,
    ReplayOutcome,
    WorkflowCode,
    case_histories,
    file_histories,
    listed_histories,
    load_history_file,
    replay_histories,
)
from service.staff import StaffCommands
from store.event_store import EventStore
from tests.cli.support import Completed, pathway
from tests.conftest import TEST_PAYLOAD_KEYS, case_commands, start_dev_server, worker_for
from tests.workflows.altered_workflows import CaseWorkflowWithExtraTimer
from tests.workflows.journey import JOURNEY, complete, open_case
from tests.workflows.support import runs_of
from workers.binaries import installed_binary
from workers.client import data_converter
from workflows.case_workflow import CaseWorkflow
from workflows.registry import WORKFLOWS

SUGGEST_AFTER_EVENTS = 40
AUDITOR = "au-001"
GOLDEN_HISTORIES = sorted((Path(__file__).resolve().parents[1] / "histories").glob("*.json"))
# A long history to cut and edit: the standard journey's.
JOURNEY_HISTORY = next(path for path in GOLDEN_HISTORIES if path.name == "case_workflow_journey.json")


@dataclass(frozen=True)
class ReplayWorld:
    env: WorkflowEnvironment
    journey_case_ids: list[str]
    demo_case_ids: list[str]

    @property
    def client(self) -> Client:
        return self.env.client


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ReplayWorld]:
    """The demo cases and two whole journeys (each with a referral, so a child workflow), with the
    worker still running: some demo workflows are open and go on while they are replayed."""
    env = await start_dev_server(
        "--dynamic-config-value", f"limit.historyCount.suggestContinueAsNew={SUGGEST_AFTER_EVENTS}"
    )
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('replay') / 'pathway.db'}")
    await store.migrate()
    task_queue = f"replay-{uuid.uuid4()}"
    try:
        async with worker_for(env.client, store, task_queue):
            cases = case_commands(env, store, task_queue)
            demo_case_ids = await seed_demo_cases(cases.service)
            journey_case_ids = [await whole_journey(cases, f"REPLAY-{n}") for n in range(2)]
            yield ReplayWorld(env, journey_case_ids, demo_case_ids)
    finally:
        await store.close()
        await env.shutdown()


async def whole_journey(cases: StaffCommands, ref: str) -> str:
    state: CaseState = await cases.start_case(open_case(ref))
    for kind in JOURNEY:
        state = await complete(cases, state, kind)
    await cases.client.get_workflow_handle_for(CaseWorkflow.run, state.case_id).result()  # its last run has ended
    return state.case_id


def cli_env(env: WorkflowEnvironment, data_dir: Path) -> dict[str, str]:
    return {"PATHWAY_DATA_DIR": str(data_dir), "PATHWAY_TEMPORAL_ADDRESS": env.client.service_client.config.target_host}


async def replay_cli(env: WorkflowEnvironment, data_dir: Path, *args: str, staff: str = AUDITOR) -> Completed:
    return await pathway("audit", "replay", *args, "--as", staff, env=cli_env(env, data_dir))


def replayed(completed: Completed) -> list[dict[str, Any]]:
    outcomes = completed.json()
    assert isinstance(outcomes, list)
    return outcomes


async def export_with_temporal_cli(env: WorkflowEnvironment, workflow_id: str, path: Path) -> Path:
    """The latest run's history as the Temporal CLI exports it, untouched."""
    process = await asyncio.create_subprocess_exec(
        installed_binary("temporal"), "workflow", "show", "--workflow-id", workflow_id, "--output", "json",
        "--address", env.client.service_client.config.target_host, "--namespace", env.client.namespace,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    path.write_bytes(stdout)
    return path


async def run_ids_of_case(client: Client, case_id: str) -> set[tuple[str, str]]:
    """Every run of the case and of its children, found from the histories (strongly consistent)."""
    return {(h.workflow_id, h.run_id) async for h in case_histories(client, case_id)}


async def until_visible(client: Client, runs: set[tuple[str, str]]) -> None:
    """Visibility trails the histories a little; wait until it lists every run."""
    async with asyncio.timeout(30):
        while not runs <= {(w.id, w.run_id) async for w in client.list_workflows("")}:
            await asyncio.sleep(0.2)


async def test_a_case_replays_with_every_run_and_child(world: ReplayWorld, tmp_path: Path) -> None:
    case_id = world.journey_case_ids[0]
    runs_before = await runs_of(world.client, case_id)
    case_runs = [run.run_id for run in runs_before]
    assert len(case_runs) >= 2, "the module's server should have made the journey continue as new"

    completed = await replay_cli(world.env, tmp_path, case_id, "--json")
    assert completed.status == 0, completed.stdout + completed.stderr
    outcomes = replayed(completed)
    assert all(o["failure"] is None for o in outcomes), outcomes
    case_outcomes = [o for o in outcomes if o["workflow_id"] == case_id]
    assert [o["run_id"] for o in case_outcomes] == case_runs  # first to last
    assert {o["workflow_type"] for o in case_outcomes} == {"CaseWorkflow"}
    children = [o for o in outcomes if o["workflow_id"] != case_id]
    assert [o["workflow_type"] for o in children] == ["ReferralWorkflow"]
    assert children[0]["workflow_id"].startswith(f"{case_id}-referral-")
    assert case_outcomes[-1]["closed"] and case_outcomes[-1]["events"] > 0

    text = await replay_cli(world.env, tmp_path, case_id)
    assert text.status == 0, text.stderr
    lines = text.stdout.strip().splitlines()
    assert len(lines) == len(outcomes) + 1
    assert all(line.startswith("ok ") for line in lines[:-1])
    assert lines[-1] == f"{len(outcomes)} of {len(outcomes)} histories replay with the current code"
    assert not list(tmp_path.iterdir()), "a replay wrote into the data directory"
    assert await runs_of(world.client, case_id) == runs_before, "a replay changed the case's histories"


async def test_a_query_replays_the_runs_it_lists(world: ReplayWorld, tmp_path: Path) -> None:
    case_id = world.journey_case_ids[1]
    expected = await run_ids_of_case(world.client, case_id)
    await until_visible(world.client, expected)

    query = f"WorkflowId = '{case_id}' OR WorkflowType = 'ReferralWorkflow'"
    completed = await replay_cli(world.env, tmp_path, "--query", query, "--json")
    assert completed.status == 0, completed.stdout + completed.stderr
    outcomes = replayed(completed)
    assert expected <= {(o["workflow_id"], o["run_id"]) for o in outcomes}
    assert {o["workflow_type"] for o in outcomes} == {"CaseWorkflow", "ReferralWorkflow"}
    assert {o["workflow_id"] for o in outcomes if o["workflow_type"] == "CaseWorkflow"} == {case_id}
    assert all(o["failure"] is None for o in outcomes), outcomes


async def test_all_replays_every_demo_case_and_journey(world: ReplayWorld, tmp_path: Path) -> None:
    expected: set[tuple[str, str]] = set()
    for case_id in world.demo_case_ids + world.journey_case_ids:
        expected |= await run_ids_of_case(world.client, case_id)
    await until_visible(world.client, expected)

    completed = await replay_cli(world.env, tmp_path, "--all", "--json")
    assert completed.status == 0, completed.stdout + completed.stderr
    outcomes = replayed(completed)
    # The worker goes on running the open demo cases, so a later run may have appeared since.
    assert expected <= {(o["workflow_id"], o["run_id"]) for o in outcomes}
    assert {o["workflow_type"] for o in outcomes} == {"CaseWorkflow", "ReferralWorkflow", "CourtReportWorkflow"}
    assert any(not o["closed"] for o in outcomes), "the open demo cases replay as far as they have gone"
    assert all(o["failure"] is None for o in outcomes), [o for o in outcomes if o["failure"]]


async def test_the_temporal_clis_own_export_replays(world: ReplayWorld, tmp_path: Path) -> None:
    case_id = world.journey_case_ids[0]
    exported = await export_with_temporal_cli(world.env, case_id, tmp_path / "case.json")
    before = exported.read_bytes()
    latest_run = (await world.client.get_workflow_handle(case_id).describe()).run_id

    completed = await replay_cli(world.env, tmp_path / "data", "--history", str(exported), "--json")
    assert completed.status == 0, completed.stdout + completed.stderr
    [outcome] = replayed(completed)
    assert (outcome["workflow_id"], outcome["run_id"]) == (case_id, latest_run)
    assert outcome["workflow_type"] == "CaseWorkflow" and outcome["closed"] and outcome["failure"] is None
    assert exported.read_bytes() == before


async def test_the_golden_histories_replay_from_their_files(tmp_path: Path) -> None:
    files = [arg for path in GOLDEN_HISTORIES for arg in ("--history", str(path))]
    # Files need no Temporal server: the address points nowhere.
    nowhere = {"PATHWAY_DATA_DIR": str(tmp_path), "PATHWAY_TEMPORAL_ADDRESS": "localhost:1"}
    completed = await pathway("audit", "replay", *files, "--as", AUDITOR, env=nowhere)
    assert completed.status == 0, completed.stdout + completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert len(lines) == len(GOLDEN_HISTORIES) + 1
    assert {line.split()[1] for line in lines[:-1]} == {w.__name__ for w in WORKFLOWS}
    assert lines[-1] == f"{len(GOLDEN_HISTORIES)} of {len(GOLDEN_HISTORIES)} histories replay with the current code"


async def test_bad_input_is_refused_with_one_precise_line(world: ReplayWorld, tmp_path: Path) -> None:
    golden = JOURNEY_HISTORY.read_text()
    files = {
        "truncated.json": golden[: len(golden) // 2],
        "foreign.json": json.dumps({"case_id": "case-1", "timeline": ["CaseOpened"]}),
        "not-json.txt": "case-1 opened by pr-001\n",
    }
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    data_dir = tmp_path / "data"
    unknown_case = f"case-{uuid.uuid4()}"
    refusals = await asyncio.gather(
        *(replay_cli(world.env, data_dir, "--history", str(tmp_path / name)) for name in files),
        replay_cli(world.env, data_dir, unknown_case),
        replay_cli(world.env, data_dir, world.journey_case_ids[0], staff="pr-001"),
        replay_cli(world.env, data_dir, world.journey_case_ids[0], "--all"),
    )
    expected = [
        (f"{tmp_path / 'truncated.json'} is cut off: its JSON ends at line ", ExitStatus.USAGE),
        (f'{tmp_path / "foreign.json"} is JSON but not a Temporal history: it has no "events" list', ExitStatus.USAGE),
        (f"{tmp_path / 'not-json.txt'} is not JSON: Expecting value at line 1 column 1", ExitStatus.USAGE),
        (f"there is no case {unknown_case}: no workflow with that id in namespace default", ExitStatus.NOT_FOUND),
        ("a practitioner cannot verify the records (allowed: auditor)", ExitStatus.REFUSED),
        ("give exactly one of CASE, --all, --query or --history", ExitStatus.USAGE),
    ]
    for refusal, (message, status) in zip(refusals, expected, strict=True):
        assert refusal.status == status, (message, refusal)
        assert refusal.stdout == "", refusal.stdout
        assert refusal.stderr.startswith(f"error: {message}"), (message, refusal.stderr)
        assert refusal.stderr.count("\n") == 1, refusal.stderr
    for name, content in files.items():
        assert (tmp_path / name).read_text() == content
    assert not data_dir.exists() or not list(data_dir.iterdir())


def golden_events() -> list[dict[str, Any]]:
    events = json.loads(JOURNEY_HISTORY.read_text())["events"]
    assert isinstance(events, list)
    return events


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (lambda: JOURNEY_HISTORY.read_text()[:-40], "is cut off: its JSON ends at line "),
        (lambda: json.dumps({"events": golden_events()})[:-3] + ",", "is cut off: its JSON ends at line 1 "),
        (lambda: json.dumps({"events": golden_events()[4:]}), "does not begin with the workflow's start: it begins "
         "with event 5 "),
        (lambda: json.dumps({"events": golden_events()[:10] + golden_events()[11:]}), "is cut off or edited: event 10 "
         "is followed by event 12 "),
        (lambda: json.dumps({"events": [{"eventId": "1", "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"}]}),
         "is not a history Temporal recorded: its start names no workflow type or run id"),
        (lambda: json.dumps({"events": [{"eventId": "one"}]}), "is not a Temporal history: Failed to parse events"),
        (lambda: '{"events": []}', "is a Temporal history with no events"),
        (lambda: "  \n", "is empty"),
    ],
    ids=["cut-mid-string", "cut-between-values", "no-start", "gap", "no-run-id", "bad-field", "no-events", "empty"],
)  # fmt: skip
def test_a_file_that_is_not_a_whole_history_is_named_with_its_problem(
    content: Callable[[], str], problem: str, tmp_path: Path
) -> None:
    path = tmp_path / "history.json"
    path.write_text(content())
    with pytest.raises(ReplayInputError) as refusal:
        load_history_file(path)
    assert str(refusal.value).startswith(f"{path} {problem}"), str(refusal.value)


async def test_a_query_temporal_cannot_run_is_refused(world: ReplayWorld) -> None:
    with pytest.raises(ReplayInputError) as refusal:
        [h async for h in listed_histories(world.client, "WorkflowId ==== 'x'")]
    assert str(refusal.value).startswith("Temporal cannot run the query \"WorkflowId ==== 'x'\": ")


async def test_a_change_that_is_not_replay_safe_is_found_in_a_case(world: ReplayWorld) -> None:
    case_id = world.journey_case_ids[0]
    altered = WorkflowCode(
        workflows=[CaseWorkflowWithExtraTimer if w is CaseWorkflow else w for w in WORKFLOWS],
        data_converter=data_converter(TEST_PAYLOAD_KEYS),
    )
    outcomes = [o async for o in replay_histories(case_histories(world.client, case_id), altered)]
    case_outcomes = [o for o in outcomes if o.workflow_type == "CaseWorkflow"]
    assert len(case_outcomes) >= 2 and {o.workflow_id for o in case_outcomes} == {case_id}
    first, *later = case_outcomes
    assert first.failure is not None and first.failure.kind is FailureKind.NONDETERMINISM, first
    assert "Nondeterminism error" in first.failure.message and first.failure.event_id is not None
    # A run that continued as new before taking a command has no timer to miss, and replays.
    assert all(o.failure is None or o.failure.kind is FailureKind.NONDETERMINISM for o in later), later
    assert any(o.failure is not None for o in later), later
    assert [o.failure for o in outcomes if o.workflow_type == "ReferralWorkflow"] == [None]


async def test_a_workflow_type_the_code_does_not_know_is_reported() -> None:
    referral_history = next(p for p in GOLDEN_HISTORIES if p.name.startswith("referral_workflow"))
    without_referrals = WorkflowCode(
        workflows=[w for w in WORKFLOWS if w.__name__ != "ReferralWorkflow"],
        data_converter=data_converter(TEST_PAYLOAD_KEYS),
    )
    [outcome] = [o async for o in replay_histories(file_histories([referral_history]), without_referrals)]
    assert outcome.failure is not None and outcome.failure.kind is FailureKind.UNKNOWN_WORKFLOW_TYPE
    assert outcome.failure.message.startswith("the code has no workflow type ReferralWorkflow (it has ")
    assert "CaseWorkflow" in outcome.failure.message


def altered_worker(client: Client, store: EventStore, task_queue: str) -> Worker:
    """CaseWorkflowWithExtraTimer run as CaseWorkflow, with the one activity opening a case needs: it
    records histories the current code does not reproduce, as a deployment of other code would."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[CaseWorkflowWithExtraTimer],
        activities=[StoreActivities(store).append_events],
    )


async def test_the_cli_reports_a_history_recorded_by_other_code(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore, tmp_path: Path
) -> None:
    task_queue = f"replay-altered-{uuid.uuid4()}"
    async with altered_worker(temporal_env.client, sqlite_store, task_queue):
        state = await case_commands(temporal_env, sqlite_store, task_queue).start_case(open_case("ALTERED-1"))
    case_id = state.case_id
    try:
        exported = await export_with_temporal_cli(temporal_env, case_id, tmp_path / "altered.json")
        by_case, by_file = await asyncio.gather(
            replay_cli(temporal_env, tmp_path / "data", case_id),
            replay_cli(temporal_env, tmp_path / "data", "--history", str(exported), "--json"),
        )
    finally:
        await temporal_env.client.get_workflow_handle(case_id).terminate("replay test done")

    assert by_case.status == 1, by_case.stdout + by_case.stderr
    [line, summary] = by_case.stdout.strip().splitlines()
    assert line.startswith("NONDETERMINISTIC  CaseWorkflow ") and case_id in line and "(still open)" in line
    assert "at event " in line and "Nondeterminism error" in line
    assert summary == "0 of 1 histories replay with the current code; 1 non-deterministic, 0 could not be replayed"

    assert by_file.status == 1, by_file.stdout + by_file.stderr
    [outcome] = [ReplayOutcome.model_validate(o) for o in replayed(by_file)]
    assert outcome.workflow_id == case_id and outcome.failure is not None
    assert outcome.failure.kind is FailureKind.NONDETERMINISM and outcome.failure.event_id is not None
