"""A receiving FHIR system's Task read back into the referral's lifecycle (domain/fhir_task_updates.py):
the table in the module's docstring, read here and checked cell by cell; jumps through the allowed
steps; what is refused and reported; rejection reasons."""

import re
from pathlib import Path

import pytest

from domain import fhir_task_updates
from domain.fhir_task_updates import (
    NO_REASON,
    TASK_STATUS_MEANS,
    Problem,
    StatusChange,
    TaskReading,
    read_task,
    still_answerable,
)
from domain.outcomes import ReferralStatus
from domain.rules import REFERRAL_TRANSITIONS

S = ReferralStatus
# Every FHIR R4 Task.status (https://hl7.org/fhir/R4/valueset-task-status.html).
R4_TASK_STATUSES = [
    "draft",
    "requested",
    "received",
    "accepted",
    "rejected",
    "ready",
    "cancelled",
    "in-progress",
    "on-hold",
    "failed",
    "completed",
    "entered-in-error",
]


DOCS = Path(__file__).resolve().parents[2] / "docs" / "fhir.md"


def documented_rows(doc: str) -> list[tuple[S | None, list[str], list[tuple[str, list[str]]]]]:
    """A mapping table: (becomes, Task.status alone, [(businessStatus, with Task.status)])."""
    rows = []
    for line in doc.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("the referral becomes", "---"):
            continue
        becomes = None if cells[0] == "no change" else S(cells[0])
        alone = re.findall(r"`([\w-]+)`", cells[1])
        business = [
            (code, re.findall(r"`([\w-]+)`", rest)) for code, rest in re.findall(r"`(\w+)` with (.+)", cells[2])
        ]
        rows.append((becomes, alone, business))
    return rows


def target(reading: TaskReading) -> S | None:
    """Where the reading leaves the referral (None: where it was)."""
    assert reading.problem is None, reading.detail
    return reading.changes[-1].status if reading.changes else None


def start_for(becomes: S | None) -> S:
    """A referral from which the status is one step away (or sent, for no change)."""
    if becomes is None or becomes in REFERRAL_TRANSITIONS[S.SENT]:
        return S.SENT
    return next(s for s in (S.ACCEPTED, S.ATTENDED, S.DID_NOT_ATTEND) if becomes in REFERRAL_TRANSITIONS[s])


def test_the_documented_table_is_what_the_code_does() -> None:
    rows = documented_rows(fhir_task_updates.__doc__ or "")
    assert len(rows) == 8
    assert {becomes for becomes, _, _ in rows} == {None, *fhir_task_updates.RECEIVER_STATUSES}
    alone_documented = {status for _, alone, _ in rows for status in alone}
    assert alone_documented == set(TASK_STATUS_MEANS)
    for becomes, alone, business in rows:
        start = start_for(becomes)
        for status in alone:
            assert target(read_task(start, status, [], "why")) is becomes, status
        for code, with_statuses in business:
            assert set(with_statuses) == fhir_task_updates.BUSINESS_STATUS_WITH[S(code)]
            for status in with_statuses:
                assert target(read_task(start, status, [code], "why")) is becomes, (code, status)


def test_docs_fhir_md_shows_the_same_table() -> None:
    section = DOCS.read_text().split("## Status updates from the receiver", 1)[1]
    assert documented_rows(section) == documented_rows(fhir_task_updates.__doc__ or "")


@pytest.mark.parametrize("status", sorted(set(R4_TASK_STATUSES) - set(TASK_STATUS_MEANS)))
def test_other_r4_statuses_change_nothing_and_are_reported(status: str) -> None:
    reading = read_task(S.SENT, status, [], None)
    assert (reading.changes, reading.problem) == ((), Problem.UNKNOWN_CODE)
    assert status in reading.detail


def test_our_own_codes_as_sent_leave_the_task_status_to_decide() -> None:
    for code in ("drafted", "sent"):
        assert read_task(S.SENT, "accepted", [code], None).changes == (StatusChange(status=S.ACCEPTED),)
        assert read_task(S.SENT, "received", [code], None) == TaskReading()
    assert read_task(S.ACCEPTED, "in-progress", ["drafted", "did_not_attend"], None).changes == (
        StatusChange(status=S.DID_NOT_ATTEND),
    )


@pytest.mark.parametrize("code", ["closed", "triaged", "ACCEPTED"])
def test_business_codes_not_taken_from_a_receiver_are_reported(code: str) -> None:
    reading = read_task(S.SENT, "accepted", [code], None)
    assert (reading.changes, reading.problem) == ((), Problem.UNKNOWN_CODE)


