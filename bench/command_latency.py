"""Command latency: the round trip of a task completion through the real API, against a bare Update.

Starts N cases (default 100, not timed) and serves the real FastAPI app with uvicorn on a free port
(as tests/api/conftest.py `live_server` does). A team of C concurrent clients (default 8) then
completes every task of the standard journey (consent, screening, assessment, information sharing,
referral, closure) over HTTP, one request after another within a case, and times each
POST /api/tasks/{id}/complete from request to answer: API, sign-in, store lookups, sealing, the
Update, the append_events activity, the answer. The baseline is N bare workflows (bench/bare.py,
one no-op activity per Update) on the same server, where the same team times each `execute_update`
round trip, the same number of Updates per workflow. Everything (clients, app, both workers) runs
in this one process.

    .venv/bin/python -m bench.command_latency [--cases 100] [--concurrency 8]

Prints p50 and p99 beside the baseline and appends a row to bench/results/command_latency.csv.
"""

import argparse
import asyncio
import time
import uuid

import httpx
import uvicorn

from api.app import create_app
from api.deps import Services
from api.serve import EmbeddedServer
from bench.bare import BarePlan, BareWorkflow, bare_worker, start_bare
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
from service.identity import TokenVerifier, issue_dev_token
from workers.codec import EncryptionCodec

TARGET = 1.5  # task-completion p99 at most 1.5 times the bare Update p99
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


async def pathway_latencies(stack: PathwayStack, count: int, concurrency: int) -> list[float]:
    states = [await stack.cases.start_case(opening(number)) for number in range(count)]
    practitioner = stack.cases.config.staff_member("pr-001")
    headers = {"Authorization": f"Bearer {issue_dev_token(SECRET, practitioner, ISSUER, AUDIENCE)}"}
    port = free_port()
    config = uvicorn.Config(create_app(services_for(stack)), host="127.0.0.1", port=port, log_level="warning")
    server = EmbeddedServer(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.05)
    samples: list[float] = []
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
                    samples.append(time.perf_counter() - started)
                    answer.raise_for_status()
                    open_tasks = [t for t in answer.json()["tasks"].values() if t["status"] == "open"]

            await one_case(0)  # warm up (not counted)
            samples.clear()
            await in_parallel(count - 1, concurrency, lambda number: one_case(number + 1))
    finally:
        server.should_exit = True
        await serving
    return samples


async def bare_latencies(stack: PathwayStack, count: int, concurrency: int) -> list[float]:
    client = await plain_client(stack.env)
    task_queue, run = f"bare-{uuid.uuid4()}", uuid.uuid4()
    updates = 1 + len(STANDARD_JOURNEY)
    samples: list[float] = []
    async with bare_worker(client, task_queue):
        handles = [
            await start_bare(client, task_queue, f"bare-{run}-{number}", BarePlan([1] * updates))
            for number in range(count)
        ]

        async def one_workflow(number: int) -> None:
            for step in range(1, updates):
                started = time.perf_counter()
                await handles[number].execute_update(BareWorkflow.step, step)
                samples.append(time.perf_counter() - started)

        await one_workflow(0)  # warm up (not counted)
        samples.clear()
        await in_parallel(count - 1, concurrency, lambda number: one_workflow(number + 1))
    return samples


async def main(count: int, concurrency: int) -> None:
    async with pathway_stack() as stack:
        bare = await bare_latencies(stack, count, concurrency)
        pathway = await pathway_latencies(stack, count, concurrency)
    ms = 1000
    rows = [
        Comparison("p50 round trip", percentile(pathway, 0.5) * ms, percentile(bare, 0.5) * ms, "ms"),
        Comparison(
            "p99 round trip", percentile(pathway, 0.99) * ms, percentile(bare, 0.99) * ms, "ms", (TARGET, False)
        ),
        Comparison("mean round trip", sum(pathway) / len(pathway) * ms, sum(bare) / len(bare) * ms, "ms"),
    ]
    print(
        f"\n{len(pathway)} task completions over HTTP vs {len(bare)} bare Updates; {concurrency} concurrent clients\n"
    )
    print_table(rows)
    p50, p99 = rows[0], rows[1]
    figures = {
        "cases": count,
        "concurrency": concurrency,
        "samples": len(pathway),
        "pathway_p50_ms": round(p50.pathway, 1),
        "pathway_p99_ms": round(p99.pathway, 1),
        "bare_p50_ms": round(p50.baseline, 1),
        "bare_p99_ms": round(p99.baseline, 1),
        "p50_ratio": round(p50.ratio, 2),
        "p99_ratio": round(p99.ratio, 2),
        "target_p99_ratio_at_most": TARGET,
        "met": p99.met,
    }
    print(f"\nrow written to {write_row('command_latency', figures)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.concurrency))
