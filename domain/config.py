"""Site and contract configuration: operating hours, SLAs, instruments, staff, record retention,
scheduled checkpoints.

The models only; workers/settings.py reads them from TOML. A case carries its site's config from
the moment it opens, so a later config change never alters a running history.
"""

from datetime import date, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from domain.access import service_actor
from domain.errors import Rule, RuleViolation
from domain.model import AgeBand, Role, Setting, Strict
from domain.nhs_codes import (
    OdsCode,
    ProfessionalRegister,
    SdsRoleProfileId,
    SdsUserId,
    SnomedConceptId,
    professional_number,
)
from domain.outcomes import Recipient, ServiceType
from domain.tasks import TaskKind


def known_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


class OperatingHours(Strict):
    """When the service is staffed; SLA clocks only run while it is. No opens/closes means 24 hours."""

    timezone: str = "Europe/London"
    days: tuple[int, ...] = Field(default=(0, 1, 2, 3, 4, 5, 6), description="0 is Monday")
    opens: time | None = None
    closes: time | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return known_timezone(value)

    @field_validator("days")
    @classmethod
    def _weekdays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(day not in range(7) for day in value):
            raise ValueError("days must be weekday numbers 0 (Monday) to 6, at least one")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _both_or_neither(self) -> "OperatingHours":
        if (self.opens is None) != (self.closes is None):
            raise ValueError("give both opens and closes, or neither for 24 hours")
        if self.opens is not None and self.closes is not None and self.opens >= self.closes:
            raise ValueError("opens must be before closes")
        return self

    @property
    def always_open(self) -> bool:
        return self.opens is None and len(self.days) == 7


class Instrument(Strict):
    id: str = Field(min_length=1, max_length=64)
    version: str = Field(min_length=1, max_length=32)
    age_bands: tuple[AgeBand, ...] = (AgeBand.ADULT, AgeBand.CHILD)


DEFAULT_SCREENING_SLA_MINUTES: dict[Setting, int] = {
    Setting.CUSTODY: 120,
    Setting.VOLUNTARY_ATTENDANCE: 120,
    Setting.MAGISTRATES_COURT: 180,
    Setting.YOUTH_COURT: 180,
    Setting.CROWN_COURT: 180,
    Setting.COMMUNITY: 2 * 24 * 60,
}

DEFAULT_TASK_SLA_MINUTES: dict[TaskKind, int] = {
    TaskKind.ASSESSMENT: 24 * 60,
    TaskKind.SHARE_INFORMATION: 24 * 60,
    TaskKind.REFERRAL_DECISION: 2 * 24 * 60,
    TaskKind.CHASE_REFERRAL: 24 * 60,
    TaskKind.CONTACT: 7 * 24 * 60,
    TaskKind.DISENGAGEMENT_REVIEW: 2 * 24 * 60,
    TaskKind.FOLLOW_UP: 2 * 24 * 60,
    TaskKind.COURT_REPORT: 4 * 60,
    TaskKind.HEARING_OUTCOME: 24 * 60,
    TaskKind.CLOSURE: 7 * 24 * 60,
    TaskKind.RECONNECT_ENGAGEMENT: 14 * 24 * 60,
    TaskKind.PERSON_MATCH: 24 * 60,
}


DEFAULT_REMINDER_BEFORE_MINUTES: dict[TaskKind, int] = {
    TaskKind.CONSENT: 30,
    TaskKind.SCREENING: 30,
    TaskKind.ASSESSMENT: 120,
    TaskKind.SHARE_INFORMATION: 120,
    TaskKind.REFERRAL_DECISION: 240,
    TaskKind.CHASE_REFERRAL: 240,
    TaskKind.CONTACT: 24 * 60,
    TaskKind.DISENGAGEMENT_REVIEW: 240,
    TaskKind.FOLLOW_UP: 240,
    TaskKind.COURT_REPORT: 60,
    TaskKind.HEARING_OUTCOME: 240,
    TaskKind.CLOSURE: 24 * 60,
    TaskKind.RECONNECT_ENGAGEMENT: 24 * 60,
    TaskKind.PERSON_MATCH: 120,
}


COURTS = (Setting.MAGISTRATES_COURT, Setting.YOUTH_COURT, Setting.CROWN_COURT)


def hearing_court(setting: Setting, age_band: AgeBand | None) -> Setting:
    """The court that hears a case: its own setting at court; otherwise (custody, voluntary
    attendance, the community) the court where every criminal case starts, the youth court for a
    child and the magistrates' court for an adult."""
    if setting in COURTS:
        return setting
    return Setting.YOUTH_COURT if age_band is AgeBand.CHILD else Setting.MAGISTRATES_COURT


