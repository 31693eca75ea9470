"""`pathway setup` on a fresh namespace, and every ready-made query of the README run through the
real Temporal CLI against cases whose answers are known."""

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest_asyncio
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.commands import CloseCase, RequestCourtReport
from domain.model import Cohort, Setting, Stage
from domain.outcomes import ClosureOutcome, ClosureReason, CourtReportPurpose, Recipient
from domain.state import CaseState
from domain.tasks import TaskKind
from service.staff import StaffCommands
from store.event_store import EventStore
from tests.cli.support import pathway
from tests.conftest import staff_driver, worker_for
from tests.workflows.journey import PRACTITIONER, TEAM_LEAD, complete, open_case, open_task
from tests.workflows.support import assert_search_attributes_match, runs_of
from workers.binaries import installed_binary
from workers.settings import SHIPPED_CONFIG, load_config
from workflows.case_workflow import CaseWorkflow
from workflows.court_report_workflow import court_report_workflow_id
from workflows.search_attributes import ALL_KEYS

README = Path(__file__).parents[2] / "README.md"
HEADING = "### Ready-made queries for the Temporal UI"


def readme_queries() -> dict[str, str]:
    """The table of the README's section: saved view -> query (the backticked last cell)."""
    text = README.read_text()
    assert HEADING in text, "the README lost its ready-made queries"
    section = text.split(HEADING, 1)[1].split("\n#", 1)[0]
    queries: dict[str, str] = {}
    for line in section.splitlines():
        row = re.fullmatch(r"\|\s*([^|`]+?)\s*\|\s*`([^`]+)`\s*\|", line.strip())
        if row:
            queries[row.group(1)] = row.group(2)
    return queries


