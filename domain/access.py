"""Who may do what: the role x action matrix, and the site scope of a signed-in person.

The pathway rules (domain/rules.py) check the actions that change a case; the API checks the rest
(reading, listing, reassigning, auditing) from the same table. Which task kinds a role may complete
is finer grained: domain/tasks.py CANDIDATE_ROLES.
"""

from collections.abc import Iterable
from enum import StrEnum

from domain.commands import Command
from domain.errors import Rule, RuleViolation
from domain.model import Actor, Role, Strict


class Action(StrEnum):
    READ_CASE = "read_case"
    START_CASE = "start_case"
    CLOSE_CASE = "close_case"
    LIST_TASKS = "list_tasks"
    CLAIM_TASK = "claim_task"
    REASSIGN_TASK = "reassign_task"
    COMPLETE_TASK = "complete_task"
    SHARE_INFORMATION = "share_information"
    WITHDRAW_CONSENT = "withdraw_consent"
    REQUEST_COURT_REPORT = "request_court_report"
    RECORD_REFERRAL_OUTCOME = "record_referral_outcome"
    READ_ACCESS_LOG = "read_access_log"
    VERIFY_RECORDS = "verify_records"
    BREAK_GLASS = "break_glass"
    DECODE_PAYLOADS = "decode_payloads"
    CONFIGURE = "configure"
    SHRED_PERSONAL_DATA = "shred_personal_data"
    REPORT_RETENTION = "report_retention"
    AUDIT_CASE = "audit_case"
    READ_REPORTS = "read_reports"
    EXPORT_DATA_RETURN = "export_data_return"
    EXPORT_FHIR = "export_fhir"
    RECORD_DATE_OF_BIRTH = "record_date_of_birth"
    CHANGE_COHORT = "change_cohort"
    RECORD_JUSTICE_OUTCOME = "record_justice_outcome"
    RECORD_RELEASE_DATE = "record_release_date"
    LINK_PERSON = "link_person"


PRACTITIONER, LINK_WORKER, TEAM_LEAD = Role.PRACTITIONER, Role.LINK_WORKER, Role.TEAM_LEAD
AUDITOR, OPERATOR, ADMIN = Role.AUDITOR, Role.OPERATOR, Role.ADMIN
CASE_WORKERS = (PRACTITIONER, LINK_WORKER, TEAM_LEAD)

ACTION_ROLES: dict[Action, tuple[Role, ...]] = {
    Action.READ_CASE: (*CASE_WORKERS, AUDITOR),
    Action.START_CASE: (PRACTITIONER, TEAM_LEAD),
    Action.CLOSE_CASE: (PRACTITIONER, TEAM_LEAD),
    Action.LIST_TASKS: CASE_WORKERS,
    Action.CLAIM_TASK: CASE_WORKERS,
    Action.REASSIGN_TASK: (TEAM_LEAD,),
    Action.COMPLETE_TASK: CASE_WORKERS,
    Action.SHARE_INFORMATION: (PRACTITIONER, TEAM_LEAD),
    Action.WITHDRAW_CONSENT: (PRACTITIONER, TEAM_LEAD),
    Action.REQUEST_COURT_REPORT: (PRACTITIONER, TEAM_LEAD),
    Action.RECORD_REFERRAL_OUTCOME: CASE_WORKERS,
    Action.RECORD_DATE_OF_BIRTH: CASE_WORKERS,
    Action.CHANGE_COHORT: (PRACTITIONER, TEAM_LEAD),
    Action.RECORD_JUSTICE_OUTCOME: (PRACTITIONER, TEAM_LEAD),
    Action.RECORD_RELEASE_DATE: CASE_WORKERS,
    Action.LINK_PERSON: (PRACTITIONER, TEAM_LEAD),
    Action.READ_ACCESS_LOG: (AUDITOR,),
    Action.VERIFY_RECORDS: (AUDITOR,),
    Action.BREAK_GLASS: (*CASE_WORKERS, AUDITOR),
    Action.DECODE_PAYLOADS: (OPERATOR,),
    Action.CONFIGURE: (ADMIN,),
    Action.SHRED_PERSONAL_DATA: (ADMIN,),
    Action.REPORT_RETENTION: (AUDITOR, ADMIN),
    Action.AUDIT_CASE: (AUDITOR,),
    Action.READ_REPORTS: (TEAM_LEAD, AUDITOR),
    Action.EXPORT_DATA_RETURN: (TEAM_LEAD, AUDITOR),
    # Clinical data for a receiving clinician (docs/fhir.md): practitioners and team leads, and auditors.
    Action.EXPORT_FHIR: (PRACTITIONER, TEAM_LEAD, AUDITOR),
}

