"""The service report of a scripted November 2026, every figure checked against a hand count.

Journeys are built through the domain exactly as the workflow builds them (`decide` on the state,
`envelop`, `apply_all`) with controlled times. November is GMT, so UTC and UK time agree."""

from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import pytest
from pydantic import JsonValue

from domain.commands import (
    ChangeCohort,
    Command,
    CompleteTask,
    EscalateTask,
    LinkPerson,
    MarkOverdue,
    OpenCase,
    RecordDateOfBirth,
    RecordReferralOutcome,
    RecordReferralSent,
    RequestCourtReport,
    UnlinkPerson,
)
from domain.config import SiteConfig
from domain.decisions import DecisionContext
from domain.errors import RuleViolation
from domain.events import EpisodeOpenedFromHandOff, EventEnvelope
from domain.model import SYSTEM_ACTOR, Actor, AgeBand, Cohort, ReferralSource, Role, Setting, Sex
from domain.outcomes import (
    ConsentOutcome,
    ConsentScope,
    ContactOutcome,
    CourtReportOutcome,
    CourtReportPurpose,
    Disclosure,
    GoalArea,
    HearingResult,
    LawfulBasis,
    Recipient,
    ReferralDecisionOutcome,
    ReferralRequest,
    ReferralStatus,
    RiskLevel,
    ScreeningOutcome,
    ServiceType,
    ShareInformationOutcome,
    Urgency,
)
from domain.reporting import Period, RepeatContacts, ServiceReport, report_text, service_report, table_csv
from domain.rules import decide
from domain.state import CaseState, empty_state
from domain.stream import apply_all, envelop
from domain.tasks import TaskKind
from tests.store.support import ASSESSMENT, NORTH, PRACTITIONER, SOUTH, dump

NOVEMBER = Period.month("2026-11")
NORTH = NORTH.model_copy(update={"court_report_addresses": {Recipient.COURT: "listings@court.test"}})
LINK_WORKER = Actor(staff_id="lw-1", role=Role.LINK_WORKER)


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


class Journey:
    """One case driven through decide + envelop + apply, at the times the script sets."""

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self.state: CaseState = empty_state(f"case-{uuid4()}")
        self.envelopes: list[EventEnvelope] = []
        self.now = at(1, 0)

    def send(self, moment: datetime, command: Command) -> None:
        self.now = moment
        ctx = DecisionContext(now=moment, new_id=lambda: str(uuid4()), site=self.site)
        envelopes = envelop(self.state, decide(self.state, command, ctx), command.actor, moment, lambda: str(uuid4()))
        self.state = apply_all(self.state, envelopes)
        self.envelopes.extend(envelopes)

    def open(
        self,
        moment: datetime,
        setting: Setting,
        age: AgeBand = AgeBand.ADULT,
        *cohorts: Cohort,
        person_id: str | None = None,
        same_person_as: str | None = None,
    ) -> "Journey":
        command = OpenCase(
            actor=PRACTITIONER,
            site=self.site.site_id,
            setting=setting,
            source=ReferralSource.CUSTODY_STAFF,
            external_ref=f"REF/{uuid4().hex[:8]}",
            age_band=age,
            cohorts=cohorts,
            person_id=person_id,
            same_person_as=same_person_as,
        )
        self.send(moment, command)
        return self

    def task_id(self, kind: TaskKind) -> str:
        return next(t.task_id for t in self.state.open_tasks if t.kind is kind)

    def complete(self, moment: datetime, kind: TaskKind, outcome: dict[str, JsonValue]) -> None:
        actor = LINK_WORKER if kind is TaskKind.CONTACT else PRACTITIONER
        self.send(moment, CompleteTask(actor=actor, task_id=self.task_id(kind), outcome=outcome))

    def referral_id(self, service: ServiceType) -> str:
        return next(r.referral_id for r in self.state.referrals if r.request.service is service)

    def referral(self, moment: datetime, service: ServiceType, status: ReferralStatus, reason: str = "") -> None:
        command = RecordReferralOutcome(
            actor=PRACTITIONER, referral_id=self.referral_id(service), status=status, reason=reason
        )
        self.send(moment, command)

    def sent(self, moment: datetime) -> None:
        for referral in self.state.referrals:
            self.send(moment, RecordReferralSent(actor=SYSTEM_ACTOR, referral_id=referral.referral_id, channel="email"))


