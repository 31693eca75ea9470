"""Whole journeys over simulated weeks, on the time-skipping server and the demo site's minute-scale
timings (a "day" of link work lasts a minute; referral chases after 6 minutes, escalation after 12).

Custody -> screening -> assessment -> court report on time -> two referrals (one accepted and
engaged, one unanswered, chased, then escalated) -> link work with a missed contact -> hearing
outcome -> follow-ups -> closure; and a youth case."""

import uuid
from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from domain.commands import OpenCase, RecordReferralOutcome, RequestCourtReport
from domain.events import ConsentRecorded
from domain.model import AgeBand, ReferralSource, Setting, Stage
from domain.outcomes import CourtReportPurpose, Recipient, ReferralStatus
from domain.state import CaseState
from domain.tasks import TaskKind
from store.event_store import EventStore
from tests.conftest import worker_for
from tests.workflows.conftest import Mailbox
from tests.workflows.direct import CHASE_SITE, LINK_WORKER, Handle, changed, complete, start, until_state
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case
from tests.workflows.support import skip
from workflows.case_workflow import CaseWorkflow


async def answer(handle: Handle, referral_id: str, *statuses: ReferralStatus) -> CaseState:
    state = await handle.query(CaseWorkflow.state)
    for status in statuses:
        command = RecordReferralOutcome(actor=LINK_WORKER, referral_id=referral_id, status=status)
        state = await changed(handle, CaseWorkflow.record_referral_outcome, command)
    return state


async def test_custody_to_closure_over_weeks(
    time_skipping_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox
) -> None:
    env = time_skipping_env
    task_queue = f"journey-{uuid.uuid4()}"
    async with worker_for(env.client, sqlite_store, task_queue, mailbox.mailer):
        handle = await start(env, task_queue, open_case(f"CUST-{uuid.uuid4().hex[:6]}"), CHASE_SITE)
        for kind in (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION):
            await complete(handle, kind, OUTCOMES[kind])

        # A bail hearing in 40 minutes: the report is due 10 minutes before it.
        now = await env.get_current_time()
        bail = RequestCourtReport(
            actor=PRACTITIONER,
            purpose=CourtReportPurpose.BAIL_OR_REMAND,
            hearing_at=now + timedelta(minutes=40),
            recipients=(Recipient.COURT,),
        )
        await handle.execute_update(CaseWorkflow.request_court_report, bail)
        report = {"presenting_needs": "Depression, alcohol", "risk": "medium", "recommendations": "Bail with support"}
        await complete(handle, TaskKind.COURT_REPORT, report)
        # Its delivery comes back as a signal from the report's workflow: taken in before the next command.
        await until_state(handle, lambda case: case.court_reports[0].delivered_to)

        decision = {
            "referrals": [
                {"service": "mental_health", "reason": "moderate depression"},
                {"service": "housing", "reason": "no fixed abode"},
            ],
            "link_work_goals": ["housing", "addictions"],
        }
        state = await complete(handle, TaskKind.REFERRAL_DECISION, decision)
        assert state.stage is Stage.SUPPORT
        mental_health, housing = (r.referral_id for r in state.referrals)

        await skip(env, timedelta(minutes=1))
        await answer(handle, mental_health, ReferralStatus.ACCEPTED)
        await complete(handle, TaskKind.CONTACT, {"attendance": "did_not_attend"}, LINK_WORKER)
        await skip(env, timedelta(minutes=12))  # housing: chased at 6 (its task escalated at 11), escalated at 12
        escalation = await mailbox.wait_for_subject(handle.id, "Escalation: chase referral task")
        assert escalation["To"] == "tl-001@demo.pathway.test"
        await complete(
            handle, TaskKind.CONTACT, {"attendance": "attended", "goals_progressed": ["housing"]}, LINK_WORKER
        )
        await complete(handle, TaskKind.CHASE_REFERRAL, {"answer": "accepted"}, LINK_WORKER)

        await skip(env, timedelta(minutes=30))  # past the hearing
        await complete(handle, TaskKind.HEARING_OUTCOME, {"result": "bail"})
        await answer(handle, mental_health, ReferralStatus.ATTENDED, ReferralStatus.ENGAGED)
        await answer(handle, housing, ReferralStatus.ATTENDED, ReferralStatus.ENGAGED)

        await skip(env, timedelta(minutes=20))  # support (28 "days") is over; first follow-up at +14
        state = await handle.query(CaseWorkflow.state)
        assert state.stage is Stage.FOLLOW_UP
        await complete(handle, TaskKind.FOLLOW_UP, {"engaged_with_services": True}, LINK_WORKER)
        await skip(env, timedelta(minutes=30))  # second follow-up at +42
        await complete(handle, TaskKind.FOLLOW_UP, {"engaged_with_services": True}, LINK_WORKER)
        state = await complete(handle, TaskKind.CLOSURE, OUTCOMES[TaskKind.CLOSURE])

        assert state.stage is Stage.CLOSED
        assert [r.status for r in state.referrals] == [ReferralStatus.ENGAGED, ReferralStatus.ENGAGED]
        assert state.court_reports[0].on_time and state.court_reports[0].delivered_to == (Recipient.COURT,)
        assert state.support is not None and state.support.contacts == 2
        assert len(state.follow_ups) == 2
        assert (await handle.result()).close_reason == "pathway_complete"
        stored = await sqlite_store.read_stream(handle.id)
        assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
        assert (await sqlite_store.verify_chain(handle.id)).ok
        assert await sqlite_store.projection_differences(handle.id) == []


async def test_a_youth_case(time_skipping_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox) -> None:
    env = time_skipping_env
    task_queue = f"journey-{uuid.uuid4()}"
    child = OpenCase(
        actor=PRACTITIONER,
        site="demo",
        setting=Setting.YOUTH_COURT,
        source=ReferralSource.YOUTH_OFFENDING_TEAM,
        external_ref=f"YC-{uuid.uuid4().hex[:6]}",
        age_band=AgeBand.CHILD,
    )
    async with worker_for(env.client, sqlite_store, task_queue, mailbox.mailer):
        handle = await start(env, task_queue, child)
        await complete(handle, TaskKind.CONSENT, {**OUTCOMES[TaskKind.CONSENT], "parent_or_guardian_involved": True})
        chat_screen = {**OUTCOMES[TaskKind.SCREENING], "instrument": "chat-screen", "instrument_version": "4"}
        await complete(handle, TaskKind.SCREENING, chat_screen)
        await complete(
            handle,
            TaskKind.ASSESSMENT,
            {**OUTCOMES[TaskKind.ASSESSMENT], "instrument": "chat", "instrument_version": "4"},
        )
        await complete(handle, TaskKind.SHARE_INFORMATION, {"reason_if_none": "YOT already informed"})
        await complete(handle, TaskKind.REFERRAL_DECISION, {"reason_if_none": "already with CAMHS"})
        state = await complete(handle, TaskKind.CLOSURE, {"reason": "pathway_complete"})
        assert state.stage is Stage.CLOSED and state.age_band is AgeBand.CHILD
        [consent] = [e.event for e in await sqlite_store.read_stream(handle.id) if isinstance(e.event, ConsentRecorded)]
        assert consent.parent_or_guardian_involved is True
