"""Sending a referral to a service, by email, HTTP POST or FHIR, exactly once per referral id.

The outbound message is logged in the notifications table under the referral id, so a retried
activity finds the earlier delivery and does not send again. An email carries only a link to the
referral; an HTTP delivery carries the referral itself and the referral id as its Idempotency-Key.
A FHIR delivery POSTs a transaction Bundle (domain/fhir_delivery.py: ServiceRequest, Task, Patient,
requester and service, each a conditional create) to the service's FHIR base URL, with the referral
id as Idempotency-Key and X-Request-Id (docs/fhir.md); to the workflow it is an HTTP delivery. The
log keeps the Bundle as built from the sealed record, so it holds no personal data; the one POSTed
is built from the record opened with the person's key.
"""

import asyncio
import json
import urllib.error
import urllib.request

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.mailer import SmtpMailer
from activities.outbox import deliver
from domain.config import PathwayConfig, Service
from domain.events import ReferralMade
from domain.fhir_delivery import ReferralDelivery, referral_transaction
from domain.fhir_terms import FHIR_JSON
from domain.outcomes import ReferralRequest
from domain.state import Referral, fold
from store.event_store import EventStore
from store.notifications import NotificationLog
from store.sealing import Sealer
from workers.metrics import count_notification_failure


class SendReferralInput(BaseModel):
    referral_id: str
    case_id: str
    service: Service
    request: ReferralRequest


class SendReferralResult(BaseModel):
    channel: str  # "email" or "http" (a FHIR delivery is an HTTP one: ReferralSent.channel)
    status: str


class ReferralActivities:
    def __init__(
        self,
        log: NotificationLog,
        mailer: SmtpMailer | None,
        inbox_url: str,
        sealer: Sealer,
        store: EventStore,
        config: PathwayConfig,
    ) -> None:
        self._log = log
        self._mailer = mailer
        self._inbox_url = inbox_url.rstrip("/")
        self._sealer = sealer
        self._store = store
        self._config = config

    @activity.defn(name="send_referral")
    async def send_referral(self, input: SendReferralInput) -> SendReferralResult:
        service = input.service
        subject, body = await self._message(input, opened=False)
        record = await self._log.record(
            input.referral_id, input.case_id, None, f"referral_{service.delivery}", [service.address], subject, body
        )
        channel = "email" if service.delivery == "email" else "http"
        if record.status == "sent":
            return SendReferralResult(channel=channel, status="sent")
        try:
            await self._deliver(input, subject, body)
        except Exception:
            count_notification_failure(f"referral_{service.delivery}")
            raise
        activity.logger.info("referral sent", extra={"case_id": input.case_id, "service_id": service.service_id})
        return SendReferralResult(channel=channel, status="sent")

    async def _deliver(self, input: SendReferralInput, subject: str, body: str) -> None:
        service = input.service
        if service.delivery == "email":
            await deliver(self._log, input.referral_id, lambda: self._email(input, subject, body))
        else:
            # The service needs the reason itself; the outbox keeps only its sealed form.
            sent = (await self._message(input, opened=True))[1]
            # A FHIR transaction is POSTed to the FHIR server's base URL.
            url = service.address
            content_type = FHIR_JSON if service.delivery == "fhir" else "application/json"
            await deliver(
                self._log,
                input.referral_id,
                lambda: asyncio.to_thread(_post, url, sent, input.referral_id, content_type),
            )

    async def _email(self, input: SendReferralInput, subject: str, body: str) -> None:
        if self._mailer is None:
            # Retryable on purpose: once an operator configures SMTP, the referral goes out.
            raise ApplicationError("no SMTP server is configured, so email referrals cannot be sent")
        await self._mailer.send([input.service.address], subject, body, input.referral_id)

    async def _message(self, input: SendReferralInput, opened: bool) -> tuple[str, str]:
        """The subject and body of the referral: as logged (`opened` False: sealed personal values)
        or as sent (opened with the person's key)."""
        link = f"{self._inbox_url}/referrals/{input.referral_id}"
        if input.service.delivery == "fhir":
            bundle = referral_transaction(await self._delivery(input, link, opened), self._config)
            return f"referral {input.referral_id}", bundle.model_dump_json(exclude_none=True)
        if opened:
            input = input.model_copy(update={"request": await self._sealer.open_for_case(input.request, input.case_id)})
        if input.service.delivery == "http":
            payload = {
                "referral_id": input.referral_id,
                "case_reference": input.case_id,
                "service_id": input.service.service_id,
                "service_type": input.service.type,
                "urgency": input.request.urgency,
                "reason": input.request.reason,
                "link": link,
            }
            return f"referral {input.referral_id}", json.dumps(payload, sort_keys=True)
        subject = f"New {input.request.urgency} referral to {input.service.name}"
        body = (
            f"The Liaison and Diversion service has referred someone to {input.service.name}.\n\n"
            f"Referral: {input.referral_id}\nUrgency: {input.request.urgency}\n"
            f"Read it and answer (accept or reject) here: {link}\n"
        )
        return subject, body

    async def _delivery(self, input: SendReferralInput, link: str, opened: bool) -> ReferralDelivery:
        """The case as the store holds it (opened, or sealed), and the referral as the workflow asked
        for it (its ReferralMade may not be folded into the stored state yet)."""
        events = await self._store.read_stream(input.case_id)
        state = fold(input.case_id, events)
        key_holder = await self._sealer.keys.person_of(input.case_id)
        request = input.request
        if opened:
            state = (await self._sealer.open(state, key_holder)).model
            request = (await self._sealer.open(request, key_holder)).model
        made = next(
            (e for e in events if isinstance(e.event, ReferralMade) and e.event.referral_id == input.referral_id), None
        )
        referral = Referral(
            referral_id=input.referral_id,
            request=request,
            made_at=made.occurred_at if made else activity.info().scheduled_time,
        )
        return ReferralDelivery(
            state=state,
            referral=referral,
            person_id=state.person_id or key_holder,
            made_by=made.actor.staff_id if made else None,
            link=link,
        )


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirected POST would be replayed as a GET without the referral, and a redirected read could
    fetch another system's answer: never follow one."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


NO_REDIRECTS = urllib.request.build_opener(_RefuseRedirects)


def _post(url: str, body: str, idempotency_key: str, content_type: str = "application/json") -> None:
    headers = {"Content-Type": content_type, "Idempotency-Key": idempotency_key}
    if content_type == FHIR_JSON:
        headers |= {"Accept": "application/fhir+json", "X-Request-Id": idempotency_key}
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers=headers)
    try:
        with NO_REDIRECTS.open(request, timeout=30) as response:
            response.read()
    except urllib.error.HTTPError as error:
        if 300 <= error.code < 400:
            where = error.headers.get("Location", "elsewhere")
            raise ApplicationError(
                f"the service's address redirects (HTTP {error.code} to {where}): correct it in the directory",
                non_retryable=True,
            ) from None
        if 400 <= error.code < 500 and error.code not in (408, 429):
            raise ApplicationError(f"the service refused the referral: HTTP {error.code}", non_retryable=True) from None
        raise