def consent(*scope: ConsentScope, declined: bool = False, child: bool = False) -> dict[str, JsonValue]:
    guardian: dict[str, Any] = {"parent_or_guardian_involved": True} if child else {}
    if declined:
        return dump(ConsentOutcome(decision="declined", **guardian))
    return dump(ConsentOutcome(decision="given", scope=[ConsentScope.ASSESSMENT, *scope], **guardian))


def screening(assessment_needed: bool) -> dict[str, JsonValue]:
    outcome = ScreeningOutcome(
        instrument="ld-screen",
        instrument_version="2",
        urgency=Urgency.URGENT,
        risk_level=RiskLevel.MEDIUM,
        assessment_needed=assessment_needed,
    )
    return dump(outcome)


def share(*recipients: Recipient) -> dict[str, JsonValue]:
    disclosures = [
        Disclosure(recipient=r, purpose="fitness for interview", lawful_basis=LawfulBasis.CONSENT, summary="needs")
        for r in recipients
    ]
    return dump(ShareInformationOutcome(disclosures=disclosures))


def referrals(*services: ServiceType, goals: tuple[GoalArea, ...] = ()) -> dict[str, JsonValue]:
    requests = [ReferralRequest(service=s, reason="needs support") for s in services]
    return dump(ReferralDecisionOutcome(referrals=requests, link_work_goals=list(goals)))


REPORT = dump(CourtReportOutcome(presenting_needs="low mood", risk=RiskLevel.LOW, recommendations="community order"))


def case_a() -> Journey:
    """North, custody, adult woman: screened in 60 minutes (SLA 120), assessed, shared with police and
    court, two referrals (mental health: accepted, attended, engaged; housing: rejected), link work
    with one contact attended in November and one in December (outside the period)."""
    a = Journey(NORTH).open(at(3, 10), Setting.CUSTODY, AgeBand.ADULT, Cohort.WOMENS_PATHWAY)
    a.complete(at(3, 10, 10), TaskKind.CONSENT, consent(ConsentScope.SHARE_POLICE, ConsentScope.SHARE_COURT))
    a.complete(at(3, 11), TaskKind.SCREENING, screening(assessment_needed=True))
    a.complete(at(3, 14), TaskKind.ASSESSMENT, ASSESSMENT)
    a.complete(at(3, 15), TaskKind.SHARE_INFORMATION, share(Recipient.CUSTODY_SERGEANT, Recipient.COURT))
    decision = referrals(ServiceType.MENTAL_HEALTH, ServiceType.HOUSING, goals=(GoalArea.HOUSING,))
    a.complete(at(4, 9), TaskKind.REFERRAL_DECISION, decision)
    a.sent(at(4, 9, 5))
    a.referral(at(5, 10), ServiceType.MENTAL_HEALTH, ReferralStatus.ACCEPTED)
    a.referral(at(5, 11), ServiceType.HOUSING, ReferralStatus.REJECTED, reason="no capacity")
    a.complete(at(11, 10), TaskKind.CONTACT, dump(ContactOutcome(attendance="attended")))
    a.referral(at(12, 10), ServiceType.MENTAL_HEALTH, ReferralStatus.ATTENDED)
    a.referral(at(20, 10), ServiceType.MENTAL_HEALTH, ReferralStatus.ENGAGED)
    a.complete(at(2, 10, month=12), TaskKind.CONTACT, dump(ContactOutcome(attendance="attended")))
    return a


