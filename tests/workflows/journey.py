"""Valid outcomes and a driver that takes a case through the standard journey via StaffCommands."""

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cli.demo import JOURNEY as JOURNEY
from domain.commands import OpenCase
from domain.config import WorkingCalendar
from domain.model import Actor, AgeBand, ReferralSource, Role, Setting
from domain.outcomes import ReferralStatus
from domain.state import CaseState
from domain.tasks import TaskKind
from service.staff import StaffCommands

PRACTITIONER = Actor(staff_id="pr-001", role=Role.PRACTITIONER)
TEAM_LEAD = Actor(staff_id="tl-001", role=Role.TEAM_LEAD)
BOTH_SITES_PRACTITIONER = Actor(staff_id="pr-002", role=Role.PRACTITIONER)  # works at demo and north

OUTCOMES: dict[TaskKind, dict[str, Any]] = {
    TaskKind.CONSENT: {"decision": "given", "scope": ["assessment", "share_court", "share_police", "share_defence"]},
    TaskKind.SCREENING: {
        "instrument": "ld-screen",
        "instrument_version": "2019",
        "urgency": "urgent",
        "domains": ["mental_health", "housing"],
        "risk_level": "medium",
        "assessment_needed": True,
    },
    TaskKind.ASSESSMENT: {
        "instrument": "ld-assess",
        "instrument_version": "2019",
        "answers": {"q1": 3, "q2": "yes"},
        "score": 14,
        "vulnerabilities": [{"domain": "mental_health", "severity": "moderate"}],
        "recommended_services": ["mental_health", "housing"],
    },
    TaskKind.SHARE_INFORMATION: {
        "disclosures": [
            {
                "recipient": "court",
                "purpose": "bail decision",
                "lawful_basis": "consent",
                "summary": "Needs support from community mental health services.",
            }
        ]
    },
    TaskKind.REFERRAL_DECISION: {
        "referrals": [{"service": "mental_health", "reason": "moderate depression", "urgency": "routine"}]
    },
    TaskKind.CLOSURE: {"reason": "pathway_complete", "justice_outcome": "charged_bailed"},
}


def open_case(ref: str, setting: Setting = Setting.CUSTODY, site: str = "demo") -> OpenCase:
    """A referral opened by a practitioner of the site (pr-001 works at demo only)."""
    return OpenCase(
        actor=PRACTITIONER if site == "demo" else BOTH_SITES_PRACTITIONER,
        site=site,
        setting=setting,
        source=ReferralSource.CUSTODY_STAFF,
        external_ref=ref,
        age_band=AgeBand.ADULT,
    )


def open_task(state: CaseState, kind: TaskKind) -> str:
    matches = [t.task_id for t in state.open_tasks if t.kind is kind]
    assert len(matches) == 1, f"expected one open {kind} task, found {state.open_tasks}"
    return matches[0]


async def complete(cases: StaffCommands, state: CaseState, kind: TaskKind) -> CaseState:
    return await cases.complete_task(open_task(state, kind), OUTCOMES[kind], PRACTITIONER)


async def task_opened(cases: StaffCommands, case_id: str, kind: TaskKind, within_seconds: float = 60) -> str:
    """The case's open task of this kind, once a timer of the case has opened it (bounded wait)."""
    async with asyncio.timeout(within_seconds):
        while True:
            found = [t.task_id for t in (await cases.store.case_state(case_id)).open_tasks if t.kind is kind]
            if found:
                return found[0]
            await asyncio.sleep(0.2)


async def referral_sent(cases: StaffCommands, case_id: str) -> CaseState:
    """The case once its first referral's send has been recorded (the worker emails it)."""
    async with asyncio.timeout(30):
        while True:
            state = await cases.store.case_state(case_id)
            if state.referrals and state.referrals[0].status is ReferralStatus.SENT:
                return state
            await asyncio.sleep(0.2)


def working_days_between(calendar: WorkingCalendar, start: datetime, end: datetime) -> int:
    """Working days after `start`'s day up to and including `end`'s (days in the calendar's zone)."""
    zone = ZoneInfo(calendar.timezone)
    day, last, count = start.astimezone(zone).date(), end.astimezone(zone).date(), 0
    while day < last:
        day += timedelta(days=1)
        count += day.weekday() in calendar.working_days and day not in calendar.holidays
    return count


def assert_on_the_working_calendar(calendar: WorkingCalendar, sent_at: datetime, at: datetime, days: int) -> None:
    """`at` is `days` working days after `sent_at`, on a working day, at the same local time of day."""
    zone = ZoneInfo(calendar.timezone)
    local = at.astimezone(zone)
    assert local.weekday() in calendar.working_days and local.date() not in calendar.holidays, local
    assert local.time() == sent_at.astimezone(zone).time()
    assert working_days_between(calendar, sent_at, at) == days