def test_a_hostile_code_is_not_quoted_in_the_report() -> None:
    reading = read_task(S.SENT, "Sam Example, 1990-04-01", [], None)
    assert reading.problem is Problem.UNKNOWN_CODE and "Sam" not in reading.detail


def test_a_business_status_that_disagrees_with_the_status_is_reported() -> None:
    reading = read_task(S.ATTENDED, "failed", ["engaged"], None)
    assert (reading.changes, reading.problem) == ((), Problem.INCONSISTENT)
    two = read_task(S.ATTENDED, "completed", ["engaged", "disengaged"], None)
    assert (two.changes, two.problem) == ((), Problem.INCONSISTENT)


def test_the_business_status_wins_over_the_coarse_status() -> None:
    assert read_task(S.ACCEPTED, "in-progress", ["did_not_attend"], None).changes == (
        StatusChange(status=S.DID_NOT_ATTEND),
    )
    assert read_task(S.SENT, "cancelled", ["declined_by_person"], "moved away").changes == (
        StatusChange(status=S.DECLINED_BY_PERSON, reason="moved away"),
    )


def test_a_jump_records_each_step_on_the_way() -> None:
    assert read_task(S.SENT, "in-progress", [], None).changes == (
        StatusChange(status=S.ACCEPTED),
        StatusChange(status=S.ATTENDED),
    )
    assert [c.status for c in read_task(S.SENT, "completed", [], None).changes] == [S.ACCEPTED, S.ATTENDED, S.ENGAGED]
    assert [c.status for c in read_task(S.DID_NOT_ATTEND, "completed", [], None).changes] == [S.ATTENDED, S.ENGAGED]


def test_a_jump_that_could_go_two_ways_is_reported_not_guessed() -> None:
    reading = read_task(S.ACCEPTED, "failed", [], None)
    assert (reading.changes, reading.problem) == ((), Problem.AMBIGUOUS)
    assert "attended" in reading.detail and "did_not_attend" in reading.detail
    assert read_task(S.SENT, "failed", [], None).problem is Problem.AMBIGUOUS


@pytest.mark.parametrize(
    ("current", "status"),
    [(S.ENGAGED, "accepted"), (S.ACCEPTED, "rejected"), (S.ATTENDED, "on-hold"), (S.REJECTED, "accepted")],
)
def test_a_change_the_rules_do_not_allow_is_reported(current: S, status: str) -> None:
    reading = read_task(current, status, [], "no capacity")
    assert (reading.changes, reading.problem) == ((), Problem.NOT_ALLOWED)
    assert str(current) in reading.detail


@pytest.mark.parametrize("current", [S.SENT, S.ACCEPTED, S.ATTENDED, S.ENGAGED])
def test_the_same_status_again_changes_nothing_and_is_no_problem(current: S) -> None:
    status = {S.SENT: "received", S.ACCEPTED: "accepted", S.ATTENDED: "in-progress", S.ENGAGED: "completed"}[current]
    assert read_task(current, status, [], None) == TaskReading()


def test_a_rejection_takes_the_status_reason_and_says_when_there_is_none() -> None:
    assert read_task(S.SENT, "rejected", [], "No capacity until March").changes == (
        StatusChange(status=S.REJECTED, reason="No capacity until March"),
    )
    for missing in (None, "", "  \n "):
        assert read_task(S.SENT, "rejected", [], missing).changes == (
            StatusChange(status=S.REJECTED, reason=NO_REASON),
        )
    assert read_task(S.SENT, "cancelled", [], "withdrawn by triage").changes[0].reason == "withdrawn by triage"


def test_a_reason_is_made_fit_to_record() -> None:
    [change] = read_task(S.SENT, "rejected", [], "out of\x00 area\u202e\n\tsorry" + "x" * 2000).changes
    assert change.reason.startswith("out of area sorry") and len(change.reason) == 1000
    assert change.reason.isprintable()


def test_only_a_rejection_or_declining_carries_the_reason() -> None:
    assert read_task(S.SENT, "accepted", [], "triaged by Dr Who").changes == (StatusChange(status=S.ACCEPTED),)


@pytest.mark.parametrize("status", list(S), ids=str)
def test_a_referral_is_worth_reading_while_its_receiver_can_still_move_it(status: S) -> None:
    open_to_receiver = {S.SENT, S.ACCEPTED, S.ATTENDED, S.DID_NOT_ATTEND, S.ENGAGED}
    assert still_answerable(status) is (status in open_to_receiver)
