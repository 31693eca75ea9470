"""Reading back what FHIR receivers say of the referrals sent to them, and recording it on the cases.

A service with `delivery = "fhir"` holds a Task for each referral it was sent (identifier
`REFERRAL_TASK_SYSTEM|<referral id>`). `list_fhir_referrals` finds the referrals worth asking about
(delivered by FHIR, on an open case, still movable by the receiver); `poll_fhir_service` asks one
service for each of its Tasks (`GET {address}/Task?identifier=...`, no redirect followed), reads it
with domain/fhir_task_updates.py and records each change as RecordReferralOutcome in the service's
own name (domain/access.service_actor), through the case gateway like any command: sealed first,
then decided by the case workflow, which refuses an answer the referral's status no longer allows.

Idempotent without a lock: the lifecycle never returns to a status (domain/rules.py
REFERRAL_TRANSITIONS has no cycle, and no status follows itself), so the case workflow, deciding each
change under its own lock, takes a status once; a retried activity or a second poll at the same time
that sends it again is refused and reported, and decides afresh next time. (Not the case version:
the services of one case are asked at once, and each one's change would make the others' stale.)

A receiver that is down, refuses or answers garbage is reported and asked again at the next poll;
it never stops the others (each service is its own activity).
Reports name services, referrals and codes, never what a reason says.
"""

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.task import Task
from pydantic import BaseModel, Field, ValidationError
from temporalio import activity

from activities.referrals import NO_REDIRECTS
from domain.access import service_actor
from domain.commands import RecordReferralOutcome
from domain.config import PathwayConfig, Service
from domain.errors import Rule, RuleViolation
from domain.fhir_task_updates import read_task, still_answerable
from domain.fhir_terms import REFERRAL_STATUS_SYSTEM, REFERRAL_TASK_SYSTEM
from domain.plaintext import check_change
from domain.state import referral
from service.gateway import CaseGateway
from store.event_store import EventStore
from store.notifications import NotificationLog
from store.person_keys import PersonUnknown
from store.sealing import Sealer
from workers.metrics import count_fhir_task_problem

KIND = "referral_fhir"  # the notifications log's kind for a FHIR delivery (activities/referrals.py)
READ_TIMEOUT_SECONDS = 15
LARGEST_ANSWER = 1_000_000  # bytes: a searchset for one identifier is a few kilobytes


class ReferralRef(BaseModel):
    case_id: str
    referral_id: str


class FhirPollInput(BaseModel):
    """One poll: who started it (the schedule's id, or an operator's or a test's name), for the logs."""

    started_by: str = Field(min_length=1, max_length=200)


class ServiceReferrals(BaseModel):
    service: Service
    referrals: list[ReferralRef]


class FhirReferrals(BaseModel):
    services: list[ServiceReferrals]


class PollProblem(BaseModel):
    """One thing a poll could not take in (a metric's `kind`, and what, in codes and ids only)."""

    referral_id: str | None
    kind: str
    detail: str


class ServicePoll(BaseModel):
    service_id: str
    asked: int = 0
    recorded: int = 0
    problems: list[PollProblem] = []


class Unreachable(Exception):
    """The receiver did not answer at all: the rest of its referrals wait for the next poll."""


class BadAnswer(Exception):
    """The receiver answered, but not with a Task of the referral asked about."""


