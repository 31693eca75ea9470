"""Property test: random command sequences, valid and invalid, against a real case workflow.

Each example opens a new case through StaffCommands and sends a random mix of commands. The pure rules
(`domain.rules.decide`, on the last state the case reported) say what each command should do, and
after every command:
- a refused command raises RuleViolation with the rule `decide` names, and records nothing;
- an accepted one records exactly the events `decide` names, and returns the new state;
- the state the workflow reports (query `state`) equals the fold of the stored stream and the state
  the last accepted command returned.
"""

import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from temporalio.api.enums.v1 import EventType

from domain.access import Action, allowed
from domain.commands import ClaimTask, CloseCase, Command, CompleteTask, ShareInformation, WithdrawConsent
from domain.decisions import DecisionContext
from domain.errors import RuleViolation
from domain.model import Actor
from domain.outcomes import ClosureOutcome, ClosureReason, Disclosure, LawfulBasis, Recipient
from domain.rules import decide
from domain.state import CaseState, fold
from domain.tasks import Task, TaskKind, TaskStatus
from service.staff import StaffCommands
from tests.workflows.journey import OUTCOMES, open_case
from tests.workflows.support import assert_search_attributes_match, assert_stream_is_sound
from workflows.case_workflow import CaseWorkflow

StepKind = Literal[
    "advance", "wrong_outcome", "claim", "share", "withdraw", "close", "done_task", "unknown_task", "reopen"
]

T = TypeVar("T")

# Outcomes that parse for their kind; the rules may still refuse some of them on a given case.
VALID_OUTCOMES: dict[TaskKind, list[dict[str, Any]]] = {
    TaskKind.CONSENT: [
        OUTCOMES[TaskKind.CONSENT],
        {"decision": "given", "scope": ["assessment"]},
        {"decision": "declined"},
        {
            "decision": "declined",
            "safeguarding_override": {"lawful_basis": "safeguarding", "justification": "Risk of serious self-harm."},
        },
    ],
    TaskKind.SCREENING: [
        OUTCOMES[TaskKind.SCREENING],
        {**OUTCOMES[TaskKind.SCREENING], "assessment_needed": False, "urgency": "routine", "risk_level": "low"},
        {**OUTCOMES[TaskKind.SCREENING], "instrument": "chat-screen", "instrument_version": "4"},  # children's
    ],
    TaskKind.ASSESSMENT: [
        OUTCOMES[TaskKind.ASSESSMENT],
        {"instrument": "ld-assess", "instrument_version": "2019"},
    ],
    TaskKind.SHARE_INFORMATION: [
        OUTCOMES[TaskKind.SHARE_INFORMATION],
        {"disclosures": [], "reason_if_none": "Nothing relevant to share."},
        {
            "disclosures": [
                {"recipient": "defence", "purpose": "representation", "lawful_basis": "consent", "summary": "Needs."}
            ]
        },
    ],
    TaskKind.REFERRAL_DECISION: [
        OUTCOMES[TaskKind.REFERRAL_DECISION],
        {"referrals": [], "reason_if_none": "Already engaged with services."},
    ],
    TaskKind.CHASE_REFERRAL: [{"answer": "no_answer_yet"}, {"answer": "rejected", "reason": "full"}],
    TaskKind.CONTACT: [{"attendance": "attended"}, {"attendance": "did_not_attend"}],
    TaskKind.DISENGAGEMENT_REVIEW: [{"decision": "end", "reason": "moved away"}],
    TaskKind.FOLLOW_UP: [{"engaged_with_services": True}],
    TaskKind.COURT_REPORT: [{"presenting_needs": "psychosis", "risk": "high", "recommendations": "hospital"}],
    TaskKind.HEARING_OUTCOME: [{"result": "bail"}],
    TaskKind.CLOSURE: [OUTCOMES[TaskKind.CLOSURE], {"reason": "declined_support"}],
    TaskKind.RECONNECT_ENGAGEMENT: [{"engaged": True}, {"engaged": False, "note": "Not before release."}],
    TaskKind.PERSON_MATCH: [{"same_person_as": None}, {"same_person_as": None, "note": "Different birthplace."}],
}