class WorkingCalendar(Strict):
    """Which days count as working days; the loader adds England and Wales bank holidays."""

    timezone: str = "Europe/London"
    working_days: tuple[int, ...] = Field(default=(0, 1, 2, 3, 4), description="0 is Monday")
    holidays: tuple[date, ...] = ()
    bank_holidays: bool = Field(default=True, description="Add England and Wales bank holidays")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return known_timezone(value)

    @field_validator("working_days")
    @classmethod
    def _weekdays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(day not in range(7) for day in value):
            raise ValueError("working_days must be weekday numbers 0 (Monday) to 6, at least one")
        return tuple(sorted(set(value)))


class ReferralTimings(Strict):
    """When an unanswered referral is chased and then escalated, counted from when it was sent."""

    chase_after: int = Field(default=2, gt=0)
    escalate_after: int = Field(default=4, gt=0)
    unit: Literal["working_days", "minutes"] = "working_days"

    @model_validator(mode="after")
    def _escalate_after_chase(self) -> "ReferralTimings":
        if self.escalate_after <= self.chase_after:
            raise ValueError("escalate_after must come after chase_after")
        return self


class SnomedConcept(Strict):
    """A SNOMED CT concept: its id (checked: shape, partition and check digit) and its preferred term."""

    code: SnomedConceptId
    display: str = Field(min_length=1, description="The concept's preferred term")


class Service(Strict):
    """A service in the directory: what it offers, which sites it covers, how referrals reach it,
    and the NHS codes a receiving system knows it by."""

    service_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str
    type: ServiceType
    sites: tuple[str, ...]
    # fhir: an HL7 FHIR R4 transaction Bundle POSTed to the service's FHIR base URL (docs/fhir.md).
    delivery: Literal["email", "http", "fhir"]
    address: str = Field(description="Email address, or the URL to POST referrals to (fhir: the FHIR base URL)")
    ods_code: OdsCode | None = Field(default=None, description="The service's (or its provider's) ODS code")
    # What a referral to this service is, as SNOMED CT (e.g. 390866009 "Referral to mental health
    # team"); it belongs to the directory entry, not to the service type, since services of one type differ.
    snomed: SnomedConcept | None = None

    @model_validator(mode="after")
    def _address_fits_delivery(self) -> "Service":
        if self.delivery == "email" and "@" not in self.address:
            raise ValueError(f"service {self.service_id}: {self.address!r} is not an email address")
        if self.delivery in ("http", "fhir") and not self.address.startswith(("http://", "https://")):
            raise ValueError(f"service {self.service_id}: {self.address!r} is not an http(s) URL")
        if self.delivery == "fhir":
            try:
                service_actor(self.service_id)  # what its system's answers are recorded as
            except ValidationError:
                raise ValueError(
                    f"service {self.service_id}: too long an id for a FHIR service, whose answers are recorded "
                    "in its name (service:<id>, at most 64 characters)"
                ) from None
        return self


class ReconnectTimings(Strict):
    """Care after custody (RECONNECT): a linked episode engages the person up to
    `engage_before_release_weeks` before their release and supports them up to
    `support_after_release_months` after it (NHS England's RECONNECT service specification)."""

    engage_before_release_weeks: int = Field(default=12, gt=0, le=104)
    support_after_release_months: int = Field(default=6, gt=0, le=36)


