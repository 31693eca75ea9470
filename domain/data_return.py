"""The monthly data return: a versioned, pseudonymous data set of L&D episodes and referrals for the
commissioner (docs/data-return.md).

Pure: it turns the stored events of cases into rows. Each field is defined once, in `EPISODE_FIELDS`
and `REFERRAL_FIELDS`, with its type, meaning, codes and how its value is read; the same definitions
write the CSV header and rows and generate the tables of docs/data-return.md (`markdown_tables`), so
the file and its documentation cannot drift apart.

Rules (also in the docs):
- A month's return holds the record as it stood at the end of the month (UK time): only events that
  occurred before then are folded, so a return can be produced again later and says the same.
- An episode is in a month's return when it was open at any time in the month: opened before the
  month ended and not closed before it began.
- A referral is in the return when its episode is, it was made before the month ended, and it was
  not closed before the month began.
- No direct identifier leaves: no name, date of birth, address, NHS number, custody or court
  reference, free text, case id, staff id or referral id. The episode is named by a pseudonymous id,
  an HMAC of the case id under a key derived from the service's id key: stable from month to month
  (so an episode open across months can be counted once) and recomputable by the service, but not
  reversible or linkable by the commissioner.
- The episode's person is named the same way by a person pseudonym (an HMAC of the person id under
  the same key with its own label, so it is neither an episode pseudonym nor the person index's key),
  and `previous_episodes` counts the person's episodes opened before this one among the return's
  streams (domain/repeat_contacts.py), so a commissioner can count repeat contacts.
- Dates are days (UK time); the time to screening is in whole minutes.
"""

import csv
import hashlib
import hmac
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Generic, TypeVar

from domain.events import (
    AssessmentRecorded,
    CaseOpened,
    EventEnvelope,
    ReferralOutcomeRecorded,
    ScreeningRecorded,
)
from domain.model import AgeBand, Cohort, ReferralSource, Setting, Stage
from domain.outcomes import (
    ClosureReason,
    GoalArea,
    HearingResult,
    JusticeOutcome,
    Recipient,
    ReferralStatus,
    RiskLevel,
    ServiceType,
    Urgency,
    VulnerabilityDomain,
)
from domain.repeat_contacts import contact_of, earlier_contacts, person_key
from domain.state import CaseState, Referral, fold
from domain.tasks import TaskKind
from domain.timeline import UK

DATA_SET_VERSION = "1.2"

# Multi-valued fields join their codes with this, sorted.
CODE_SEPARATOR = ";"

Row = TypeVar("Row")


@dataclass(frozen=True)
class DataField(Generic[Row]):
    """One column of the data set: its name, type, meaning, codes (code, meaning) and its value."""

    name: str
    type: str
    meaning: str
    value: Callable[[Row], str]
    codes: tuple[tuple[str, str], ...] = ()


# --- the reporting period ------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> "Month":
        """A month written YYYY-MM; ValueError otherwise."""
        try:
            year, month = text.strip().split("-")
            found = cls(int(year), int(month))
            date(found.year, found.month, 1)
        except ValueError:
            raise ValueError(f"{text!r} is not a month: write it YYYY-MM, e.g. 2026-11") from None
        if len(year) != 4:
            raise ValueError(f"{text!r} is not a month: write it YYYY-MM, e.g. 2026-11")
        return found

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> "Month":
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def start(self) -> datetime:
        """Midnight UK time on the first day."""
        return datetime(self.year, self.month, 1, tzinfo=UK)

    @property
    def end(self) -> datetime:
        """Midnight UK time on the first day of the next month (exclusive)."""
        following = self.next()
        return datetime(following.year, following.month, 1, tzinfo=UK)


def months_between(first: Month, last: Month) -> list[Month]:
    """Every month from `first` to `last`, both included; ValueError if the range runs backwards."""
    if last < first:
        raise ValueError(f"the range runs backwards: {last} is before {first}")
    months = [first]
    while months[-1] < last:
        months.append(months[-1].next())
    return months


# --- pseudonymous ids ----------------------------------------------------------------------------


def pseudonym_key(id_key: bytes) -> bytes:
    """The key of the data return's pseudonyms, derived from the service's id key (so the pseudonyms
    differ from the case ids, which appear in other exports, and need no secret of their own)."""
    return hmac.new(id_key, f"data-return-pseudonym\x1f{DATA_SET_VERSION.split('.')[0]}".encode(), "sha256").digest()