def case_b() -> Journey:
    """North, magistrates' court, adult veteran: screening overdue at its deadline (12:00) and escalated,
    screened at 13:00 (240 minutes, outside the SLA), no assessment; shared with probation; a
    veterans' referral the person declined; two court reports, one on time and one late."""
    b = Journey(NORTH).open(at(10, 9), Setting.MAGISTRATES_COURT, AgeBand.ADULT, Cohort.VETERAN)
    scope = (ConsentScope.SHARE_PROBATION, ConsentScope.SHARE_COURT)
    b.complete(at(10, 9, 30), TaskKind.CONSENT, consent(*scope))
    b.send(at(10, 12), MarkOverdue(actor=SYSTEM_ACTOR, task_id=b.task_id(TaskKind.SCREENING)))
    b.send(at(10, 12, 30), EscalateTask(actor=SYSTEM_ACTOR, task_id=b.task_id(TaskKind.SCREENING)))
    b.complete(at(10, 13), TaskKind.SCREENING, screening(assessment_needed=False))
    b.complete(at(10, 14), TaskKind.SHARE_INFORMATION, share(Recipient.PROBATION))
    b.complete(at(10, 15), TaskKind.REFERRAL_DECISION, referrals(ServiceType.VETERANS_SUPPORT))
    b.sent(at(10, 15, 5))
    b.referral(at(11, 9), ServiceType.VETERANS_SUPPORT, ReferralStatus.DECLINED_BY_PERSON)
    for requested, hearing, submitted in (
        (at(10, 16), at(12, 10), at(12, 8, 30)),
        (at(20, 8), at(21, 10), at(21, 9, 30)),
    ):
        command = RequestCourtReport(
            actor=PRACTITIONER,
            purpose=CourtReportPurpose.BAIL_OR_REMAND,
            hearing_at=hearing,
            recipients=(Recipient.COURT,),
        )
        b.send(requested, command)
        b.complete(submitted, TaskKind.COURT_REPORT, REPORT)
    return b


def case_c() -> Journey:
    """South, youth court, a child who declined consent (the case closes)."""
    c = Journey(SOUTH).open(at(20, 10), Setting.YOUTH_COURT, AgeBand.CHILD)
    c.complete(at(20, 10, 30), TaskKind.CONSENT, consent(declined=True, child=True))
    return c


def case_d() -> Journey:
    """North, custody, adult: identified on 31 October at 23:30, screened on 1 November at 00:40 (70
    minutes, within its 120): screened in November, identified in October."""
    d = Journey(NORTH).open(at(31, 23, 30, month=10), Setting.CUSTODY)
    d.complete(at(1, 0, 5), TaskKind.CONSENT, consent(ConsentScope.SHARE_POLICE))
    d.complete(at(1, 0, 40), TaskKind.SCREENING, screening(assessment_needed=True))
    return d


def case_e() -> Journey:
    """North, community, adult veteran woman: identified at 23:50 on the last day; nothing else."""
    return Journey(NORTH).open(at(30, 23, 50), Setting.COMMUNITY, AgeBand.ADULT, Cohort.VETERAN, Cohort.WOMENS_PATHWAY)


def case_f() -> Journey:
    """North, custody: identified at midnight starting December, so not in November at all."""
    f = Journey(NORTH).open(at(1, 0, month=12), Setting.CUSTODY)
    f.complete(at(1, 0, 30, month=12), TaskKind.CONSENT, consent(ConsentScope.SHARE_POLICE))
    return f


@pytest.fixture(scope="module")
def streams() -> list[list[EventEnvelope]]:
    return [journey().envelopes for journey in (case_a, case_b, case_c, case_d, case_e, case_f)]


@pytest.fixture(scope="module")
def report(streams: list[list[EventEnvelope]]) -> ServiceReport:
    return service_report(streams, NOVEMBER, ["north", "south"])


ZERO = {
    "identified": 0,
    "screened": 0,
    "assessed": 0,
    "declined": 0,
    "safeguarding_overrides": 0,
    "shared_police": 0,
    "shared_court": 0,
    "shared_probation": 0,
    "shared_youth_justice": 0,
    "shared_other": 0,
    "court_reports": 0,
    "court_reports_on_time": 0,
    "referrals": 0,
    "support_started": 0,
    "support_completed": 0,
    "support_ended_early": 0,
    "contacts_attended": 0,
    "overdue_tasks": 0,
    "escalations": 0,
}


def counts(**figures: int) -> dict[str, int]:
    return ZERO | figures


# By hand: A, B, C, E identified in November (D in October, F in December); A, B, D screened.
A_COUNTS = counts(
    identified=1, screened=1, assessed=1, shared_police=1, shared_court=1, referrals=2, support_started=1,
    contacts_attended=1,
)  # fmt: skip
B_COUNTS = counts(
    identified=1, screened=1, shared_probation=1, court_reports=2, court_reports_on_time=1, referrals=1,
    overdue_tasks=1, escalations=1,
)  # fmt: skip
C_COUNTS = counts(identified=1, declined=1)
D_COUNTS = counts(screened=1)
E_COUNTS = counts(identified=1)


