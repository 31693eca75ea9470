"""The service report (issue 8): what the L&D service did in a period, by site, setting, cohort and
age band, computed from the cases' events alone. Pure: no I/O, no clock.

Definitions. Every figure counts *events that happened in the period* (their `occurred_at`, in UK
time: the period runs from the first day's midnight to the midnight after the last day), so the
report of a past month is the same whenever it is run: events after the period's end are never looked
at, and a case counts in the groups of its CaseOpened (site, setting, cohorts, age band).

- identified: CaseOpened in the period.
- screened: ScreeningRecorded in the period; assessed: AssessmentRecorded in the period.
- declined: ConsentRecorded with decision "declined" in the period (a safeguarding override that
  followed is counted too, separately).
- information shared: InformationShared in the period, one per disclosure, by recipient (police is
  the custody sergeant; court; probation; the youth justice service; others: CPS, defence).
- court reports: CourtReportSubmitted in the period; on time: those the workflow judged on time.
- referrals, by service type: made = ReferralMade in the period; each outcome (accepted, rejected,
  declined by the person, attended, did not attend, engaged) = ReferralOutcomeRecorded in the period
  with that status. A referral moves through several: accepted, then attended, then engaged.
- support: started = SupportStarted; completed = SupportEnded at its time limit; ended early =
  SupportEnded after a review; contacts attended = ContactRecorded attended or late (all in the period).
- time to screening, for each screening in the period: minutes from the case's CaseOpened to its
  ScreeningRecorded. Within SLA: screened no later than the screening task's `due_at` (from its
  TaskOpened event, which carries the SLA deadline counted from identification). Median: the middle
  value (the mean of the two middle ones for an even count); 90th percentile: nearest rank
  (the ceil(0.9 n)-th smallest).
- overdue tasks: TaskBecameOverdue in the period; escalations: TaskEscalated and ReferralEscalated in
  the period.
- monthly trend: identified and screened per calendar month, for the `trend_months` months ending
  with the period's last month.
- repeat contacts (issue 19; domain/repeat_contacts.py): people = the distinct people of the episodes
  identified in the period (an episode's person as at the period's end: linked and unlinked as its
  events say; an episode from before people were kept is its own person); with 2 or more = those
  with at least two of them. Days since the previous contact, for each episode identified in the
  period whose person had an episode identified before it (in or before the period, at the report's
  sites): UK calendar days from that previous episode's CaseOpened to this one's; median and 90th
  percentile as for time to screening. RECONNECT episodes continue a contact and are not counted.
"""

import csv
import io
import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, model_validator

from domain.errors import Rule, RuleViolation
from domain.events import (
    AgeBandChanged,
    AssessmentRecorded,
    CaseOpened,
    CohortChanged,
    ConsentRecorded,
    ContactRecorded,
    CourtReportSubmitted,
    EventEnvelope,
    InformationShared,
    ReferralEscalated,
    ReferralMade,
    ReferralOutcomeRecorded,
    SafeguardingOverrideRecorded,
    ScreeningRecorded,
    SupportEnded,
    SupportStarted,
    TaskBecameOverdue,
    TaskEscalated,
    TaskOpened,
    WomensPathwayDecided,
)
from domain.model import AgeBand, Cohort, Setting
from domain.outcomes import Recipient, ReferralStatus, ServiceType
from domain.repeat_contacts import Contact, contact_of, earlier_contacts
from domain.state import with_cohort
from domain.tasks import TaskKind

UK = ZoneInfo("Europe/London")
NO_COHORT = "none"