def episode_pseudonym(key: bytes, case_id: str) -> str:
    """`ep-` and 20 hex digits of an HMAC-SHA256 of the case id under `key` (see `pseudonym_key`)."""
    return "ep-" + hmac.new(key, case_id.encode(), hashlib.sha256).hexdigest()[:20]


def person_pseudonym(key: bytes, person: str) -> str:
    """`pn-` and 20 hex digits of an HMAC-SHA256 of `person` (a person key: the person id, or the case
    id of an episode from before people were kept) under `key`, labelled so that it never equals an
    episode pseudonym, even of an episode that is its own person."""
    return "pn-" + hmac.new(key, f"person\x1f{person}".encode(), hashlib.sha256).hexdigest()[:20]


# --- facts read from one case's events -----------------------------------------------------------


@dataclass(frozen=True)
class Episode:
    """One case as it stood at the end of a month, with the times the fold does not keep."""

    period: Month
    episode_id: str
    person_pseudonym: str
    previous_episodes: int  # the same person's episodes opened before this one
    state: CaseState
    opened_at: datetime
    screened_at: datetime | None
    screening_due_at: datetime | None
    assessed_at: datetime | None
    referral_status_at: dict[str, datetime] = field(default_factory=dict)
    referral_closed_at: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class ReferralRow:
    episode: Episode
    number: int  # 1, 2, ... in the order the episode's referrals were made
    referral: Referral

    @property
    def status_at(self) -> datetime | None:
        return self.episode.referral_status_at.get(self.referral.referral_id)

    @property
    def closed_at(self) -> datetime | None:
        return self.episode.referral_closed_at.get(self.referral.referral_id)


def episode_for(
    case_id: str, events: Sequence[EventEnvelope], period: Month, key: bytes, previous_episodes: int
) -> Episode | None:
    """The case as it stood at the end of `period`, or None if it was not open at any time in it;
    `previous_episodes` is its person's episodes opened before it (`episodes_for` counts them)."""
    known = [e for e in events if e.occurred_at < period.end]
    state = fold(case_id, known)
    opened_at = next((e.occurred_at for e in known if isinstance(e.event, CaseOpened)), None)
    if opened_at is None or (state.closed_at is not None and state.closed_at < period.start):
        return None
    screened_at = next((e.occurred_at for e in known if isinstance(e.event, ScreeningRecorded)), None)
    assessed_at = next((e.occurred_at for e in known if isinstance(e.event, AssessmentRecorded)), None)
    screening_tasks = sorted(
        (t for t in state.tasks.values() if t.kind is TaskKind.SCREENING), key=lambda t: (t.opened_at, t.task_id)
    )
    status_at: dict[str, datetime] = {}
    closed_at: dict[str, datetime] = {}
    for envelope in known:
        if isinstance(envelope.event, ReferralOutcomeRecorded):
            status_at[envelope.event.referral_id] = envelope.occurred_at
            if envelope.event.status is ReferralStatus.CLOSED:
                closed_at[envelope.event.referral_id] = envelope.occurred_at
    return Episode(
        period=period,
        episode_id=episode_pseudonym(key, case_id),
        person_pseudonym=person_pseudonym(key, person_key(case_id, state.person_id)),
        previous_episodes=previous_episodes,
        state=state,
        opened_at=opened_at,
        screened_at=screened_at,
        screening_due_at=screening_tasks[0].due_at if screening_tasks else None,
        assessed_at=assessed_at,
        referral_status_at=status_at,
        referral_closed_at=closed_at,
    )


def episodes_for(streams: Iterable[tuple[str, Sequence[EventEnvelope]]], period: Month, key: bytes) -> list[Episode]:
    """The episodes of a month's return, sorted by site, time opened and episode id; each counts its
    person's earlier episodes among all of `streams` (closed ones too)."""
    opened = [
        (case_id, events, contact)
        for case_id, events in streams
        if (contact := contact_of(events, period.end)) is not None
    ]
    earlier = earlier_contacts(contact for _, _, contact in opened)
    found = (
        episode_for(case_id, events, period, key, earlier[contact.case_id].count) for case_id, events, contact in opened
    )
    return sorted((e for e in found if e is not None), key=lambda e: (e.state.site, e.opened_at, e.episode_id))