DISCLOSURES = [
    (Recipient.COURT, LawfulBasis.CONSENT),
    (Recipient.CUSTODY_SERGEANT, LawfulBasis.CONSENT),
    (Recipient.PROBATION, LawfulBasis.CONSENT),
    (Recipient.CPS, LawfulBasis.PUBLIC_TASK),
    (Recipient.DEFENCE, LawfulBasis.SAFEGUARDING),
]


# Weighted: sampling is uniform over the list, so a kind listed three times comes three times as often.
STEP_KINDS: list[StepKind] = [
    "advance",
    "advance",
    "advance",
    "wrong_outcome",
    "claim",
    "share",
    "withdraw",
    "close",
    "done_task",
    "unknown_task",
    "reopen",
]


@dataclass(frozen=True)
class Step:
    kind: StepKind
    staff_id: str
    variant: int


steps = st.lists(
    st.builds(
        Step,
        kind=st.sampled_from(STEP_KINDS),
        staff_id=st.sampled_from(["pr-001", "pr-001", "pr-002", "tl-001", "lw-001", "au-001"]),
        variant=st.integers(min_value=0, max_value=11),
    ),
    min_size=3,
    max_size=14,
)


def test_every_task_kind_has_outcomes_to_try() -> None:
    """The property below may draw any kind; a kind without outcomes here would fail only when drawn."""
    assert set(VALID_OUTCOMES) == set(TaskKind)


def pick(options: Sequence[T], variant: int) -> T:
    return options[variant % len(options)]


def invalid_outcome(kind: TaskKind, variant: int) -> dict[str, Any]:
    """An outcome that does not parse for `kind`."""
    others = [k for k in TaskKind if k is not kind]
    return pick(
        [
            VALID_OUTCOMES[pick(others, variant)][0],
            {},
            {**VALID_OUTCOMES[kind][0], "shoe_size": 9},
            {**VALID_OUTCOMES[kind][0], "decision": "maybe"},
        ],
        variant // len(others),
    )


def target_task(state: CaseState) -> Task:
    """The first open task, or on a case with none (closed) the last task it had."""
    open_tasks = state.open_tasks
    return open_tasks[0] if open_tasks else list(state.tasks.values())[-1]


@dataclass
class Attempt:
    """A command about to be sent: what it is (None when `decide` cannot judge it) and the call."""

    command: Command | None
    call: Awaitable[CaseState]
    refused_as: str | None = None  # the rule, when it is refused before reaching the case


def attempt(cases: StaffCommands, state: CaseState, ref: str, step: Step) -> Attempt:
    actor: Actor = cases.actor(step.staff_id)
    case_id = state.case_id
    match step.kind:
        case "advance" | "wrong_outcome" | "done_task":
            task = target_task(state)
            if step.kind == "done_task":
                done = [t for t in state.tasks.values() if t.status is not TaskStatus.OPEN]
                if not done:
                    return unknown_task(cases, actor, step)
                task = pick(done, step.variant)
            if step.kind == "wrong_outcome":
                outcome = invalid_outcome(task.kind, step.variant)
            else:
                outcome = pick(VALID_OUTCOMES[task.kind], step.variant)
            command = CompleteTask(actor=actor, task_id=task.task_id, outcome=outcome)
            return Attempt(command, cases.complete_task(task.task_id, outcome, actor))
        case "claim":
            task = target_task(state)
            return Attempt(ClaimTask(actor=actor, task_id=task.task_id), cases.claim_task(task.task_id, actor))
        case "share":
            recipient, basis = pick(DISCLOSURES, step.variant)
            disclosure = Disclosure(recipient=recipient, purpose="bail decision", lawful_basis=basis, summary="Needs.")
            share = ShareInformation(actor=actor, disclosure=disclosure)
            return Attempt(share, cases.share_information(case_id, share))
        case "withdraw":
            withdraw = WithdrawConsent(actor=actor, reason="The person changed their mind.")
            return Attempt(withdraw, cases.withdraw_consent(case_id, withdraw))
        case "close":
            close = CloseCase(actor=actor, outcome=ClosureOutcome(reason=pick(list(ClosureReason), step.variant)))
            return Attempt(close, cases.close_case(case_id, close))
        case "unknown_task":
            return unknown_task(cases, actor, step)
        case "reopen":  # the same referral again: the existing case answers, open or closed
            return Attempt(None, cases.start_case(open_case(ref)))


