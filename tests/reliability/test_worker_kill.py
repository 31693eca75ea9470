"""The only `pathway worker` process, SIGKILLed at random points of 30 journeys (once while appends are
in flight) and started afresh each time: clients retry what failed as a user would, every case
completes, no event is lost, duplicated or reordered, every chain verifies, the projections equal a
fresh fold, and each case workflow's history agrees with its stream.

The kill points come from a seeded random.Random; the seed is printed, and PATHWAY_TEST_SEED=<seed>
runs the same kill schedule again (the same step counts; the timing around them is the machine's)."""

import asyncio
import contextlib
import os
import random
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment

from store.event_store import EventStore
from tests.reliability.support import (
    HistoryFacts,
    Journeys,
    PatientUser,
    WorkerProcess,
    WorkerStack,
    assert_history_whole,
    assert_stream_whole,
    worker_stack,
)
from tests.workflows.journey import JOURNEY

JOURNEYS = 30
KILLS = 3
# Seconds a user waits for an answer before trying again: less than a killed worker's workflow task
# (10 s) or append (30 s) takes to time out, so users give up on commands stuck with a dead worker.
PATIENCE = 8


@pytest_asyncio.fixture(loop_scope="session")
async def stack(temporal_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[WorkerStack]:
    async with worker_stack(temporal_env, tmp_path, "worker-kill") as stack:
        yield stack


@dataclass(frozen=True)
class KillPlan:
    """Kill when this many tasks are completed: first in all, then since the last restart."""

    first_after: int
    then_after: list[int]
    held: int  # the kill that comes while appends are held in flight

    @classmethod
    def drawn(cls, rng: random.Random) -> "KillPlan":
        return cls(
            first_after=rng.randint(JOURNEYS // 2, JOURNEYS * 2),
            then_after=[rng.randint(2, 12) for _ in range(KILLS - 1)],
            held=rng.randrange(KILLS),
        )


@contextlib.asynccontextmanager
async def appends_held(store: EventStore) -> AsyncIterator[None]:
    """The events table locked against writes, until the block is left: appends started meanwhile
    wait inside their activities (reads go on)."""
    async with store.engine.connect() as conn:
        transaction = await conn.begin()
        await conn.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
        try:
            yield
        finally:
            await transaction.rollback()


async def appends_waiting(store: EventStore) -> int:
    """How many sessions are waiting for the events table (appends in flight, held)."""
    async with store.engine.connect() as conn:
        query = text("SELECT count(*) FROM pg_locks WHERE relation = 'events'::regclass AND NOT granted")
        return int((await conn.execute(query)).scalar_one())


async def test_journeys_survive_the_worker_killed_again_and_again(
    stack: WorkerStack, temporal_env: WorkflowEnvironment
) -> None:
    seed = int(os.environ.get("PATHWAY_TEST_SEED") or random.randrange(2**32))
    plan = KillPlan.drawn(random.Random(seed))
    print(f"\nseed {seed}: {plan}")
    user = PatientUser(stack.cases(), stack.store, patience=PATIENCE)
    killed: list[WorkerProcess] = []
    kills: list[str] = []  # when each came, and how long the fresh worker took to be ready
    started = time.monotonic()
    worker = await stack.start_worker("worker-0")
    async with Journeys(user, [f"KILL-{n:03}" for n in range(JOURNEYS)]) as journeys:
        threshold = plan.first_after
        for number in range(KILLS):
            await journeys.reach(threshold)
            if number == plan.held:
                async with appends_held(stack.store), asyncio.timeout(30):
                    while await appends_waiting(stack.store) == 0:
                        await asyncio.sleep(0.05)
                    await stack.kill(worker)
            else:
                await stack.kill(worker)
            killed.append(worker)
            killed_at, steps = time.monotonic(), user.steps
            worker = await stack.start_worker(f"worker-{number + 1}")
            restarted = time.monotonic() - killed_at
            kills.append(f"after {steps} tasks at {killed_at - started:.1f}s (next worker ready {restarted:.1f}s on)")
            if number + 1 < KILLS:
                threshold = user.steps + plan.then_after[number]
        case_ids = await journeys.finish(240)
    elapsed = time.monotonic() - started

    assert all(gone.process.returncode == -signal.SIGKILL for gone in killed)
    assert len(set(case_ids)) == JOURNEYS
    facts: list[HistoryFacts] = []
    for case_id in case_ids:
        await assert_stream_whole(stack.store, case_id, task_completions=len(JOURNEY))
        facts.append(await assert_history_whole(temporal_env.client, stack.store, case_id))
    retries = sum(f.append_retries for f in facts)
    timeouts = sum(f.workflow_task_timeouts for f in facts)
    print(
        f"{JOURNEYS} journeys ({journeys.total_steps} tasks) in {elapsed:.1f}s, the worker killed {'; '.join(kills)}; "
        f"{retries} append attempts retried, {timeouts} workflow tasks timed out; "
        f"{user.retries} commands tried again ({dict(user.failures)})"
    )
    # The held kill caught appends in flight: their activities needed another attempt, on a later worker.
    assert retries > 0, "no append was retried: no kill caught one in flight"
    # Users gave up on commands stuck behind those appends and sent them again.
    assert user.retries > 0, "no command was tried again"
