"""Command latency: the round trip of a task completion through the real API, against a bare Update.

For one client and then for a team of C concurrent clients (default 8): starts N cases (default
100, not timed) and serves the real FastAPI app with uvicorn on a free port (as
tests/api/conftest.py `live_server` does); the clients complete every task of the standard journey
(consent, screening, assessment, information sharing, referral decision, closure) over HTTP, one
request after another within a case, and time each POST /api/tasks/{id}/complete from request to
answer: API, sign-in, store lookups, sealing, the Update, the append_events activity, the answer.
The baseline is N bare workflows (bench/bare.py, one no-op activity per Update) on the same server,
where as many clients time each `execute_update` round trip, the same number of Updates per
workflow. Everything (clients, app, both workers) runs in this one process.

    .venv/bin/python -m bench.command_latency [--cases 100] [--concurrency 8]

Prints p50, p95 and p99 beside the baseline's, overall and per command kind (the bare Update in
the same place of its workflow beside each kind), and appends a row to
bench/results/command_latency.csv.
"""

import argparse
import asyncio
import time
import uuid
from collections import defaultdict

import httpx
import uvicorn

from api.app import create_app
from api.deps import Services
from api.serve import EmbeddedServer
from bench.bare import ShapedWorkflow, Work, bare_worker, start_floor
from bench.support import (
    STANDARD_JOURNEY,
    STANDARD_OUTCOMES,
    Comparison,
    PathwayStack,
    free_port,
    in_parallel,
    opening,
    pathway_stack,
    percentile,
    plain_client,
    print_table,
    write_row,
)
from domain.tasks import TaskKind
from service.identity import TokenVerifier, issue_dev_token
from workers.codec import EncryptionCodec

# Task-completion p99 at most this many times the bare Update p99, by number of clients.
SINGLE_TARGET, TEAM_TARGET = 2.0, 3.0
SECRET = "bench-secret-that-is-long-enough-for-hs256"
ISSUER, AUDIENCE = "pathway-bench", "pathway"


def services_for(stack: PathwayStack) -> Services:
    pathway = stack.cases.pathway
    return Services(
        pathway=pathway,
        verifier=TokenVerifier(pathway.config, ISSUER, AUDIENCE, secret=SECRET, signed_out=pathway.sign_outs.revoked),
        web_key=b"bench-web-key",
        codec=EncryptionCodec(stack.payload_keys),
    )


# Round trips in seconds by the kind of task completed (for the bare side, the kind completed in the
# same place of the journey).
Latencies = dict[TaskKind, list[float]]


async def pathway_latencies(stack: PathwayStack, count: int, concurrency: int) -> Latencies:
    states = [await stack.cases.start_case(opening(number, f"LAT{concurrency}")) for number in range(count)]
    practitioner = stack.cases.config.staff_member("pr-001")
    headers = {"Authorization": f"Bearer {issue_dev_token(SECRET, practitioner, ISSUER, AUDIENCE)}"}
    port = free_port()
    config = uvicorn.Config(create_app(services_for(stack)), host="127.0.0.1", port=port, log_level="warning")
    server = EmbeddedServer(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.05)
    samples: Latencies = defaultdict(list)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=headers, limits=limits, timeout=60
        ) as http:

            async def one_case(number: int) -> None:
                open_tasks = [task.model_dump(mode="json") for task in states[number].open_tasks]
                for kind in STANDARD_JOURNEY:
                    [task_id] = [t["task_id"] for t in open_tasks if t["kind"] == kind]
                    started = time.perf_counter()
                    answer = await http.post(
                        f"/api/tasks/{task_id}/complete", json={"outcome": STANDARD_OUTCOMES[kind]}
                    )
                    samples[kind].append(time.perf_counter() - started)
                    answer.raise_for_status()
                    open_tasks = [t for t in answer.json()["tasks"].values() if t["status"] == "open"]

            await one_case(0)  # warm up (not counted)
            samples.clear()
            await in_parallel(count - 1, concurrency, lambda number: one_case(number + 1))
    finally:
        server.should_exit = True
        await serving
    return samples


