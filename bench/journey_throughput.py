"""Journey throughput: Pathway cases per second through the standard journey, against two floors.

Runs N cases (default 500) through the standard journey (start, consent, screening, assessment,
information sharing, referral to two services, closure) with the real StaffCommands, worker, store
and payload codec, N at a time up to the concurrency; and N workflows of each floor (bench/bare.py),
with no store, no codec and no domain logic, on their own worker and task queue on the same dev
server: the bare floor takes the same Updates and runs the same activities; the shape-matched floor
also starts, cancels and fires the same timers, upserts search attributes as often, starts the same
child workflows (each with its own counted shape) and sends the same signals. The shape is counted
from the histories of one real journey (the case workflow and the referral workflows it starts)
before timing, and the shape-matched floor's own histories are checked to give the same totals.
Each side is timed from the first start to the last workflow's completion.

    .venv/bin/python -m bench.journey_throughput [--cases 500] [--concurrency 32]

Prints the figures beside each floor's and appends a row to bench/results/journey_throughput.csv.
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

from temporalio.client import Client

from bench.bare import Work, activities_only, bare_worker, count_shape, floor_journey
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

# Journey throughput as a share of each floor's (against the bare one, 0.5 for now and 0.7 the goal),
# and worker CPU per journey at most twice the bare floor's.
TARGETS = {"bare": 0.5, "shaped": 0.8}
WORKER_CPU_TARGETS = {"bare": 2.0}
FLOOR_NAMES = {"bare": "bare floor (Updates and activities only)", "shaped": "shape-matched floor"}


async def journey(cases: StaffCommands, number: int, prefix: str = "BENCH") -> str:
    """One case from start to closure; returns its case id once its workflow has completed."""
    state = await cases.start_case(opening(number, prefix))
    for kind in STANDARD_JOURNEY:
        [task] = [t for t in state.open_tasks if t.kind is kind]
        state = await cases.complete_task(task.task_id, STANDARD_OUTCOMES[kind], PRACTITIONER)
    await cases.client.get_workflow_handle(state.case_id).result()
    return state.case_id


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
        floor_queue = f"floor-{uuid.uuid4()}"
        async with bare_worker(plain, floor_queue):
            shape = await count_shape(stack.env.client, await journey(stack.cases, 0, prefix="SHAPE"))
            print(f"one standard journey: {shape.describe()}")
            bare_steps = activities_only(shape.steps)
            await floor_journey(plain, floor_queue, f"bare-warm-{uuid.uuid4()}", bare_steps)
            shaped_warm = f"shaped-warm-{uuid.uuid4()}"
            await floor_journey(plain, floor_queue, shaped_warm, shape.steps)
            floor_shape = await count_shape(plain, shaped_warm)
            if floor_shape.totals() != shape.totals():
                raise RuntimeError(f"the shape-matched floor took another shape:\n{floor_shape.describe()}")
            print(f"the shape-matched floor: the same totals; {floor_shape.sizes()}")

            # The floors first, so Pathway runs on the fuller server (in its disfavour, if at all).
            run = uuid.uuid4()
            floors: dict[str, Run] = {}
            for name, steps in (("bare", bare_steps), ("shaped", shape.steps)):
                floors[name] = await timed(count, concurrency, floor_cases(plain, floor_queue, f"{name}-{run}", steps))
            pathway = await timed(count, concurrency, lambda number: journey(stack.cases, number))

    summed = shape.totals()
    print(f"\n{count} cases, {concurrency} at a time; each {len(shape.steps)} Updates and {dict(summed)}\n")
    figures: dict[str, object] = {
        "cases": count,
        "concurrency": concurrency,
        "updates_per_case": len(shape.steps),
        "activities_per_case": summed["activities"],
        **{f"{kind}_per_case": summed[kind] for kind in ("timers_started", "upserts", "child_workflows")},
        **{f"{kind}_per_case": summed[kind] for kind in ("signals_sent", "signals_received")},
        "pathway_s": round(pathway.seconds, 2),
        "pathway_cases_per_s": round(count / pathway.seconds, 2),
        "pathway_worker_cpu_ms_per_case": round(1000 * pathway.worker_cpu_s / count, 1),
        "pathway_server_cpu_ms_per_case": round(1000 * pathway.server_cpu_s / count, 1),
    }
    for name, floor in floors.items():
        print(f"against the {FLOOR_NAMES[name]}:")
        rows = comparisons(count, pathway, floor, name)
        print_table(rows)
        print()
        throughput, worker_cpu = rows[0], rows[2]
        suffix = "" if name == "bare" else f"_{name}"  # the bare floor's columns keep their old names
        figures |= {
            f"{name}_s": round(floor.seconds, 2),
            f"{name}_cases_per_s": round(throughput.baseline, 2),
            f"{name}_worker_cpu_ms_per_case": round(1000 * floor.worker_cpu_s / count, 1),
            f"{name}_server_cpu_ms_per_case": round(1000 * floor.server_cpu_s / count, 1),
            f"ratio{suffix}": round(throughput.ratio, 3),
            f"worker_cpu_ratio{suffix}": round(worker_cpu.ratio, 2),
            f"server_cpu_ratio{suffix}": round(rows[3].ratio, 2),
            f"target_ratio_at_least{suffix}": TARGETS[name],
            f"met{suffix}": throughput.met,
        }
        if name in WORKER_CPU_TARGETS:
            figures |= {
                f"target_worker_cpu_ratio_at_most{suffix}": WORKER_CPU_TARGETS[name],
                f"met_worker_cpu{suffix}": worker_cpu.met,
            }
    print(f"row written to {write_row('journey_throughput', figures)}")


def floor_cases(client: Client, task_queue: str, prefix: str, steps: list[Work]) -> Callable[[int], Awaitable[None]]:
    return lambda number: floor_journey(client, task_queue, f"{prefix}-{number}", steps)


def comparisons(count: int, pathway: Run, floor: Run, name: str) -> list[Comparison]:
    """Throughput, wall time, and CPU per case against one floor: workers in this process, the
    server in its own, all sharing two CPUs here."""
    worker_cpu_target = WORKER_CPU_TARGETS.get(name)
    return [
        Comparison("cases per second", count / pathway.seconds, count / floor.seconds, "/s", (TARGETS[name], True)),
        Comparison("wall time", pathway.seconds, floor.seconds, "s"),
        Comparison(
            "worker CPU per case",
            1000 * pathway.worker_cpu_s / count,
            1000 * floor.worker_cpu_s / count,
            "ms",
            None if worker_cpu_target is None else (worker_cpu_target, False),
        ),
        Comparison("server CPU per case", 1000 * pathway.server_cpu_s / count, 1000 * floor.server_cpu_s / count, "ms"),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.concurrency))
