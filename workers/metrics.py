"""Prometheus metrics: the Temporal SDK's runtime metrics and Pathway's own, in one exporter.

Pathway's metrics are recorded through the SDK's meter (the runtime's for process-level gauges,
`activity.metric_meter()` in activities), so the exporter the runtime binds serves both in one text.
Labels are sites, settings, stages and kinds only: never a case id, a person or a reference.
"""

import asyncio
import socket
import urllib.request
from collections.abc import Sequence

import structlog
from sqlalchemy import func, select
from temporalio import activity
from temporalio.common import MetricGauge, MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from domain.events import CaseClosed, CaseOpened, EventEnvelope, TaskBecameOverdue
from domain.model import Stage
from domain.tasks import TaskStatus
from store import schema
from store.event_store import EventStore

log = structlog.get_logger(__name__)

Labels = tuple[tuple[str, str], ...]  # a gauge's label set, hashable so it can be remembered

# Counters get `_total` from the exporter (counters_total_suffix), so these are the names as scraped.
CASES_OPENED = "pathway_cases_opened"  # counter {site, setting}
CASES_CLOSED = "pathway_cases_closed"  # counter {site, setting}
OPEN_CASES = "pathway_open_cases"  # gauge {stage, site}
TASKS_OVERDUE = "pathway_tasks_overdue"  # gauge {site, kind}
SLA_BREACHES = "pathway_sla_breaches"  # counter {kind}
APPEND_LATENCY = "pathway_append_latency_seconds"  # histogram
NOTIFICATION_FAILURES = "pathway_notification_failures"  # counter {kind}
FHIR_TASK_PROBLEMS = "pathway_fhir_task_updates_not_taken"  # counter {kind}

# An append is milliseconds; the SDK's default buckets start at 50 ms and would hide it.
APPEND_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]


def metrics_runtime(exporter_address: str) -> Runtime:
    """A runtime whose Prometheus exporter serves the SDK's metrics and ours at `exporter_address`."""
    prometheus = PrometheusConfig(
        bind_address=exporter_address,
        counters_total_suffix=True,
        durations_as_seconds=True,
        histogram_bucket_overrides={APPEND_LATENCY: APPEND_BUCKETS},
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


def free_loopback_address() -> str:
    """A loopback address for the exporter: only the process's own /metrics route reads it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


async def exporter_text(exporter_address: str) -> str:
    def fetch() -> str:
        with urllib.request.urlopen(f"http://{exporter_address}/metrics", timeout=5) as response:
            text: str = response.read().decode()
            return text

    return await asyncio.to_thread(fetch)


def record_append_latency(seconds: float) -> None:
    activity.metric_meter().create_histogram_float(APPEND_LATENCY, "Time to append a batch of events", "s").record(
        seconds
    )


async def record_written(store: EventStore, case_id: str, events: Sequence[EventEnvelope]) -> None:
    """Count what an append wrote (the caller makes sure it wrote it, not a retry finding it there).

    Runs after the append, so the projections already hold the case's site and setting and the task's kind."""
    meter = activity.metric_meter()
    for envelope in events:
        event = envelope.event
        if isinstance(event, CaseOpened):
            labels = {"site": event.site, "setting": str(event.setting)}
            meter.create_counter(CASES_OPENED, "Cases opened").add(1, labels)
        elif isinstance(event, CaseClosed):
            case = await store.get_case(case_id)
            if case is not None:
                labels = {"site": case.site, "setting": str(case.setting)}
                meter.create_counter(CASES_CLOSED, "Cases closed").add(1, labels)
        elif isinstance(event, TaskBecameOverdue):
            task = await store.get_task(event.task_id)
            if task is not None:
                meter.create_counter(SLA_BREACHES, "Tasks that passed their due time").add(1, {"kind": str(task.kind)})


def count_notification_failure(kind: str) -> None:
    """A send that failed (the activity is retried, so a stuck channel keeps counting)."""
    activity.metric_meter().create_counter(NOTIFICATION_FAILURES, "Outbound messages that failed to send").add(
        1, {"kind": kind}
    )


def count_fhir_task_problem(kind: str) -> None:
    """A FHIR receiver's Task the poll could not take in: unreachable, garbage, a code or a change
    the rules do not take (activities/fhir_task_poll.py); it is asked again at the next poll."""
    activity.metric_meter().create_counter(
        FHIR_TASK_PROBLEMS, "FHIR receivers' Task updates not taken into a referral"
    ).add(1, {"kind": kind})


class StoreGauges:
    """Open cases by stage and overdue tasks, read from the store's projections every few seconds.

    A gauge keeps its last value per label set, so a label set that disappears is set to 0."""

    def __init__(self, store: EventStore, meter: MetricMeter) -> None:
        self._store = store
        self._open_cases = meter.create_gauge(OPEN_CASES, "Open cases by stage and site")
        self._overdue = meter.create_gauge(TASKS_OVERDUE, "Open tasks past their due time, by site and kind")
        self._seen_cases: set[Labels] = set()
        self._seen_tasks: set[Labels] = set()

    async def refresh(self) -> None:
        cases = schema.cases.c
        tasks = schema.tasks.c
        async with self._store.engine.connect() as conn:
            by_stage = await conn.execute(
                select(cases.stage, cases.site, func.count())
                .where(cases.stage != Stage.CLOSED.value)
                .group_by(cases.stage, cases.site)
            )
            open_cases: dict[Labels, int] = {(("site", r[1]), ("stage", r[0])): int(r[2]) for r in by_stage}
            by_kind = await conn.execute(
                select(tasks.site, tasks.kind, func.count())
                .where(tasks.status == TaskStatus.OPEN.value, tasks.overdue.is_(True))
                .group_by(tasks.site, tasks.kind)
            )
            overdue: dict[Labels, int] = {(("kind", r[1]), ("site", r[0])): int(r[2]) for r in by_kind}
        self._seen_cases = _set_all(self._open_cases, open_cases, self._seen_cases)
        self._seen_tasks = _set_all(self._overdue, overdue, self._seen_tasks)

    async def run(self, interval_seconds: float) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as error:  # a store blip must not end the loop; readiness reports the store
                log.warning("metrics refresh failed", error=type(error).__name__)
            await asyncio.sleep(interval_seconds)


def _set_all(gauge: MetricGauge, values: dict[Labels, int], seen: set[Labels]) -> set[Labels]:
    for labels in seen - values.keys():
        gauge.set(0, dict(labels))
    for labels, value in values.items():
        gauge.set(value, dict(labels))
    return seen | values.keys()
