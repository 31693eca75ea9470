"""The `north` site on the time-skipping server, on its real calendar (issue 17): a man arrives in
custody on a Friday night with a hearing on Monday morning. The court report is due before the
hearing and goes to the magistrates' court; his referral, sent that night, is chased after two
working days (Tuesday night, not over the weekend) and escalated after four (Thursday night).

The server starts at the real time; the test sleeps to the next Friday 22:30 in London whose
following Monday to Thursday are all working days, so it means the same whatever day it runs and
never straddles a bank holiday."""

import asyncio
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from temporalio.testing import WorkflowEnvironment

from domain.commands import CompleteTask, RequestCourtReport
from domain.config import WorkingCalendar
from domain.events import ReferralChased, ReferralEscalated
from domain.outcomes import CourtReportPurpose, Recipient, ReferralStatus
from domain.referral_times import case_referral_times
from domain.sla import add_service_minutes
from domain.state import CaseState
from domain.tasks import TaskKind
from store.event_store import EventStore
from tests.conftest import worker_for
from tests.workflows.conftest import Mailbox
from tests.workflows.direct import Handle, changed, complete, start
from tests.workflows.journey import BOTH_SITES_PRACTITIONER, OUTCOMES, open_case, open_task
from tests.workflows.support import skip
from workers.settings import SHIPPED_CONFIG, load_config
from workflows.case_workflow import CaseWorkflow

NORTH = load_config(SHIPPED_CONFIG).site("north")
LONDON = ZoneInfo("Europe/London")
ARRIVAL = time(22, 30)
REPORT = {"presenting_needs": "Low mood, drinking heavily", "risk": "medium", "recommendations": "Bail with support"}


def next_quiet_friday_night(after: datetime, calendar: WorkingCalendar) -> datetime:
    """22:30 London time on the first Friday after `after`'s day whose Friday and following Monday to
    Thursday are all working days (no bank holiday moves the chase, the escalation or the hearing)."""
    day = after.astimezone(LONDON).date() + timedelta(days=1)
    while True:
        week = [day + timedelta(days=n) for n in (0, 3, 4, 5, 6)]
        if day.weekday() == 4 and all(
            d.weekday() in calendar.working_days and d not in calendar.holidays for d in week
        ):
            return datetime.combine(day, ARRIVAL, LONDON)
        day += timedelta(days=1)


async def sleep_until(env: WorkflowEnvironment, moment: datetime) -> None:
    now = await env.get_current_time()
    assert moment > now, f"{moment} has passed ({now})"
    await skip(env, moment - now)


async def referral_sent(handle: Handle, env: WorkflowEnvironment) -> CaseState:
    async with asyncio.timeout(30):
        while True:
            state = await handle.query(CaseWorkflow.state)
            if state.referrals and state.referrals[0].status is ReferralStatus.SENT:
                return state
            await skip(env, timedelta(seconds=1))


