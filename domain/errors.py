"""The one error the domain and the service raise: a refused command or read, naming the rule it broke.

Every rule is a member of `Rule`, and each member is declared with the kind of refusal it is, so a
rule cannot exist without saying whether it means "not allowed", "no such thing", "bad input", "not
possible now" or "try again later" (each interface turns that kind into its own answer: an HTTP
status, a CLI exit code)."""

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any


class Refusal(StrEnum):
    FORBIDDEN = "forbidden"  # your role or sites do not allow it
    NOT_FOUND = "not_found"  # no such case, task or thing (or none you may see)
    INVALID = "invalid"  # the input itself is wrong
    CONFLICT = "conflict"  # not possible in the case's current state
    UNAVAILABLE = "unavailable"  # cannot be done at the moment: try again
    STALE = "stale"  # the case changed since the version the asker expected


_F, _N, _I, _C, _U = Refusal.FORBIDDEN, Refusal.NOT_FOUND, Refusal.INVALID, Refusal.CONFLICT, Refusal.UNAVAILABLE
_S = Refusal.STALE


class Rule(StrEnum):
    """A stable rule identifier (what clients and tests match on) and the kind of refusal it is."""

    refusal: Refusal

    def __new__(cls, value: str, refusal: Refusal) -> "Rule":
        member = str.__new__(cls, value)
        member._value_ = value
        member.refusal = refusal
        return member

    @classmethod
    def named(cls, text: str) -> "Rule | None":
        """The rule with this identifier (as a workflow's refusal carries it), or None if unknown."""
        found = cls._value2member_map_.get(text)
        return found if isinstance(found, Rule) else None

    # Who may do it
    ROLE_NOT_ALLOWED = "role_not_allowed", _F
    AUDITORS_READ_ONLY = "auditors_read_only", _F
    TASK_ASSIGNED_TO_OTHER = "task_assigned_to_other", _F
    OUTSIDE_YOUR_SITES = "outside_your_sites", _F
    FORM_EXPIRED = "form_expired", _F
    # What exists (for the asker)
    TASK_UNKNOWN = "task_unknown", _N
    CASE_UNKNOWN = "case_unknown", _N
    REFERRAL_UNKNOWN = "referral_unknown", _N
    REPORT_UNKNOWN = "report_unknown", _N
    UNKNOWN_SITE = "unknown_site", _N
    UNKNOWN_STAFF = "unknown_staff", _N
    NOT_AVAILABLE = "not_available", _N
    PERSON_UNKNOWN = "person_unknown", _N
    NOT_A_CANDIDATE = "not_a_candidate", _I  # a person match confirmed as someone it did not suggest
    # The input
    INVALID_INPUT = "invalid_input", _I
    INVALID_COMMAND = "invalid_command", _I
    OUTCOME_INVALID = "outcome_invalid", _I
    COMMAND_TOO_DEEP = "command_too_deep", _I
    COMMAND_TOO_LARGE = "command_too_large", _I
    BAD_PERIOD = "bad_period", _I
    UNKNOWN_TASK_KIND = "unknown_task_kind", _I
    UNKNOWN_COMMAND = "unknown_command", _I
    SEALED_INPUT = "sealed_input", _I
    # The person's age and when they were identified (domain/age.py, domain/identification.py)
    AGE_BAND_REQUIRED = "age_band_required", _I
    AGE_BAND_CONTRADICTS_BIRTH_DATE = "age_band_contradicts_birth_date", _I
    UNDER_CRIMINAL_RESPONSIBILITY = "under_criminal_responsibility", _I
    BORN_AFTER_IDENTIFICATION = "born_after_identification", _I
    IDENTIFIED_IN_FUTURE = "identified_in_future", _I
    IDENTIFIED_TOO_LONG_AGO = "identified_too_long_ago", _I
    RELEASE_BEFORE_EPISODE = "release_before_episode", _I
    ALREADY_THAT_PERSON = "already_that_person", _C
    NOT_LINKED = "not_linked", _C
    GOAL_NOT_SET = "goal_not_set", _I  # a contact progressed a goal the case's link work did not set
    # Cannot be done now
    KEYS_UNAVAILABLE = "keys_unavailable", _U
    ALERT_UNAVAILABLE = "alert_unavailable", _U
    CASE_CATCHING_UP = "case_catching_up", _U
    # The asker saw an older version of the case (an HTTP If-Match)
    CASE_VERSION_CHANGED = "case_version_changed", _S
    # The case's current state (the pathway rules)
    ALREADY_ASSIGNED = "already_assigned", _C
    ALREADY_ESCALATED = "already_escalated", _C
    ALREADY_HANDED_OFF = "already_handed_off", _C
    ALREADY_OVERDUE = "already_overdue", _C
    ASSESSMENT_REQUIRES_CONSENT = "assessment_requires_consent", _C
    ASSIGNEE_CANNOT_DO_TASK = "assignee_cannot_do_task", _C
    ASSIGNEE_ELSEWHERE = "assignee_elsewhere", _C
    CASE_ALREADY_OPEN = "case_already_open", _C
    CASE_NOT_CLOSED = "case_not_closed", _C
    CASE_NOT_OPEN = "case_not_open", _C
    CASE_PAST_SENTENCE = "case_past_sentence", _C
    CLOSURE_GATE = "closure_gate", _C
    COHORT_UNCHANGED = "cohort_unchanged", _C
    CONSENT_NOT_GIVEN = "consent_not_given", _C
    DELIVERY_RECIPIENTS = "delivery_recipients", _C
    DISCLOSURE_NEEDS_CONSENT = "disclosure_needs_consent", _C
    DUE_AFTER_HEARING = "due_after_hearing", _C
    DUE_IN_PAST = "due_in_past", _C
    GUARDIAN_INVOLVEMENT_REQUIRED = "guardian_involvement_required", _C
    HEARING_IN_PAST = "hearing_in_past", _C
    INSTRUMENT_NOT_CONFIGURED = "instrument_not_configured", _C
    JUSTICE_OUTCOME_UNCHANGED = "justice_outcome_unchanged", _C
    NO_SUCH_DEADLINE = "no_such_deadline", _C
    NOT_A_RECONNECT_EPISODE = "not_a_reconnect_episode", _C
    NO_SUPPORT = "no_support", _C
    NOT_YET_DUE = "not_yet_due", _C
    NOT_YET_TIME = "not_yet_time", _C
    OTHER_REFERRAL = "other_referral", _C
    PERSON_SHREDDED = "person_shredded", _C
    REASON_REQUIRED = "reason_required", _C
    RECIPIENT_WITHOUT_ADDRESS = "recipient_without_address", _C
    RECORD_ALTERED = "record_altered", _C
    REFERRAL_ALREADY_SENT = "referral_already_sent", _C
    REFERRAL_NOT_CHASEABLE = "referral_not_chaseable", _C
    REFERRAL_NOT_ESCALATABLE = "referral_not_escalatable", _C
    REFERRAL_NOT_SENT = "referral_not_sent", _C
    REFERRAL_TRANSITION = "referral_transition", _C
    REMINDER_NOT_NEEDED = "reminder_not_needed", _C
    REPORT_ALREADY_DELIVERED = "report_already_delivered", _C
    REPORT_NEEDS_CONSENT_SCOPE = "report_needs_consent_scope", _C
    REPORT_NOT_SUBMITTED = "report_not_submitted", _C
    REPORT_REQUIRES_CONSENT = "report_requires_consent", _C
    SCREENING_REQUIRES_CONSENT = "screening_requires_consent", _C
    SERVICE_NOT_AVAILABLE = "service_not_available", _C
    SERVICE_NOT_CHOSEN_BY_HAND = "service_not_chosen_by_hand", _C
    SERVICE_NOT_FOR_AGE_BAND = "service_not_for_age_band", _C
    SETTING_NOT_SERVED = "setting_not_served", _C
    SHARING_REQUIRES_CONSENT = "sharing_requires_consent", _C
    STAGE_TRANSITION = "stage_transition", _C
    SUPPORT_ALREADY_ENDED = "support_already_ended", _C
    TASK_NOT_OPEN = "task_not_open", _C
    TASK_NOT_SCHEDULED = "task_not_scheduled", _C
    WOMENS_PATHWAY_NOT_OFFERED = "womens_pathway_not_offered", _C
    WRONG_SITE = "wrong_site", _C
    YOUTH_COURT_IS_FOR_CHILDREN = "youth_court_is_for_children", _C


