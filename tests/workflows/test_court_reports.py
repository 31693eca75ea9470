"""Court reports on the time-skipping server: requested for a hearing, reminded before they are due,
written on time, the hearing outcome asked for once the hearing has happened, and a remand in custody
handed off to RECONNECT: the referral sent to the RECONNECT service, a linked RECONNECT episode opened
and the L&D episode moved on to closure. Adjournments bring further reports."""

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.commands import CompleteTask, RequestCourtReport
from domain.outcomes import (
    CourtReportPurpose,
    HearingResult,
    JusticeOutcome,
    Recipient,
    ReferralStatus,
    ServiceType,
)
from domain.tasks import TaskKind
from store.event_store import EventStore
from tests.conftest import worker_for
from tests.workflows.conftest import Mailbox
from tests.workflows.direct import SITE, Handle, changed, complete, start
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task
from tests.workflows.support import skip
from tests.workflows.test_golden_histories import HISTORIES, RECORDING
from workflows.case_workflow import CaseWorkflow
from workflows.court_report_workflow import CourtReportWorkflow, court_report_workflow_id

REPORT = {"presenting_needs": "Psychotic symptoms", "risk": "high", "recommendations": "Hospital assessment"}


async def consented_case(env: WorkflowEnvironment, task_queue: str) -> Handle:
    handle = await start(env, task_queue, open_case(f"MAG-{uuid.uuid4().hex[:6]}"))
    await complete(handle, TaskKind.CONSENT, OUTCOMES[TaskKind.CONSENT])
    return handle


def request(hearing_in: timedelta, now: datetime) -> RequestCourtReport:
    return RequestCourtReport(
        actor=PRACTITIONER,
        purpose=CourtReportPurpose.BAIL_OR_REMAND,
        hearing_at=now + hearing_in,
        recipients=(Recipient.COURT, Recipient.DEFENCE),
    )