def plain_state(answer: CaseState) -> CaseState:
    """The case state in an answer; a repeated start answers with a StartedCase, which also says it
    found the case (and pydantic models of different classes never compare equal)."""
    return CaseState.model_construct(**{name: getattr(answer, name) for name in CaseState.model_fields})


def unknown_task(cases: StaffCommands, actor: Actor, step: Step) -> Attempt:
    task_id = f"no-such-task-{step.variant}"
    refused_as = "task_unknown" if allowed(actor.role, Action.COMPLETE_TASK) else "role_not_allowed"
    return Attempt(None, cases.complete_task(task_id, OUTCOMES[TaskKind.CONSENT], actor), refused_as=refused_as)


# What the service asks of the role x action matrix before the case's rules are asked anything.
ACTIONS: dict[type[Command], Action] = {
    CompleteTask: Action.COMPLETE_TASK,
    ClaimTask: Action.CLAIM_TASK,
    ShareInformation: Action.SHARE_INFORMATION,
    WithdrawConsent: Action.WITHDRAW_CONSENT,
    CloseCase: Action.CLOSE_CASE,
}


def expected_events(state: CaseState, command: Command, cases: StaffCommands) -> list[str] | str:
    """The event types `command` records on `state`, or the rule it breaks (the service's role check
    first, then the pathway's rules)."""
    if not allowed(command.actor.role, ACTIONS[type(command)]):
        return "role_not_allowed"
    ids = (f"expected-{n}" for n in range(1000))
    context = DecisionContext(now=datetime.now(UTC), new_id=lambda: next(ids), site=cases.config.site("demo"))
    try:
        return [e.type for e in decide(state, command, context)]  # type: ignore[attr-defined]
    except RuleViolation as violation:
        return violation.rule


async def accepted_updates(cases: StaffCommands, case_id: str) -> int:
    history = await cases.client.get_workflow_handle(case_id).fetch_history()
    return sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)


async def reported_state(cases: StaffCommands, case_id: str) -> CaseState:
    return await cases.client.get_workflow_handle_for(CaseWorkflow.run, case_id).query(CaseWorkflow.state)


JOURNEY_THEN_MORE = [Step("advance", "pr-001", 0)] * 6 + [
    Step("share", "pr-001", 0),
    Step("reopen", "pr-001", 0),
    Step("claim", "tl-001", 0),
]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(steps=JOURNEY_THEN_MORE)
@given(steps=steps)
async def test_the_workflow_state_is_always_the_fold_of_the_stored_events(
    cases: StaffCommands, steps: list[Step]
) -> None:
    ref = f"PROP-{uuid.uuid4().hex[:12]}"
    state = plain_state(await cases.start_case(open_case(ref)))
    case_id = state.case_id
    accepted = 1  # updates the workflow accepted: the open_case above
    for step in steps:
        sent = attempt(cases, state, ref, step)
        expected = sent.refused_as or (expected_events(state, sent.command, cases) if sent.command else [])
        stored_before = len(await cases.store.read_stream(case_id))
        try:
            answer = plain_state(await sent.call)
        except RuleViolation as refusal:
            assert refusal.rule == expected, (step, refusal.message)
            event(f"refused: {refusal.rule}")
            assert len(await cases.store.read_stream(case_id)) == stored_before
        else:
            assert isinstance(expected, list), (step, f"accepted, but the rules say {expected}")
            new = [e.event.type for e in (await cases.store.read_stream(case_id))[stored_before:]]
            assert new == expected, step
            assert answer.version == state.version + len(expected)
            if not expected:
                assert answer == state
            event(f"accepted: {step.kind}")
            accepted += state.is_open  # a repeat of a closed case's referral is answered from the store
            state = answer
        assert await cases.opened(await reported_state(cases, case_id), case_id) == state
        assert await cases.opened(await cases.store.case_state(case_id), case_id) == state

    event(f"ended at stage {state.stage}")
    assert await cases.opened(fold(case_id, await cases.store.read_stream(case_id)), case_id) == state
    await assert_stream_is_sound(cases, case_id, state)
    await assert_search_attributes_match(cases.client, state)
    assert await accepted_updates(cases, case_id) == accepted