# The referral outcomes the report counts, in the order its tables show them.
REFERRAL_OUTCOMES: tuple[ReferralStatus, ...] = (
    ReferralStatus.ACCEPTED,
    ReferralStatus.REJECTED,
    ReferralStatus.DECLINED_BY_PERSON,
    ReferralStatus.ATTENDED,
    ReferralStatus.DID_NOT_ATTEND,
    ReferralStatus.ENGAGED,
)
SHARED_WITH: dict[Recipient, str] = {
    Recipient.CUSTODY_SERGEANT: "shared_police",
    Recipient.COURT: "shared_court",
    Recipient.PROBATION: "shared_probation",
    Recipient.YOUTH_JUSTICE_SERVICE: "shared_youth_justice",
    Recipient.CPS: "shared_other",
    Recipient.DEFENCE: "shared_other",
}
# The counted measures of every breakdown row, in column order, with their column headings.
MEASURES: dict[str, str] = {
    "identified": "Identified",
    "screened": "Screened",
    "assessed": "Assessed",
    "declined": "Declined",
    "safeguarding_overrides": "Safeguarding overrides",
    "shared_police": "Shared: police",
    "shared_court": "Shared: court",
    "shared_probation": "Shared: probation",
    "shared_youth_justice": "Shared: youth justice",
    "shared_other": "Shared: other",
    "court_reports": "Court reports",
    "court_reports_on_time": "Court reports on time",
    "referrals": "Referrals made",
    "support_started": "Support started",
    "support_completed": "Support completed",
    "support_ended_early": "Support ended early",
    "contacts_attended": "Contacts attended",
    "overdue_tasks": "Tasks overdue",
    "escalations": "Escalations",
}


class Period(BaseModel):
    """Whole days, first to last inclusive, in UK time."""

    first_day: date
    last_day: date

    @model_validator(mode="after")
    def _forwards(self) -> Self:
        if self.last_day < self.first_day:
            raise RuleViolation(
                Rule.INVALID_INPUT,
                f"the period runs backwards: it ends on {self.last_day} before it starts on {self.first_day}",
            )
        return self

    @classmethod
    def month(cls, text: str) -> "Period":
        """A calendar month written YYYY-MM."""
        try:
            first = datetime.strptime(text.strip(), "%Y-%m").date()
        except ValueError:
            raise RuleViolation(Rule.INVALID_INPUT, f"a period is a month written YYYY-MM, not {text!r}") from None
        return cls(first_day=first, last_day=_next_month(first) - timedelta(days=1))

    @classmethod
    def between(cls, first: date, last: date) -> "Period":
        return cls(first_day=first, last_day=last)

    @property
    def start(self) -> datetime:
        return _uk_midnight(self.first_day)

    @property
    def end(self) -> datetime:
        """The first instant after the period."""
        return _uk_midnight(self.last_day + timedelta(days=1))

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @property
    def label(self) -> str:
        if self.first_day.day == 1 and self.last_day + timedelta(days=1) == _next_month(self.first_day):
            return f"{self.first_day:%B %Y}"
        return f"{self.first_day:%d %b %Y} to {self.last_day:%d %b %Y}"


class ReportConfig(BaseModel):
    trend_months: int = Field(default=6, ge=1, le=36)
    # Upper edges (minutes) of the time-to-screening histogram's bins; the last bin is open-ended.
    histogram_edges: tuple[int, ...] = (30, 60, 120, 180, 240, 480)


class Figures(BaseModel):
    """One row of a breakdown: the counted measures and the time to screening."""

    counts: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(MEASURES, 0))
    screening_median_minutes: float | None = None
    screening_p90_minutes: int | None = None
    screened_within_sla: int = 0
    screened_within_sla_pct: float | None = None


class GroupRow(BaseModel):
    group: str
    figures: Figures


class ReferralRow(BaseModel):
    service: ServiceType
    made: int = 0
    outcomes: dict[ReferralStatus, int] = Field(default_factory=lambda: dict.fromkeys(REFERRAL_OUTCOMES, 0))


class HistogramBin(BaseModel):
    label: str
    low: int
    high: int | None
    count: int


class MonthRow(BaseModel):
    month: str  # YYYY-MM
    identified: int
    screened: int


class RepeatContacts(BaseModel):
    """The people of the period's episodes, and the time since each episode's previous contact."""

    people: int = 0
    people_with_two_or_more: int = 0
    two_or_more_pct: float | None = None
    days_since_previous: list[int] = Field(default_factory=list)  # one per episode seen before, ascending
    median_days: float | None = None
    p90_days: int | None = None


class Table(BaseModel):
    name: str
    title: str
    headers: list[str]
    rows: list[list[str]]


class ServiceReport(BaseModel):
    period: Period
    sites: list[str]
    totals: Figures
    by_site: list[GroupRow]
    by_setting: list[GroupRow]
    by_cohort: list[GroupRow]
    by_age_band: list[GroupRow]
    referrals: list[ReferralRow]
    screening_minutes: list[int]  # every time to screening in the period, ascending
    screening_histogram: list[HistogramBin]
    trend: list[MonthRow]
    repeat_contacts: RepeatContacts

    @property
    def empty(self) -> bool:
        return not any(self.totals.counts.values())

    def tables(self) -> list[Table]:
        return report_tables(self)


