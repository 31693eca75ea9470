"""Community link work, follow-up and the closure gate over simulated weeks, on the time-skipping
server. On the demo site a "day" of support lasts a minute: 28 days of support pass in 28 minutes,
contacts every 7, follow-ups 14 and 42 after support ends, a review after 2 missed contacts."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.commands import CompleteTask, RecordReferralOutcome
from domain.model import Cohort, Stage
from domain.outcomes import ReferralStatus
from domain.state import CaseState
from domain.tasks import TaskKind
from store.event_store import EventStore
from tests.conftest import worker_for
from tests.workflows.conftest import Mailbox
from tests.workflows.direct import LINK_WORKER, Handle, changed, complete, start
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task
from tests.workflows.support import skip
from workflows.case_workflow import CaseWorkflow


async def to_support(handle: Handle, goals: list[str]) -> CaseState:
    for kind in (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION):
        await complete(handle, kind, OUTCOMES[kind])
    decision = {
        "referrals": [{"service": "mental_health", "reason": "low mood"}, {"service": "housing", "reason": "homeless"}],
        "link_work_goals": goals,
    }
    return await complete(handle, TaskKind.REFERRAL_DECISION, decision)


async def refused(handle: Handle, update: Any, command: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as refusal:
        await handle.execute_update(update, command)
    cause = refusal.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.details[0] == "closure_gate", cause.message
    return cause.message


async def test_link_work_with_missed_contacts_then_follow_ups_then_closure(
    time_skipping_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox
) -> None:
    env = time_skipping_env
    task_queue = f"link-work-{uuid.uuid4()}"
    async with worker_for(env.client, sqlite_store, task_queue, mailbox.mailer):
        handle = await start(env, task_queue, open_case(f"CUST-{uuid.uuid4().hex[:6]}"))
        state = await to_support(handle, ["housing", "addictions"])
        assert state.stage is Stage.SUPPORT and state.support is not None
        assert state.support.ends_at - state.support.started_at == timedelta(minutes=28)
        first = state.tasks[open_task(state, TaskKind.CONTACT)]
        assert first.due_at - state.support.started_at == timedelta(minutes=7)
        mental_health, housing = state.referrals

        await skip(env, timedelta(minutes=3))
        await complete(
            handle, TaskKind.CONTACT, {"attendance": "attended", "goals_progressed": ["housing"]}, LINK_WORKER
        )
        await complete(handle, TaskKind.CONTACT, {"attendance": "did_not_attend"}, LINK_WORKER)
        state = await complete(handle, TaskKind.CONTACT, {"attendance": "did_not_attend"}, LINK_WORKER)
        assert [t.kind for t in state.open_tasks] == [TaskKind.DISENGAGEMENT_REVIEW]
        state = await complete(
            handle, TaskKind.DISENGAGEMENT_REVIEW, {"decision": "continue", "reason": "phone was lost"}, LINK_WORKER
        )
        assert state.support is not None and state.support.missed_in_a_row == 0
        assert [t.kind for t in state.open_tasks] == [TaskKind.CONTACT]

        # Support runs out at 28 "days": open contacts are cancelled, follow-ups scheduled at 14 and 42.
        await skip(env, timedelta(minutes=26))
        state = await handle.query(CaseWorkflow.state)
        assert state.stage is Stage.FOLLOW_UP and state.support is not None
        assert state.support.end_reason == "time_limit_reached"
        scheduled = sorted((t for t in state.tasks.values() if t.status == "scheduled"), key=lambda t: t.due_at)
        assert [t.kind for t in scheduled] == [TaskKind.FOLLOW_UP, TaskKind.FOLLOW_UP]
        assert state.open_tasks == [] or all(t.kind is not TaskKind.CONTACT for t in state.open_tasks)

        await skip(env, timedelta(minutes=15))
        state = await handle.query(CaseWorkflow.state)
        assert [t.kind for t in state.open_tasks if t.kind is TaskKind.FOLLOW_UP] == [TaskKind.FOLLOW_UP]
        await complete(handle, TaskKind.FOLLOW_UP, {"engaged_with_services": True}, LINK_WORKER)
        await skip(env, timedelta(minutes=28))
        state = await complete(handle, TaskKind.FOLLOW_UP, {"engaged_with_services": True}, LINK_WORKER)
        closure = open_task(state, TaskKind.CLOSURE)

        # The closure gate: support was delivered, so every referral needs an outcome first.
        close = CompleteTask(actor=PRACTITIONER, task_id=closure, outcome=OUTCOMES[TaskKind.CLOSURE])
        message = await refused(handle, CaseWorkflow.complete_task, close)
        assert mental_health.referral_id in message and housing.referral_id in message
        events_before = len(await sqlite_store.read_stream(handle.id))
        for referral, steps in [
            (mental_health, [ReferralStatus.ACCEPTED, ReferralStatus.ATTENDED, ReferralStatus.ENGAGED]),
            (housing, [ReferralStatus.REJECTED]),
        ]:
            for status in steps:
                reason = "no capacity" if status is ReferralStatus.REJECTED else ""
                answer = RecordReferralOutcome(
                    actor=PRACTITIONER, referral_id=referral.referral_id, status=status, reason=reason
                )
                await handle.execute_update(CaseWorkflow.record_referral_outcome, answer)
        added = [e.event.type for e in (await sqlite_store.read_stream(handle.id))[events_before:]]
        assert added.count("ReferralOutcomeRecorded") == 4
        assert set(added) <= {"ReferralOutcomeRecorded", "TaskCancelled"}  # the answers end the chases
        state = await changed(handle, CaseWorkflow.complete_task, close)
        assert state.stage is Stage.CLOSED
        assert (await handle.result()).close_reason == "pathway_complete"
        assert (await sqlite_store.verify_chain(handle.id)).ok
        assert await sqlite_store.projection_differences(handle.id) == []


async def test_the_womens_pathway_gets_longer_support_and_its_services_suggested(
    time_skipping_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox
) -> None:
    env = time_skipping_env
    task_queue = f"link-work-{uuid.uuid4()}"
    opening = open_case(f"CUST-{uuid.uuid4().hex[:6]}").model_copy(update={"cohorts": (Cohort.WOMENS_PATHWAY,)})
    async with worker_for(env.client, sqlite_store, task_queue, mailbox.mailer):
        handle = await start(env, task_queue, opening)
        for kind in (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT):
            await complete(handle, kind, OUTCOMES[kind])
        state = await complete(handle, TaskKind.SHARE_INFORMATION, OUTCOMES[TaskKind.SHARE_INFORMATION])
        decision_task = state.tasks[open_task(state, TaskKind.REFERRAL_DECISION)]
        assert {"womens_centre", "domestic_abuse_support"} <= set(decision_task.suggested_services)
        state = await complete(
            handle,
            TaskKind.REFERRAL_DECISION,
            {
                "referrals": [{"service": "womens_centre", "reason": "support network"}],
                "link_work_goals": ["wellbeing"],
            },
        )
        assert state.support is not None
        assert state.support.ends_at - state.support.started_at == timedelta(minutes=84)