def referrals_for(episodes: Iterable[Episode]) -> list[ReferralRow]:
    """The referrals of a month's return, in the episodes' order, then the order they were made."""
    rows = []
    for episode in episodes:
        for number, referral in enumerate(episode.state.referrals, start=1):
            closed_at = episode.referral_closed_at.get(referral.referral_id)
            if referral.made_at < episode.period.end and (closed_at is None or closed_at >= episode.period.start):
                rows.append(ReferralRow(episode, number, referral))
    return rows


# --- how values are written ----------------------------------------------------------------------


def _day(moment: datetime | None) -> str:
    return moment.astimezone(UK).date().isoformat() if moment is not None else ""


def _yes_no(flag: bool | None) -> str:
    return "" if flag is None else ("yes" if flag else "no")


def _code(value: StrEnum | str | None) -> str:
    return "" if value is None else str(value)


def _codes(values: Iterable[StrEnum | str]) -> str:
    return CODE_SEPARATOR.join(sorted({str(v) for v in values}))


# Codes whose words alone would not tell a commissioner what they mean.
CODE_MEANINGS: dict[str, str] = {
    "camhs": "child and adolescent mental health services",
    "youth_justice": "the youth justice service (YJS, youth offending team)",
    "reconnect": "RECONNECT, care after custody",
}


def _enum_codes(enum: type[StrEnum]) -> tuple[tuple[str, str], ...]:
    return tuple((str(member), CODE_MEANINGS.get(member, str(member).replace("_", " "))) for member in enum)


YES_NO = (("yes", "yes"), ("no", "no"))


def _minutes_to_screening(e: Episode) -> str:
    if e.screened_at is None:
        return ""
    identified = e.state.identified_at or e.opened_at  # the SLA counts from identification
    return str(int((e.screened_at - identified) / timedelta(minutes=1)))


def _screened_within_sla(e: Episode) -> str:
    if e.screened_at is None or e.screening_due_at is None:
        return ""
    return _yes_no(e.screened_at <= e.screening_due_at)


def _domains(e: Episode) -> str:
    flagged: list[VulnerabilityDomain] = []
    if e.state.screening is not None:
        flagged.extend(e.state.screening.domains)
    if e.state.assessment is not None:
        flagged.extend(v.domain for v in e.state.assessment.vulnerabilities)
    return _codes(flagged)


def _count(n: int) -> str:
    return str(n)


def _common(row: Callable[[Row], Episode]) -> list[DataField[Row]]:
    return [
        DataField(
            "data_set_version",
            "text",
            f"The version of this data set's definition (this document: {DATA_SET_VERSION}).",
            lambda r: DATA_SET_VERSION,
        ),
        DataField("period", "month (YYYY-MM)", "The month of the return.", lambda r: str(row(r).period)),
        DataField(
            "episode_id",
            "text",
            "Pseudonymous episode id: the same in every month's return, not reversible without the service's key.",
            lambda r: row(r).episode_id,
        ),
        DataField("site", "code", "The L&D service site (as configured).", lambda r: row(r).state.site),
    ]


def _as_episode(e: Episode) -> Episode:
    return e


