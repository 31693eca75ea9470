"""The `north` site on the time-skipping server (issue 17): a man arrives in custody on a Friday night,
the magistrates' court remands him on Monday morning and hands him on to RECONNECT. The referral
goes to north's RECONNECT service, a linked RECONNECT episode opens with north's timings, and the
L&D episode moves on to closure."""

import asyncio
import uuid
from datetime import datetime, time, timedelta

from temporalio.testing import WorkflowEnvironment

from domain.commands import CompleteTask, RecordReleaseDate, RequestCourtReport
from domain.model import Actor, Role
from domain.outcomes import CourtReportPurpose, HearingResult, JusticeOutcome, Recipient, ServiceType
from domain.tasks import TaskKind
from store.event_store import EventStore
from tests.conftest import worker_for
from tests.workflows.conftest import Mailbox
from tests.workflows.direct import changed, complete, start
from tests.workflows.journey import BOTH_SITES_PRACTITIONER, OUTCOMES, open_case, open_task
from tests.workflows.test_north_calendar import LONDON, NORTH, REPORT, next_quiet_friday_night, sleep_until
from workflows.case_workflow import CaseWorkflow

LINK_WORKER = Actor(staff_id="lw-002", role=Role.LINK_WORKER)


async def test_a_remand_at_norths_magistrates_court_hands_the_man_on_to_reconnect(
    time_skipping_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox
) -> None:
    env = time_skipping_env
    friday_night = next_quiet_friday_night(await env.get_current_time(), NORTH.calendar)
    monday = friday_night.date() + timedelta(days=3)
    await sleep_until(env, friday_night)

    task_queue = f"north-reconnect-{uuid.uuid4()}"
    async with worker_for(env.client, sqlite_store, task_queue, mailbox.mailer):
        handle = await start(env, task_queue, open_case(f"NTN-REM-{uuid.uuid4().hex[:6]}", site="north"), NORTH)
        for kind in (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT):
            await complete(handle, kind, OUTCOMES[kind], BOTH_SITES_PRACTITIONER)
        ask = RequestCourtReport(
            actor=BOTH_SITES_PRACTITIONER,
            purpose=CourtReportPurpose.BAIL_OR_REMAND,
            hearing_at=datetime.combine(monday, time(10), LONDON),
            recipients=(Recipient.COURT, Recipient.DEFENCE),
        )
        await handle.execute_update(CaseWorkflow.request_court_report, ask)

        await sleep_until(env, datetime.combine(monday, time(8, 30), LONDON))
        state = await handle.query(CaseWorkflow.state)
        writing = CompleteTask(
            actor=BOTH_SITES_PRACTITIONER, task_id=open_task(state, TaskKind.COURT_REPORT), outcome=REPORT
        )
        await handle.execute_update(CaseWorkflow.complete_task, writing)

        await sleep_until(env, datetime.combine(monday, time(10, 5), LONDON))  # the hearing is over
        state = await handle.query(CaseWorkflow.state)
        remand = {"result": HearingResult.REMAND_IN_CUSTODY, "hand_off_to_reconnect": True}
        heard = CompleteTask(
            actor=BOTH_SITES_PRACTITIONER, task_id=open_task(state, TaskKind.HEARING_OUTCOME), outcome=remand
        )
        state = await changed(handle, CaseWorkflow.complete_task, heard)
        assert state.handed_off_to == "reconnect" and state.justice_outcome is JusticeOutcome.CHARGED_REMANDED
        assert [t.kind for t in state.open_tasks] == [TaskKind.CLOSURE]

        [referral] = state.referrals
        assert referral.request.service is ServiceType.RECONNECT and referral.request.service_id == "north-reconnect"
        async with asyncio.timeout(20):
            while not (sent := [m for m in mailbox.messages if referral.referral_id in m.get_content()]):
                await asyncio.sleep(0.1)
        assert [m["To"] for m in sent] == ["reconnect@services.north.pathway.test"]

        assert state.linked_case_id is not None
        async with asyncio.timeout(20):
            while not await sqlite_store.read_stream(state.linked_case_id):
                await asyncio.sleep(0.1)
        episode = env.client.get_workflow_handle_for(CaseWorkflow.run, state.linked_case_id)
        linked = await episode.query(CaseWorkflow.state)
        assert linked.programme == "reconnect" and linked.site == "north" and linked.linked_case_id == handle.id
        assert linked.care_after_custody is not None
        assert linked.care_after_custody.engage_before_release_weeks == NORTH.reconnect.engage_before_release_weeks

        # Released in four weeks: engagement opens at once (inside the twelve weeks before release), the
        # episode's closure when six months of support after release are over.
        release_on = monday + timedelta(weeks=4)
        release = RecordReleaseDate(actor=BOTH_SITES_PRACTITIONER, release_on=release_on)
        linked = await changed(episode, CaseWorkflow.record_release_date, release)
        engaging = linked.tasks[open_task(linked, TaskKind.RECONNECT_ENGAGEMENT)]
        [closing] = [t for t in linked.tasks.values() if t.kind is TaskKind.CLOSURE]
        assert closing.opens_at is not None  # six calendar months on, at midnight (exact dates: domain tests)
        ends = closing.opens_at.astimezone(LONDON)
        assert ends.time() == time(0) and 181 <= (ends.date() - release_on).days <= 184
        met = CompleteTask(actor=LINK_WORKER, task_id=engaging.task_id, outcome={"engaged": True})
        linked = await changed(episode, CaseWorkflow.complete_task, met)
        assert linked.care_after_custody is not None and linked.care_after_custody.engaged is True

        await sleep_until(env, closing.opens_at + timedelta(minutes=1))
        linked = await episode.query(CaseWorkflow.state)
        assert [t.kind for t in linked.open_tasks] == [TaskKind.CLOSURE]