# --- computing ---------------------------------------------------------------------------------


class _Case:
    """What one case contributes: its groups and what happened in the period."""

    def __init__(self, opened: CaseOpened, opened_at: datetime) -> None:
        self.site = opened.site
        self.setting = opened.setting
        self.cohorts = opened.cohorts  # as the case stands at the end of the period
        self.age_band = opened.age_band
        # The screening SLA counts from identification, which may be before the case was entered.
        self.identified_at = opened.identified_at or opened_at
        self.counts: Counter[str] = Counter()
        self.screening: list[tuple[int, bool]] = []  # (minutes, within SLA)


def service_report(
    streams: Iterable[Sequence[EventEnvelope]],
    period: Period,
    sites: Sequence[str],
    config: ReportConfig | None = None,
) -> ServiceReport:
    """The report of `period` for `sites` from the event streams of their cases (any others, and any
    event after the period, are ignored)."""
    config = config or ReportConfig()
    trend_start = _uk_midnight(_months_before(period.last_day.replace(day=1), config.trend_months - 1))
    months = _month_keys(trend_start, config.trend_months)
    trend = {month: Counter[str]() for month in months}
    cases: list[_Case] = []
    contacts: list[Contact] = []
    referrals: dict[ServiceType, ReferralRow] = {}
    for stream in streams:
        case = _contribution(stream, period, sites, trend, referrals)
        if case is not None:
            cases.append(case)
            contact = contact_of(stream, period.end)
            if contact is not None:
                contacts.append(contact)
    minutes = sorted(m for case in cases for m, _ in case.screening)
    return ServiceReport(
        period=period,
        sites=list(sites),
        totals=_figures(cases),
        by_site=[GroupRow(group=site, figures=_figures([c for c in cases if c.site == site])) for site in sites],
        by_setting=_rows(cases, [str(s) for s in Setting], lambda c: [str(c.setting)]),
        by_cohort=_rows(
            cases, [*(str(c) for c in Cohort), NO_COHORT], lambda c: [str(x) for x in c.cohorts] or [NO_COHORT]
        ),
        by_age_band=_rows(cases, [str(a) for a in AgeBand], lambda c: [str(c.age_band)]),
        referrals=[referrals.get(service) or ReferralRow(service=service) for service in ServiceType],
        screening_minutes=minutes,
        screening_histogram=_histogram(minutes, config.histogram_edges),
        trend=[MonthRow(month=m, identified=trend[m]["identified"], screened=trend[m]["screened"]) for m in months],
        repeat_contacts=_repeat_contacts(contacts, period),
    )