def add(*many: dict[str, int]) -> dict[str, int]:
    return {key: sum(c[key] for c in many) for key in ZERO}


def test_the_totals(report: ServiceReport) -> None:
    assert report.totals.counts == counts(
        identified=4, screened=3, assessed=1, declined=1, shared_police=1, shared_court=1, shared_probation=1,
        court_reports=2, court_reports_on_time=1, referrals=3, support_started=1, contacts_attended=1,
        overdue_tasks=1, escalations=1,
    )  # fmt: skip
    assert report.totals.counts == add(A_COUNTS, B_COUNTS, C_COUNTS, D_COUNTS, E_COUNTS)


def test_time_to_screening(report: ServiceReport) -> None:
    # A 60 minutes (due 12:00, within), D 70 (due 01:30, within), B 240 (due 12:00, outside).
    assert report.screening_minutes == [60, 70, 240]
    assert report.totals.screening_median_minutes == 70
    assert report.totals.screening_p90_minutes == 240  # nearest rank: ceil(0.9 * 3) = 3rd
    assert report.totals.screened_within_sla == 2
    assert report.totals.screened_within_sla_pct == 66.7
    histogram = {b.label: b.count for b in report.screening_histogram}
    assert histogram == {
        "0m to 30m": 0,
        "30m to 1h": 0,
        "1h to 2h": 2,
        "2h to 3h": 0,
        "3h to 4h": 0,
        "4h to 8h": 1,
        "8h+": 0,
    }


def test_by_site(report: ServiceReport) -> None:
    rows = {row.group: row.figures for row in report.by_site}
    assert list(rows) == ["north", "south"]
    assert rows["north"].counts == add(A_COUNTS, B_COUNTS, D_COUNTS, E_COUNTS)
    assert rows["south"].counts == C_COUNTS
    assert rows["north"].screening_median_minutes == 70
    assert rows["south"].screening_median_minutes is None and rows["south"].screened_within_sla_pct is None


def test_by_setting(report: ServiceReport) -> None:
    rows = {row.group: row.figures.counts for row in report.by_setting}
    assert rows["custody"] == add(A_COUNTS, D_COUNTS)
    assert rows["magistrates_court"] == B_COUNTS
    assert rows["youth_court"] == C_COUNTS
    assert rows["community"] == E_COUNTS
    assert rows["crown_court"] == rows["voluntary_attendance"] == ZERO
    custody = next(row.figures for row in report.by_setting if row.group == "custody")
    assert (custody.screening_median_minutes, custody.screened_within_sla_pct) == (65, 100)


def test_by_cohort(report: ServiceReport) -> None:
    # A case counts in each of its cohorts; C and D have none.
    rows = {row.group: row.figures.counts for row in report.by_cohort}
    assert rows["womens_pathway"] == add(A_COUNTS, E_COUNTS)
    assert rows["veteran"] == add(B_COUNTS, E_COUNTS)
    assert rows["care_leaver"] == ZERO
    assert rows["none"] == add(C_COUNTS, D_COUNTS)


def test_by_age_band(report: ServiceReport) -> None:
    rows = {row.group: row.figures.counts for row in report.by_age_band}
    assert rows["child"] == C_COUNTS
    assert rows["adult"] == add(A_COUNTS, B_COUNTS, D_COUNTS, E_COUNTS)


def test_referrals_by_service_type(report: ServiceReport) -> None:
    rows = {row.service: (row.made, {k: v for k, v in row.outcomes.items() if v}) for row in report.referrals}
    assert rows[ServiceType.MENTAL_HEALTH] == (
        1,
        {ReferralStatus.ACCEPTED: 1, ReferralStatus.ATTENDED: 1, ReferralStatus.ENGAGED: 1},
    )
    assert rows[ServiceType.HOUSING] == (1, {ReferralStatus.REJECTED: 1})
    assert rows[ServiceType.VETERANS_SUPPORT] == (1, {ReferralStatus.DECLINED_BY_PERSON: 1})
    others = {
        service: row for service, row in rows.items() if service not in {"mental_health", "housing", "veterans_support"}
    }
    assert all(row == (0, {}) for row in others.values())


