"""What the projections hold, as typed rows (also what `--json` reads print)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class CaseRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    site: str
    setting: str
    source: str
    age_band: str
    cohorts: tuple[str, ...]
    stage: str
    opened_at: datetime
    closed_at: datetime | None
    close_reason: str | None
    justice_outcome: str | None
    overdue: bool
    next_due: datetime | None
    version: int
    person_id: str | None = None  # the person the episode is of (None: opened before people were kept)


class TaskRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    task_id: str
    case_id: str
    kind: str
    site: str
    candidate_roles: tuple[str, ...]
    priority: str
    status: str
    assignee: str | None
    overdue: bool
    due_at: datetime
    opened_at: datetime
    closed_at: datetime | None
    closed_by: str | None