EPISODE_FIELDS: tuple[DataField[Episode], ...] = (
    *_common(_as_episode),
    DataField(
        "setting", "code", "Where the person was identified.", lambda e: _code(e.state.setting), _enum_codes(Setting)
    ),
    DataField(
        "referral_source",
        "code",
        "Who alerted the service.",
        lambda e: _code(e.state.source),
        _enum_codes(ReferralSource),
    ),
    DataField(
        "age_band",
        "code",
        "Age band (never the date of birth).",
        lambda e: _code(e.state.age_band),
        ((str(AgeBand.CHILD), "10 to 17: the youth pathway"), (str(AgeBand.ADULT), "18 or over")),
    ),
    DataField(
        "cohorts", "codes", "Cohorts the person belongs to.", lambda e: _codes(e.state.cohorts), _enum_codes(Cohort)
    ),
    DataField("opened_date", "date", "The day the episode was opened.", lambda e: _day(e.opened_at)),
    DataField(
        "stage",
        "code",
        "The pathway stage at the end of the month.",
        lambda e: _code(e.state.stage),
        _enum_codes(Stage),
    ),
    DataField(
        "consent",
        "code",
        "Consent at the end of the month.",
        lambda e: e.state.consent,
        (
            ("not_asked", "not asked yet"),
            ("given", "given"),
            ("declined", "declined"),
            ("withdrawn", "given, then withdrawn"),
        ),
    ),
    DataField(
        "safeguarding_override",
        "yes/no",
        "Whether the service went ahead without consent on a safeguarding basis.",
        lambda e: _yes_no(e.state.safeguarding_override),
        YES_NO,
    ),
    DataField(
        "screened", "yes/no", "Whether screening was recorded.", lambda e: _yes_no(e.screened_at is not None), YES_NO
    ),
    DataField("screened_date", "date", "The day screening was recorded.", lambda e: _day(e.screened_at)),
    DataField(
        "minutes_to_screening",
        "integer",
        "Whole minutes from identification (which may come before the episode was entered) to screening "
        "recorded (clock time).",
        _minutes_to_screening,
    ),
    DataField(
        "screened_within_sla",
        "yes/no",
        "Whether screening was recorded by its due time (the site's SLA, counted in operating hours); "
        "empty if not screened.",
        _screened_within_sla,
        YES_NO,
    ),
    DataField(
        "screening_urgency",
        "code",
        "Urgency found at screening.",
        lambda e: _code(e.state.screening.urgency if e.state.screening else None),
        _enum_codes(Urgency),
    ),
    DataField(
        "risk_level",
        "code",
        "Risk to self or others found at screening.",
        lambda e: _code(e.state.screening.risk_level if e.state.screening else None),
        _enum_codes(RiskLevel),
    ),
    DataField(
        "vulnerability_domains",
        "codes",
        "Vulnerabilities flagged at screening or found at assessment.",
        _domains,
        _enum_codes(VulnerabilityDomain),
    ),
    DataField(
        "assessed",
        "yes/no",
        "Whether a full assessment was recorded.",
        lambda e: _yes_no(e.assessed_at is not None),
        YES_NO,
    ),
    DataField("assessed_date", "date", "The day the assessment was recorded.", lambda e: _day(e.assessed_at)),
    DataField(
        "information_shared_with",
        "codes",
        "Recipients information was shared with.",
        lambda e: _codes(d.recipient for d in e.state.disclosures),
        _enum_codes(Recipient),
    ),
    DataField(
        "court_reports_requested", "integer", "Court reports requested.", lambda e: _count(len(e.state.court_reports))
    ),
    DataField(
        "court_reports_submitted",
        "integer",
        "Court reports submitted.",
        lambda e: _count(sum(1 for r in e.state.court_reports if r.submitted_at is not None)),
    ),
    DataField(
        "court_reports_on_time",
        "integer",
        "Court reports submitted by their due time.",
        lambda e: _count(sum(1 for r in e.state.court_reports if r.on_time)),
    ),
    DataField(
        "hearing_results",
        "codes",
        "Hearing outcomes recorded after court reports.",
        lambda e: _codes(r.hearing_result for r in e.state.court_reports if r.hearing_result is not None),
        _enum_codes(HearingResult),
    ),
    DataField("referrals_made", "integer", "Referrals made so far.", lambda e: _count(len(e.state.referrals))),
    DataField(
        "support_started_date",
        "date",
        "The day community link work started.",
        lambda e: _day(e.state.support.started_at if e.state.support else None),
    ),
    DataField(
        "support_goals",
        "codes",
        "Goals of the link work.",
        lambda e: _codes(e.state.support.goals if e.state.support else ()),
        _enum_codes(GoalArea),
    ),
    DataField(
        "support_ended_date",
        "date",
        "The day link work ended.",
        lambda e: _day(e.state.support.ended_at if e.state.support else None),
    ),
    DataField(
        "support_end_reason",
        "code",
        "Why link work ended.",
        lambda e: _code(e.state.support.end_reason if e.state.support else None),
        (
            ("time_limit_reached", "its time box ran out"),
            ("ended_after_review", "ended by a disengagement review"),
            ("handed_off", "ended when the person was handed off after custody"),
        ),
    ),
    DataField(
        "follow_ups_recorded", "integer", "Follow-up checks recorded.", lambda e: _count(len(e.state.follow_ups))
    ),
    DataField(
        "handed_off_to",
        "code",
        "Service the episode was handed off to.",
        lambda e: _code(e.state.handed_off_to),
        (("reconnect", "RECONNECT (care after custody)"), ("youth_justice", "the youth justice service")),
    ),
    DataField("closed_date", "date", "The day the episode closed.", lambda e: _day(e.state.closed_at)),
    DataField(
        "closure_reason",
        "code",
        "Why the episode closed.",
        lambda e: _code(e.state.close_reason),
        _enum_codes(ClosureReason),
    ),
    DataField(
        "justice_outcome",
        "code",
        "The justice outcome recorded at closure, if known.",
        lambda e: _code(e.state.justice_outcome),
        _enum_codes(JusticeOutcome),
    ),
    DataField(
        "person_pseudonym",
        "text",
        "Pseudonymous person id: the same for every episode of the person (as linked at the end of the "
        "month), in every month's return; not reversible without the service's key.",
        lambda e: e.person_pseudonym,
    ),
    DataField(
        "previous_episodes",
        "integer",
        "The person's episodes opened before this one, at the sites of the return (0: a first contact).",
        lambda e: _count(e.previous_episodes),
    ),
)