def _contribution(
    stream: Sequence[EventEnvelope],
    period: Period,
    sites: Sequence[str],
    trend: dict[str, Counter[str]],
    referrals: dict[ServiceType, ReferralRow],
) -> _Case | None:
    case: _Case | None = None
    services: dict[str, ServiceType] = {}
    screening_due: datetime | None = None
    for envelope in sorted(stream, key=lambda e: e.seq):
        at, event = envelope.occurred_at, envelope.event
        if at >= period.end:
            break
        if isinstance(event, CaseOpened):
            if event.site not in sites:
                return None
            case = _Case(event, at)
            month = _month_key(at)
            if month in trend:
                trend[month]["identified"] += 1
        if case is None:
            continue
        match event:
            case TaskOpened() if event.task.kind is TaskKind.SCREENING:
                screening_due = event.task.due_at
            case AgeBandChanged():
                case.age_band = event.age_band
            case WomensPathwayDecided():
                case.cohorts = with_cohort(case.cohorts, Cohort.WOMENS_PATHWAY, event.decision == "accepted")
            case CohortChanged():
                case.cohorts = with_cohort(case.cohorts, event.cohort, event.member)
            case ScreeningRecorded():
                month = _month_key(at)
                if month in trend:
                    trend[month]["screened"] += 1
            case ReferralMade():
                services[event.referral_id] = event.request.service
        if at not in period:
            continue
        counts = case.counts
        match event:
            case CaseOpened():
                counts["identified"] += 1
            case ScreeningRecorded():
                counts["screened"] += 1
                minutes = int((at - case.identified_at).total_seconds() // 60)
                case.screening.append((minutes, screening_due is not None and at <= screening_due))
            case AssessmentRecorded():
                counts["assessed"] += 1
            case ConsentRecorded() if event.decision == "declined":
                counts["declined"] += 1
            case SafeguardingOverrideRecorded():
                counts["safeguarding_overrides"] += 1
            case InformationShared():
                counts[SHARED_WITH[event.disclosure.recipient]] += 1
            case CourtReportSubmitted():
                counts["court_reports"] += 1
                counts["court_reports_on_time"] += event.on_time
            case ReferralMade():
                counts["referrals"] += 1
                _referral_row(referrals, event.request.service).made += 1
            case ReferralOutcomeRecorded() if event.status in REFERRAL_OUTCOMES and event.referral_id in services:
                _referral_row(referrals, services[event.referral_id]).outcomes[event.status] += 1
            case SupportStarted():
                counts["support_started"] += 1
            case SupportEnded():
                counts["support_completed" if event.reason == "time_limit_reached" else "support_ended_early"] += 1
            case ContactRecorded() if event.attendance != "did_not_attend":
                counts["contacts_attended"] += 1
            case TaskBecameOverdue():
                counts["overdue_tasks"] += 1
            case TaskEscalated() | ReferralEscalated():
                counts["escalations"] += 1
    return case


def _referral_row(rows: dict[ServiceType, ReferralRow], service: ServiceType) -> ReferralRow:
    return rows.setdefault(service, ReferralRow(service=service))


def _rows(cases: list[_Case], groups: list[str], keys: Callable[[_Case], list[str]]) -> list[GroupRow]:
    return [GroupRow(group=group, figures=_figures([c for c in cases if group in keys(c)])) for group in groups]


def _figures(cases: list[_Case]) -> Figures:
    counts = dict.fromkeys(MEASURES, 0)
    for case in cases:
        for measure, value in case.counts.items():
            counts[measure] += value
    samples = [sample for case in cases for sample in case.screening]
    minutes = sorted(m for m, _ in samples)
    within = sum(1 for _, ok in samples if ok)
    return Figures(
        counts=counts,
        screening_median_minutes=float(statistics.median(minutes)) if minutes else None,
        screening_p90_minutes=percentile(minutes, 90),
        screened_within_sla=within,
        screened_within_sla_pct=round(100 * within / len(samples), 1) if samples else None,
    )


def _repeat_contacts(contacts: list[Contact], period: Period) -> RepeatContacts:
    earlier = earlier_contacts(contacts)
    in_period = [c for c in contacts if c.opened_at in period]
    episodes = Counter(c.person for c in in_period)
    repeated = sum(1 for count in episodes.values() if count >= 2)
    days = sorted(_days_between(latest, c) for c in in_period if (latest := earlier[c.case_id].latest) is not None)
    return RepeatContacts(
        people=len(episodes),
        people_with_two_or_more=repeated,
        two_or_more_pct=round(100 * repeated / len(episodes), 1) if episodes else None,
        days_since_previous=days,
        median_days=float(statistics.median(days)) if days else None,
        p90_days=percentile(days, 90),
    )


def _days_between(earlier: Contact, later: Contact) -> int:
    """UK calendar days from one opening to the other."""
    return (later.opened_at.astimezone(UK).date() - earlier.opened_at.astimezone(UK).date()).days


def percentile(ordered: Sequence[int], p: int) -> int | None:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    if not ordered:
        return None
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]


def _histogram(minutes: list[int], edges: tuple[int, ...]) -> list[HistogramBin]:
    bins: list[HistogramBin] = []
    low = 0
    for high in (*edges, None):
        count = sum(1 for m in minutes if m >= low and (high is None or m < high))
        label = f"{_duration(low)} to {_duration(high)}" if high is not None else f"{_duration(low)}+"
        bins.append(HistogramBin(label=label, low=low, high=high, count=count))
        low = high or low
    return bins


def _duration(minutes: int) -> str:
    return f"{minutes // 60}h" if minutes and minutes % 60 == 0 else f"{minutes}m"


# --- dates -------------------------------------------------------------------------------------


def _uk_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), UK).astimezone(UTC)


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _months_before(first: date, count: int) -> date:
    index = first.year * 12 + first.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def _month_key(moment: datetime) -> str:
    return f"{moment.astimezone(UK):%Y-%m}"