ACTION_WORDS: dict[Action, str] = {
    Action.READ_CASE: "read a case",
    Action.START_CASE: "start a case",
    Action.CLOSE_CASE: "close a case",
    Action.LIST_TASKS: "list tasks",
    Action.CLAIM_TASK: "claim a task",
    Action.REASSIGN_TASK: "reassign a task",
    Action.COMPLETE_TASK: "complete a task",
    Action.SHARE_INFORMATION: "share information",
    Action.WITHDRAW_CONSENT: "record a withdrawal of consent",
    Action.REQUEST_COURT_REPORT: "request a court report",
    Action.RECORD_REFERRAL_OUTCOME: "record a referral outcome",
    Action.READ_ACCESS_LOG: "read who accessed a case",
    Action.VERIFY_RECORDS: "verify the records",
    Action.BREAK_GLASS: "read a case outside their sites with a stated reason",
    Action.DECODE_PAYLOADS: "decode Temporal payloads",
    Action.CONFIGURE: "change the configuration",
    Action.SHRED_PERSONAL_DATA: "shred a person's personal data",
    Action.REPORT_RETENTION: "report which records have reached the end of retention",
    Action.AUDIT_CASE: "audit a case (its timeline as of any time, an export)",
    Action.READ_REPORTS: "read the service reports",
    Action.EXPORT_DATA_RETURN: "export the monthly data return for the commissioner",
    Action.EXPORT_FHIR: "export a case as FHIR",
    Action.RECORD_DATE_OF_BIRTH: "record a person's date of birth",
    Action.CHANGE_COHORT: "put a person on a cohort's pathway or take them off it",
    Action.RECORD_JUSTICE_OUTCOME: "record a justice outcome",
    Action.RECORD_RELEASE_DATE: "record a release date",
    Action.LINK_PERSON: "link or unlink an episode and a person seen before",
}


# How long a break-glass reason must be: long enough to say why, short enough to stay a reason.
BREAK_GLASS_REASON_CHARACTERS = (10, 500)


def break_glass_reason(text: str) -> str:
    """A reason to read a case outside your sites, as it will be recorded."""
    reason = text.strip()
    shortest, longest = BREAK_GLASS_REASON_CHARACTERS
    if not shortest <= len(reason) <= longest:
        raise RuleViolation(
            Rule.INVALID_INPUT, f"give the reason you need this case, in {shortest} to {longest} characters"
        )
    return reason


# What each command a person sends is, in the access log (recorded by the workflow with its events).
CHANGE_ACCESS: dict[str, tuple[str, str]] = {
    "OpenCase": ("start_case", "identification"),
    "ClaimTask": ("claim_task", "work on a task"),
    "ReassignTask": ("reassign_task", "team work"),
    "CompleteTask": ("complete_task", "work on a task"),
    "ShareInformation": ("share_information", "case work"),
    "WithdrawConsent": ("withdraw_consent", "case work"),
    "RecordReferralOutcome": ("record_referral_outcome", "case work"),
    "RequestCourtReport": ("request_court_report", "case work"),
    "CloseCase": ("close_case", "case work"),
    "RecordDateOfBirth": ("record_date_of_birth", "case work"),
    "ChangeCohort": ("change_cohort", "case work"),
    "RecordJusticeOutcome": ("record_justice_outcome", "case work"),
    "RecordReleaseDate": ("record_release_date", "case work"),
    "LinkPerson": ("link_person", "case work"),
    "UnlinkPerson": ("unlink_person", "case work"),
}


def change_access(command: Command) -> tuple[str, str] | None:
    """The access log's action and purpose for a person's command; None for the system's own (timers,
    a referral's progress), which nobody accessed."""
    if command.actor.role is Role.SYSTEM:
        return None
    return CHANGE_ACCESS[type(command).__name__]


SERVICE_ACTOR_PREFIX = "service:"


def service_actor(service_id: str) -> Actor:
    """The system acting for a receiving service: what the service's own system says of a referral
    made to it (its FHIR Task, read back by the worker) is recorded in this name. The matrix gives
    it nothing; the referral rules let it answer only the referrals made to that service."""
    return Actor(staff_id=f"{SERVICE_ACTOR_PREFIX}{service_id}", role=Role.SYSTEM)


def acts_for_a_service(actor: Actor) -> bool:
    return actor.role is Role.SYSTEM and actor.staff_id.startswith(SERVICE_ACTOR_PREFIX)


def allowed(role: Role, action: Action) -> bool:
    return role in ACTION_ROLES[action]


def may_work_on(role: Role, candidate_roles: Iterable[str]) -> bool:
    """Whether a role works a task meant for `candidate_roles`: it may complete tasks at all (the
    matrix) and the task's kind is one of its own (domain/tasks.py CANDIDATE_ROLES). Team leads oversee
    every task of their team, so they work on all of them."""
    return allowed(role, Action.COMPLETE_TASK) and (role is TEAM_LEAD or role in candidate_roles)


def require_allowed(actor: Actor, action: Action) -> None:
    if not allowed(actor.role, action):
        roles = ", ".join(ACTION_ROLES[action])
        refusal = f"{actor.role.with_article} cannot {ACTION_WORDS[action]} (allowed: {roles})"
        raise RuleViolation(Rule.ROLE_NOT_ALLOWED, refusal)


class Principal(Strict):
    """A signed-in person: who, in which role, for which sites."""

    staff_id: str
    role: Role
    sites: tuple[str, ...]

    @property
    def actor(self) -> Actor:
        return Actor(staff_id=self.staff_id, role=self.role)

    def covers(self, site: str) -> bool:
        return site in self.sites