class SiteConfig(Strict):
    site_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    name: str
    # The NHS trust or provider that runs L&D at the site (its ODS code and name), and the custody
    # suite's or court's own ODS code where ODS has one. Optional: a case carries its site's config
    # in its workflow input, and histories from before these fields must still load.
    provider_ods_code: OdsCode | None = None
    provider_name: str | None = Field(default=None, min_length=1)
    site_ods_code: OdsCode | None = None
    settings: tuple[Setting, ...] = tuple(Setting)
    operating_hours: OperatingHours = OperatingHours()
    screening_sla_minutes: dict[Setting, int] = Field(default_factory=lambda: dict(DEFAULT_SCREENING_SLA_MINUTES))
    task_sla_minutes: dict[TaskKind, int] = Field(default_factory=lambda: dict(DEFAULT_TASK_SLA_MINUTES))
    # A reminder this long before a task is due (none if the task opens closer to its due time than
    # that), and an escalation to the team lead this long after it passes.
    reminder_before_minutes: dict[TaskKind, int] = Field(default_factory=lambda: dict(DEFAULT_REMINDER_BEFORE_MINUTES))
    escalate_after_minutes: int = Field(default=0, ge=0)
    # How long after identification an alert may still be entered with its true time (a custody
    # arrival overnight, entered in the morning); the SLA counts from that time.
    identification_window_hours: int = Field(default=72, gt=0)
    court_report_lead_minutes: int = Field(default=60, gt=0, description="A report is due this long before its hearing")
    # Where a submitted court report is sent (a secure mailbox per recipient, e.g. the court's listing office).
    court_report_addresses: dict[Recipient, str] = Field(default_factory=dict)
    # A site serving several courts: the addresses that differ for the court that hears the case (a
    # Crown Court's listing office, the youth court's), over the site-wide ones above.
    court_report_addresses_by_court: dict[Setting, dict[Recipient, str]] = Field(default_factory=dict)
    calendar: WorkingCalendar = WorkingCalendar()
    referral_timings: ReferralTimings = ReferralTimings()
    # The directory's services that cover this site; filled in from PathwayConfig.services.
    services: tuple[Service, ...] = ()
    # Community link work, in days. `day_length_minutes` is how long such a day lasts: 1440, or 1 on
    # the demo site so that weeks of support pass in minutes.
    support_days: int = Field(default=28, gt=0)
    womens_support_days: int = Field(default=84, gt=0)
    contact_every_days: int = Field(default=7, gt=0)
    missed_contacts_for_review: int = Field(default=2, gt=0)
    day_length_minutes: int = Field(default=24 * 60, gt=0)
    follow_up_offsets_days: tuple[int, ...] = (14, 42)
    screening_instruments: tuple[Instrument, ...] = ()
    assessment_instruments: tuple[Instrument, ...] = ()
    reconnect: ReconnectTimings = ReconnectTimings()

    @field_validator("screening_sla_minutes", "task_sla_minutes", "reminder_before_minutes")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        if any(minutes <= 0 for minutes in value.values()):
            raise ValueError("every SLA must be a positive number of minutes")
        return value

    @model_validator(mode="after")
    def _complete(self) -> "SiteConfig":
        missing = [str(s) for s in self.settings if s not in self.screening_sla_minutes]
        if missing:
            raise ValueError(f"no screening SLA for settings: {', '.join(missing)}")
        not_courts = [str(s) for s in self.court_report_addresses_by_court if s not in COURTS]
        if not_courts:
            raise ValueError(f"court_report_addresses_by_court: not a court: {', '.join(not_courts)}")
        return self

    def court_report_address(self, setting: Setting, age_band: AgeBand | None, recipient: Recipient) -> str | None:
        """Where a court report for a case of this setting and age band goes to `recipient`: the
        address for the court that hears it, else the site-wide one (None: the site has none)."""
        court = hearing_court(setting, age_band)
        return self.court_report_addresses_by_court.get(court, {}).get(recipient) or self.court_report_addresses.get(
            recipient
        )

    def sla_minutes(self, kind: TaskKind, setting: Setting) -> int:
        if kind in (TaskKind.CONSENT, TaskKind.SCREENING):
            return self.screening_sla_minutes[setting]
        return self.task_sla_minutes.get(kind, DEFAULT_TASK_SLA_MINUTES[kind])

    def days(self, count: int) -> timedelta:
        return timedelta(minutes=count * self.day_length_minutes)

    def reminder_minutes(self, kind: TaskKind) -> int:
        return self.reminder_before_minutes.get(kind, DEFAULT_REMINDER_BEFORE_MINUTES[kind])


EMAIL_ADDRESS = r"^[^@\s]+@[^@\s]+$"


class ProfessionalId(Strict):
    """A registration with a UK professional regulator: the regulator's register and the number on it.
    (Not named `register`: that would hide ABCMeta.register on every model class.)"""

    regulator: ProfessionalRegister
    number: str

    # A field validator (the regulator is validated first), so that an error names `number`.
    @field_validator("number")
    @classmethod
    def _number_fits_register(cls, value: str, info: ValidationInfo) -> str:
        regulator = info.data.get("regulator")
        return value if regulator is None else professional_number(regulator, value)


class StaffMember(Strict):
    staff_id: str = Field(pattern=r"^[A-Za-z0-9._:-]+$")
    role: Role
    sites: tuple[str, ...]
    email: str | None = Field(default=None, pattern=EMAIL_ADDRESS, description="Work address for reminders")
    # NHS identities, where the person has them: their Spine Directory Service user id and role
    # profile, and their professional registrations.
    sds_user_id: SdsUserId | None = None
    sds_role_profile_id: SdsRoleProfileId | None = None
    professional_ids: tuple[ProfessionalId, ...] = ()