async def test_report_on_time_then_remand_hands_off_to_reconnect(
    time_skipping_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox
) -> None:
    env = time_skipping_env
    task_queue = f"court-{uuid.uuid4()}"
    async with worker_for(env.client, sqlite_store, task_queue, mailbox.mailer):
        handle = await consented_case(env, task_queue)
        now = await env.get_current_time()
        state = await changed(handle, CaseWorkflow.request_court_report, request(timedelta(hours=3), now))
        [report] = state.court_reports
        assert report.hearing_at - report.due_at == timedelta(minutes=SITE.court_report_lead_minutes)
        writing = state.tasks[open_task(state, TaskKind.COURT_REPORT)]
        assert writing.report_id == report.report_id and writing.due_at == report.due_at
        assert writing.remind_at == writing.due_at - timedelta(minutes=SITE.reminder_minutes(TaskKind.COURT_REPORT))

        await skip(env, writing.remind_at - now + timedelta(seconds=30))  # reminded, not yet due
        reminder = await mailbox.wait_for_subject(handle.id, "Reminder: court report task due")
        assert reminder["To"]
        done = CompleteTask(actor=PRACTITIONER, task_id=writing.task_id, outcome=REPORT)
        state = await changed(handle, CaseWorkflow.complete_task, done)
        assert state.court_reports[0].on_time is True

        # The report's workflow sends each recipient a link to it, once, and tells the case.
        child = env.client.get_workflow_handle_for(
            CourtReportWorkflow.run, court_report_workflow_id(handle.id, report.report_id)
        )
        assert (await child.result()).delivered_to == (Recipient.COURT, Recipient.DEFENCE)
        delivered = [
            m for m in mailbox.about(handle.id) if m["Subject"].startswith("Liaison and Diversion court report")
        ]
        assert sorted(m["To"] for m in delivered) == [
            "duty-solicitor@defence.pathway.test",
            "listing@magistrates.court.pathway.test",
        ]
        assert all(f"http://inbox.test/reports/{report.report_id}" in m.get_content() for m in delivered)
        await skip(env, timedelta(seconds=2))
        state = await handle.query(CaseWorkflow.state)
        assert state.court_reports[0].delivered_to == (Recipient.COURT, Recipient.DEFENCE)
        if RECORDING:
            history = await child.fetch_history()
            (HISTORIES / "court_report_workflow_delivered.json").write_text(history.to_json() + "\n")

        await skip(env, report.hearing_at - await env.get_current_time() + timedelta(minutes=1))  # hearing over
        state = await handle.query(CaseWorkflow.state)
        hearing = state.tasks[open_task(state, TaskKind.HEARING_OUTCOME)]
        assert hearing.report_id == report.report_id
        remand = {"result": HearingResult.REMAND_IN_CUSTODY, "hand_off_to_reconnect": True}
        state = await changed(
            handle,
            CaseWorkflow.complete_task,
            CompleteTask(actor=PRACTITIONER, task_id=hearing.task_id, outcome=remand),
        )
        assert state.handed_off_to == "reconnect"
        assert state.court_reports[0].hearing_result is HearingResult.REMAND_IN_CUSTODY
        assert state.justice_outcome is JusticeOutcome.CHARGED_REMANDED
        types = [e.event.type for e in await sqlite_store.read_stream(handle.id)]
        heard = types.index("HearingOutcomeRecorded")
        assert types[heard : heard + 6] == [
            "HearingOutcomeRecorded",
            "TaskCompleted",
            "JusticeOutcomeRecorded",
            "ReferralMade",
            "CaseHandedOff",
            "LinkedEpisodeOpened",
        ]
        assert types[heard + 6 :][:2] == ["TaskCancelled", "TaskOpened"]  # the screening; the closure task
        # The L&D episode moves on to closure: its screening is called off, the closure task opens.
        assert [t.kind for t in state.open_tasks] == [TaskKind.CLOSURE]
        assert not [m for m in mailbox.about(handle.id) if m["Subject"].startswith("Escalation: court report")]

        # The referral reaches the demo site's RECONNECT service (a real SMTP server), once.
        [referral] = state.referrals
        assert referral.request.service is ServiceType.RECONNECT and referral.request.service_id == "demo-reconnect"
        async with asyncio.timeout(20):
            while not (sent := [m for m in mailbox.messages if referral.referral_id in m.get_content()]):
                await asyncio.sleep(0.1)
        assert [m["To"] for m in sent] == ["reconnect@services.pathway.test"]
        assert sent[0]["Subject"] == "New urgent referral to RECONNECT (care after custody)"
        async with asyncio.timeout(20):
            while (await handle.query(CaseWorkflow.state)).referrals[0].status is not ReferralStatus.SENT:
                await asyncio.sleep(0.2)

        # The linked RECONNECT episode is a case workflow and stream of its own, with the site's timings
        # and no personal data of the person's.
        assert state.linked_case_id is not None and state.linked_case_id != handle.id
        episode = env.client.get_workflow_handle_for(CaseWorkflow.run, state.linked_case_id)
        async with asyncio.timeout(20):
            while not (stream := await sqlite_store.read_stream(state.linked_case_id)):
                await asyncio.sleep(0.1)
        assert [e.event.type for e in stream] == ["EpisodeOpenedFromHandOff"]
        linked = await episode.query(CaseWorkflow.state)
        assert linked.programme == "reconnect" and linked.linked_case_id == handle.id and linked.is_open
        assert linked.care_after_custody is not None
        assert linked.care_after_custody.engage_before_release_weeks == SITE.reconnect.engage_before_release_weeks
        assert linked.care_after_custody.support_after_release_months == 6
        assert linked.external_ref == "" and linked.person.name is None
        assert await sqlite_store.projection_differences(state.linked_case_id) == []
        assert (await sqlite_store.verify_chain(state.linked_case_id)).ok
        if RECORDING:
            handed_off, opened = await handle.fetch_history(), await episode.fetch_history()
            (HISTORIES / "case_workflow_handed_off.json").write_text(handed_off.to_json() + "\n")
            (HISTORIES / "case_workflow_reconnect_episode.json").write_text(opened.to_json() + "\n")


