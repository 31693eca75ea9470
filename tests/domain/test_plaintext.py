"""The checks the service makes while a command is still plaintext (domain/plaintext.py), and the
reassignment rule that moved into decide: pure, no clock but the one given."""

from datetime import date

import pytest

from domain.commands import ReassignTask, RecordReferralOutcome
from domain.errors import Rule, RuleViolation
from domain.model import Person
from domain.outcomes import ReferralStatus
from domain.personal import sealed_lookalikes
from domain.plaintext import check_change, check_opening, checked_outcome, refuse_sealed_lookalikes
from domain.tasks import TaskKind
from tests.domain.support import AUDITOR, PRACTITIONER, TEAM_LEAD, Case, consent_given, open_case, refused

TODAY = date(2026, 12, 5)
SEALED = "sealed:v1:person-00000000-0000-4000-8000-000000000000:" + "A" * 40


def test_text_shaped_like_sealed_data_is_found_wherever_it_is() -> None:
    answer = {"answers": {"q1": [1, {"note": SEALED}], "sealed:key": "x"}, "note": " Sealed:v1:short", "ok": "fine"}
    assert sealed_lookalikes(answer) == ["answers.q1.1.note", "answers.sealed:key", "note"]
    person = open_case().model_copy(update={"person": Person(name=SEALED)})
    assert sealed_lookalikes(person) == ["person.name"]
    assert sealed_lookalikes({"a": "a note about sealing: nothing sealed here"}) == []


def test_very_deep_input_is_looked_through_without_running_out_of_stack() -> None:
    deep: list[object] = []
    inner = deep
    for _ in range(5000):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    inner.append("sealed:x")
    with pytest.raises(RuleViolation) as refused_input:
        refuse_sealed_lookalikes(deep)
    assert refused_input.value.rule is Rule.SEALED_INPUT


@pytest.mark.parametrize(
    ("born", "refusal"),
    [("2026-12-06", "after today"), ("1899-12-31", None), ("2016-12-05", "ok"), ("1900-01-01", "ok")],
)
def test_a_date_of_birth_is_plausible_or_refused(born: str, refusal: str | None) -> None:
    try:
        command = open_case().model_copy(update={"person": Person(date_of_birth=born), "age_band": None})
    except ValueError:
        assert refusal is None  # before 1900: refused by the model itself, no clock needed
        return
    if refusal == "ok":
        check_opening(command, TODAY)
        return
    with pytest.raises(RuleViolation) as refused_birth:
        check_opening(command, TODAY)
    assert refused_birth.value.rule is Rule.INVALID_INPUT and "date_of_birth" in refused_birth.value.message


def test_an_outcome_is_judged_in_the_workflows_order_task_first_then_its_kind(opened: Case) -> None:
    task = opened.task(TaskKind.CONSENT)
    with pytest.raises(RuleViolation) as wrong_role:
        checked_outcome(opened.state, task.task_id, AUDITOR, {"decision": "nonsense"})
    assert wrong_role.value.rule is Rule.ROLE_NOT_ALLOWED  # not outcome_invalid: the task is judged first
    with pytest.raises(RuleViolation) as unknown:
        checked_outcome(opened.state, "no-such-task", PRACTITIONER, consent_given())
    assert unknown.value.rule is Rule.TASK_UNKNOWN
    with pytest.raises(RuleViolation) as invalid:
        checked_outcome(opened.state, task.task_id, PRACTITIONER, {"decision": "nonsense"})
    assert invalid.value.rule is Rule.OUTCOME_INVALID
    assert checked_outcome(opened.state, task.task_id, PRACTITIONER, consent_given()) is not None


def test_a_task_is_never_given_to_someone_who_does_not_work_at_its_site(opened: Case) -> None:
    task = opened.task(TaskKind.CONSENT)
    elsewhere = ReassignTask(
        actor=TEAM_LEAD,
        task_id=task.task_id,
        assignee="pr-9",
        assignee_role=PRACTITIONER.role,
        assignee_sites=("north",),
    )
    refused(opened, elsewhere, "assignee_elsewhere")
    here = elsewhere.model_copy(update={"assignee_sites": ("north", opened.site.site_id)})
    assert [type(event).__name__ for event in opened.send(here)] == ["TaskReassigned"]


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_rejected_referral_needs_its_reason_while_it_is_plaintext(reason: str) -> None:
    """Sealed, even an empty reason is text: the workflow cannot tell, so the service asks."""
    rejected = RecordReferralOutcome(
        actor=PRACTITIONER, referral_id="r-1", status=ReferralStatus.REJECTED, reason=reason
    )
    with pytest.raises(RuleViolation) as caught:
        check_change(rejected)
    assert caught.value.rule is Rule.REASON_REQUIRED
    check_change(rejected.model_copy(update={"reason": "no capacity"}))
    check_change(rejected.model_copy(update={"status": ReferralStatus.ACCEPTED}))


def test_an_opening_with_neither_band_nor_date_of_birth_is_refused_before_any_lookup() -> None:
    """Refused while plaintext, so a reference that already has a case cannot answer it as found."""
    command = open_case().model_copy(update={"age_band": None})
    with pytest.raises(RuleViolation) as caught:
        check_opening(command, TODAY)
    assert caught.value.rule is Rule.AGE_BAND_REQUIRED
    assert check_opening(open_case(), TODAY).age_verified is False
