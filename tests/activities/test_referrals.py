"""send_referral (activities/referrals.py) run in Temporal's ActivityEnvironment, with a SQLite
notifications table, a real SMTP server (aiosmtpd) and a real HTTP receiver (http.server) on localhost."""

import json
import logging
import threading
import urllib.error
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiosmtplib
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.mailer import SmtpMailer
from activities.referrals import ReferralActivities, SendReferralInput, SendReferralResult
from domain.config import Service
from domain.outcomes import ReferralRequest, ServiceType, Urgency
from store.event_store import EventStore
from store.notifications import NotificationLog, NotificationRecord
from store.person_keys import PersonKeys
from store.sealing import Sealer
from tests.activities.conftest import Mailbox
from tests.cli.support import free_port
from tests.conftest import TEST_MASTER_KEYS
from workers.settings import SHIPPED_CONFIG, load_config

INBOX_URL = "http://inbox.test"
SERVICE_EMAIL = "cmht@services.test"
# The referral's reason is the practitioner's words about the person: it must never go by email.
REASON = "Hears voices since his brother died; sleeping rough behind the bus station"


# --- a local SMTP server ---------------------------------------------------------------------------


# --- a local HTTP receiver -------------------------------------------------------------------------


@dataclass
class Post:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Keeps every request it gets and answers each with `status`, or with a 301 for a path in `redirects`."""

    port: int = 0
    status: int = 200
    posts: list[Post] = field(default_factory=list)
    redirects: dict[str, str] = field(default_factory=dict)

    def url(self, path: str = "/referrals/inbound") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self._keep("POST")

        def do_GET(self) -> None:
            self._keep("GET")

        def _keep(self, method: str) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.posts.append(Post(method, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if self.path in receiver.redirects:
                self.send_response(301)
                self.send_header("Location", receiver.redirects[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            answer = b'{"ok": true}' if receiver.status < 300 else b'{"error": "no"}'
            self.send_response(receiver.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output quiet

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- the store and the activity --------------------------------------------------------------------


def email_service(address: str = SERVICE_EMAIL) -> Service:
    return Service(
        service_id="demo-cmht",
        name="Community mental health team",
        type=ServiceType.MENTAL_HEALTH,
        sites=("demo",),
        delivery="email",
        address=address,
    )


def http_service(url: str) -> Service:
    return Service(
        service_id="city-housing",
        name="City housing options",
        type=ServiceType.HOUSING,
        sites=("demo",),
        delivery="http",
        address=url,
    )


def referral_for(service: Service, urgency: Urgency = Urgency.URGENT) -> SendReferralInput:
    return SendReferralInput(
        referral_id=str(uuid.uuid4()),
        case_id=f"case-{uuid.uuid4()}",
        service=service,
        request=ReferralRequest(service=service.type, service_id=service.service_id, reason=REASON, urgency=urgency),
    )


def sender(log: NotificationLog, mailer: SmtpMailer | None = None, inbox_url: str = INBOX_URL) -> ReferralActivities:
    keys = PersonKeys(log.engine, TEST_MASTER_KEYS)
    return ReferralActivities(log, mailer, inbox_url, Sealer(keys), EventStore(log.engine), load_config(SHIPPED_CONFIG))


async def send(activities: ReferralActivities, input: SendReferralInput) -> SendReferralResult:
    return await ActivityEnvironment().run(activities.send_referral, input)


async def row(log: NotificationLog, referral_id: str) -> NotificationRecord:
    found = await log.get(referral_id)
    assert found is not None, f"no notification recorded for referral {referral_id}"
    return found


def text(message: EmailMessage) -> str:
    content = message.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")  # SMTP lines end in CRLF


# --- email -----------------------------------------------------------------------------------------


async def test_an_email_referral_goes_to_the_service_with_a_link_only(
    log: NotificationLog, mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    input = referral_for(email_service())

    with caplog.at_level(logging.INFO):
        result = await send(sender(log, mailbox.mailer, INBOX_URL + "/"), input)

    assert result == SendReferralResult(channel="email", status="sent")
    [received] = mailbox.received
    assert received.rcpt_tos == [SERVICE_EMAIL]
    assert received.sender == "pathway@test"
    message = received.message
    assert message["To"] == SERVICE_EMAIL
    assert message["Subject"] == "New urgent referral to Community mental health team"
    assert message["Message-ID"] == f"<{input.referral_id}@pathway>"
    body = text(message)
    assert f"Read it and answer (accept or reject) here: {INBOX_URL}/referrals/{input.referral_id}\n" in body
    assert f"Referral: {input.referral_id}\n" in body
    assert "Urgency: urgent\n" in body
    # No reason text and nothing about the person: not the reason, not a word of it, not the case id.
    assert REASON not in body
    assert not any(word in body.lower() for word in ("voices", "brother", "rough", "bus station"))
    assert input.case_id not in body
    assert input.case_id not in message.as_string()

    recorded = await row(log, input.referral_id)
    assert (recorded.status, recorded.attempts, recorded.error) == ("sent", 1, None)
    assert recorded.sent_at is not None
    assert (recorded.case_id, recorded.task_id, recorded.kind) == (input.case_id, None, "referral_email")
    assert recorded.recipients == (SERVICE_EMAIL,)
    assert (recorded.subject, recorded.body) == (message["Subject"], body)

    # The log line names the case and the service, never the reason or the address.
    ours = [r for r in caplog.records if r.name == "temporalio.activity"]
    [line] = [r for r in ours if r.getMessage().startswith("referral sent")]
    assert getattr(line, "case_id", None) == input.case_id
    assert getattr(line, "service_id", None) == "demo-cmht"
    for record in ours:
        logged = f"{record.getMessage()} {record.__dict__}"
        assert REASON not in logged and SERVICE_EMAIL not in logged


async def test_running_an_email_referral_twice_sends_it_once(log: NotificationLog, mailbox: Mailbox) -> None:
    input = referral_for(email_service(), Urgency.ROUTINE)
    first = await send(sender(log, mailbox.mailer), input)

    again = await send(sender(log, mailbox.mailer), input)  # a retry, even from another worker

    assert first == again == SendReferralResult(channel="email", status="sent")
    assert len(mailbox.received) == 1
    assert mailbox.received[0].message["Subject"] == "New routine referral to Community mental health team"
    recorded = await row(log, input.referral_id)
    assert (recorded.status, recorded.attempts) == ("sent", 1)
    assert await log.list(case_id=input.case_id) == [recorded]


async def test_two_referrals_of_one_case_are_each_sent(log: NotificationLog, mailbox: Mailbox) -> None:
    first = referral_for(email_service())
    second = first.model_copy(update={"referral_id": str(uuid.uuid4())})

    await send(sender(log, mailbox.mailer), first)
    await send(sender(log, mailbox.mailer), second)

    assert [r.message["Message-ID"] for r in mailbox.received] == [
        f"<{first.referral_id}@pathway>",
        f"<{second.referral_id}@pathway>",
    ]
    assert [n.notification_id for n in await log.list(case_id=first.case_id)] == [
        first.referral_id,
        second.referral_id,
    ]


async def test_without_a_mailer_the_referral_fails_retryably_and_is_recorded(
    log: NotificationLog, mailbox: Mailbox
) -> None:
    input = referral_for(email_service())

    with pytest.raises(ApplicationError) as caught:
        await send(sender(log, None), input)

    assert not caught.value.non_retryable  # an operator can still configure SMTP and the retry sends it
    assert caught.value.message == "no SMTP server is configured, so email referrals cannot be sent"
    recorded = await row(log, input.referral_id)
    assert (recorded.status, recorded.attempts, recorded.sent_at) == ("failed", 1, None)
    assert recorded.error == "ApplicationError: no SMTP server is configured, so email referrals cannot be sent"
    assert mailbox.received == []

    # Once SMTP is configured, Temporal's retry delivers it, once.
    assert await send(sender(log, mailbox.mailer), input) == SendReferralResult(channel="email", status="sent")
    assert await send(sender(log, mailbox.mailer), input) == SendReferralResult(channel="email", status="sent")
    assert len(mailbox.received) == 1
    recorded = await row(log, input.referral_id)
    assert (recorded.status, recorded.attempts, recorded.error) == ("sent", 2, None)


async def test_an_unreachable_smtp_server_fails_retryably(log: NotificationLog) -> None:
    input = referral_for(email_service())
    nowhere = SmtpMailer(host="127.0.0.1", port=free_port(), sender="pathway@test")

    with pytest.raises(aiosmtplib.SMTPConnectError):  # not an ApplicationError: Temporal retries it
        await send(sender(log, nowhere), input)

    recorded = await row(log, input.referral_id)
    assert recorded.status == "failed"
    assert recorded.error is not None and recorded.error.startswith("SMTPConnectError: ")


# --- HTTP ------------------------------------------------------------------------------------------


async def test_an_http_referral_is_posted_as_json_with_an_idempotency_key(
    log: NotificationLog, receiver: Receiver, mailbox: Mailbox
) -> None:
    url = receiver.url("/api/referrals?source=pathway")
    input = referral_for(http_service(url))

    result = await send(sender(log, mailbox.mailer), input)

    assert result == SendReferralResult(channel="http", status="sent")
    [post] = receiver.posts
    assert (post.method, post.path) == ("POST", "/api/referrals?source=pathway")
    assert post.headers["content-type"] == "application/json"
    assert post.headers["idempotency-key"] == input.referral_id
    assert post.json() == {
        "referral_id": input.referral_id,
        "case_reference": input.case_id,
        "service_id": "city-housing",
        "service_type": "housing",
        "urgency": "urgent",
        "reason": REASON,
        "link": f"{INBOX_URL}/referrals/{input.referral_id}",
    }
    assert mailbox.received == []  # HTTP services get no email

    recorded = await row(log, input.referral_id)
    assert (recorded.status, recorded.attempts, recorded.error) == ("sent", 1, None)
    assert (recorded.kind, recorded.recipients) == ("referral_http", (url,))
    assert recorded.subject == f"referral {input.referral_id}"
    assert json.loads(recorded.body) == post.json()


async def test_running_an_http_referral_twice_posts_it_once(log: NotificationLog, receiver: Receiver) -> None:
    input = referral_for(http_service(receiver.url()))

    first = await send(sender(log), input)
    again = await send(sender(log), input)

    assert first == again == SendReferralResult(channel="http", status="sent")
    assert len(receiver.posts) == 1
    assert (await row(log, input.referral_id)).attempts == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
async def test_a_refusal_by_the_service_is_not_retried(log: NotificationLog, receiver: Receiver, status: int) -> None:
    receiver.status = status
    input = referral_for(http_service(receiver.url()))

    with pytest.raises(ApplicationError) as caught:
        await send(sender(log), input)

    assert caught.value.non_retryable
    assert caught.value.message == f"the service refused the referral: HTTP {status}"
    assert len(receiver.posts) == 1
    recorded = await row(log, input.referral_id)
    assert (recorded.status, recorded.attempts, recorded.sent_at) == ("failed", 1, None)
    assert recorded.error == f"ApplicationError: the service refused the referral: HTTP {status}"


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
async def test_a_temporary_failure_is_retried_and_then_delivered_once(
    log: NotificationLog, receiver: Receiver, status: int
) -> None:
    receiver.status = status
    input = referral_for(http_service(receiver.url()))

    with pytest.raises(urllib.error.HTTPError) as caught:
        await send(sender(log), input)

    # Not an ApplicationError, so Temporal retries it under the activity's retry policy.
    assert not isinstance(caught.value, ApplicationError)
    assert caught.value.code == status
    recorded = await row(log, input.referral_id)
    assert (recorded.status, recorded.attempts, recorded.sent_at) == ("failed", 1, None)
    assert recorded.error is not None and recorded.error.startswith(f"HTTPError: HTTP Error {status}: ")

    # The service recovers; the retry posts again with the same key, and that is the last post.
    receiver.status = 201
    assert await send(sender(log), input) == SendReferralResult(channel="http", status="sent")
    assert await send(sender(log), input) == SendReferralResult(channel="http", status="sent")
    assert [p.headers["idempotency-key"] for p in receiver.posts] == [input.referral_id, input.referral_id]
    assert receiver.posts[0].body == receiver.posts[1].body
    recorded = await row(log, input.referral_id)
    assert (recorded.status, recorded.attempts, recorded.error) == ("sent", 2, None)


async def test_an_unreachable_service_fails_retryably(log: NotificationLog) -> None:
    input = referral_for(http_service(f"http://127.0.0.1:{free_port()}/referrals"))

    with pytest.raises(urllib.error.URLError) as caught:
        await send(sender(log), input)

    assert not isinstance(caught.value, ApplicationError)
    recorded = await row(log, input.referral_id)
    assert recorded.status == "failed"
    assert recorded.error is not None and recorded.error.startswith("URLError: ")


async def test_a_redirect_never_turns_the_referral_into_a_get(log: NotificationLog, receiver: Receiver) -> None:
    receiver.redirects["/old"] = "/new"  # e.g. a service that moved, or http -> https
    input = referral_for(http_service(receiver.url("/old")))

    try:
        result: SendReferralResult | None = await send(sender(log), input)
    except Exception:
        result = None  # refusing to follow the redirect is one right answer

    # Either way, the service only ever sees POSTs carrying the referral ...
    assert {p.method for p in receiver.posts} == {"POST"}
    assert all(p.json()["referral_id"] == input.referral_id for p in receiver.posts)
    # ... and the referral counts as sent only if the POST reached its new address.
    recorded = await row(log, input.referral_id)
    if result is None:
        assert recorded.status == "failed"
    else:
        assert receiver.posts[-1].path == "/new"
        assert recorded.status == "sent"


async def test_a_service_url_with_a_comma_is_recorded_whole(log: NotificationLog, receiver: Receiver) -> None:
    url = receiver.url("/referrals?teams=1,2")
    input = referral_for(http_service(url))

    await send(sender(log), input)

    assert (await row(log, input.referral_id)).recipients == (url,)
