"""How fast auditors can check the whole record: `verify --all` and `replay --all` in events per second.

Builds a store of N cases (default 1,000) by running real journeys through the real workflow on
its own Temporal dev server, then times:
- verify: every stream's hash chain and sequence, and its projections against a fresh fold, as
  `pathway audit verify --all` does (in process, and the CLI itself end to end);
- replay: every history of those cases fetched from Temporal and replayed against the current
  workflow code, as `pathway audit replay --all` does (fetch and replay together, and replay alone).

    .venv/bin/python -m bench.audit_speed [--cases 1000] [--concurrency 32]

Prints the figures and appends a row to bench/results/audit_speed.csv.
"""

import argparse
import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHistory

from bench.support import PRACTITIONER, in_parallel, opening, pathway_stack, write_row
from cli.demo import ADULT_OUTCOMES, JOURNEY
from domain.tasks import TaskKind
from store.event_store import EventStore
from workers.cases import CaseCommands
from workers.client import data_converter
from workers.replay import WorkflowCode, listed_histories, replay_histories
from workers.worker import WORKFLOWS

# The standard journey to closure, without a referral (a referral's workflow waits for the service).
OUTCOMES: dict[TaskKind, dict[str, Any]] = {
    **ADULT_OUTCOMES,
    TaskKind.REFERRAL_DECISION: {"referrals": [], "reason_if_none": "Already supported by the community team"},
}


async def journey(cases: CaseCommands, number: int) -> None:
    state = await cases.start_case(opening(number))
    for kind in JOURNEY:
        [task] = [t for t in state.open_tasks if t.kind is kind]
        state = await cases.complete_task(task.task_id, OUTCOMES[kind], PRACTITIONER)


async def verify_all(store: EventStore) -> tuple[int, list[str]]:
    """What `pathway audit verify --all` checks; returns the events checked and the failed cases."""
    events, failed = 0, []
    for case_id in await store.case_ids():
        chain = await store.verify_chain(case_id)
        events += chain.events
        if not chain.ok or await store.projection_differences(case_id):
            failed.append(case_id)
    return events, failed


async def fetched(histories: list[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        yield history


async def replay_all(histories: AsyncIterator[WorkflowHistory], code: WorkflowCode) -> tuple[int, int, int]:
    """Histories replayed, their events, and how many failed."""
    runs = events = failures = 0
    async for outcome in replay_histories(histories, code):
        runs, events = runs + 1, events + outcome.events
        failures += outcome.failure is not None
    return runs, events, failures


async def run_cli(*args: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    pathway = str(Path(sys.executable).parent / "pathway")
    process = await asyncio.create_subprocess_exec(
        pathway, *args, env=os.environ | env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, errors = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"pathway {' '.join(args)} failed: {errors.decode()[-500:]}")
    return time.perf_counter() - started


async def main(count: int, concurrency: int) -> None:
    async with pathway_stack() as stack:
        started = time.perf_counter()
        await in_parallel(count, concurrency, lambda number: journey(stack.cases, number))
        journeys_s = time.perf_counter() - started
        print(f"built {count} cases through real journeys in {journeys_s:.1f} s ({count / journeys_s:.1f}/s)")

        started = time.perf_counter()
        verified_events, failed = await verify_all(stack.store)
        verify_s = time.perf_counter() - started
        assert not failed, f"cases failed to verify: {failed[:5]}"
        verify_cli_s = await run_cli("audit", "verify", "--all", "--as", "au-001", env=stack.cli_env)

        code = WorkflowCode(WORKFLOWS, data_converter(stack.payload_keys))
        query = f"TaskQueue = '{stack.task_queue}'"
        started = time.perf_counter()
        runs, replayed_events, failures = await replay_all(listed_histories(stack.env.client, query), code)
        fetch_replay_s = time.perf_counter() - started
        assert failures == 0, f"{failures} histories failed to replay"
        histories = [history async for history in listed_histories(stack.env.client, query)]
        started = time.perf_counter()
        await replay_all(fetched(histories), code)
        replay_s = time.perf_counter() - started
        replay_cli_s = await run_cli("audit", "replay", "--query", query, "--as", "au-001", env=stack.cli_env)

    figures = {
        "cases": count,
        "events": verified_events,
        "verify_s": round(verify_s, 2),
        "verify_events_per_s": round(verified_events / verify_s),
        "verify_cli_s": round(verify_cli_s, 2),
        "histories": runs,
        "history_events": replayed_events,
        "fetch_and_replay_s": round(fetch_replay_s, 2),
        "fetch_and_replay_events_per_s": round(replayed_events / fetch_replay_s),
        "replay_only_s": round(replay_s, 2),
        "replay_only_events_per_s": round(replayed_events / replay_s),
        "replay_cli_s": round(replay_cli_s, 2),
        "journeys_per_s": round(count / journeys_s, 1),
    }
    print(
        f"verify --all: {verified_events} store events of {count} cases in {verify_s:.2f} s = "
        f"{figures['verify_events_per_s']} events/s (the CLI end to end: {verify_cli_s:.2f} s)"
    )
    print(
        f"replay --all: {runs} histories, {replayed_events} history events; fetched and replayed in "
        f"{fetch_replay_s:.2f} s = {figures['fetch_and_replay_events_per_s']} events/s; replay alone "
        f"{replay_s:.2f} s = {figures['replay_only_events_per_s']} events/s (the CLI end to end: {replay_cli_s:.2f} s)"
    )
    print(f"row written to {write_row('audit_speed', figures)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.concurrency))