ADULTHOOD = 18


class YearsAfterEnd(Strict):
    years_after_end: int = Field(ge=1, le=100, description="Whole years after the episode ended")


class UntilBirthday(Strict):
    until_birthday: int = Field(ge=ADULTHOOD, le=100, description="Kept until this birthday")
    until_birthday_if_17_at_end: int = Field(
        ge=ADULTHOOD, le=100, description="Kept until this birthday if the person was 17 when the episode ended"
    )


class RetentionConfig(Strict):
    """Retention periods, and when the retention schedule runs (daily, at `run_at` local time)."""

    adult_health: YearsAfterEnd = YearsAfterEnd(years_after_end=8)
    mental_health: YearsAfterEnd = YearsAfterEnd(years_after_end=20)
    child: UntilBirthday = UntilBirthday(until_birthday=25, until_birthday_if_17_at_end=26)
    run_at: time = Field(default=time(2, 30), description="Time of day the retention run starts")
    timezone: str = "Europe/London"
    report_only: bool = Field(default=False, description="Report what has expired without shredding it")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return known_timezone(value)

    @model_validator(mode="after")
    def _at_least_the_childs_end(self) -> "RetentionConfig":
        if self.child.until_birthday_if_17_at_end < self.child.until_birthday:
            raise ValueError("child.until_birthday_if_17_at_end must not be before child.until_birthday")
        return self


class CheckpointsConfig(Strict):
    """The checkpoint schedule: how often every stream's head is signed, and where each signed
    checkpoint is delivered outside the database, so that a rewrite of the record with its hashes
    recomputed is caught against a copy its writers cannot reach."""

    every_minutes: int = Field(default=60, ge=1, description="Minutes between scheduled checkpoints")
    # Where each checkpoint is written as a file. Empty: `checkpoints` in the data directory, for
    # dev only: in production it must be a directory the database's writers cannot rewrite (a
    # write-once bucket mount, say), or the file is no better evidence than the database. A relative
    # path is relative to the data directory.
    directory: str = ""
    email: str | None = Field(
        default=None, pattern=EMAIL_ADDRESS, description="The auditors' address each checkpoint is emailed to"
    )


class FhirPollConfig(Strict):
    """Reading back each FHIR-delivered referral's Task from its receiver (docs/fhir.md, "Status
    updates from the receiver"): the poll schedule (`pathway-fhir-task-poll`) runs this often."""

    every_minutes: int = Field(default=15, ge=1, le=24 * 60, description="Minutes between polls of the receivers")


class PathwayConfig(Strict):
    sites: dict[str, SiteConfig]
    staff: tuple[StaffMember, ...] = ()
    services: tuple[Service, ...] = ()
    retention: RetentionConfig = RetentionConfig()
    checkpoints: CheckpointsConfig = CheckpointsConfig()
    fhir_poll: FhirPollConfig = FhirPollConfig()

    @model_validator(mode="after")
    def _keys_match(self) -> "PathwayConfig":
        for key, site in self.sites.items():
            if key != site.site_id:
                raise ValueError(f"site {key!r} has site_id {site.site_id!r}")
        for member in self.staff:
            unknown = [s for s in member.sites if s not in self.sites]
            if unknown:
                raise ValueError(f"staff {member.staff_id} names unknown sites {unknown}")
        ids = [service.service_id for service in self.services]
        if len(ids) != len(set(ids)):
            raise ValueError("service ids must be unique")
        for service in self.services:
            unknown = [s for s in service.sites if s not in self.sites]
            if unknown:
                raise ValueError(f"service {service.service_id} names unknown sites {unknown}")
        return self

    @model_validator(mode="after")
    def _services_per_site(self) -> "PathwayConfig":
        for key, site in self.sites.items():
            covering = tuple(s for s in self.services if key in s.sites)
            if covering != site.services:
                self.sites[key] = site.model_copy(update={"services": covering})
        return self

    def site(self, site_id: str) -> SiteConfig:
        try:
            return self.sites[site_id]
        except KeyError:
            known = ", ".join(sorted(self.sites))
            raise RuleViolation(Rule.UNKNOWN_SITE, f"there is no site {site_id!r} (known: {known})") from None

    def staff_at(self, site: str, roles: tuple[Role, ...]) -> list[StaffMember]:
        return [m for m in self.staff if site in m.sites and m.role in roles]

    def staff_member(self, staff_id: str) -> StaffMember:
        for member in self.staff:
            if member.staff_id == staff_id:
                return member
        raise RuleViolation(Rule.UNKNOWN_STAFF, f"there is no staff member {staff_id!r}")