class RuleViolation(Exception):
    """A command or read was refused; `rule` is a stable identifier, `message` says why in plain words."""

    def __init__(self, rule: Rule, message: str) -> None:
        super().__init__(f"{message} (rule: {rule})")
        self.rule = rule
        self.message = message


# Where FastAPI says a bad value came from; the rest of the location is the field's own path.
REQUEST_PARTS = frozenset({"body", "query", "path", "header", "cookie"})


def plain_message(problem: Mapping[str, Any]) -> str:
    """One of pydantic's validation problems in plain words."""
    return str(problem.get("msg", "not valid")).removeprefix("Value error, ")


def field_problems(errors: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Pydantic's validation problems by where they are ("person.nhs_number"), in plain words: how the
    API, the CLI and the outcome rules all say what is wrong with an input."""
    fields: dict[str, str] = {}
    for problem in errors:
        location = [str(part) for part in problem.get("loc", ())]
        if location and location[0] in REQUEST_PARTS:
            location = location[1:]
        fields.setdefault(".".join(location) or "input", plain_message(problem))
    return fields


def described(errors: Iterable[Mapping[str, Any]]) -> str:
    """The problems as one line: "where: what; where: what"."""
    return "; ".join(f"{where}: {why}" for where, why in field_problems(errors).items())
