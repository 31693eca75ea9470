"""A receiving FHIR system's Task, taken back into the referral's lifecycle: pure, no I/O.

A service with `delivery = "fhir"` holds a Task for each referral (identifier
`domain.fhir_terms.REFERRAL_TASK_SYSTEM|<referral id>`). The worker reads it back (activities/fhir_task_poll.py)
and this module decides what, if anything, the referral's record gains from it. The Task's
`businessStatus`, when it carries a code of our CodeSystem (`domain.fhir_terms.REFERRAL_STATUS_SYSTEM`),
wins over the coarse FHIR R4 `Task.status`, as long as the two agree (a pair this table does not
list is reported, not guessed). Codes of any other system in `businessStatus` are ignored, and so
are `drafted` and `sent`: what Pathway itself sent, which a receiver that leaves our code alone still
holds (its `Task.status` then decides).

| the referral becomes | `Task.status` alone | `businessStatus` (ours) with `Task.status` |
|---|---|---|
| no change | `requested` `received` `ready` | |
| accepted | `accepted` | `accepted` with `accepted` `ready` |
| rejected | `rejected` `cancelled` | `rejected` with `rejected` `cancelled` |
| declined_by_person | | `declined_by_person` with `cancelled` `rejected` |
| attended | `in-progress` | `attended` with `in-progress` `completed` |
| did_not_attend | `on-hold` | `did_not_attend` with `on-hold` `in-progress` `accepted` |
| engaged | `completed` | `engaged` with `in-progress` `completed` |
| disengaged | `failed` | `disengaged` with `failed` `completed` |

A rejection (or a person's declining) takes `Task.statusReason` as its reason; a rejection without
one records "no reason given by the service". Any other `Task.status` (`draft`, `entered-in-error`)
or `businessStatus` code (`closed`: ours to decide) changes nothing and is reported.

The status the Task gives may lie several steps ahead of the referral's (sent, and the Task already
`in-progress`): the steps between are recorded too, each its own event, along the one shortest way
through `domain.rules.REFERRAL_TRANSITIONS` (sent -> accepted -> attended). Where two ways are as
short (accepted, and the Task `failed`: attended first, or did not attend?) nothing is recorded and
the update is reported; so is a status the rules do not allow from where the referral is (engaged,
and the Task `accepted`). The same status again changes nothing and is no problem: a poll that sees
it twice records it once.
"""

import re
from collections.abc import Sequence
from enum import StrEnum

from domain.model import Strict
from domain.outcomes import ReferralStatus
from domain.rules import REFERRAL_TRANSITIONS

NO_REASON = "no reason given by the service"
REASON_CHARACTERS = 1000  # RecordReferralOutcome.reason's limit

S = ReferralStatus

# FHIR R4 Task.status on its own (https://hl7.org/fhir/R4/valueset-task-status.html); None: no change.
TASK_STATUS_MEANS: dict[str, ReferralStatus | None] = {
    "requested": None,
    "received": None,
    "ready": None,
    "accepted": S.ACCEPTED,
    "rejected": S.REJECTED,
    "cancelled": S.REJECTED,  # cancelled by the receiver: it will not act on the referral
    "in-progress": S.ATTENDED,
    "on-hold": S.DID_NOT_ATTEND,
    "completed": S.ENGAGED,
    "failed": S.DISENGAGED,
}

# Our businessStatus codes a receiver may send, and the Task.status values each agrees with.
BUSINESS_STATUS_WITH: dict[ReferralStatus, frozenset[str]] = {
    S.ACCEPTED: frozenset({"accepted", "ready"}),
    S.REJECTED: frozenset({"rejected", "cancelled"}),
    S.DECLINED_BY_PERSON: frozenset({"cancelled", "rejected"}),
    S.ATTENDED: frozenset({"in-progress", "completed"}),
    S.DID_NOT_ATTEND: frozenset({"on-hold", "in-progress", "accepted"}),
    S.ENGAGED: frozenset({"in-progress", "completed"}),
    S.DISENGAGED: frozenset({"failed", "completed"}),
}

# What a receiver's Task can move a referral to.
RECEIVER_STATUSES = frozenset(BUSINESS_STATUS_WITH)
# Our own codes as we sent them (domain/fhir.py referral_task): no word from the receiver.
AS_SENT = frozenset({S.DRAFTED.value, S.SENT.value})
WITH_REASON = frozenset({S.REJECTED, S.DECLINED_BY_PERSON})