async def test_a_missed_report_is_escalated_and_adjournments_bring_another(
    time_skipping_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox
) -> None:
    env = time_skipping_env
    task_queue = f"court-{uuid.uuid4()}"
    async with worker_for(env.client, sqlite_store, task_queue, mailbox.mailer):
        handle = await consented_case(env, task_queue)
        now = await env.get_current_time()
        state = await changed(handle, CaseWorkflow.request_court_report, request(timedelta(hours=2), now))
        writing = state.tasks[open_task(state, TaskKind.COURT_REPORT)]
        assert writing.escalate_at is not None
        await skip(env, writing.escalate_at - now + timedelta(seconds=30))  # due and escalation passed
        escalation = await mailbox.wait_for_subject(handle.id, "Escalation: court report task")
        assert escalation["To"] == "tl-001@demo.pathway.test"
        await skip(env, timedelta(hours=1))
        state = await handle.query(CaseWorkflow.state)
        adjourned = {"result": "adjourned", "next_hearing_at": (now + timedelta(days=7)).isoformat()}
        command = CompleteTask(
            actor=PRACTITIONER, task_id=open_task(state, TaskKind.HEARING_OUTCOME), outcome=adjourned
        )
        await handle.execute_update(CaseWorkflow.complete_task, command)
        now = await env.get_current_time()
        state = await changed(handle, CaseWorkflow.request_court_report, request(timedelta(days=7), now))
        assert len(state.court_reports) == 2 and state.court_reports[0].on_time is None

        events = len(await sqlite_store.read_stream(handle.id))
        no_address = request(timedelta(days=1), now).model_copy(update={"recipients": (Recipient.CUSTODY_SERGEANT,)})
        bad_requests = [
            (request(timedelta(hours=-1), now), "hearing_in_past"),
            (request(timedelta(minutes=SITE.court_report_lead_minutes - 1), now), "due_in_past"),
            (no_address, "recipient_without_address"),
        ]
        for bad, rule in bad_requests:
            with pytest.raises(WorkflowUpdateFailedError) as refusal:
                await handle.execute_update(CaseWorkflow.request_court_report, bad)
            cause = refusal.value.cause
            assert isinstance(cause, ApplicationError) and cause.details == (rule,)
        assert len(await sqlite_store.read_stream(handle.id)) == events


async def test_a_new_identification_is_found_before_sentence_and_refused_after_it(
    time_skipping_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox
) -> None:
    """The workflow's own check (the service checks first, from the store): a start for the same
    referral answers with the case until a hearing sentences the person, then is refused."""
    env = time_skipping_env
    task_queue = f"court-{uuid.uuid4()}"
    async with worker_for(env.client, sqlite_store, task_queue, mailbox.mailer):
        ref = f"MAG-{uuid.uuid4().hex[:6]}"
        handle = await start(env, task_queue, open_case(ref))
        await complete(handle, TaskKind.CONSENT, OUTCOMES[TaskKind.CONSENT])
        now = await env.get_current_time()
        state = await changed(handle, CaseWorkflow.request_court_report, request(timedelta(hours=3), now))
        await complete(handle, TaskKind.COURT_REPORT, REPORT)
        again = await changed(handle, CaseWorkflow.open_case, open_case(ref))
        assert again.case_id == handle.id and again.version > state.version  # before sentence: found

        await skip(env, state.court_reports[0].hearing_at - await env.get_current_time() + timedelta(minutes=1))
        sentence = {"result": HearingResult.CUSTODIAL_SENTENCE}
        sentenced = await complete(handle, TaskKind.HEARING_OUTCOME, sentence)
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await handle.execute_update(CaseWorkflow.open_case, open_case(ref))
        cause = caught.value.cause
        assert isinstance(cause, ApplicationError) and cause.details[0] == "case_past_sentence"
        assert "RECONNECT" in cause.message and handle.id in cause.message
        assert (await handle.query(CaseWorkflow.state)).version == sentenced.version  # nothing recorded
