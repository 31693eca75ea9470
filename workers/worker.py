"""The worker: runs CaseWorkflow and the store activities on the case task queue."""

import asyncio

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.store_activities import StoreActivities
from store.event_store import EventStore
from workers.client import connect
from workers.logging import configure_logging
from workers.settings import Settings
from workflows.case_workflow import CaseWorkflow

log = structlog.get_logger(__name__)


def build_worker(client: Client, store: EventStore, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[CaseWorkflow],
        activities=[StoreActivities(store).append_events],
    )


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run until `stop` is set, then finish in-flight tasks and return."""
    store = EventStore.connect(settings.store_url)
    await store.migrate()
    client = await connect(settings)
    try:
        async with build_worker(client, store, settings.task_queue):
            log.info("worker started", task_queue=settings.task_queue, namespace=settings.namespace)
            await stop.wait()
    finally:
        await store.close()
    log.info("worker stopped")


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    asyncio.run(run_worker(settings, asyncio.Event()))
