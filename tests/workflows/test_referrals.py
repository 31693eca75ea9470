"""Referrals to services, on the time-skipping server: sent by email, answered, chased and escalated.

The demo site's referral timings are minutes (chase after 6, escalate after 12) so this runs fast;
working days are tested in tests/domain/test_calendar.py."""

import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.commands import CompleteTask, RecordReferralOutcome
from domain.config import Service, SiteConfig
from domain.outcomes import ReferralStatus, ServiceType
from domain.state import CaseState
from domain.tasks import TaskKind
from store.event_store import EventStore
from tests.conftest import worker_for
from tests.workflows.conftest import Mailbox
from tests.workflows.direct import CHASE_SITE, changed, time_skipping_input
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task
from tests.workflows.support import skip, until_closed
from tests.workflows.test_golden_histories import HISTORIES, RECORDING
from workers.settings import SHIPPED_CONFIG, load_config
from workflows.case_workflow import CaseWorkflow
from workflows.messages import CaseResult
from workflows.referral_workflow import ReferralWorkflow, referral_workflow_id

SITE = load_config(SHIPPED_CONFIG).site("demo")
LINK_WORKER = load_config(SHIPPED_CONFIG).staff_member("lw-001")
TWO_REFERRALS = {
    "referrals": [
        {"service": "mental_health", "reason": "low mood and anxiety", "urgency": "urgent"},
        {"service": "housing", "reason": "no fixed abode"},
    ]
}


async def to_referral_decision(
    env: WorkflowEnvironment, task_queue: str, site: SiteConfig = SITE
) -> WorkflowHandle[CaseWorkflow, CaseResult]:
    case_id = f"case-{uuid.uuid4()}"
    handle = await env.client.start_workflow(
        CaseWorkflow.run, time_skipping_input(case_id, site), id=case_id, task_queue=task_queue
    )
    state = await changed(handle, CaseWorkflow.open_case, open_case(f"CUST-{uuid.uuid4().hex[:6]}"))
    for kind in (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION):
        state = await complete(handle, state, kind, OUTCOMES[kind])
    return handle


async def complete(
    handle: WorkflowHandle[CaseWorkflow, CaseResult], state: CaseState, kind: TaskKind, outcome: dict[str, Any]
) -> CaseState:
    command = CompleteTask(actor=PRACTITIONER, task_id=open_task(state, kind), outcome=outcome)
    return await changed(handle, CaseWorkflow.complete_task, command)


async def test_two_referrals_one_answered_one_chased_then_escalated(
    time_skipping_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox
) -> None:
    env = time_skipping_env
    task_queue = f"referrals-{uuid.uuid4()}"
    async with worker_for(env.client, sqlite_store, task_queue, mailbox.mailer):
        handle = await to_referral_decision(env, task_queue, CHASE_SITE)
        state = await complete(
            handle, await handle.query(CaseWorkflow.state), TaskKind.REFERRAL_DECISION, TWO_REFERRALS
        )
        mental_health, housing = state.referrals
        assert (mental_health.request.service_id, housing.request.service_id) == ("demo-cmht", "demo-housing")

        await skip(env, timedelta(seconds=5))
        to_services = [m for m in mailbox.messages if m["To"].endswith("@services.pathway.test")]
        assert sorted(m["To"] for m in to_services) == ["cmht@services.pathway.test", "housing@services.pathway.test"]
        assert all(f"http://inbox.test/referrals/{r.referral_id}" in m.get_content() for r, m in [
            (mental_health, next(m for m in to_services if m["To"].startswith("cmht"))),
            (housing, next(m for m in to_services if m["To"].startswith("housing"))),
        ])  # fmt: skip
        state = await handle.query(CaseWorkflow.state)
        assert [r.status for r in state.referrals] == [ReferralStatus.SENT, ReferralStatus.SENT]

        # The mental health team answers within the hour; nobody answers for housing.
        accept = RecordReferralOutcome(
            actor=PRACTITIONER, referral_id=mental_health.referral_id, status=ReferralStatus.ACCEPTED
        )
        await handle.execute_update(CaseWorkflow.record_referral_outcome, accept)
        # The answer stops its referral's chasing, which ends that workflow and its chase timer.
        await until_closed(env.client, referral_workflow_id(handle.id, mental_health.referral_id))
        await skip(env, timedelta(minutes=7))
        state = await handle.query(CaseWorkflow.state)
        chase = state.tasks[open_task(state, TaskKind.CHASE_REFERRAL)]
        assert chase.referral_id == housing.referral_id and "link_worker" in chase.candidate_roles
        assert [r.chased for r in state.referrals] == [False, True]

        await skip(env, timedelta(minutes=6))  # past the escalation time, still unanswered
        state = await handle.query(CaseWorkflow.state)
        assert state.referrals[1].escalated and state.tasks[chase.task_id].escalated
        escalations = await mailbox.wait_for(handle.id, 1)
        assert any(m["Subject"].startswith("Escalation: chase referral task") for m in escalations)
        assert all(m["To"] == "tl-001@demo.pathway.test" for m in escalations if "Escalation" in m["Subject"])

        # The link worker gets through to housing: accepted; then the person engages with mental health.
        answered = CompleteTask(
            actor=PRACTITIONER.model_copy(update={"staff_id": LINK_WORKER.staff_id, "role": LINK_WORKER.role}),
            task_id=chase.task_id,
            outcome={"answer": "accepted"},
        )
        await handle.execute_update(CaseWorkflow.complete_task, answered)
        for status in (ReferralStatus.ATTENDED, ReferralStatus.ENGAGED):
            step = RecordReferralOutcome(actor=PRACTITIONER, referral_id=mental_health.referral_id, status=status)
            state = await changed(handle, CaseWorkflow.record_referral_outcome, step)
        assert [r.status for r in state.referrals] == [ReferralStatus.ENGAGED, ReferralStatus.ACCEPTED]

        for referral in (mental_health, housing):
            child = env.client.get_workflow_handle_for(
                ReferralWorkflow.run, referral_workflow_id(handle.id, referral.referral_id)
            )
            result = await child.result()
            assert result.sent and result.chased == (referral is housing) and result.escalated == (referral is housing)
        assert (await sqlite_store.verify_chain(handle.id)).ok
        assert await sqlite_store.projection_differences(handle.id) == []
        if RECORDING:
            history = await env.client.get_workflow_handle(
                referral_workflow_id(handle.id, housing.referral_id)
            ).fetch_history()
            (HISTORIES / "referral_workflow_chased.json").write_text(history.to_json() + "\n")


