"""The search attributes operators filter on. Never personal data: stage, site, setting, flags, times."""

from datetime import datetime
from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributeUpdate, TypedSearchAttributes

from domain.state import CaseState

LD_STAGE = SearchAttributeKey.for_keyword("LdStage")
LD_SITE = SearchAttributeKey.for_keyword("LdSite")
LD_SETTING = SearchAttributeKey.for_keyword("LdSetting")
LD_COHORT = SearchAttributeKey.for_keyword_list("LdCohort")
LD_OVERDUE = SearchAttributeKey.for_bool("LdOverdue")
LD_NEXT_DUE = SearchAttributeKey.for_datetime("LdNextDue")
LD_ASSIGNEE = SearchAttributeKey.for_keyword("LdAssignee")

ALL_KEYS: list[SearchAttributeKey[Any]] = [
    LD_STAGE,
    LD_SITE,
    LD_SETTING,
    LD_COHORT,
    LD_OVERDUE,
    LD_NEXT_DUE,
    LD_ASSIGNEE,
]


def desired(state: CaseState) -> dict[str, Any]:
    """What each attribute should say for this state; None means unset."""
    next_task = min(state.open_tasks, key=lambda task: task.due_at, default=None)
    return {
        LD_STAGE.name: str(state.stage) if state.stage else None,
        LD_SITE.name: state.site or None,
        LD_SETTING.name: str(state.setting) if state.setting else None,
        LD_COHORT.name: [str(c) for c in state.cohorts] or None,
        LD_OVERDUE.name: state.overdue,
        LD_NEXT_DUE.name: next_task.due_at if next_task else None,
        LD_ASSIGNEE.name: next_task.assignee if next_task else None,
    }


def updates(current: TypedSearchAttributes, state: CaseState) -> list[SearchAttributeUpdate[Any]]:
    """Only the attributes that changed, so a quiet command adds no history event."""
    wanted = desired(state)
    changes: list[SearchAttributeUpdate[Any]] = []
    for key in ALL_KEYS:
        value = wanted[key.name]
        if _comparable(current.get(key)) != _comparable(value):
            changes.append(key.value_unset() if value is None else key.value_set(value))
    return changes


def _comparable(value: object) -> object:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, list | tuple):
        return list(value)
    return value
