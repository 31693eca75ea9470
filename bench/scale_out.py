"""Scale-out: journey throughput on PostgreSQL with one, then two `pathway worker` processes.

A fresh database on the PostgreSQL server (`bench_scaleout_<random>`, migrated as the store migrates,
dropped at the end) is the event store of one dev server, one task queue and the `pathway worker`
processes polling it (`bench.support.worker_process`, payload codec, SMTP sink). N journeys (default
200), C at a time (default 32), run the standard journey through the real StaffCommands, as
`bench.journey_throughput` drives them (its `journey`), each timed to its workflow's completion:
first with one worker, then with a second worker added to the first on the same task queue. Each
phase starts with a few untimed journeys, so that every worker has loaded and warmed up.

    .venv/bin/python -m bench.scale_out [--journeys 200] [--concurrency 32] [--warm-up 16]
                                        [--server postgresql://postgres@127.0.0.1:5432/test]

Where the CPU goes during each timed phase, from /proc: each worker process, the dev server, this
process (the clients, the service and its store reads), the PostgreSQL backends serving the
database (sampled four times a second: a connection opened and closed between two samples is missed),
and the machine as a whole; what the machine spent beyond these is other work on the machine. The
target (issue 21): two workers at least 1.6 times the journeys per second of one. Appends a row to
bench/results/scale_out.csv.
"""

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text

from bench.journey_throughput import journey
from bench.support import (
    PathwayStack,
    PatientCommands,
    WorkerProcess,
    child_pids,
    in_parallel,
    machine_busy_seconds,
    pathway_stack,
    postgres_database,
    process_cpu_seconds,
    worker_process,
    write_row,
)

TARGET_RATIO = 1.6  # two workers at least 1.6x the journeys per second of one
SERVER = "postgresql://postgres@127.0.0.1:5432/test"
MS = 1000


@dataclass(frozen=True)
class Cpu:
    """CPU seconds used so far: each worker's, the dev server's, this process's and the whole
    machine's busy time."""

    workers: tuple[float, ...]
    server: float
    client: float
    machine: float


async def database_backends(stack: PathwayStack) -> list[int]:
    async with stack.store.engine.connect() as conn:
        found = await conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))
        return [int(pid) for pid in found.scalars()]