async def test_a_friday_night_arrival_with_a_monday_hearing_runs_on_norths_working_calendar(
    time_skipping_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox
) -> None:
    env = time_skipping_env
    friday_night = next_quiet_friday_night(await env.get_current_time(), NORTH.calendar)
    friday = friday_night.date()
    saturday, monday, tuesday, thursday = (friday + timedelta(days=n) for n in (1, 3, 4, 6))
    hearing_at = datetime.combine(monday, time(10), LONDON)
    await sleep_until(env, friday_night)

    task_queue = f"north-{uuid.uuid4()}"
    async with worker_for(env.client, sqlite_store, task_queue, mailbox.mailer):
        handle = await start(env, task_queue, open_case(f"NTN-CUST-{uuid.uuid4().hex[:6]}", site="north"), NORTH)
        state = await handle.query(CaseWorkflow.state)
        assert state.opened_at is not None and state.opened_at.astimezone(LONDON).date() == friday
        # The screening clock runs in north's staffed hours: two hours from 08:00 on Saturday.
        consent = state.tasks[open_task(state, TaskKind.CONSENT)]
        assert consent.due_at == datetime.combine(saturday, time(10), LONDON)
        assert consent.due_at == add_service_minutes(NORTH.operating_hours, state.opened_at, 120)

        # That night the practitioner sees him, the magistrates' court asks for a report for Monday's
        # hearing, and a referral to the community mental health team goes out.
        for kind in (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION):
            await complete(handle, kind, OUTCOMES[kind], BOTH_SITES_PRACTITIONER)
        ask = RequestCourtReport(
            actor=BOTH_SITES_PRACTITIONER,
            purpose=CourtReportPurpose.BAIL_OR_REMAND,
            hearing_at=hearing_at,
            recipients=(Recipient.COURT, Recipient.DEFENCE),
        )
        state = await changed(handle, CaseWorkflow.request_court_report, ask)
        [report] = state.court_reports
        assert report.due_at == datetime.combine(monday, time(9), LONDON)  # an hour before the hearing
        assert report.due_at < report.hearing_at
        await complete(
            handle, TaskKind.REFERRAL_DECISION, OUTCOMES[TaskKind.REFERRAL_DECISION], BOTH_SITES_PRACTITIONER
        )
        state = await referral_sent(handle, env)
        [referral] = state.referrals
        assert referral.request.service_id == "north-cmht"
        assert referral.sent_at is not None and referral.sent_at.astimezone(LONDON).date() == friday

        # What the case shows: chased on Tuesday night, escalated on Thursday night, at the time it was sent.
        [times] = case_referral_times(state, NORTH)
        assert times.chase_at.astimezone(LONDON).date() == tuesday
        assert times.escalate_at.astimezone(LONDON).date() == thursday
        assert times.chase_at.astimezone(LONDON).time() == referral.sent_at.astimezone(LONDON).time()
        assert times.next_step == "chase"

        # Monday morning: nothing was chased over the weekend; the report is written before its hearing.
        await sleep_until(env, datetime.combine(monday, time(8, 30), LONDON))
        state = await handle.query(CaseWorkflow.state)
        assert not state.referrals[0].chased
        assert not [t for t in state.tasks.values() if t.kind is TaskKind.CHASE_REFERRAL]
        writing = state.tasks[open_task(state, TaskKind.COURT_REPORT)]
        assert writing.due_at == report.due_at and not writing.overdue
        done = CompleteTask(actor=BOTH_SITES_PRACTITIONER, task_id=writing.task_id, outcome=REPORT)
        state = await changed(handle, CaseWorkflow.complete_task, done)
        assert state.court_reports[0].on_time is True
        delivered = [
            m for m in mailbox.about(handle.id) if m["Subject"].startswith("Liaison and Diversion court report")
        ]
        async with asyncio.timeout(20):
            while len(delivered) < 2:
                await asyncio.sleep(0.1)
                delivered = [
                    m for m in mailbox.about(handle.id) if m["Subject"].startswith("Liaison and Diversion court report")
                ]
        assert sorted(m["To"] for m in delivered) == [
            "duty-solicitor@defence.north.pathway.test",
            "listing.magistrates@northtown-court.north.pathway.test",
        ]

        # A minute before the chase time: still not chased. Two minutes later it is, with a task.
        await sleep_until(env, times.chase_at - timedelta(minutes=1))
        assert not (await handle.query(CaseWorkflow.state)).referrals[0].chased
        await skip(env, timedelta(minutes=2))
        state = await handle.query(CaseWorkflow.state)
        assert state.referrals[0].chased and not state.referrals[0].escalated
        assert open_task(state, TaskKind.CHASE_REFERRAL)
        [chased] = [e for e in await sqlite_store.read_stream(handle.id) if isinstance(e.event, ReferralChased)]
        assert times.chase_at - timedelta(seconds=5) <= chased.occurred_at <= times.chase_at + timedelta(minutes=1)
        [times] = case_referral_times(state, NORTH)
        assert times.next_step == "escalation"

        # Unanswered until Thursday night: escalated then, not before.
        await sleep_until(env, times.escalate_at - timedelta(minutes=1))
        assert not (await handle.query(CaseWorkflow.state)).referrals[0].escalated
        await skip(env, timedelta(minutes=2))
        stream = await sqlite_store.read_stream(handle.id)
        [escalated] = [e for e in stream if isinstance(e.event, ReferralEscalated)]
        assert (
            times.escalate_at - timedelta(seconds=5)
            <= escalated.occurred_at
            <= times.escalate_at + timedelta(minutes=1)
        )
        assert escalated.occurred_at.astimezone(LONDON).date() == thursday
