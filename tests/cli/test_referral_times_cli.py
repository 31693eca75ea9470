"""`pathway case show` shows each referral's chase and escalation times (issue 17), as text and JSON."""

import uuid
from datetime import datetime
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from domain.referral_times import chase_and_escalation_times
from domain.tasks import TaskKind
from store.event_store import EventStore
from tests.cli.support import pathway
from tests.conftest import case_commands, worker_for
from tests.workflows.conftest import Mailbox, serving
from tests.workflows.journey import (
    BOTH_SITES_PRACTITIONER,
    OUTCOMES,
    assert_on_the_working_calendar,
    open_case,
    open_task,
    referral_sent,
)


async def test_case_show_gives_each_sent_referrals_chase_and_escalation_times(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    task_queue = f"cli-times-{uuid.uuid4()}"
    env = {
        "PATHWAY_DATA_DIR": str(tmp_path),
        "PATHWAY_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "PATHWAY_TASK_QUEUE": task_queue,
        "PATHWAY_ID_KEY": "cli-test-key",
    }
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    with serving(Mailbox()) as mailbox:
        async with worker_for(temporal_env.client, store, task_queue, mailbox.mailer):
            cases = case_commands(temporal_env, store, task_queue)
            state = await cases.start_case(open_case(f"CUST/{uuid.uuid4().hex[:8]}", site="north"))
            for kind in (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION):
                state = await cases.complete_task(open_task(state, kind), OUTCOMES[kind], BOTH_SITES_PRACTITIONER)
            decision = open_task(state, TaskKind.REFERRAL_DECISION)
            await cases.complete_task(decision, OUTCOMES[TaskKind.REFERRAL_DECISION], BOTH_SITES_PRACTITIONER)
            state = await referral_sent(cases, state.case_id)

            shown = await pathway("case", "show", state.case_id, "--as", "pr-002", "--json", env=env)
            text = await pathway("case", "show", state.case_id, "--as", "pr-002", env=env)
    await store.close()

    assert shown.status == 0, shown.stderr
    [referral] = state.referrals
    assert referral.sent_at is not None
    [times] = shown.json()["referral_times"]
    assert times["referral_id"] == referral.referral_id and times["next_step"] == "chase"
    chase_at, escalate_at = datetime.fromisoformat(times["chase_at"]), datetime.fromisoformat(times["escalate_at"])
    north = cases.config.site("north")
    assert (chase_at, escalate_at) == chase_and_escalation_times(
        north.calendar, north.referral_timings, referral.sent_at
    )
    assert_on_the_working_calendar(north.calendar, referral.sent_at, chase_at, 2)
    assert_on_the_working_calendar(north.calendar, referral.sent_at, escalate_at, 4)

    assert text.status == 0, text.stderr
    lines = text.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"  referral {referral.referral_id}"))
    assert lines[at + 1] == (
        f"    unanswered: chased at {chase_at:%Y-%m-%d %H:%M}Z, escalated at {escalate_at:%Y-%m-%d %H:%M}Z"
    )