class BackendCpu:
    """CPU used by the PostgreSQL backends of the benchmark's database, read from /proc every
    `every_s` while a phase runs: under load the pools open and close connections (those beyond a
    pool's size close when returned), and a backend's CPU can be read only while it lives. One that
    lives less than a sampling interval is missed: the figure is a floor."""

    def __init__(self, stack: PathwayStack, every_s: float = 0.25) -> None:
        self.stack = stack
        self.every_s = every_s
        self.used: dict[int, float] = {}  # by backend pid: the most CPU seen

    async def sample(self) -> None:
        for pid in await database_backends(self.stack):
            self.used[pid] = max(self.used.get(pid, 0.0), process_cpu_seconds(pid))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            await self.sample()

    @staticmethod
    def since(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(used - before.get(pid, 0.0) for pid, used in after.items())


async def cpu_now(stack: PathwayStack, workers: Sequence[WorkerProcess]) -> Cpu:
    worker_pids = {worker.pid for worker in workers}
    return Cpu(
        workers=tuple(process_cpu_seconds(worker.pid) for worker in workers),
        server=sum(process_cpu_seconds(pid) for pid in child_pids() if pid not in worker_pids),
        client=process_cpu_seconds(os.getpid()),
        machine=machine_busy_seconds(),
    )


@dataclass(frozen=True)
class Phase:
    journeys: int
    seconds: float
    workers: tuple[float, ...]  # CPU seconds each worker used
    server: float
    client: float
    database: float
    machine: float
    load: float  # the 1-minute load average at the phase's end
    catching_up: int  # commands refused as case_catching_up and tried again

    @property
    def journeys_per_s(self) -> float:
        return self.journeys / self.seconds

    def per_journey_ms(self, cpu_s: float) -> float:
        return MS * cpu_s / self.journeys

    @property
    def others(self) -> float:
        """CPU the machine spent beyond the processes measured here: other work beside the benchmark."""
        return max(0.0, self.machine - sum(self.workers) - self.server - self.client - self.database)


async def timed_phase(
    stack: PathwayStack, workers: Sequence[WorkerProcess], count: int, concurrency: int, first: int
) -> Phase:
    cases = PatientCommands.of(stack.cases)
    backends = BackendCpu(stack)
    await backends.sample()
    backends_before = dict(backends.used)
    sampling = asyncio.create_task(backends.run())
    before = await cpu_now(stack, workers)
    started = time.perf_counter()
    try:
        await in_parallel(count, concurrency, lambda number: journey(cases, first + number, prefix="SCALEOUT"))
    finally:
        sampling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampling
    seconds = time.perf_counter() - started
    after = await cpu_now(stack, workers)
    await backends.sample()
    return Phase(
        journeys=count,
        seconds=seconds,
        workers=tuple(end - start for start, end in zip(before.workers, after.workers, strict=True)),
        server=after.server - before.server,
        client=after.client - before.client,
        database=BackendCpu.since(backends_before, backends.used),
        machine=after.machine - before.machine,
        load=os.getloadavg()[0],
        catching_up=cases.catching_up,
    )


async def phase(
    stack: PathwayStack, workers: Sequence[WorkerProcess], count: int, concurrency: int, warm_up: int, first: int
) -> Phase:
    warming = PatientCommands.of(stack.cases)
    await in_parallel(warm_up, concurrency, lambda number: journey(warming, first + number, prefix="WARMUP"))
    measured = await timed_phase(stack, workers, count, concurrency, first)
    print(
        f"{len(workers)} worker(s): {count} journeys in {measured.seconds:.1f}s, "
        f"{measured.journeys_per_s:.2f} journeys/s (load average {measured.load:.1f}; "
        f"{measured.catching_up} commands refused as case_catching_up and tried again)",
        flush=True,
    )
    return measured


async def main(count: int, concurrency: int, warm_up: int, server: str) -> None:
    print(f"load average before: {' '.join(f'{load:.1f}' for load in os.getloadavg())}; {os.cpu_count()} CPUs")
    async with (
        postgres_database(server, "bench_scaleout") as url,
        pathway_stack(in_process_worker=False, store_url=url) as stack,
        worker_process(stack) as first,
    ):
        one = await phase(stack, [first], count, concurrency, warm_up, first=0)
        async with worker_process(stack) as second:
            two = await phase(stack, [first, second], count, concurrency, warm_up, first=count + warm_up)
    report(one, two, count, concurrency)


def report(one: Phase, two: Phase, count: int, concurrency: int) -> None:
    ratio = two.journeys_per_s / one.journeys_per_s
    met = ratio >= TARGET_RATIO
    print(f"\n{count} journeys, {concurrency} at a time, on PostgreSQL; CPU per journey in ms\n")
    header = (
        f"{'workers':>7} {'journeys/s':>10} {'each worker':>16} {'workers':>8} {'server':>7} "
        f"{'client':>7} {'postgres':>8} {'others':>7} {'machine busy':>13}"
    )
    print(header)
    print("-" * len(header))
    for phase_ in (one, two):
        each = " + ".join(f"{phase_.per_journey_ms(cpu):.0f}" for cpu in phase_.workers)
        busy = phase_.machine / phase_.seconds
        print(
            f"{len(phase_.workers):>7} {phase_.journeys_per_s:>10.2f} {each:>16} "
            f"{phase_.per_journey_ms(sum(phase_.workers)):>8.0f} {phase_.per_journey_ms(phase_.server):>7.0f} "
            f"{phase_.per_journey_ms(phase_.client):>7.0f} {phase_.per_journey_ms(phase_.database):>8.0f} "
            f"{phase_.per_journey_ms(phase_.others):>7.0f} {busy:>6.2f} of {os.cpu_count()}"
        )
    print(
        "\nserver: the Temporal dev server; client: this process (StaffCommands, the service, its store reads);"
        "\npostgres: the backends of the benchmark's database (a floor); others: the rest of the machine's busy time"
        "\n(other work beside the benchmark); machine busy: CPUs busy on average during the phase."
    )
    print(
        f"\ntarget: two workers at least {TARGET_RATIO}x the journeys per second of one: "
        f"{two.journeys_per_s:.2f} / {one.journeys_per_s:.2f} = {ratio:.2f}x: {'met' if met else 'NOT MET'}"
    )
    figures: dict[str, object] = {
        "journeys": count,
        "concurrency": concurrency,
        "journeys_per_s_one": round(one.journeys_per_s, 2),
        "journeys_per_s_two": round(two.journeys_per_s, 2),
        "journeys_ratio_two_to_one": round(ratio, 3),
    }
    for name, phase_ in (("one", one), ("two", two)):
        figures |= {
            f"worker_cpu_ms_per_journey_{name}": round(phase_.per_journey_ms(sum(phase_.workers)), 1),
            f"each_worker_cpu_ms_per_journey_{name}": ";".join(
                str(round(phase_.per_journey_ms(cpu), 1)) for cpu in phase_.workers
            ),
            f"server_cpu_ms_per_journey_{name}": round(phase_.per_journey_ms(phase_.server), 1),
            f"client_cpu_ms_per_journey_{name}": round(phase_.per_journey_ms(phase_.client), 1),
            f"postgres_cpu_ms_per_journey_{name}": round(phase_.per_journey_ms(phase_.database), 1),
            f"others_cpu_ms_per_journey_{name}": round(phase_.per_journey_ms(phase_.others), 1),
            f"machine_busy_cpus_{name}": round(phase_.machine / phase_.seconds, 2),
            f"load_average_{name}": round(phase_.load, 1),
            f"catching_up_retries_{name}": phase_.catching_up,
        }
    figures |= {"target_ratio_at_least": TARGET_RATIO, "met": met}
    print(f"\nrow written to {write_row('scale_out', figures)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journeys", type=int, default=200, help="timed journeys per phase")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warm-up", type=int, default=16, help="untimed journeys before each phase")
    parser.add_argument("--server", default=SERVER, help=f"the PostgreSQL server (default {SERVER})")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.journeys, arguments.concurrency, arguments.warm_up, arguments.server))
