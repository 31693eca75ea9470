"""What the workflows take, return and signal to each other: their input, result and message models.

They live here, not beside their workflows, because the sandbox runs a workflow's module afresh for
every workflow it starts, and building a pydantic model's schema is the costliest part of that. The
workflows import this module passed through (`workflow.unsafe.imports_passed_through`), so the
models are built once per process; they hold no state, so sharing them is safe.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from activities.retention import ExpiredRecord, RecordForReview, RetentionPage, ShredExpiredResult
from domain.config import ReferralTimings, Service, SiteConfig, WorkingCalendar
from domain.model import Role, Strict
from domain.outcomes import CourtReportPurpose, Recipient, ReferralRequest
from domain.reconnect import OpenHandedOffEpisode
from domain.state import CaseState

# A case continues as new once its run's history is this long, so a worker that picks up a case
# (after a restart, or when it was evicted from the cache) replays at most this many events, some
# tens of milliseconds; the server's own suggestion comes only at thousands of events, and a
# two-year case's single run took about a second to replay (bench/README.md).
RUN_EVENTS_LIMIT = 150


class CaseInput(BaseModel):
    case_id: str
    site: SiteConfig
    snapshot: CaseState | None = None  # set when a long case continues as new
    # None: only when the server suggests it. The time-skipping test server stops skipping time
    # after a run continues as new (its sleep never returns), so tests and benchmarks on it use None.
    run_events_limit: int | None = Field(default=RUN_EVENTS_LIMIT, ge=50)
    # Set when another episode's hand-off starts this one (a linked RECONNECT episode): how it opens.
    opening: OpenHandedOffEpisode | None = None


class CaseVersion(BaseModel):
    """What a case's Update answers: the case and its version after the command. The service reads
    the case itself from the store, where `current_state` folds only what is new: the whole state,
    answered before, was the largest payload in every history (7 KB by closure). Fields it does not
    name are ignored, so the whole CaseState a worker of before answers parses as this too."""

    case_id: str
    version: int

    @classmethod
    def of(cls, state: CaseState) -> "CaseVersion":
        return cls(case_id=state.case_id, version=state.version)


class CaseResult(BaseModel):
    case_id: str
    version: int
    close_reason: str | None


class ReferralInput(BaseModel):
    case_id: str
    referral_id: str
    service: Service
    request: ReferralRequest
    calendar: WorkingCalendar
    timings: ReferralTimings


class ReferralProgress(BaseModel):
    referral_id: str
    # send_stopped: the case closed, and no attempt (the last one made at closure included) got it through.
    kind: Literal["sent", "send_failed", "send_stopped", "chase_due", "escalation_due"]
    channel: Literal["email", "http"] | None = None
    reason: str = ""


class ReferralResult(BaseModel):
    referral_id: str
    sent: bool
    chased: bool
    escalated: bool


class CourtReportInput(BaseModel):
    case_id: str
    report_id: str
    purpose: CourtReportPurpose
    hearing_at: datetime
    addresses: dict[Recipient, str]


class CourtReportDelivery(BaseModel):
    report_id: str
    recipients: tuple[Recipient, ...]


class CourtReportResult(BaseModel):
    report_id: str
    delivered_to: tuple[Recipient, ...]


class RetentionReport(BaseModel):
    as_of: datetime
    report_only: bool
    examined: int = Field(default=0, description="Closed cases still holding personal data that were looked at")
    expired: list[ExpiredRecord] = Field(default_factory=list, description="Whose retention period had ended")
    shredded: list[str] = Field(default_factory=list, description="Case ids shredded in this run")
    for_review: list[RecordForReview] = Field(default_factory=list, description="Kept: cannot be dated")
    refused: list[RecordForReview] = Field(default_factory=list, description="Expired, but shredding was refused")

    def with_page(self, page: RetentionPage) -> "RetentionReport":
        return self.model_copy(
            update={
                "examined": self.examined + page.examined,
                "expired": [*self.expired, *page.expired],
                "for_review": [*self.for_review, *page.for_review],
            }
        )

    def with_shredding(self, done: ShredExpiredResult) -> "RetentionReport":
        return self.model_copy(
            update={"shredded": [*self.shredded, *done.shredded], "refused": [*self.refused, *done.refused]}
        )

    def summary(self) -> str:
        done = "would shred" if self.report_only else f"shredded {len(self.shredded)} of"
        return (
            f"examined {self.examined} closed record(s); {done} {len(self.expired)} expired; "
            f"{len(self.for_review)} for review; {len(self.refused)} refused"
        )


class RetentionInput(BaseModel):
    as_of: datetime | None = Field(default=None, description="Default: when the run starts")
    report_only: bool = Field(default=False, description="Report what has expired, shred nothing")
    page_size: int = Field(default=200, ge=1, le=1000)
    # Carried over continue-as-new, so a long first run goes on where it was.
    after_case_id: str | None = None
    report: RetentionReport | None = None


class BreakGlassAlert(Strict):
    """A case was read from outside its site: what its team leads are told, in codes only.

    Strict (unknown fields are an error), so the break-glass reason, which may name the person,
    cannot ride along: it stays in the access log, and the alert only points there."""

    alert_id: str = Field(min_length=1, description="The access record of the read; the alert's workflow id")
    case_id: str = Field(min_length=1)
    site: str = Field(min_length=1, description="The case's site, whose team leads are told")
    staff_id: str = Field(min_length=1, description="Who read the case")
    role: Role = Field(description="The reader's role")


class CheckpointInput(BaseModel):
    """A checkpoint run, as the checkpoint schedule starts it (workers/checkpoint_schedule.py)."""

    created_by: str = Field(
        default="pathway", min_length=1, description="Who the signed document says made it: the schedule's id"
    )


class CheckpointMade(BaseModel):
    """A checkpoint signed, stored and written to the checkpoint directory. The signed document
    itself stays out of the workflow's history: with many cases it outgrows a Temporal payload."""

    checkpoint_id: str
    created_at: datetime
    file_name: str = Field(description="The delivered file, in the worker's checkpoint directory")
    streams: int
    access_logs: int
    key_fingerprint: str


class CheckpointResult(BaseModel):
    checkpoint: CheckpointMade
    email: Literal["sent", "not_sent", "failed"] = Field(
        description="The copy to the auditors' address: not_sent when none is configured, or no mail server"
    )
