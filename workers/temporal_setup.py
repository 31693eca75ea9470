"""Preparing a Temporal cluster for Pathway, idempotently: the namespace (with its retention), the
search attributes operators filter on, and the retention, checkpoint and FHIR poll schedules. `pathway setup`
runs it on a real cluster, `pathway dev` on its dev server."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    RegisterNamespaceRequest,
    UpdateNamespaceRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.config import CheckpointsConfig, FhirPollConfig, RetentionConfig
from workers.checkpoint_schedule import ensure_checkpoint_schedule
from workers.fhir_poll_schedule import ensure_fhir_poll_schedule
from workers.retention_schedule import ensure_retention_schedule
from workflows.search_attributes import ALL_KEYS

# How long Temporal keeps a closed workflow's history when `pathway setup` creates the namespace and
# no retention is given. The event store, not Temporal, is the record kept for years.
DEFAULT_RETENTION_DAYS = 30
NAMESPACE_DESCRIPTION = "Pathway: Liaison and Diversion case workflows"

Result = TypeVar("Result")


@dataclass
class SetupReport:
    """What `setup_temporal` found and did, one line per fact."""

    namespace: str
    actions: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return self.actions


async def ensure_namespace(client: Client, namespace: str, retention_days: int | None = None) -> str:
    """Create the namespace if it is missing (with `retention_days`, or the default); on an existing
    one, change the retention only when asked to. Returns what was done, as a sentence."""
    if retention_days is not None and retention_days < 1:
        raise ValueError("the retention must be at least one day")
    try:
        described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise
        days = retention_days or DEFAULT_RETENTION_DAYS
        try:
            await client.workflow_service.register_namespace(
                RegisterNamespaceRequest(
                    namespace=namespace,
                    description=NAMESPACE_DESCRIPTION,
                    workflow_execution_retention_period=_days(days),
                )
            )
        except RPCError as registering:
            if registering.status is not RPCStatusCode.ALREADY_EXISTS:  # someone else just made it
                raise
            return f"namespace {namespace}: created meanwhile by someone else"
        return f"namespace {namespace}: created, retention {days} days"
    current = described.config.workflow_execution_retention_ttl.ToTimedelta()
    if retention_days is None or current == timedelta(days=retention_days):
        return f"namespace {namespace}: exists, retention {_in_days(current)}"
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(
            namespace=namespace, config=NamespaceConfig(workflow_execution_retention_ttl=_days(retention_days))
        )
    )
    return f"namespace {namespace}: retention changed from {_in_days(current)} to {retention_days} days"


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add whichever of Pathway's search attributes the namespace lacks; returns the names added."""
    try:
        listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
        existing = set(listed.custom_attributes)
    except RPCError as error:
        # The time-skipping test server can add search attributes but not list them.
        if error.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in ALL_KEYS if key.name not in existing
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)


async def setup_temporal(
    client: Client,
    task_queue: str,
    retention: RetentionConfig,
    checkpoints: CheckpointsConfig,
    fhir_poll: FhirPollConfig,
    retention_days: int | None = None,
) -> SetupReport:
    """Namespace, search attributes, retention, checkpoint and FHIR poll schedules on the client's namespace;
    safe to run again (the second run changes nothing and says so)."""
    namespace = client.namespace
    report = SetupReport(namespace)
    report.actions.append(await ensure_namespace(client, namespace, retention_days))
    # A namespace just created can take a few seconds to reach every part of the cluster.
    added = await _once_known(lambda: ensure_search_attributes(client, namespace))
    report.actions.append(f"search attributes: added {', '.join(added)}" if added else "search attributes: all present")
    schedule = await _once_known(lambda: ensure_retention_schedule(client, task_queue, retention))
    report.actions.append(f"retention schedule: {schedule}")
    schedule = await _once_known(lambda: ensure_checkpoint_schedule(client, task_queue, checkpoints))
    report.actions.append(f"checkpoint schedule: {schedule}, every {checkpoints.every_minutes} minutes")
    schedule = await _once_known(lambda: ensure_fhir_poll_schedule(client, task_queue, fhir_poll))
    report.actions.append(f"FHIR poll schedule: {schedule}, every {fhir_poll.every_minutes} minutes")
    return report


async def _once_known(call: Callable[[], Awaitable[Result]], attempts: int = 60) -> Result:
    for attempt in range(attempts):
        try:
            return await call()
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND or attempt == attempts - 1:
                raise
        await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


def _days(days: int) -> Duration:
    duration = Duration()
    duration.FromTimedelta(timedelta(days=days))
    return duration


def _in_days(period: timedelta) -> str:
    if period % timedelta(days=1):
        return str(period)
    return f"{period.days} days"