def _month_keys(start: datetime, count: int) -> list[str]:
    first = start.astimezone(UK).date().replace(day=1)
    return [f"{_months_before(first, -offset):%Y-%m}" for offset in range(count)]


# --- tables, text and CSV ----------------------------------------------------------------------

FIGURE_HEADERS = [
    *MEASURES.values(),
    "Median minutes to screening",
    "90th percentile minutes",
    "Screened within SLA",
    "% within SLA",
]


def _figure_cells(figures: Figures) -> list[str]:
    return [
        *(str(figures.counts[m]) for m in MEASURES),
        _number(figures.screening_median_minutes),
        _number(figures.screening_p90_minutes),
        str(figures.screened_within_sla),
        _number(figures.screened_within_sla_pct),
    ]


def _number(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def report_tables(report: ServiceReport) -> list[Table]:
    """Every table of the report, in order: each is one CSV and one block of the text report."""
    breakdown = [
        ("by_site", "By site", "Site", report.by_site),
        ("by_setting", "By setting", "Setting", report.by_setting),
        ("by_cohort", "By cohort", "Cohort", report.by_cohort),
        ("by_age_band", "By age band", "Age band", report.by_age_band),
    ]
    summary = Table(
        name="summary",
        title=f"Summary, {report.period.label}",
        headers=["Measure", "Value"],
        rows=[[h, c] for h, c in zip(FIGURE_HEADERS, _figure_cells(report.totals), strict=True)],
    )
    tables = [summary]
    for name, title, heading, rows in breakdown:
        tables.append(
            Table(
                name=name,
                title=title,
                headers=[heading, *FIGURE_HEADERS],
                rows=[[row.group, *_figure_cells(row.figures)] for row in rows],
            )
        )
    outcome_headers = [str(s).replace("_", " ").capitalize() for s in REFERRAL_OUTCOMES]
    tables.append(
        Table(
            name="referrals",
            title="Referrals by service type",
            headers=["Service type", "Made", *outcome_headers],
            rows=[
                [str(r.service), str(r.made), *(str(r.outcomes[s]) for s in REFERRAL_OUTCOMES)]
                for r in report.referrals
            ],
        )
    )
    tables.append(
        Table(
            name="time_to_screening",
            title="Time from identification to screening",
            headers=["Minutes", "Screenings"],
            rows=[[b.label, str(b.count)] for b in report.screening_histogram],
        )
    )
    tables.append(
        Table(
            name="monthly_trend",
            title="Monthly trend",
            headers=["Month", "Identified", "Screened"],
            rows=[[m.month, str(m.identified), str(m.screened)] for m in report.trend],
        )
    )
    tables.append(_repeat_contacts_table(report.repeat_contacts))
    return tables


def _repeat_contacts_table(repeat: RepeatContacts) -> Table:
    return Table(
        name="repeat_contacts",
        title="Repeat contacts",
        headers=["Measure", "Value"],
        rows=[
            ["People with an episode in the period", str(repeat.people)],
            ["People with 2 or more episodes in the period", str(repeat.people_with_two_or_more)],
            ["% of people with 2 or more", _number(repeat.two_or_more_pct)],
            ["Episodes of a person seen before", str(len(repeat.days_since_previous))],
            ["Median days since the previous episode", _number(repeat.median_days)],
            ["90th percentile days since the previous episode", _number(repeat.p90_days)],
        ],
    )


def table_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.headers)
    writer.writerows(table.rows)
    return out.getvalue()


def report_text(report: ServiceReport) -> str:
    """Aligned plain-text tables; a wide breakdown is printed turned (one row per measure)."""
    lines = [f"Service report, {report.period.label} ({report.period.first_day} to {report.period.last_day})"]
    lines.append(f"Sites: {', '.join(report.sites)}")
    if report.empty:
        lines.append("Nothing happened in this period at these sites: every figure is 0.")
    for table in report.tables():
        lines += ["", table.title, ""]
        headers, rows = table.headers, table.rows
        if len(headers) > 8:  # a breakdown: measures down, groups across
            headers, rows = (
                [headers[0], *(row[0] for row in rows)],
                [[heading, *(row[i] for row in rows)] for i, heading in enumerate(table.headers[1:], 1)],
            )
        widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
        for row in [headers, ["-" * w for w in widths], *rows]:
            cells = [
                cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ]
            lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"