async def bare_latencies(stack: PathwayStack, count: int, concurrency: int) -> Latencies:
    client = await plain_client(stack.env)
    task_queue, run = f"bare-{uuid.uuid4()}", uuid.uuid4()
    steps = [Work(activities=1)] * (1 + len(STANDARD_JOURNEY))
    samples: Latencies = defaultdict(list)
    async with bare_worker(client, task_queue):
        handles = [await start_floor(client, task_queue, f"bare-{run}-{number}", steps) for number in range(count)]

        async def one_workflow(number: int) -> None:
            for step, kind in enumerate(STANDARD_JOURNEY, start=1):
                started = time.perf_counter()
                await handles[number].execute_update(ShapedWorkflow.step, step)
                samples[kind].append(time.perf_counter() - started)

        await one_workflow(0)  # warm up (not counted)
        samples.clear()
        await in_parallel(count - 1, concurrency, lambda number: one_workflow(number + 1))
    return samples


def every(latencies: Latencies) -> list[float]:
    return [sample for samples in latencies.values() for sample in samples]


def print_kinds(pathway: Latencies, bare: Latencies) -> None:
    """Which commands make the tail: each kind's percentiles beside the bare Update's in its place."""
    header = f"{'command':<20} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}   {'bare p50':>8} {'bare p99':>8}"
    print(header)
    print("-" * len(header))
    for kind in STANDARD_JOURNEY:
        ours, theirs = pathway[kind], bare[kind]
        print(
            f"{kind:<20} {len(ours):>4} "
            + " ".join(f"{1000 * percentile(ours, fraction):>8.1f}" for fraction in (0.5, 0.95, 0.99))
            + "   "
            + " ".join(f"{1000 * percentile(theirs, fraction):>8.1f}" for fraction in (0.5, 0.99))
        )


async def measure(stack: PathwayStack, count: int, concurrency: int, target: float) -> dict[str, object]:
    """One run (bare, then Pathway) with this many clients; prints it and returns its figures."""
    bare = await bare_latencies(stack, count, concurrency)
    pathway = await pathway_latencies(stack, count, concurrency)
    ours, theirs = every(pathway), every(bare)
    ms = 1000
    rows = [
        Comparison("p50 round trip", percentile(ours, 0.5) * ms, percentile(theirs, 0.5) * ms, "ms"),
        Comparison("p95 round trip", percentile(ours, 0.95) * ms, percentile(theirs, 0.95) * ms, "ms"),
        Comparison("p99 round trip", percentile(ours, 0.99) * ms, percentile(theirs, 0.99) * ms, "ms", (target, False)),
        Comparison("mean round trip", sum(ours) / len(ours) * ms, sum(theirs) / len(theirs) * ms, "ms"),
    ]
    clients = "1 client" if concurrency == 1 else f"{concurrency} concurrent clients"
    print(f"\n{clients}: {len(ours)} task completions over HTTP vs {len(theirs)} bare Updates\n")
    print_table(rows)
    print()
    print_kinds(pathway, bare)
    p50, p99 = rows[0], rows[2]
    return {
        "samples": len(ours),
        "pathway_p50_ms": round(p50.pathway, 1),
        "pathway_p99_ms": round(p99.pathway, 1),
        "bare_p50_ms": round(p50.baseline, 1),
        "bare_p99_ms": round(p99.baseline, 1),
        "p50_ratio": round(p50.ratio, 2),
        "p99_ratio": round(p99.ratio, 2),
        "target_p99_ratio_at_most": target,
        "met": p99.met,
        **{f"p99_ms_{kind}": round(1000 * percentile(pathway[kind], 0.99), 1) for kind in STANDARD_JOURNEY},
    }


async def main(count: int, concurrency: int) -> None:
    async with pathway_stack() as stack:
        single = await measure(stack, count, 1, SINGLE_TARGET)
        team = await measure(stack, count, concurrency, TEAM_TARGET)
    # The team's figures keep the columns they always had; the single client's are prefixed.
    figures = {"cases": count, "concurrency": concurrency, **team, **{f"single_{k}": v for k, v in single.items()}}
    print(f"\nrow written to {write_row('command_latency', figures)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8, help="the team's clients (one client runs first)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.concurrency))