def test_the_monthly_trend(report: ServiceReport) -> None:
    assert [(m.month, m.identified, m.screened) for m in report.trend] == [
        ("2026-06", 0, 0),
        ("2026-07", 0, 0),
        ("2026-08", 0, 0),
        ("2026-09", 0, 0),
        ("2026-10", 1, 0),
        ("2026-11", 4, 3),
    ]


def test_a_past_month_is_the_same_whatever_happened_since(streams: list[list[EventEnvelope]]) -> None:
    cut = [[e for e in stream if e.occurred_at < NOVEMBER.end] for stream in streams]
    assert service_report(cut, NOVEMBER, ["north", "south"]) == service_report(streams, NOVEMBER, ["north", "south"])


def test_only_the_sites_asked_for(streams: list[list[EventEnvelope]]) -> None:
    south = service_report(streams, NOVEMBER, ["south"])
    assert south.totals.counts == C_COUNTS
    assert [row.group for row in south.by_site] == ["south"]
    assert [(m.identified, m.screened) for m in south.trend][-2:] == [(0, 0), (1, 0)]


def test_december_sees_only_december(streams: list[list[EventEnvelope]]) -> None:
    december = service_report(streams, Period.month("2026-12"), ["north", "south"])
    assert december.totals.counts == counts(identified=1, contacts_attended=1)


def test_a_period_with_no_data_is_an_empty_valid_report() -> None:
    empty = service_report([], Period.month("2026-11"), ["north"])
    assert empty.empty and empty.totals.counts == ZERO and empty.screening_minutes == []
    assert empty.totals.screening_median_minutes is None
    assert "Nothing happened in this period" in report_text(empty)
    assert all(table.rows for table in empty.tables())


def test_periods_follow_uk_time() -> None:
    july = Period.month("2026-07")
    assert (july.start, july.end) == (datetime(2026, 6, 30, 23, tzinfo=UTC), datetime(2026, 7, 31, 23, tzinfo=UTC))
    assert Period.between(date(2026, 11, 3), date(2026, 11, 3)).end == at(4, 0)
    assert july.label == "July 2026"


def test_a_backwards_range_and_a_bad_month_are_refused() -> None:
    with pytest.raises(RuleViolation, match="runs backwards") as refused:
        Period.between(date(2026, 11, 30), date(2026, 11, 1))
    assert refused.value.rule == "invalid_input"
    with pytest.raises(RuleViolation, match="YYYY-MM"):
        Period.month("November")


def test_text_and_csv(report: ServiceReport) -> None:
    text = report_text(report)
    assert "Service report, November 2026" in text and "Referrals by service type" in text
    tables = {table.name: table for table in report.tables()}
    assert list(tables) == [
        "summary", "by_site", "by_setting", "by_cohort", "by_age_band", "referrals", "time_to_screening",
        "monthly_trend", "repeat_contacts",
    ]  # fmt: skip
    site_csv = table_csv(tables["by_site"]).splitlines()
    assert site_csv[0].startswith("Site,Identified,Screened,Assessed,Declined")
    assert site_csv[1].startswith("north,3,3,1,0,")
    assert site_csv[1].endswith(",70,240,2,66.7")
    assert table_csv(tables["referrals"]).splitlines()[1] == "mental_health,1,1,0,0,1,0,1"