async def temporal_list(address: str, query: str) -> list[str]:
    """Workflow ids `temporal workflow list --query QUERY --output json` prints, one per run listed."""
    process = await asyncio.create_subprocess_exec(
        installed_binary("temporal"),
        "workflow",
        "list",
        "--address",
        address,
        "--namespace",
        "default",
        "--query",
        query,
        "--output",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, (query, stderr.decode())
    return sorted(item["execution"]["workflowId"] for item in _json_values(stdout.decode()))


def _json_values(text: str) -> list[dict[str, Any]]:
    """A JSON array, or JSON objects one after another (as the CLI prints them)."""
    decoder = json.JSONDecoder()
    values: list[dict[str, Any]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        value, position = decoder.raw_decode(text, position)
        values.extend(value if isinstance(value, list) else [value])
        while position < len(text) and text[position].isspace():
            position += 1
    return values


def test_the_readme_has_the_queries_operators_asked_for() -> None:
    queries = readme_queries()
    assert len(queries) >= 6, queries
    text = " ".join(queries.values())
    for needed in ("LdStage=", "LdSite=", "LdOverdue=true", "LdNextDue <", "LdAssignee=", "ExecutionStatus='Running'"):
        assert needed in text, needed


async def test_setup_creates_a_namespace_and_is_idempotent(temporal_env: WorkflowEnvironment, tmp_path: Path) -> None:
    namespace = f"pathway-setup-{uuid.uuid4().hex[:8]}"
    env = {
        "PATHWAY_DATA_DIR": str(tmp_path),
        "PATHWAY_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "PATHWAY_TASK_QUEUE": f"setup-{uuid.uuid4()}",
    }
    first = await pathway("setup", "--namespace", namespace, "--retention-days", "3", env=env)
    assert first.status == 0, first.stderr
    assert f"namespace {namespace}: created, retention 3 days" in first.stdout
    assert "search attributes: added " + ", ".join(sorted(key.name for key in ALL_KEYS)) in first.stdout
    assert "retention schedule: created" in first.stdout
    assert "checkpoint schedule: created, every 60 minutes" in first.stdout
    assert "FHIR poll schedule: created, every 2 minutes" in first.stdout  # the shipped demo configuration

    again = await pathway("setup", "--namespace", namespace, env=env)
    assert again.status == 0, again.stderr
    assert f"namespace {namespace}: exists, retention 3 days" in again.stdout
    assert "search attributes: all present" in again.stdout
    assert "retention schedule: updated" in again.stdout
    assert "checkpoint schedule: updated, every 60 minutes" in again.stdout
    assert "FHIR poll schedule: updated, every 2 minutes" in again.stdout

    longer = await pathway("setup", "--namespace", namespace, "--retention-days", "7", env=env)
    assert longer.status == 0, longer.stderr
    assert "retention changed from 3 days to 7 days" in longer.stdout
    client = temporal_env.client
    described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    assert described.config.workflow_execution_retention_ttl.ToTimedelta() == timedelta(days=7)
    scoped = await Client.connect(client.service_client.config.target_host, namespace=namespace)
    assert sorted([s.id async for s in await scoped.list_schedules()]) == [
        "pathway-checkpoints",
        "pathway-fhir-task-poll",
        "pathway-retention",
    ]

    refused = await pathway("setup", "--namespace", namespace, "--retention-days", "0", env=env)
    assert refused.status == 2 and "retention-days" in refused.stderr


@pytest_asyncio.fixture(loop_scope="session")
async def quick_cases(temporal_env: WorkflowEnvironment, sqlite_store: EventStore) -> AsyncIterator[StaffCommands]:
    """Case commands on a task queue of this test, with a demo site whose voluntary-attendance
    screening is due one minute after identification (so a case becomes overdue during the test)."""
    task_queue = f"queries-{uuid.uuid4()}"
    config = load_config(SHIPPED_CONFIG)
    demo = config.sites["demo"]
    quick = demo.model_copy(
        update={
            "screening_sla_minutes": {**demo.screening_sla_minutes, Setting.VOLUNTARY_ATTENDANCE: 1},
            "reminder_before_minutes": {**demo.reminder_before_minutes, TaskKind.CONSENT: 1},
        }
    )
    config = config.model_copy(update={"sites": {**config.sites, "demo": quick}})
    async with worker_for(temporal_env.client, sqlite_store, task_queue):
        yield staff_driver(temporal_env.client, sqlite_store, task_queue, config)


async def test_every_readme_query_returns_the_cases_it_should(quick_cases: StaffCommands) -> None:
    cases = quick_cases
    client = cases.client
    address = client.service_client.config.target_host

    def ref() -> str:
        return f"CUST-{uuid.uuid4().hex[:8]}"

    # B: becomes overdue after a minute; on the women's pathway.
    late = await cases.start_case(
        open_case(ref(), Setting.VOLUNTARY_ATTENDANCE).model_copy(update={"cohorts": (Cohort.WOMENS_PATHWAY,)})
    )
    # A: its consent task claimed by pr-001.
    claimed = await cases.start_case(open_case(ref()))
    claimed = await cases.claim_task(open_task(claimed, TaskKind.CONSENT), PRACTITIONER)
    # C: consent given, a court report requested (a child workflow).
    reported = await complete(cases, await cases.start_case(open_case(ref())), TaskKind.CONSENT)
    reported = await cases.request_court_report(
        reported.case_id,
        RequestCourtReport(
            actor=PRACTITIONER,
            purpose=CourtReportPurpose.BAIL_OR_REMAND,
            hearing_at=datetime.now(UTC) + timedelta(hours=3),
            recipients=(Recipient.COURT,),
        ),
    )
    [report] = reported.court_reports
    # F: overdue like B, then long enough to continue as new (each earlier run stays listed).
    continued = await cases.start_case(open_case(ref(), Setting.VOLUNTARY_ATTENDANCE))
    # D: at the north site, screening due in two hours of its operating hours or later.
    north = await cases.start_case(open_case(ref(), site="north"))
    # E: closed.
    closed = await cases.start_case(open_case(ref()))
    closed = await cases.close_case(
        closed.case_id,
        CloseCase(actor=PRACTITIONER, outcome=ClosureOutcome(reason=ClosureReason.RELEASED_BEFORE_CONTACT)),
    )
    assert closed.stage is Stage.CLOSED and north.next_due is not None
    assert north.next_due > datetime.now(UTC) + timedelta(hours=1)

    handle = client.get_workflow_handle_for(CaseWorkflow.run, late.case_id)
    async with asyncio.timeout(120):
        while not (late := await handle.query(CaseWorkflow.state)).overdue:
            await asyncio.sleep(1)
    continued = await continued_as_new_while_overdue(cases, continued)

    states: list[CaseState] = [late, claimed, reported, north, closed, continued]
    for state in states:
        current = await client.get_workflow_handle_for(CaseWorkflow.run, state.case_id).query(CaseWorkflow.state)
        assert current.version == state.version or state is reported  # the report's delivery may not have come
        await assert_search_attributes_match(client, current)

    # Each case once, however many runs it has had.
    expected = {
        "cases at a stage, per site": {late.case_id, claimed.case_id, reported.case_id, continued.case_id},
        "overdue cases": {late.case_id, continued.case_id},
        "cases due in the next hour (overdue ones included)": {
            late.case_id,
            claimed.case_id,
            reported.case_id,
            continued.case_id,
        },
        "cases whose next task is assigned to a staff id": {claimed.case_id},
        "open cases only": {late.case_id, claimed.case_id, reported.case_id, north.case_id, continued.case_id},
        "open cases on the women's pathway": {late.case_id},
        "a case's referral and court report workflows": {court_report_workflow_id(reported.case_id, report.report_id)},
    }
    queries = readme_queries()
    assert set(queries) == set(expected), "a README query has no expected answer here, or the reverse"
    in_an_hour = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for view, query in queries.items():
        query = query.replace("<now+1h>", in_an_hour).replace("<case id>", reported.case_id)
        ours = f"({query}) AND TaskQueue='{cases.task_queue}'"
        # Visibility is eventually consistent: give the last upsert a moment to show.
        for _ in range(40):
            if (found := await temporal_list(address, ours)) == sorted(expected[view]):
                break
            await asyncio.sleep(0.5)
        assert found == sorted(expected[view]), (view, query)


async def continued_as_new_while_overdue(cases: StaffCommands, state: CaseState) -> CaseState:
    """The case, once overdue, reassigned back and forth by its team lead until it has continued as
    new; it ends assigned to pr-002. Its earlier run keeps LdOverdue=true, as it had when it handed over."""
    client = cases.client
    handle = client.get_workflow_handle_for(CaseWorkflow.run, state.case_id)
    async with asyncio.timeout(120):
        while not (state := await handle.query(CaseWorkflow.state)).overdue:
            await asyncio.sleep(1)
    consent = open_task(state, TaskKind.CONSENT)
    for turn in range(60):
        state = await cases.reassign_task(consent, ("pr-001", "pr-002")[turn % 2], TEAM_LEAD)
        if turn % 2 and len(await runs_of(client, state.case_id)) > 1:
            return state
    raise AssertionError("the case did not continue as new after 60 commands")