class Problem(StrEnum):
    """Why a receiver's Task was not taken in; a metric's label, so a fixed set of words."""

    UNKNOWN_CODE = "unknown_code"
    INCONSISTENT = "inconsistent"
    NOT_ALLOWED = "not_allowed"
    AMBIGUOUS = "ambiguous"


class StatusChange(Strict):
    status: ReferralStatus
    reason: str = ""


class TaskReading(Strict):
    """What a receiver's Task means for the referral: the changes to record, in order (none: nothing
    new), or the problem that stopped it. `detail` names codes and statuses only, never the reason."""

    changes: tuple[StatusChange, ...] = ()
    problem: Problem | None = None
    detail: str = ""


def still_answerable(status: ReferralStatus) -> bool:
    """Whether a sent referral's receiver can still move it on (so its Task is worth reading)."""
    return status is not S.DRAFTED and bool(REFERRAL_TRANSITIONS[status] & RECEIVER_STATUSES)


def read_task(
    current: ReferralStatus, task_status: str, business_statuses: Sequence[str], status_reason: str | None
) -> TaskReading:
    """The changes the receiver's Task (its `status`, the codes of our CodeSystem in its
    `businessStatus`, its `statusReason` text) asks of a referral that is `current`."""
    target = _target(task_status, business_statuses)
    if isinstance(target, TaskReading):
        return target
    if target is None or target is current:
        return TaskReading()
    ways = _shortest_ways(current, target)
    if not ways:
        return _refused(Problem.NOT_ALLOWED, f"a referral that is {current} cannot become {target}")
    if len(ways) > 1:
        return _refused(Problem.AMBIGUOUS, f"{current} to {target} goes through {' or '.join(map(_steps, ways))}")
    [steps] = ways
    reason = _reason(status_reason) if target in WITH_REASON else ""
    if target is S.REJECTED and not reason:
        reason = NO_REASON
    return TaskReading(
        changes=tuple(StatusChange(status=step, reason=reason if step is target else "") for step in steps)
    )


def _target(task_status: str, business_statuses: Sequence[str]) -> ReferralStatus | TaskReading | None:
    if task_status not in TASK_STATUS_MEANS:
        return _refused(Problem.UNKNOWN_CODE, f"Task.status {_shown(task_status)} is not taken from a receiver")
    codes = set(business_statuses) - AS_SENT
    if not codes:
        return TASK_STATUS_MEANS[task_status]
    unknown = sorted(codes - {str(status) for status in BUSINESS_STATUS_WITH})
    if unknown:
        return _refused(
            Problem.UNKNOWN_CODE, f"businessStatus {', '.join(map(_shown, unknown))} is not taken from a receiver"
        )
    if len(codes) > 1:
        return _refused(Problem.INCONSISTENT, f"businessStatus holds {', '.join(sorted(codes))}")
    [business] = [S(code) for code in codes]
    if task_status not in BUSINESS_STATUS_WITH[business]:
        return _refused(Problem.INCONSISTENT, f"businessStatus {business} with Task.status {task_status}")
    return business


def _shortest_ways(current: ReferralStatus, target: ReferralStatus) -> list[tuple[ReferralStatus, ...]]:
    """Every shortest sequence of allowed steps from `current` to `target`, through statuses a
    receiver could have given (never sent: that is the workflow's own)."""
    ways: list[tuple[ReferralStatus, ...]] = [()]
    seen = {current}
    while ways:
        longer = [
            (*way, step)
            for way in ways
            for step in sorted(REFERRAL_TRANSITIONS[way[-1] if way else current] & RECEIVER_STATUSES)
            if step not in seen
        ]
        arrived = [way for way in longer if way[-1] is target]
        if arrived:
            return arrived
        seen |= {way[-1] for way in longer}
        ways = longer
    return []


def _shown(code: str) -> str:
    """A receiver's code as a report may quote it: a code's few plain characters, or not at all (the
    report is logged, and a hostile receiver could put anything in a code)."""
    return repr(code) if re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", code) else "(not a code)"


def _steps(way: tuple[ReferralStatus, ...]) -> str:
    return " then ".join(way)


def _reason(text: str | None) -> str:
    """The receiver's reason as a reason may be recorded: printable characters, single-spaced, not
    longer than RecordReferralOutcome takes."""
    printable = "".join(c if c.isprintable() else " " for c in text or "")
    return " ".join(printable.split())[:REASON_CHARACTERS]


def _refused(problem: Problem, detail: str) -> TaskReading:
    return TaskReading(problem=problem, detail=detail)