def _referral_episode(r: ReferralRow) -> Episode:
    return r.episode


REFERRAL_FIELDS: tuple[DataField[ReferralRow], ...] = (
    *_common(_referral_episode),
    DataField(
        "referral_number",
        "integer",
        "1, 2, ... in the order the episode's referrals were made.",
        lambda r: str(r.number),
    ),
    DataField(
        "service_type",
        "code",
        "The kind of service referred to.",
        lambda r: _code(r.referral.request.service),
        _enum_codes(ServiceType),
    ),
    DataField(
        "urgency",
        "code",
        "How soon the service should respond.",
        lambda r: _code(r.referral.request.urgency),
        _enum_codes(Urgency),
    ),
    DataField("made_date", "date", "The day the referral was made.", lambda r: _day(r.referral.made_at)),
    DataField("sent_date", "date", "The day it was sent to the service.", lambda r: _day(r.referral.sent_at)),
    DataField(
        "status",
        "code",
        "The referral's status at the end of the month.",
        lambda r: _code(r.referral.status),
        _enum_codes(ReferralStatus),
    ),
    DataField("status_date", "date", "The day the latest outcome was recorded.", lambda r: _day(r.status_at)),
    DataField("closed_date", "date", "The day the referral closed.", lambda r: _day(r.closed_at)),
    DataField(
        "chased",
        "yes/no",
        "Whether the service was chased for an answer.",
        lambda r: _yes_no(r.referral.chased),
        YES_NO,
    ),
    DataField(
        "escalated", "yes/no", "Whether the chase was escalated.", lambda r: _yes_no(r.referral.escalated), YES_NO
    ),
)


# --- writing -------------------------------------------------------------------------------------


def rows(fields: Sequence[DataField[Row]], items: Iterable[Row]) -> list[list[str]]:
    """The header, then one row per item."""
    return [[f.name for f in fields], *([f.value(item) for f in fields] for item in items)]


def to_csv(fields: Sequence[DataField[Row]], items: Iterable[Row]) -> str:
    """RFC 4180 CSV (CRLF line ends, quoted where needed): the header, then one line per item."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows(fields, items))
    return buffer.getvalue()


def file_names(period: Month) -> tuple[str, str]:
    return f"episodes-{period}.csv", f"referrals-{period}.csv"


def markdown_tables() -> str:
    """The field tables of docs/data-return.md, generated from the definitions above."""
    parts = [f"Data set version {DATA_SET_VERSION}.", ""]
    sections: tuple[tuple[str, Sequence[DataField[Episode]] | Sequence[DataField[ReferralRow]]], ...] = (
        ("Episode file", EPISODE_FIELDS),
        ("Referral file", REFERRAL_FIELDS),
    )
    for title, fields in sections:
        parts += [f"### {title}", "", "| # | field | type | meaning | codes |", "|---|---|---|---|---|"]
        for number, (name, kind, meaning, codes) in enumerate(
            ((f.name, f.type, f.meaning, f.codes) for f in fields), 1
        ):
            parts.append(f"| {number} | `{name}` | {kind} | {meaning} | {_codes_cell(codes)} |")
        parts.append("")
    return "\n".join(parts)


def _codes_cell(codes: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(
        f"`{code}`" if meaning == code.replace("_", " ") else f"`{code}` ({meaning})" for code, meaning in codes
    )