class FhirTaskPollActivities:
    def __init__(
        self, log: NotificationLog, store: EventStore, config: PathwayConfig, gateway: CaseGateway, sealer: Sealer
    ) -> None:
        self._log = log
        self._store = store
        self._config = config
        self._gateway = gateway
        self._sealer = sealer

    @activity.defn(name="list_fhir_referrals")
    async def list_fhir_referrals(self, input: FhirPollInput) -> FhirReferrals:
        """The referrals delivered by FHIR, on open cases, that their receiver can still move on, by
        service (the directory's current entry, if it still delivers by FHIR)."""
        services = {service.service_id: service for service in self._config.services if service.delivery == "fhir"}
        if not services:
            return FhirReferrals(services=[])
        by_service: dict[str, list[ReferralRef]] = {}
        for delivery in await self._log.sent_about_open_cases(KIND):
            activity.heartbeat(delivery.notification_id)
            state = await self._store.current_state(delivery.case_id)
            found = referral(state, delivery.notification_id)
            if found is None or not still_answerable(found.status) or found.request.service_id not in services:
                continue
            ref = ReferralRef(case_id=delivery.case_id, referral_id=found.referral_id)
            by_service.setdefault(found.request.service_id, []).append(ref)
        activity.logger.info(
            "FHIR referrals to poll",
            extra={
                "started_by": input.started_by,
                "services": len(by_service),
                "referrals": sum(map(len, by_service.values())),
            },
        )
        return FhirReferrals(
            services=[ServiceReferrals(service=services[sid], referrals=refs) for sid, refs in by_service.items()]
        )

    @activity.defn(name="poll_fhir_service")
    async def poll_fhir_service(self, input: ServiceReferrals) -> ServicePoll:
        """Ask one service for the Task of each referral, and record what changed."""
        service = input.service
        poll = ServicePoll(service_id=service.service_id)
        for ref in input.referrals:
            activity.heartbeat(ref.referral_id)
            try:
                await self._take_in(service, ref, poll)
            except Unreachable as down:
                self._report(poll, None, "unreachable", str(down))
                break
            except BadAnswer as garbage:
                self._report(poll, ref.referral_id, "bad_answer", str(garbage))
            except _NotTaken as refused:
                self._report(poll, ref.referral_id, refused.kind, refused.detail)
            finally:
                poll.asked += 1
        if poll.recorded:
            activity.logger.info(
                "referral updates taken from a FHIR receiver",
                extra={"service_id": service.service_id, "recorded": poll.recorded},
            )
        return poll

    async def _take_in(self, service: Service, ref: ReferralRef, poll: ServicePoll) -> None:
        """Record what the receiver's Task says of one referral, counting each change in `poll`."""
        state = await self._store.current_state(ref.case_id)
        found = referral(state, ref.referral_id)
        if not state.is_open or found is None or not still_answerable(found.status):
            return  # answered or closed since it was listed
        task = await asyncio.to_thread(_read_task, service.address, ref.referral_id)
        business = [
            str(coding.code)
            for coding in (task.businessStatus.coding or [] if task.businessStatus else [])
            if coding.system == REFERRAL_STATUS_SYSTEM and coding.code
        ]
        reason = task.statusReason and (
            task.statusReason.text or next((c.display for c in task.statusReason.coding or [] if c.display), None)
        )
        reading = read_task(found.status, str(task.status), business, reason or None)
        if reading.problem is not None:
            raise _NotTaken(reading.problem, reading.detail)
        for change in reading.changes:
            command = RecordReferralOutcome(
                actor=service_actor(service.service_id),
                referral_id=ref.referral_id,
                status=change.status,
                reason=change.reason,
            )
            try:
                check_change(command)
                await self._gateway.send(ref.case_id, await self._sealer.seal_for_case(command, ref.case_id))
            except RuleViolation as refusal:
                if refusal.rule is Rule.CASE_CATCHING_UP:  # not refused: the activity's retry sends it again
                    raise
                raise _NotTaken("refused", f"{change.status}: {refusal.rule}") from None
            except PersonUnknown:
                raise _NotTaken("refused", f"{change.status}: the person's data was shredded") from None
            poll.recorded += 1

    @staticmethod
    def _report(poll: ServicePoll, referral_id: str | None, kind: str, detail: str) -> None:
        poll.problems.append(PollProblem(referral_id=referral_id, kind=kind, detail=detail))
        count_fhir_task_problem(kind)
        activity.logger.warning(
            "a FHIR receiver's Task was not taken in",
            extra={"service_id": poll.service_id, "referral_id": referral_id, "problem": kind, "detail": detail},
        )


class _NotTaken(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = str(kind)
        self.detail = detail


def task_search_url(base: str, referral_id: str) -> str:
    query = urllib.parse.urlencode({"identifier": f"{REFERRAL_TASK_SYSTEM}|{referral_id}"})
    return f"{base.rstrip('/')}/Task?{query}"


def _read_task(base: str, referral_id: str) -> Task:
    """The receiver's one Task for the referral, from a `searchset` Bundle."""
    request = urllib.request.Request(
        task_search_url(base, referral_id), method="GET", headers={"Accept": "application/fhir+json"}
    )
    try:
        with NO_REDIRECTS.open(request, timeout=READ_TIMEOUT_SECONDS) as response:
            body = response.read(LARGEST_ANSWER + 1)
    except urllib.error.HTTPError as error:
        if 300 <= error.code < 400:
            raise BadAnswer(
                f"HTTP {error.code}: a redirect, not followed (correct the address in the directory)"
            ) from None
        if error.code >= 500 or error.code in (408, 429):
            raise Unreachable(f"HTTP {error.code}") from None
        raise BadAnswer(f"HTTP {error.code}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise Unreachable(type(getattr(error, "reason", error)).__name__) from None
    if len(body) > LARGEST_ANSWER:
        raise BadAnswer(f"an answer over {LARGEST_ANSWER} bytes")
    return _task_of(body, referral_id)


def _task_of(body: bytes, referral_id: str) -> Task:
    try:
        bundle = Bundle.model_validate(json.loads(body))
    except (ValueError, ValidationError):  # not JSON, or not a FHIR Bundle
        raise BadAnswer("not a FHIR Bundle") from None
    if bundle.type != "searchset":
        raise BadAnswer(f"a {_code(bundle.type)} Bundle, not a searchset")
    tasks = [entry.resource for entry in bundle.entry or [] if isinstance(entry.resource, Task)]
    ours = [task for task in tasks if _names(task, referral_id)]
    if len(tasks) != len(ours):
        # Someone else's Task in the answer: take nothing from an answer that mixes referrals up.
        raise BadAnswer("a Task of another referral in the answer")
    if len(ours) != 1:
        raise BadAnswer(f"{len(ours)} Tasks for the referral")
    return ours[0]


def _names(task: Task, referral_id: str) -> bool:
    identifiers: Sequence[Any] = task.identifier or []
    return any(i.system == REFERRAL_TASK_SYSTEM and i.value == referral_id for i in identifiers)


def _code(value: object) -> str:
    text = str(value)
    return text if text.isascii() and text.replace("-", "").isalnum() and len(text) <= 40 else "(unknown)"