def test_a_late_entered_alert_counts_from_identification_and_its_overdue_task_is_counted() -> None:
    """Arrived in custody 21:40, entered 02:10 next day: the SLA (120 minutes) had passed at entry, so
    the consent task opened overdue; screening at 03:00 is 320 minutes after identification, outside."""
    late = Journey(NORTH)
    opening = OpenCase(
        actor=PRACTITIONER,
        site="north",
        setting=Setting.CUSTODY,
        source=ReferralSource.CUSTODY_STAFF,
        external_ref=f"REF/{uuid4().hex[:8]}",
        age_band=AgeBand.CHILD,
        sex=Sex.FEMALE,
        identified_at=at(9, 21, 40),
    )
    late.send(at(10, 2, 10), opening)
    late.complete(at(10, 2, 20), TaskKind.CONSENT, consent(child=True))
    late.send(
        at(10, 2, 50),
        ChangeCohort(actor=PRACTITIONER, cohort=Cohort.VETERAN, member=True, reason="served before"),
    )
    outcome = screening(assessment_needed=False) | {"womens_pathway": "accepted"}
    late.complete(at(10, 3), TaskKind.SCREENING, outcome)
    late.send(
        at(10, 3, 5),
        RecordDateOfBirth(actor=PRACTITIONER, date_of_birth="1990-01-01", age_band=AgeBand.ADULT),
    )
    figures = service_report([late.envelopes], NOVEMBER, ["north"])
    assert figures.screening_minutes == [320]
    assert figures.totals.screened_within_sla == 0
    assert figures.totals.counts["overdue_tasks"] == 1
    # Grouped as the case stands: on the women's pathway and the veterans' cohort, an adult's case.
    cohorts = {row.group: row.figures.counts["identified"] for row in figures.by_cohort}
    assert {group for group, identified in cohorts.items() if identified} == {"womens_pathway", "veteran"}
    bands = {row.group: row.figures.counts["identified"] for row in figures.by_age_band}
    assert bands == {"child": 0, "adult": 1}


# --- repeat contacts (issue 19) ----------------------------------------------------------------


def person(number: int) -> str:
    return f"person-00000000-0000-4000-8000-{number:012d}"


P1, P1_OWN, P2, P3, P5, P6, P7 = (person(n) for n in (1, 11, 2, 3, 5, 6, 7))


def episode(site: SiteConfig, moment: datetime, own: str | None, same_person_as: str | None = None) -> Journey:
    return Journey(site).open(moment, Setting.CUSTODY, person_id=own, same_person_as=same_person_as)


def linked(journey: Journey, moment: datetime, to: str) -> Journey:
    journey.send(moment, LinkPerson(actor=PRACTITIONER, person_id=to, basis="known to the team"))
    return journey


def unlinked(journey: Journey, moment: datetime) -> Journey:
    journey.send(moment, UnlinkPerson(actor=PRACTITIONER, reason="a different man of the same name"))
    return journey


def handed_off_to_reconnect(moment: datetime, person_id: str) -> list[EventEnvelope]:
    """A RECONNECT episode opened by a hand-off: the same person, but not a new contact."""
    opened = EpisodeOpenedFromHandOff(
        linked_case_id="case-handed-off",
        site="north",
        setting=Setting.CUSTODY,
        age_band=AgeBand.ADULT,
        service_id="north-reconnect",
        hearing_result=HearingResult.CUSTODIAL_SENTENCE,
        engage_before_release_weeks=12,
        support_after_release_months=6,
        person_id=person_id,
    )
    envelope = EventEnvelope(
        event_id=str(uuid4()), case_id=f"case-{uuid4()}", seq=1, occurred_at=moment, actor=SYSTEM_ACTOR, event=opened
    )
    return [envelope]


@pytest.fixture(scope="module")
def people() -> list[list[EventEnvelope]]:
    """By hand, November (GMT, so UTC days are UK days):
    - P1: 2 Nov north; 12 Nov south (own P1_OWN, linked at opening by an NHS number); 30 Nov 22:00 north
      (own P7, linked by a practitioner at 23:00); 3 Dec north. And a RECONNECT episode of P1 on 20 Nov,
      which is no contact.
    - P2: 20 Oct north (before the period); 5 Nov north; 25 Nov north, an episode from before people
      were kept, linked to P2 on 26 Nov.
    - P3: 1 Nov north; 15 Nov north linked at opening to P3 then unlinked on 16 Nov (its own P5).
    - P6: 20 Nov north, its own person in November (linked to P3 on 2 Dec).
    - Two episodes from before people were kept, 3 and 4 Nov north: each its own person.
    """
    p1_first = episode(NORTH, at(2, 10), P1)
    p1_second = episode(SOUTH, at(12, 9), P1_OWN, same_person_as=P1)
    p1_third = linked(episode(NORTH, at(30, 22), P7), at(30, 23), P1)
    p1_december = episode(NORTH, at(3, 9, month=12), P1)
    p2_october = episode(NORTH, at(20, 9, month=10), P2)
    p2_november = episode(NORTH, at(5, 9), P2)
    p2_old_linked = linked(episode(NORTH, at(25, 9), None), at(26, 9), P2)
    p3 = episode(NORTH, at(1, 9), P3)
    unlinked_from_p3 = unlinked(episode(NORTH, at(15, 9), P5, same_person_as=P3), at(16, 9))
    linked_later = linked(episode(NORTH, at(20, 9), P6), at(2, 9, month=12), P3)
    old = [episode(NORTH, at(day, 9), None) for day in (3, 4)]
    journeys = [
        p1_first, p1_second, p1_third, p1_december, p2_october, p2_november, p2_old_linked, p3,
        unlinked_from_p3, linked_later, *old,
    ]  # fmt: skip
    return [j.envelopes for j in journeys] + [handed_off_to_reconnect(at(20, 12), P1)]


