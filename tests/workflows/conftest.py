"""Fixtures for workflow tests: the time-skipping server and a local SMTP server that keeps what it gets."""

import asyncio
import contextlib
import email
import email.policy
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TypeVar

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.testing import WorkflowEnvironment

from activities.mailer import SmtpMailer
from store.notifications import NotificationLog, NotificationRecord
from tests.cli.support import free_port
from tests.conftest import TEST_PAYLOAD_KEYS
from workers.binaries import installed_binary
from workers.client import data_converter
from workers.temporal_setup import ensure_search_attributes


@pytest_asyncio.fixture(loop_scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server per test: time is one clock for the whole server, so a workflow another
    test left running would hold it back (or be pushed forward) here."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(TEST_PAYLOAD_KEYS),
        test_server_existing_path=installed_binary("temporal-test-server"),
    )
    await ensure_search_attributes(env.client, env.client.namespace)
    yield env
    await env.shutdown()


@dataclass
class Mailbox:
    """Messages a real SMTP server (aiosmtpd, on localhost) received."""

    messages: list[EmailMessage] = field(default_factory=list)
    mailer: SmtpMailer | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def about(self, case_id: str) -> list[EmailMessage]:
        return [m for m in self.messages if case_id in m.get_content()]

    async def wait_for_subject(self, case_id: str, prefix: str) -> EmailMessage:
        async with asyncio.timeout(20):
            while not (found := [m for m in self.about(case_id) if m["Subject"].startswith(prefix)]):
                await asyncio.sleep(0.1)
        return found[0]

    async def wait_for(self, case_id: str, count: int) -> list[EmailMessage]:
        async with asyncio.timeout(20):
            while len(self.about(case_id)) < count:
                await asyncio.sleep(0.1)
        return self.about(case_id)


async def settled_notifications(log: NotificationLog, case_id: str, count: int) -> list[NotificationRecord]:
    """The case's `count` notifications once none is still pending. The mail server holds a message a
    moment before the activity that sent it marks its row sent, so a row read as the mail lands
    can still say "pending"."""
    async with asyncio.timeout(20):
        while True:
            notifications = await log.list(case_id=case_id)
            if len(notifications) >= count and all(n.status != "pending" for n in notifications):
                return notifications
            await asyncio.sleep(0.1)


AnyMailbox = TypeVar("AnyMailbox", bound=Mailbox)


@contextlib.contextmanager
def serving(box: AnyMailbox) -> Iterator[AnyMailbox]:
    """`box` as a real SMTP server on a free local port, with a mailer that sends to it."""
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.mailer = SmtpMailer(host="127.0.0.1", port=port, sender="pathway@test")
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with serving(Mailbox()) as box:
        yield box
