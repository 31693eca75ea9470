"""What the Temporal UI shows of a case: static summary and details, the live current-details line,
and activity and timer summaries in the history. Only coded facts, never the person."""

import uuid
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHandle

from domain.commands import RequestCourtReport
from domain.model import Person, Stage
from domain.outcomes import ClosureReason, CourtReportPurpose, Recipient
from domain.state import CaseState
from domain.tasks import Task, TaskKind
from service.staff import StaffCommands
from tests.workflows.journey import PRACTITIONER, complete, open_case, open_task
from workflows.case_workflow import CaseWorkflow, current_details, timer_summary
from workflows.court_report_workflow import court_report_workflow_id
from workflows.messages import CaseResult
from workflows.ui_text import PublicText

NAME = "Philippa Quennell-Abernathy"
BORN = "1979-06-23"
ADDRESS = "17 Larkspur Crescent"


async def current_details_of(handle: WorkflowHandle[CaseWorkflow, CaseResult]) -> str:
    """The current details as the Temporal UI reads them: the SDK's built-in metadata query."""
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return str(metadata.current_details)


async def history_summaries(client: Client, workflow_id: str) -> dict[str, list[str]]:
    """Summaries of the activities and timers in a workflow's history, decoded."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    found: dict[str, list[str]] = {"activity": [], "timer": []}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            kind = "activity"
        elif event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            kind = "timer"
        else:
            continue
        assert event.HasField("user_metadata") and event.user_metadata.HasField("summary"), event
        [summary] = await client.data_converter.decode([event.user_metadata.summary], [PublicText])
        found[kind].append(summary)
    return found


def assert_no_personal_data(*texts: str, ref: str) -> None:
    for text in texts:
        for personal in (NAME, BORN, ADDRESS, ref, "Quennell"):
            assert personal not in text, (personal, text)


async def test_a_case_shows_its_summary_details_and_live_stage(cases: StaffCommands) -> None:
    ref = f"CUST-{uuid.uuid4().hex[:8]}"
    person = Person(name=NAME, date_of_birth=BORN, address=ADDRESS)
    state = await cases.start_case(open_case(ref).model_copy(update={"person": person}))
    handle = cases.client.get_workflow_handle_for(CaseWorkflow.run, state.case_id)

    described = await handle.describe()
    summary = await described.static_summary()
    details = await described.static_details()
    assert summary == "L&D case at demo (custody)"
    assert details is not None
    for fact in (
        "Site: demo",
        "Setting: custody",
        "Referral source: custody_staff",
        "Age band: adult",
        "Cohorts: none",
    ):
        assert fact in details
    live = await current_details_of(handle)
    assert live == current_details(state)
    assert "stage: screening" in live and "site: demo" in live and "open tasks: 1 (consent)" in live
    assert "next due: " in live

    state = await cases.claim_task(open_task(state, TaskKind.CONSENT), PRACTITIONER)
    assert "assigned: pr-001" in await current_details_of(handle)
    state = await complete(cases, state, TaskKind.CONSENT)
    state = await complete(cases, state, TaskKind.SCREENING)
    live_later = await current_details_of(handle)
    assert "stage: assessment" in live_later and "open tasks: 1 (assessment)" in live_later
    assert live_later != live

    state = await cases.request_court_report(
        state.case_id,
        RequestCourtReport(
            actor=PRACTITIONER,
            purpose=CourtReportPurpose.BAIL_OR_REMAND,
            hearing_at=datetime.now(UTC) + timedelta(hours=3),
            recipients=(Recipient.COURT, Recipient.DEFENCE),
        ),
    )
    [report] = state.court_reports
    child = cases.client.get_workflow_handle(court_report_workflow_id(state.case_id, report.report_id))
    child_described = await child.describe()
    assert await child_described.static_summary() == "court report (bail_or_remand) for a hearing"
    child_details = await child_described.static_details()
    assert child_details is not None
    assert "purpose bail_or_remand" in child_details and "to court, defence" in child_details
    child_live = (await child.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)).current_details
    assert child_live.startswith("bail_or_remand: waiting for the report; hearing ")

    summaries = await history_summaries(cases.client, state.case_id)
    assert summaries["activity"] and all(s.startswith("record ") for s in summaries["activity"])
    assert summaries["activity"][0] == "record CaseOpened, StageEntered, TaskOpened"
    assert summaries["timer"] and all(s.startswith(("reminder: ", "screening SLA: ")) for s in summaries["timer"])
    child_summaries = await history_summaries(cases.client, child.id)
    assert child_summaries["timer"] == ["court report due: written before the hearing"]

    search_attributes = " ".join(str(value) for _, value in (await handle.describe()).typed_search_attributes)
    assert_no_personal_data(
        summary,
        details,
        live,
        live_later,
        child_details,
        child_live,
        search_attributes,
        *summaries["activity"],
        *summaries["timer"],
        ref=ref,
    )


def test_timer_summaries_read_as_the_pathway() -> None:
    """The case's next timer is named after what it waits for."""
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def state_with(task: Task) -> CaseState:
        return CaseState(case_id="case-x", stage=Stage.SCREENING, site="demo", tasks={task.task_id: task})

    consent = Task(
        task_id="t1",
        kind=TaskKind.CONSENT,
        site="demo",
        candidate_roles=(),
        due_at=now + timedelta(minutes=5),
        opened_at=now,
        remind_at=now + timedelta(minutes=3),
    )
    assert timer_summary(state_with(consent)) == "reminder: consent due soon"
    reminded = consent.model_copy(update={"reminded": True})
    assert timer_summary(state_with(reminded)) == "screening SLA: consent due"
    report = consent.model_copy(update={"kind": TaskKind.COURT_REPORT, "remind_at": None})
    assert timer_summary(state_with(report)) == "court report due"
    late = reminded.model_copy(update={"overdue": True, "escalate_at": now + timedelta(minutes=6)})
    assert timer_summary(state_with(late)) == "escalate overdue consent"
    assert "overdue: 1" in current_details(state_with(late))
    closed = CaseState(case_id="case-x", stage=Stage.CLOSED, site="demo", close_reason=ClosureReason.PATHWAY_COMPLETE)
    assert current_details(closed) == "stage: closed · site: demo · closed: pathway_complete"
