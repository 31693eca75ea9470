"""Fixtures for activity tests: a real SMTP server on localhost and a SQLite-backed notifications log."""

import email
import email.policy
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from activities.mailer import SmtpMailer
from store.event_store import EventStore
from store.notifications import NotificationLog
from tests.cli.support import free_port


@dataclass
class Received:
    sender: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Mailbox:
    """What a real SMTP server on localhost received; `reject_data` makes it refuse every message."""

    port: int
    received: list[Received] = field(default_factory=list)
    reject_data: bool = False

    @property
    def mailer(self) -> SmtpMailer:
        return SmtpMailer(host="127.0.0.1", port=self.port, sender="pathway@test")

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.reject_data:
            return "554 5.7.1 Message refused by policy"
        assert isinstance(envelope.content, bytes)
        assert envelope.mail_from is not None
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest_asyncio.fixture
async def log(tmp_path: Path) -> AsyncIterator[NotificationLog]:
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    await store.migrate()
    try:
        yield NotificationLog(store.engine)
    finally:
        await store.close()
