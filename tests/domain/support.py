"""Helpers for the domain tests: deterministic ids, actors, outcome builders and a case driver."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import JsonValue

from domain.commands import ClaimTask, Command, CompleteTask, OpenCase
from domain.config import Instrument, OperatingHours, Service, SiteConfig
from domain.decisions import DecisionContext
from domain.errors import RuleViolation
from domain.events import DomainEvent, EventEnvelope
from domain.model import Actor, AgeBand, Cohort, ReferralSource, Role, Setting, Stage
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
    SafeguardingOverride,
    ScreeningOutcome,
    ServiceType,
    ShareInformationOutcome,
    Urgency,
    Vulnerability,
    VulnerabilityDomain,
)
from domain.rules import decide
from domain.state import CaseState, empty_state
from domain.stream import apply_all, envelop
from domain.tasks import Task, TaskKind

# A Monday morning in winter (GMT, so UTC and London agree).
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

SITE_ID = "demo"
SCREENING_INSTRUMENT = ("ld-screen", "2")
ADULT_ASSESSMENT = ("ld-assess", "1")
CHILD_ASSESSMENT = ("chat", "4")

PRACTITIONER = Actor(staff_id="prac-1", role=Role.PRACTITIONER)
OTHER_PRACTITIONER = Actor(staff_id="prac-2", role=Role.PRACTITIONER)
TEAM_LEAD = Actor(staff_id="lead-1", role=Role.TEAM_LEAD)
LINK_WORKER = Actor(staff_id="link-1", role=Role.LINK_WORKER)
AUDITOR = Actor(staff_id="audit-1", role=Role.AUDITOR)
OPERATOR = Actor(staff_id="ops-1", role=Role.OPERATOR)


class Ids:
    """A deterministic id source: prefix-1, prefix-2, ..."""

    def __init__(self, prefix: str = "id", start: int = 0) -> None:
        self.prefix = prefix
        self.count = start

    def __call__(self) -> str:
        self.count += 1
        return f"{self.prefix}-{self.count}"


class Case:
    """Drives one case through decide + envelop + apply_all, keeping every envelope."""

    def __init__(self, site: SiteConfig, case_id: str = "case-1", now: datetime = NOW) -> None:
        self.site = site
        self.now = now
        self.ids = Ids()
        self.state: CaseState = empty_state(case_id)
        self.envelopes: list[EventEnvelope] = []

    def ctx(self) -> DecisionContext:
        return DecisionContext(now=self.now, new_id=self.ids, site=self.site)

    def decide(self, command: Command) -> list[DomainEvent]:
        """The events `command` would produce, without recording them."""
        return decide(self.state, command, self.ctx())

    def send(self, command: Command) -> list[DomainEvent]:
        events = decide(self.state, command, self.ctx())
        envelopes = envelop(self.state, events, command.actor, self.now, self.ids)
        self.state = apply_all(self.state, envelopes)
        self.envelopes.extend(envelopes)
        return events

    def stage(self) -> Stage | None:
        """The current stage (a call, so type checkers do not carry narrowing across commands)."""
        return self.state.stage

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def task(self, kind: TaskKind) -> Task:
        """The one open task of `kind`."""
        tasks = [t for t in self.state.open_tasks if t.kind is kind]
        assert len(tasks) == 1, f"expected one open {kind} task, found {tasks}"
        return tasks[0]

    def complete(self, kind: TaskKind, outcome: dict[str, JsonValue], actor: Actor = PRACTITIONER) -> list[DomainEvent]:
        return self.send(CompleteTask(actor=actor, task_id=self.task(kind).task_id, outcome=outcome))

    def claim(self, kind: TaskKind, actor: Actor) -> list[DomainEvent]:
        return self.send(ClaimTask(actor=actor, task_id=self.task(kind).task_id))


def open_case(
    setting: Setting = Setting.CUSTODY,
    age_band: AgeBand = AgeBand.ADULT,
    actor: Actor = PRACTITIONER,
    site: str = SITE_ID,
    cohorts: tuple[Cohort, ...] = (),
) -> OpenCase:
    return OpenCase(
        actor=actor,
        site=site,
        setting=setting,
        source=ReferralSource.CUSTODY_STAFF,
        external_ref="CUST/2026/0001",
        age_band=age_band,
        cohorts=cohorts,
    )


def dump(model: Any) -> dict[str, JsonValue]:
    result: dict[str, JsonValue] = model.model_dump(mode="json")
    return result


def consent_given(*scope: ConsentScope, guardian: bool | None = None) -> dict[str, JsonValue]:
    chosen = scope or (ConsentScope.ASSESSMENT, ConsentScope.SHARE_POLICE, ConsentScope.SHARE_COURT)
    return dump(ConsentOutcome(decision="given", scope=list(chosen), parent_or_guardian_involved=guardian))


def consent_declined(override: LawfulBasis | None = None) -> dict[str, JsonValue]:
    safeguarding = (
        SafeguardingOverride(lawful_basis=override, justification="serious risk of self-harm tonight")
        if override is not None
        else None
    )
    return dump(ConsentOutcome(decision="declined", safeguarding_override=safeguarding))


def screening(
    assessment_needed: bool = True,
    urgency: Urgency = Urgency.URGENT,
    instrument: tuple[str, str] = SCREENING_INSTRUMENT,
) -> dict[str, JsonValue]:
    return dump(
        ScreeningOutcome(
            instrument=instrument[0],
            instrument_version=instrument[1],
            urgency=urgency,
            domains=[VulnerabilityDomain.MENTAL_HEALTH, VulnerabilityDomain.HOUSING],
            risk_level=RiskLevel.MEDIUM,
            assessment_needed=assessment_needed,
        )
    )


def assessment(instrument: tuple[str, str] = ADULT_ASSESSMENT) -> dict[str, JsonValue]:
    return dump(
        AssessmentOutcome(
            instrument=instrument[0],
            instrument_version=instrument[1],
            answers={"q1": 3, "q2": "often"},
            score=14,
            vulnerabilities=[Vulnerability(domain=VulnerabilityDomain.MENTAL_HEALTH, severity="moderate")],
            recommended_services=[ServiceType.MENTAL_HEALTH, ServiceType.HOUSING],
        )
    )


def disclosure(
    recipient: Recipient = Recipient.CUSTODY_SERGEANT, basis: LawfulBasis = LawfulBasis.CONSENT
) -> Disclosure:
    return Disclosure(
        recipient=recipient,
        purpose="fitness for interview",
        lawful_basis=basis,
        summary="Known to community mental health team; needs an appropriate adult.",
    )


def share(*disclosures: Disclosure) -> dict[str, JsonValue]:
    if not disclosures:
        return dump(ShareInformationOutcome(reason_if_none="nothing relevant to the charge"))
    return dump(ShareInformationOutcome(disclosures=list(disclosures)))


def referral_decision(*services: ServiceType) -> dict[str, JsonValue]:
    if not services:
        return dump(ReferralDecisionOutcome(reason_if_none="already engaged with services"))
    return dump(
        ReferralDecisionOutcome(referrals=[ReferralRequest(service=s, reason="needs support") for s in services])
    )


def closure(
    reason: ClosureReason = ClosureReason.PATHWAY_COMPLETE, justice: JusticeOutcome | None = None
) -> dict[str, JsonValue]:
    return dump(ClosureOutcome(reason=reason, justice_outcome=justice))


def open_task_kinds(state: CaseState) -> list[TaskKind]:
    return sorted(task.kind for task in state.open_tasks)


def make_site(operating_hours: OperatingHours | None = None) -> SiteConfig:
    """The test site: every setting but community, default SLAs, one screening and two assessment instruments."""
    return SiteConfig(
        site_id=SITE_ID,
        name="Demo liaison and diversion service",
        settings=tuple(s for s in Setting if s is not Setting.COMMUNITY),
        operating_hours=operating_hours or OperatingHours(),
        screening_instruments=(Instrument(id=SCREENING_INSTRUMENT[0], version=SCREENING_INSTRUMENT[1]),),
        assessment_instruments=(
            Instrument(id=ADULT_ASSESSMENT[0], version=ADULT_ASSESSMENT[1], age_bands=(AgeBand.ADULT,)),
            Instrument(id=CHILD_ASSESSMENT[0], version=CHILD_ASSESSMENT[1], age_bands=(AgeBand.CHILD,)),
        ),
        services=tuple(
            Service(
                service_id=f"{service_type}-1",
                name=f"Test {service_type} service",
                type=service_type,
                sites=(SITE_ID,),
                delivery="email",
                address=f"{service_type}@services.test",
            )
            for service_type in ServiceType
        ),
    )


def refused(case: Case, command: Command, rule: str) -> RuleViolation:
    """Send `command`, expect a refusal naming `rule`, and check nothing about the case changed."""
    before = case.state.model_copy(deep=True)
    recorded = len(case.envelopes)
    with pytest.raises(RuleViolation) as caught:
        case.send(command)
    assert caught.value.rule == rule, caught.value.message
    assert case.state == before
    assert len(case.envelopes) == recorded
    return caught.value