@pytest.mark.parametrize(
    ("status", "rule"),
    [(ReferralStatus.ATTENDED, "referral_transition"), (ReferralStatus.REJECTED, "reason_required")],
)
async def test_bad_referral_outcomes_are_refused(
    time_skipping_env: WorkflowEnvironment,
    sqlite_store: EventStore,
    mailbox: Mailbox,
    status: ReferralStatus,
    rule: str,
) -> None:
    env = time_skipping_env
    task_queue = f"referrals-{uuid.uuid4()}"
    async with worker_for(env.client, sqlite_store, task_queue, mailbox.mailer):
        handle = await to_referral_decision(env, task_queue)
        state = await complete(
            handle, await handle.query(CaseWorkflow.state), TaskKind.REFERRAL_DECISION, TWO_REFERRALS
        )
        await skip(env, timedelta(seconds=5))
        before = len(await sqlite_store.read_stream(handle.id))
        command = RecordReferralOutcome(actor=PRACTITIONER, referral_id=state.referrals[0].referral_id, status=status)
        with pytest.raises(WorkflowUpdateFailedError) as refusal:
            await handle.execute_update(CaseWorkflow.record_referral_outcome, command)
        cause = refusal.value.cause
        assert isinstance(cause, ApplicationError) and cause.details == (rule,)
        assert len(await sqlite_store.read_stream(handle.id)) == before


class _Refusing(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(400)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


async def test_a_referral_the_service_refuses_becomes_an_urgent_chase_task(
    time_skipping_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox
) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    refusing = Service(
        service_id="refusing-housing",
        name="Housing that refuses",
        type=ServiceType.HOUSING,
        sites=("demo",),
        delivery="http",
        address=f"http://127.0.0.1:{server.server_address[1]}/referrals",
    )
    site = SITE.model_copy(update={"services": (refusing,)})
    env = time_skipping_env
    task_queue = f"referrals-{uuid.uuid4()}"
    try:
        async with worker_for(env.client, sqlite_store, task_queue, mailbox.mailer):
            case_id = f"case-{uuid.uuid4()}"
            handle = await env.client.start_workflow(
                CaseWorkflow.run, time_skipping_input(case_id, site), id=case_id, task_queue=task_queue
            )
            state = await changed(handle, CaseWorkflow.open_case, open_case(f"CUST-{uuid.uuid4().hex[:6]}"))
            for kind in (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION):
                state = await complete(handle, state, kind, OUTCOMES[kind])
            state = await complete(
                handle, state, TaskKind.REFERRAL_DECISION, {"referrals": [{"service": "housing", "reason": "homeless"}]}
            )
            await skip(env, timedelta(seconds=5))
            state = await handle.query(CaseWorkflow.state)
            [referral] = state.referrals
            assert referral.status is ReferralStatus.DRAFTED and "HTTP 400" in (referral.send_failed or "")
            chase = state.tasks[open_task(state, TaskKind.CHASE_REFERRAL)]
            assert chase.referral_id == referral.referral_id and chase.priority == "urgent"
            # The link worker reaches the service by phone: it accepts, and the referral moves on.
            state = await complete(handle, state, TaskKind.CHASE_REFERRAL, {"answer": "accepted"})
            assert state.referrals[0].status is ReferralStatus.ACCEPTED
            child = env.client.get_workflow_handle_for(
                ReferralWorkflow.run, referral_workflow_id(handle.id, referral.referral_id)
            )
            assert not (await child.result()).sent
    finally:
        server.shutdown()