def test_repeat_contacts_count_people_and_the_days_since_their_previous_episode(
    people: list[list[EventEnvelope]],
) -> None:
    report = service_report(people, NOVEMBER, ["north", "south"])
    # Ten episodes identified in November, of seven people: P1 (2, 12, 30 Nov), P2 (5, 25 Nov), P3, P5,
    # P6 and the two old episodes. Days: P1 2->12 = 10 and 12->30 = 18; P2 20 Oct->5 Nov = 16 and
    # 5->25 Nov = 20. Median of [10, 16, 18, 20] = 17; 90th percentile: the ceil(3.6) = 4th, 20.
    assert report.totals.counts["identified"] == 10
    assert report.repeat_contacts == RepeatContacts(
        people=7,
        people_with_two_or_more=2,
        two_or_more_pct=28.6,
        days_since_previous=[10, 16, 18, 20],
        median_days=17,
        p90_days=20,
    )


def test_repeat_contacts_only_at_the_sites_asked_for(people: list[list[EventEnvelope]]) -> None:
    # Without south, P1's 12 Nov episode is not read: P1 is seen on 2 and 30 Nov, 28 days apart.
    north = service_report(people, NOVEMBER, ["north"]).repeat_contacts
    assert (north.people, north.people_with_two_or_more, north.days_since_previous) == (7, 2, [16, 20, 28])
    assert (north.median_days, north.p90_days) == (20, 28)


def test_repeat_contacts_of_a_month_ignore_what_came_after_it(people: list[list[EventEnvelope]]) -> None:
    cut = [[e for e in stream if e.occurred_at < NOVEMBER.end] for stream in people]
    assert service_report(cut, NOVEMBER, ["north"]) == service_report(people, NOVEMBER, ["north"])
    # December: P1 only (3 Dec), 3 days after their 30 November episode; P6's later link changes nothing.
    december = service_report(people, Period.month("2026-12"), ["north", "south"]).repeat_contacts
    assert december == RepeatContacts(
        people=1, people_with_two_or_more=0, two_or_more_pct=0, days_since_previous=[3], median_days=3, p90_days=3
    )


def test_episodes_from_before_people_were_kept_are_each_their_own_person(report: ServiceReport) -> None:
    # The scripted November: A, B, C and E identified, none with a person id.
    assert report.repeat_contacts == RepeatContacts(people=4, people_with_two_or_more=0, two_or_more_pct=0)
    empty = service_report([], NOVEMBER, ["north"]).repeat_contacts
    assert empty == RepeatContacts() and empty.two_or_more_pct is None and empty.median_days is None


def test_repeat_contacts_in_text_and_csv(people: list[list[EventEnvelope]]) -> None:
    report = service_report(people, NOVEMBER, ["north", "south"])
    repeat = {table.name: table for table in report.tables()}["repeat_contacts"]
    assert table_csv(repeat).splitlines() == [
        "Measure,Value",
        "People with an episode in the period,7",
        "People with 2 or more episodes in the period,2",
        "% of people with 2 or more,28.6",
        "Episodes of a person seen before,4",
        "Median days since the previous episode,17",
        "90th percentile days since the previous episode,20",
    ]
    text = report_text(report)
    assert "Repeat contacts" in text
    assert any(
        line.split() == ["Median", "days", "since", "the", "previous", "episode", "17"] for line in text.splitlines()
    )
