"""Prometheus metrics: a worker built the production way, with a metrics runtime, scraped over HTTP."""

import asyncio
import dataclasses
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.store_activities import AppendEventsInput, StoreActivities
from api.app import create_app
from domain.events import EventEnvelope
from domain.model import Setting
from domain.tasks import TaskKind
from store.event_store import EventStore
from tests.cli.support import free_port
from tests.conftest import TEST_PAYLOAD_KEYS, case_commands, staff_driver, worker_for
from tests.workflows.conftest import time_skipping_env  # noqa: F401 (a fixture)
from tests.workflows.direct import changed
from tests.workflows.journey import JOURNEY, complete, open_case, open_task
from tests.workflows.support import skip
from workers.client import data_converter
from workers.health import Readiness, health_app, health_server
from workers.metrics import StoreGauges, exporter_text, free_loopback_address, metrics_runtime
from workers.settings import SHIPPED_CONFIG, load_config
from workflows.case_workflow import CaseWorkflow
from workflows.messages import CaseInput

JOURNEYS = 3


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels` (0 when there is none)."""
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            total += float(match.group(2))
    return total


@asynccontextmanager
async def metrics_worker(
    env: WorkflowEnvironment, store: EventStore, task_queue: str
) -> AsyncIterator[tuple[str, Runtime]]:
    """A production worker on its own metrics runtime, and the URL of its health server's /metrics."""
    exporter = free_loopback_address()
    runtime = metrics_runtime(exporter)
    client = await Client.connect(
        env.client.service_client.config.target_host,
        namespace=env.client.namespace,
        data_converter=data_converter(TEST_PAYLOAD_KEYS),
        runtime=runtime,
    )
    readiness = Readiness()
    readiness.store, readiness.client = store, client
    port = free_port()
    server = health_server(health_app(readiness, lambda: exporter_text(exporter)), port, host="127.0.0.1")
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        async with worker_for(client, store, task_queue):
            readiness.polling = True
            yield f"http://127.0.0.1:{port}", runtime
    finally:
        server.should_exit = True
        await serving


async def scrape(base_url: str) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{base_url}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_a_demo_run_shows_each_pathway_metric(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore
) -> None:
    task_queue = f"metrics-{uuid.uuid4()}"
    cases = case_commands(temporal_env, sqlite_store, task_queue)
    async with metrics_worker(temporal_env, sqlite_store, task_queue) as (base_url, runtime):
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{base_url}/readyz")).status_code == 200
            assert (await http.get(f"{base_url}/healthz")).status_code == 200

        async def journey(number: int) -> None:
            state = await cases.start_case(open_case(f"MET-{number}", setting=Setting.MAGISTRATES_COURT))
            for kind in JOURNEY:
                state = await complete(cases, state, kind)

        await asyncio.gather(*(journey(n) for n in range(JOURNEYS)))
        # One more case left in screening, for the open-cases gauge.
        await cases.start_case(open_case("MET-OPEN"))
        await StoreGauges(sqlite_store, runtime.metric_meter).refresh()

        # The referral's email fails (no SMTP); each case workflow completes once its send has settled,
        # which under load can come a while after the first failure is counted.
        async with asyncio.timeout(60):
            while not (
                sample(text := await scrape(base_url), "pathway_notification_failures_total")
                and sample(text, "temporal_workflow_completed_total") >= JOURNEYS
            ):
                await asyncio.sleep(0.5)

    court = {"site": "demo", "setting": "magistrates_court"}
    assert sample(text, "pathway_cases_opened_total", **court) == JOURNEYS
    assert sample(text, "pathway_cases_opened_total", site="demo", setting="custody") == 1
    assert sample(text, "pathway_cases_closed_total", **court) == JOURNEYS
    assert sample(text, "pathway_open_cases", stage="screening", site="demo") == 1
    assert sample(text, "pathway_open_cases", stage="closed") == 0
    appends = sample(text, "pathway_append_latency_seconds_count")
    assert appends >= JOURNEYS * (len(JOURNEY) + 1)
    assert 0 < sample(text, "pathway_append_latency_seconds_sum") < appends  # under a second each
    assert sample(text, "pathway_notification_failures_total", kind="referral_email") >= 1
    # The SDK's own metrics come from the same exporter.
    assert sample(text, "temporal_workflow_completed_total") >= JOURNEYS
    assert sample(text, "temporal_request_total") > 0
    # Labels carry sites, settings, stages and kinds: never a case id or a reference.
    assert "case-" not in text and "MET-" not in text


async def test_an_overdue_task_counts_as_an_sla_breach(
    time_skipping_env: WorkflowEnvironment,  # noqa: F811 (the fixture imported above)
    sqlite_store: EventStore,
) -> None:
    env = time_skipping_env
    task_queue = f"sla-metrics-{uuid.uuid4()}"
    case_id = f"case-{uuid.uuid4()}"
    async with metrics_worker(env, sqlite_store, task_queue) as (base_url, runtime):
        site = load_config(SHIPPED_CONFIG).site("demo")  # custody consent and screening SLA: 5 minutes
        handle = await env.client.start_workflow(
            CaseWorkflow.run, CaseInput(case_id=case_id, site=site), id=case_id, task_queue=task_queue
        )
        state = await changed(handle, CaseWorkflow.open_case, open_case("SLA-MET"))
        open_task(state, TaskKind.CONSENT)
        await skip(env, timedelta(minutes=6))
        assert (await handle.query(CaseWorkflow.state)).overdue
        await StoreGauges(sqlite_store, runtime.metric_meter).refresh()
        text = await scrape(base_url)
    assert sample(text, "pathway_sla_breaches_total", kind="consent") == 1
    assert sample(text, "pathway_tasks_overdue", site="demo", kind="consent") == 1


async def test_a_retried_append_is_counted_once(temporal_env: WorkflowEnvironment, sqlite_store: EventStore) -> None:
    """The activity run twice with the same events (as a retry after a lost result) counts one case."""
    task_queue = f"retry-metrics-{uuid.uuid4()}"
    cases = case_commands(temporal_env, sqlite_store, task_queue)
    async with worker_for(temporal_env.client, sqlite_store, task_queue):
        state = await cases.start_case(open_case("RETRY-1"))
    opened = await sqlite_store.read_stream(state.case_id)
    exporter = free_loopback_address()
    runtime = metrics_runtime(exporter)
    other = EventStore.connect(str(sqlite_store.engine.url).replace("pathway.db", "copy.db"))
    await other.migrate()
    try:
        activities = StoreActivities(other)
        envelopes = [
            EventEnvelope.model_validate(stored.model_dump(exclude={"recorded_at", "prev_hash", "hash"}))
            for stored in opened
        ]
        environment = ActivityEnvironment()
        environment.metric_meter = runtime.metric_meter
        for _ in range(2):
            await environment.run(activities.append_events, AppendEventsInput(case_id=state.case_id, events=envelopes))
        text = await exporter_text(exporter)
    finally:
        await other.close()
    assert sample(text, "pathway_cases_opened_total", site="demo", setting="custody") == 1
    assert sample(text, "pathway_append_latency_seconds_count") == 2


async def test_the_api_serves_health_and_metrics_without_sign_in(
    temporal_env: WorkflowEnvironment, sqlite_store: EventStore
) -> None:
    from tests.api.conftest import services_for

    task_queue = f"api-metrics-{uuid.uuid4()}"
    cases = case_commands(temporal_env, sqlite_store, task_queue)
    async with worker_for(temporal_env.client, sqlite_store, task_queue):
        await cases.start_case(open_case("API-MET-1"))
    exporter = free_loopback_address()
    runtime = metrics_runtime(exporter)
    client = await Client.connect(
        temporal_env.client.service_client.config.target_host,
        namespace=temporal_env.client.namespace,
        data_converter=data_converter(TEST_PAYLOAD_KEYS),
        runtime=runtime,
    )
    await client.count_workflows()  # one request, so the SDK's client metrics have something to show
    commands = staff_driver(client, sqlite_store, task_queue)
    services = dataclasses.replace(services_for(commands), metrics_text=lambda: exporter_text(exporter))
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        health = await http.get("/healthz")
        ready = await http.get("/readyz")
        metrics = await http.get("/metrics")
    assert (health.status_code, ready.status_code, metrics.status_code) == (200, 200, 200)
    assert sample(metrics.text, "temporal_request_total") > 0
    for body in (health.text, ready.text, metrics.text):
        assert "API-MET" not in body and "case-" not in body
