"""The role x action matrix, cell by cell, against a table written out here by hand."""

import pytest

from domain.access import ACTION_ROLES, Action, Principal, allowed, may_work_on, require_allowed
from domain.errors import RuleViolation
from domain.model import Actor, Role
from domain.tasks import CANDIDATE_ROLES, TaskKind

ROLES = [Role.PRACTITIONER, Role.LINK_WORKER, Role.TEAM_LEAD, Role.AUDITOR, Role.OPERATOR, Role.ADMIN]

# Columns: practitioner, link worker, team lead, auditor, operator, admin.
EXPECTED = """
read_case                 x x x x . .
start_case                x . x . . .
close_case                x . x . . .
list_tasks                x x x . . .
claim_task                x x x . . .
reassign_task             . . x . . .
complete_task             x x x . . .
share_information         x . x . . .
withdraw_consent          x . x . . .
request_court_report      x . x . . .
record_referral_outcome   x x x . . .
read_access_log           . . . x . .
verify_records            . . . x . .
break_glass               x x x x . .
decode_payloads           . . . . x .
configure                 . . . . . x
shred_personal_data       . . . . . x
report_retention          . . . x . x
audit_case                . . . x . .
read_reports              . . x x . .
export_data_return        . . x x . .
export_fhir               x . x x . .
record_date_of_birth      x x x . . .
change_cohort             x . x . . .
record_justice_outcome    x . x . . .
record_release_date       x x x . . .
link_person               x . x . . .
"""

TABLE = {
    Action(row.split()[0]): dict(zip(ROLES, (mark == "x" for mark in row.split()[1:]), strict=True))
    for row in EXPECTED.strip().splitlines()
}
CELLS = [(action, role, TABLE[action][role]) for action in TABLE for role in ROLES]


def test_the_table_covers_every_action() -> None:
    assert set(TABLE) == set(Action) == set(ACTION_ROLES)


@pytest.mark.parametrize(("action", "role", "expected"), CELLS, ids=[f"{a}-{r}" for a, r, _ in CELLS])
def test_each_cell(action: Action, role: Role, expected: bool) -> None:
    assert allowed(role, action) is expected
    actor = Actor(staff_id="someone", role=role)
    if expected:
        require_allowed(actor, action)
    else:
        with pytest.raises(RuleViolation) as refusal:
            require_allowed(actor, action)
        assert refusal.value.rule == "role_not_allowed"
        assert str(role) in refusal.value.message


def test_the_workflow_itself_holds_no_permission() -> None:
    assert not any(allowed(Role.SYSTEM, action) for action in Action)


def test_an_auditor_reads_but_never_writes() -> None:
    reads = {
        Action.READ_CASE,
        Action.READ_ACCESS_LOG,
        Action.VERIFY_RECORDS,
        Action.BREAK_GLASS,
        Action.REPORT_RETENTION,
        Action.AUDIT_CASE,
        Action.EXPORT_DATA_RETURN,
        Action.READ_REPORTS,
        Action.EXPORT_FHIR,
    }
    writes = set(Action) - reads
    assert not any(allowed(Role.AUDITOR, action) for action in writes)


def test_whoever_may_do_a_task_may_claim_and_complete_it() -> None:
    for roles in CANDIDATE_ROLES.values():
        for role in roles:
            assert allowed(role, Action.CLAIM_TASK) and allowed(role, Action.COMPLETE_TASK), role


def test_a_principal_covers_only_its_sites() -> None:
    person = Principal(staff_id="lw-001", role=Role.LINK_WORKER, sites=("demo",))
    assert person.covers("demo") and not person.covers("north")
    assert person.actor == Actor(staff_id="lw-001", role=Role.LINK_WORKER)


def test_each_role_works_on_the_tasks_of_its_kinds_and_a_team_lead_on_all() -> None:
    for kind, roles in CANDIDATE_ROLES.items():
        assert may_work_on(Role.TEAM_LEAD, roles), kind
        for role in (Role.PRACTITIONER, Role.LINK_WORKER):
            assert may_work_on(role, roles) is (role in roles), (kind, role)
    assert not may_work_on(Role.LINK_WORKER, CANDIDATE_ROLES[TaskKind.CONSENT])
    assert may_work_on(Role.LINK_WORKER, CANDIDATE_ROLES[TaskKind.CONTACT])
    # A role that works no tasks never does, whatever a task's candidates say.
    assert not may_work_on(Role.AUDITOR, (Role.AUDITOR,))
