"""Helpers for the event store tests: sites, actors, outcomes and a driver that appends to a store.

Events are produced exactly as the workflow produces them: `decide` on the current state, `envelop`
to number them on from the state's version, then `EventStore.append`.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from pydantic import JsonValue
from sqlalchemy import func, select

from domain.commands import ClaimTask, Command, CompleteTask, MarkOverdue, OpenCase
from domain.config import Service, SiteConfig
from domain.decisions import DecisionContext
from domain.events import EventEnvelope
from domain.model import SYSTEM_ACTOR, Actor, AgeBand, Cohort, ReferralSource, Role, Setting
from domain.outcomes import (
    AssessmentOutcome,
    ClosureOutcome,
    ClosureReason,
    ConsentOutcome,
    ConsentScope,
    Disclosure,
    JusticeOutcome,
    LawfulBasis,
    Recipient,
    ReferralDecisionOutcome,
    ReferralRequest,
    RiskLevel,
    ScreeningOutcome,
    ServiceType,
    ShareInformationOutcome,
    Urgency,
)
from domain.rules import decide
from domain.state import CaseState, empty_state
from domain.stream import apply_all, envelop
from domain.tasks import Task, TaskKind
from store import schema
from store.event_store import EventStore

# A Monday morning in winter (GMT, so UTC and London agree).
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _site(site_id: str, name: str) -> SiteConfig:
    services = tuple(
        Service(
            service_id=f"{site_id}-{kind}",
            name=f"{kind} service",
            type=kind,
            sites=(site_id,),
            delivery="email",
            address=f"{kind}@{site_id}.test",
        )
        for kind in ServiceType
    )
    return SiteConfig(site_id=site_id, name=name, services=services)


NORTH = _site("north", "North L&D")
SOUTH = _site("south", "South L&D")

PRACTITIONER = Actor(staff_id="prac-1", role=Role.PRACTITIONER)
TEAM_LEAD = Actor(staff_id="lead-1", role=Role.TEAM_LEAD)


def new_id() -> str:
    return str(uuid4())


def new_case_id() -> str:
    return f"case-{uuid4()}"


class StoreCase:
    """Drives one case through decide + envelop + EventStore.append, keeping the state and every envelope."""

    def __init__(self, store: EventStore, site: SiteConfig = NORTH, now: datetime = NOW, writers: int = 1) -> None:
        self.store = store
        self.writers = writers
        self.site = site
        self.now = now
        self.case_id = new_case_id()
        self.state: CaseState = empty_state(self.case_id)
        self.envelopes: list[EventEnvelope] = []

    def ctx(self) -> DecisionContext:
        return DecisionContext(now=self.now, new_id=new_id, site=self.site)

    def envelopes_for(self, command: Command) -> list[EventEnvelope]:
        """The envelopes `command` produces on the current state, neither appended nor applied."""
        events = decide(self.state, command, self.ctx())
        return envelop(self.state, events, command.actor, self.now, new_id)

    async def send(self, command: Command) -> list[EventEnvelope]:
        envelopes = self.envelopes_for(command)
        if not envelopes:
            return []
        # Like a retried activity whose attempts overlap: every writer appends the same batch.
        versions = await asyncio.gather(*(self.store.append(self.case_id, envelopes) for _ in range(self.writers)))
        assert versions == [envelopes[-1].seq] * self.writers
        self.state = apply_all(self.state, envelopes)
        self.envelopes.extend(envelopes)
        return envelopes

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def task(self, kind: TaskKind) -> Task:
        """The one open task of `kind`."""
        tasks = [t for t in self.state.open_tasks if t.kind is kind]
        assert len(tasks) == 1, f"expected one open {kind} task, found {tasks}"
        return tasks[0]

    def open_command(self, setting: Setting = Setting.CUSTODY, cohorts: tuple[Cohort, ...] = ()) -> OpenCase:
        return OpenCase(
            actor=PRACTITIONER,
            site=self.site.site_id,
            setting=setting,
            source=ReferralSource.CUSTODY_STAFF,
            external_ref="CUST/2026/0042",
            age_band=AgeBand.ADULT,
            cohorts=cohorts,
        )

    def envelopes_for_open(self) -> list[EventEnvelope]:
        return self.envelopes_for(self.open_command())

    async def open(self, setting: Setting = Setting.CUSTODY, cohorts: tuple[Cohort, ...] = ()) -> list[EventEnvelope]:
        return await self.send(self.open_command(setting, cohorts))

    async def complete(
        self, kind: TaskKind, outcome: dict[str, JsonValue], actor: Actor = PRACTITIONER
    ) -> list[EventEnvelope]:
        return await self.send(CompleteTask(actor=actor, task_id=self.task(kind).task_id, outcome=outcome))

    async def claim(self, kind: TaskKind, actor: Actor = PRACTITIONER) -> list[EventEnvelope]:
        return await self.send(ClaimTask(actor=actor, task_id=self.task(kind).task_id))

    async def mark_overdue(self, kind: TaskKind) -> list[EventEnvelope]:
        return await self.send(MarkOverdue(actor=SYSTEM_ACTOR, task_id=self.task(kind).task_id))


def dump(model: Any) -> dict[str, JsonValue]:
    result: dict[str, JsonValue] = model.model_dump(mode="json")
    return result


CONSENT_GIVEN = dump(
    ConsentOutcome(
        decision="given", scope=[ConsentScope.ASSESSMENT, ConsentScope.SHARE_POLICE, ConsentScope.SHARE_COURT]
    )
)
SCREENING = dump(
    ScreeningOutcome(
        instrument="ld-screen",
        instrument_version="2",
        urgency=Urgency.URGENT,
        risk_level=RiskLevel.MEDIUM,
        assessment_needed=True,
        note="Says the voices are “worse at night” — ünïcödé kept as is",
    )
)
ASSESSMENT = dump(
    AssessmentOutcome(
        instrument="ld-assess",
        instrument_version="1",
        answers={"q1": 3, "q2": "often", "q3": None, "q4": [1.5, True]},
        score=14,
        recommended_services=[ServiceType.MENTAL_HEALTH, ServiceType.HOUSING],
    )
)
SHARE = dump(
    ShareInformationOutcome(
        disclosures=[
            Disclosure(
                recipient=Recipient.CUSTODY_SERGEANT,
                purpose="fitness for interview",
                lawful_basis=LawfulBasis.CONSENT,
                summary="Known to community mental health team; needs an appropriate adult.",
            )
        ]
    )
)
REFERRAL = dump(
    ReferralDecisionOutcome(
        referrals=[ReferralRequest(service=ServiceType.MENTAL_HEALTH, reason="needs support", urgency=Urgency.URGENT)]
    )
)
CLOSURE = dump(
    ClosureOutcome(
        reason=ClosureReason.PATHWAY_COMPLETE, justice_outcome=JusticeOutcome.CONDITIONAL_CAUTION, note="done"
    )
)


async def journey(case: StoreCase) -> AsyncIterator[str]:
    """The whole pathway, one command at a time: yields the step's name after each append."""
    await case.open(cohorts=(Cohort.VETERAN, Cohort.CARE_LEAVER))
    yield "opened"
    case.advance(minutes=5)
    await case.claim(TaskKind.CONSENT)
    yield "consent claimed"
    case.advance(minutes=20)
    await case.complete(TaskKind.CONSENT, CONSENT_GIVEN)
    yield "consent given"
    case.advance(minutes=40)
    await case.complete(TaskKind.SCREENING, SCREENING)
    yield "screened"
    case.advance(hours=3)
    await case.complete(TaskKind.ASSESSMENT, ASSESSMENT)
    yield "assessed"
    case.advance(hours=2)
    await case.complete(TaskKind.SHARE_INFORMATION, SHARE)
    yield "information shared"
    case.advance(hours=20)
    await case.complete(TaskKind.REFERRAL_DECISION, REFERRAL)
    yield "referred"
    case.advance(days=8)
    await case.mark_overdue(TaskKind.CLOSURE)
    yield "closure overdue"
    case.advance(hours=1)
    await case.complete(TaskKind.CLOSURE, CLOSURE, actor=TEAM_LEAD)
    yield "closed"


async def run_journey(case: StoreCase) -> None:
    async for _ in journey(case):
        pass


async def count_events(store: EventStore, case_id: str | None = None) -> int:
    query = select(func.count()).select_from(schema.events)
    if case_id is not None:
        query = query.where(schema.events.c.case_id == case_id)
    async with store.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())
