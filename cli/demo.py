"""Demo cases at every stage of the pathway, so the dev stack has something to look at.

Seeding is idempotent: each case is started by its reference (an existing one is found again) and
only the tasks still open are completed, so an interrupted seed can simply run again.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.commands import OpenCase, RequestCourtReport
from domain.model import AgeBand, Cohort, Person, ReferralSource, Setting
from domain.outcomes import CourtReportPurpose, Recipient
from domain.state import CaseState
from domain.tasks import TaskKind
from service.cases import CaseService
from service.identity import principal_for_staff

PRACTITIONER = "pr-001"

ADULT_OUTCOMES: dict[TaskKind, dict[str, Any]] = {
    TaskKind.CONSENT: {
        "decision": "given",
        "scope": ["assessment", "share_court", "share_police", "share_probation", "share_defence"],
    },
    TaskKind.SCREENING: {
        "instrument": "ld-screen",
        "instrument_version": "2019",
        "urgency": "urgent",
        "domains": ["mental_health", "substance_misuse", "housing"],
        "risk_level": "medium",
        "assessment_needed": True,
        "note": "Low mood, recent loss of tenancy.",
    },
    TaskKind.ASSESSMENT: {
        "instrument": "ld-assess",
        "instrument_version": "2019",
        "answers": {"mood": 2, "sleep": 1, "alcohol_units_per_week": 40},
        "score": 17,
        "vulnerabilities": [
            {"domain": "mental_health", "severity": "moderate"},
            {"domain": "alcohol", "severity": "severe"},
        ],
        "safeguarding_actions": ["Custody sergeant told of self-harm risk"],
        "recommended_services": ["mental_health", "substance_misuse", "housing"],
    },
    TaskKind.SHARE_INFORMATION: {
        "disclosures": [
            {
                "recipient": "court",
                "purpose": "bail decision",
                "lawful_basis": "consent",
                "summary": "Moderate depression and alcohol dependence; engaged with L&D; housing needed.",
            }
        ]
    },
    TaskKind.REFERRAL_DECISION: {
        "referrals": [
            {"service": "substance_misuse", "reason": "Alcohol dependence", "urgency": "urgent"},
            {"service": "housing", "reason": "No fixed abode since losing tenancy", "urgency": "routine"},
        ]
    },
    TaskKind.CLOSURE: {"reason": "pathway_complete", "justice_outcome": "community_order_with_treatment_requirement"},
}

CHILD_OUTCOMES: dict[TaskKind, dict[str, Any]] = {
    **ADULT_OUTCOMES,
    TaskKind.CONSENT: {
        "decision": "given",
        "scope": ["assessment", "share_court", "share_youth_justice", "share_defence"],
        "parent_or_guardian_involved": True,
    },
    TaskKind.SCREENING: {**ADULT_OUTCOMES[TaskKind.SCREENING], "instrument": "chat-screen", "instrument_version": "4"},
    TaskKind.ASSESSMENT: {
        **ADULT_OUTCOMES[TaskKind.ASSESSMENT],
        "instrument": "chat",
        "instrument_version": "4",
        "recommended_services": ["camhs", "youth_justice", "substance_misuse"],
    },
    TaskKind.SHARE_INFORMATION: {
        "disclosures": [
            {
                "recipient": "youth_offending_team",
                "purpose": "bail support plan",
                "lawful_basis": "consent",
                "summary": "Low mood and alcohol use; engaged with L&D; lives with mother.",
            }
        ]
    },
    # A child's services: CAMHS, not the adult mental health team, and the youth justice service.
    TaskKind.REFERRAL_DECISION: {
        "referrals": [
            {"service": "camhs", "reason": "Low mood, not sleeping", "urgency": "urgent"},
            {"service": "youth_justice", "reason": "Bail support", "urgency": "routine"},
        ]
    },
}

LINK_WORK_OUTCOMES: dict[TaskKind, dict[str, Any]] = {
    **ADULT_OUTCOMES,
    TaskKind.REFERRAL_DECISION: {
        **ADULT_OUTCOMES[TaskKind.REFERRAL_DECISION],
        "link_work_goals": ["housing", "addictions", "wellbeing"],
    },
}

WOMENS_OUTCOMES: dict[TaskKind, dict[str, Any]] = {
    **ADULT_OUTCOMES,
    TaskKind.REFERRAL_DECISION: {
        "referrals": [
            {"service": "womens_centre", "reason": "Peer support and practical help", "urgency": "routine"},
            {"service": "domestic_abuse_support", "reason": "Disclosed abuse by partner", "urgency": "urgent"},
        ],
        "link_work_goals": ["housing", "relationships", "wellbeing"],
    },
}

REPEAT_NHS_NUMBER = "9434765919"

JOURNEY = [
    TaskKind.CONSENT,
    TaskKind.SCREENING,
    TaskKind.ASSESSMENT,
    TaskKind.SHARE_INFORMATION,
    TaskKind.REFERRAL_DECISION,
    TaskKind.CLOSURE,
]


@dataclass(frozen=True)
class DemoCase:
    ref: str
    setting: Setting
    steps: int  # how many journey tasks to complete
    age_band: AgeBand = AgeBand.ADULT
    cohorts: tuple[Cohort, ...] = ()
    outcomes: dict[TaskKind, dict[str, Any]] = field(default_factory=lambda: ADULT_OUTCOMES)
    hearing_in_minutes: int | None = None  # ask for a court report for a hearing this far ahead
    # The person: "Demo Person N" born on N's demo birthday, unless named here; `born_as` takes the
    # birthday of an earlier demo case's person (a repeat contact: issue 19).
    name: str | None = None
    nhs_number: str | None = None
    born_as: int | None = None


DEMO_CASES = [
    DemoCase("DEMO-CUST-0001", Setting.CUSTODY, steps=0),
    DemoCase("DEMO-CUST-0002", Setting.CUSTODY, steps=1, cohorts=(Cohort.VETERAN,)),
    DemoCase("DEMO-MAG-0003", Setting.MAGISTRATES_COURT, steps=2, name="Robin Demoson"),
    DemoCase("DEMO-CUST-0004", Setting.CUSTODY, steps=3, cohorts=(Cohort.WOMENS_PATHWAY,)),
    DemoCase("DEMO-YTH-0005", Setting.YOUTH_COURT, steps=4, age_band=AgeBand.CHILD, outcomes=CHILD_OUTCOMES),
    DemoCase("DEMO-VA-0006", Setting.VOLUNTARY_ATTENDANCE, steps=5),
    DemoCase("DEMO-CUST-0007", Setting.CUSTODY, steps=6, nhs_number=REPEAT_NHS_NUMBER),
    # Link work: support for 28 demo "days" (minutes), then follow-ups; the housing referral is
    # chased after 6 minutes and escalated after 12 unless someone records the service's answer.
    DemoCase("DEMO-CUST-0008", Setting.CUSTODY, steps=5, outcomes=LINK_WORK_OUTCOMES),
    DemoCase("DEMO-CUST-0009", Setting.CUSTODY, steps=5, cohorts=(Cohort.WOMENS_PATHWAY,), outcomes=WOMENS_OUTCOMES),
    # A bail report due 10 minutes before a hearing in 20: reminded, then escalated if nobody writes it.
    DemoCase("DEMO-MAG-0010", Setting.MAGISTRATES_COURT, steps=2, hearing_in_minutes=20),
    # Seen before: 0007's person back in custody (the NHS number links them at once), and a name and
    # date of birth like 0003's (a practitioner is asked whether it is the same person).
    DemoCase("DEMO-CUST-0011", Setting.CUSTODY, steps=1, nhs_number=REPEAT_NHS_NUMBER, born_as=7),
    DemoCase("DEMO-CUST-0012", Setting.CUSTODY, steps=0, name="Robin Demoson", born_as=3),
]


async def seed_demo_cases(cases: CaseService, site: str = "demo") -> list[str]:
    """Start the demo cases and move each to its stage, through the service as the demo practitioner
    (so the seed is recorded like anyone's work); returns their case ids."""
    practitioner = principal_for_staff(cases.config, PRACTITIONER)
    actor = practitioner.actor
    case_ids = []
    for number, demo in enumerate(DEMO_CASES, start=1):
        state: CaseState = await cases.start_case(
            practitioner,
            OpenCase(
                actor=actor,
                site=site,
                setting=demo.setting,
                source=ReferralSource.COURT_STAFF if "court" in demo.setting else ReferralSource.CUSTODY_STAFF,
                external_ref=demo.ref,
                age_band=demo.age_band,
                cohorts=demo.cohorts,
                person=Person(
                    name=demo.name or f"Demo Person {number}",
                    date_of_birth=_demo_birthday(demo.age_band, demo.born_as or number),
                    nhs_number=demo.nhs_number,
                ),
            ),
        )
        for kind in JOURNEY[: demo.steps]:
            open_of_kind = [t for t in state.open_tasks if t.kind is kind]
            if open_of_kind:
                state = await cases.complete(practitioner, open_of_kind[0].task_id, demo.outcomes[kind])
        if demo.hearing_in_minutes and not state.court_reports:
            request = RequestCourtReport(
                actor=actor,
                purpose=CourtReportPurpose.BAIL_OR_REMAND,
                hearing_at=datetime.now(UTC) + timedelta(minutes=demo.hearing_in_minutes),
                recipients=(Recipient.COURT, Recipient.DEFENCE),
            )
            state = await cases.change_case(practitioner, state.case_id, request)
        case_ids.append(state.case_id)
    return case_ids


def _demo_birthday(age_band: AgeBand, number: int) -> str:
    """A child of 15 or an adult of 41 whenever the demo runs (the band must agree with the date)."""
    today = date.today()
    years = 15 if age_band is AgeBand.CHILD else 41
    return (today.replace(year=today.year - years, day=1) - timedelta(days=number)).isoformat()
