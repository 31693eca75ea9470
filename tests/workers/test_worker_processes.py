"""Real `pathway worker` processes on one task queue and one PostgreSQL store: one of two is killed with
SIGKILL in the middle of 100 journeys and the other carries on, losing nothing; SIGTERM stops a worker
gracefully. (The only worker killed again and again, and restarted: tests/reliability/test_worker_kill.py.)"""

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from domain.tasks import TaskKind
from tests.reliability.support import (
    GRACEFUL_SECONDS,
    Journeys,
    PatientUser,
    WorkerStack,
    assert_stream_whole,
    worker_stack,
)
from tests.workflows.journey import JOURNEY, complete, open_case

JOURNEYS = 100


@pytest_asyncio.fixture(loop_scope="session")
async def stack(temporal_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[WorkerStack]:
    async with worker_stack(temporal_env, tmp_path, "worker-processes") as stack:
        yield stack


def appended(metrics_text: str) -> float:
    lines = [line for line in metrics_text.splitlines() if line.startswith("pathway_append_latency_seconds_count")]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


async def test_a_worker_killed_mid_run_loses_nothing(stack: WorkerStack) -> None:
    first = await stack.start_worker("first")
    await stack.start_worker("second")
    user = PatientUser(stack.cases(), stack.store)
    started = time.monotonic()
    async with Journeys(user, [f"KILL-{number:03}" for number in range(JOURNEYS)]) as journeys:
        await journeys.reach(journeys.total_steps // 2)
        assert appended(await first.metrics()) > 0, "the first worker did none of the work"
        await stack.kill(first)
        case_ids = await journeys.finish(240)
    assert first.process.returncode == -signal.SIGKILL
    print(
        f"{JOURNEYS} journeys with a worker killed halfway: {time.monotonic() - started:.1f}s, "
        f"{user.retries} commands tried again ({dict(user.failures)})"
    )

    assert len(set(case_ids)) == JOURNEYS
    for case_id in case_ids:
        await assert_stream_whole(stack.store, case_id, task_completions=len(JOURNEY))


async def test_sigterm_stops_a_worker_gracefully(stack: WorkerStack) -> None:
    # Idle: it exits 0 at once.
    idle = await stack.start_worker("idle")
    idle.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(GRACEFUL_SECONDS):
        assert await idle.process.wait() == 0

    # Busy: a referral email is being sent. It is marked not ready first, the send finishes, then it exits 0.
    mailbox = stack.mailbox
    mailbox.delay = 4  # the SMTP sink takes its time, so the send is in flight when SIGTERM comes
    busy = await stack.start_worker("busy")
    cases = stack.cases()
    state = await cases.start_case(open_case("TERM-001"))
    for kind in JOURNEY[: JOURNEY.index(TaskKind.REFERRAL_DECISION) + 1]:
        state = await complete(cases, state, kind)
    async with asyncio.timeout(30):
        while not mailbox.receiving.is_set():
            await asyncio.sleep(0.05)
    busy.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(2):
        while (status := await busy.readyz()) == 200:
            await asyncio.sleep(0.05)
    assert status == 503 and busy.process.returncode is None and not mailbox.received
    async with asyncio.timeout(GRACEFUL_SECONDS):
        assert await busy.process.wait() == 0
    assert len(mailbox.received) == 1  # the send in flight finished before the worker left
    assert "worker stopped" in busy.log.read_text()
