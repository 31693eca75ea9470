"""Journey throughput: Pathway cases per second through the standard journey, against bare workflows.

Runs N cases (default 500) through the standard journey (start, consent, screening, assessment,
information sharing, referral to two services, closure) with the real StaffCommands, worker, store
and payload codec, N at a time up to the concurrency; and N bare workflows (bench/bare.py) that
take the same number of Updates and run the same number of activities, with no store, no codec and
no domain logic, on their own worker and task queue on the same dev server. The numbers of Updates
and activities are counted from the history of one real journey (the case workflow and the referral
workflows it starts) before timing. Each side is timed from the first start to the last workflow's
completion (the closed case's workflow result; the bare workflow's result).

    .venv/bin/python -m bench.journey_throughput [--cases 500] [--concurrency 32]

Prints the figures beside the baseline and appends a row to bench/results/journey_throughput.csv.
"""

import argparse
import asyncio
import os
import resource
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.bare import bare_journey, bare_worker
from bench.support import (
    PRACTITIONER,
    STANDARD_JOURNEY,
    STANDARD_OUTCOMES,
    Comparison,
    in_parallel,
    opening,
    pathway_stack,
    plain_client,
    print_table,
    write_row,
)
from service.staff import StaffCommands

TARGET = 0.7  # journey throughput at least 0.7 of the bare baseline


async def journey(cases: StaffCommands, number: int, prefix: str = "BENCH") -> str:
    """One case from start to closure; returns its case id once its workflow has completed."""
    state = await cases.start_case(opening(number, prefix))
    for kind in STANDARD_JOURNEY:
        [task] = [t for t in state.open_tasks if t.kind is kind]
        state = await cases.complete_task(task.task_id, STANDARD_OUTCOMES[kind], PRACTITIONER)
    await cases.client.get_workflow_handle(state.case_id).result()
    return state.case_id


async def journey_shape(client: Client, case_id: str) -> list[int]:
    """Activities per Update of one finished journey, from its history: the activities the case
    workflow schedules after each accepted Update, plus those of the child workflows it starts then."""
    plan: list[int] = []
    children: list[tuple[int, str]] = []
    async for event in client.get_workflow_handle(case_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            plan.append(0)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            plan[-1] += 1
        elif event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            children.append(
                (len(plan) - 1, event.start_child_workflow_execution_initiated_event_attributes.workflow_id)
            )
    for update, child_id in children:
        child = client.get_workflow_handle(child_id)
        await child.result()
        async for event in child.fetch_history_events():
            plan[update] += event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    return plan


@dataclass(frozen=True)
class Run:
    seconds: float
    worker_cpu_s: float  # this process: clients, workers, codec, store
    server_cpu_s: float  # its child processes: the Temporal dev server


def server_cpu_seconds() -> float:
    """CPU time used so far by this process's children (the dev server), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone since listed
            continue
        if int(fields[1]) == os.getpid():
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def own_cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


async def timed(count: int, concurrency: int, work: Callable[[int], Awaitable[object]]) -> Run:
    started, own, server = time.perf_counter(), own_cpu_seconds(), server_cpu_seconds()
    await in_parallel(count, concurrency, work)
    return Run(time.perf_counter() - started, own_cpu_seconds() - own, server_cpu_seconds() - server)


async def main(count: int, concurrency: int) -> None:
    async with pathway_stack() as stack:
        plain = await plain_client(stack.env)
        bare_queue = f"bare-{uuid.uuid4()}"
        async with bare_worker(plain, bare_queue):
            shape_case = await journey(stack.cases, 0, prefix="SHAPE")
            plan = await journey_shape(stack.env.client, shape_case)
            updates, activities = len(plan), sum(plan)
            print(f"one standard journey: {updates} Updates, {activities} activities (per Update: {plan})")
            await bare_journey(plain, bare_queue, f"bare-warm-{uuid.uuid4()}", plan)

            # The baseline first, so Pathway runs on the fuller server (in its disfavour, if at all).
            run = uuid.uuid4()
            bare = await timed(
                count, concurrency, lambda number: bare_journey(plain, bare_queue, f"bare-{run}-{number}", plan)
            )
            pathway = await timed(count, concurrency, lambda number: journey(stack.cases, number))

    pathway_s, bare_s = pathway.seconds, bare.seconds

    throughput = Comparison("cases per second", count / pathway_s, count / bare_s, "/s", (TARGET, True))
    print(f"\n{count} cases, {concurrency} at a time; each {updates} Updates and {activities} activities\n")
    print_table(
        [
            throughput,
            Comparison("wall time", pathway_s, bare_s, "s"),
            Comparison("Updates per second", count * updates / pathway_s, count * updates / bare_s, "/s"),
            # Where the time goes: both sides share two CPUs between the workers (this process) and the server.
            Comparison(
                "worker CPU per case", 1000 * pathway.worker_cpu_s / count, 1000 * bare.worker_cpu_s / count, "ms"
            ),
            Comparison(
                "server CPU per case", 1000 * pathway.server_cpu_s / count, 1000 * bare.server_cpu_s / count, "ms"
            ),
        ]
    )
    figures = {
        "cases": count,
        "concurrency": concurrency,
        "updates_per_case": updates,
        "activities_per_case": activities,
        "pathway_s": round(pathway_s, 2),
        "bare_s": round(bare_s, 2),
        "pathway_cases_per_s": round(throughput.pathway, 2),
        "bare_cases_per_s": round(throughput.baseline, 2),
        "ratio": round(throughput.ratio, 3),
        "pathway_worker_cpu_ms_per_case": round(1000 * pathway.worker_cpu_s / count, 1),
        "bare_worker_cpu_ms_per_case": round(1000 * bare.worker_cpu_s / count, 1),
        "pathway_server_cpu_ms_per_case": round(1000 * pathway.server_cpu_s / count, 1),
        "bare_server_cpu_ms_per_case": round(1000 * bare.server_cpu_s / count, 1),
        "target_ratio_at_least": TARGET,
        "met": throughput.met,
    }
    print(f"\nrow written to {write_row('journey_throughput', figures)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.concurrency))
