"""Projections as a pure function of a folded case: what the `cases` and `tasks` rows must say."""

from domain.state import CaseState
from store.records import CaseRecord, TaskRecord


def case_record(state: CaseState) -> CaseRecord:
    assert state.stage and state.setting and state.source and state.age_band and state.opened_at
    return CaseRecord(
        case_id=state.case_id,
        site=state.site,
        setting=state.setting,
        source=state.source,
        age_band=state.age_band,
        cohorts=tuple(state.cohorts),
        stage=state.stage,
        opened_at=state.opened_at,
        closed_at=state.closed_at,
        close_reason=state.close_reason,
        justice_outcome=state.justice_outcome,
        overdue=state.overdue,
        next_due=state.next_due,
        version=state.version,
        person_id=state.person_id,
    )


def task_records(state: CaseState) -> list[TaskRecord]:
    return [
        TaskRecord(
            task_id=task.task_id,
            case_id=state.case_id,
            kind=task.kind,
            site=task.site,
            candidate_roles=tuple(task.candidate_roles),
            priority=task.priority,
            status=task.status,
            assignee=task.assignee,
            overdue=task.overdue,
            due_at=task.due_at,
            opened_at=task.opened_at,
            closed_at=task.closed_at,
            closed_by=task.closed_by,
        )
        for task in state.tasks.values()
    ]
