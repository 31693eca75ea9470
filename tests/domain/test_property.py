"""Property tests: random command sequences against decide, envelop and the fold.

Each example opens a case (sometimes with a refused OpenCase) and sends a random mix of commands,
valid and invalid. After every command:
- a refusal leaves the state exactly as it was and records nothing;
- otherwise the events are enveloped and applied, and the invariants below hold;
and at the end the fold of the whole stream equals the incrementally maintained state.
"""

from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import JsonValue

from domain.commands import (
    ClaimTask,
    CloseCase,
    Command,
    CompleteTask,
    MarkOverdue,
    OpenCase,
    ShareInformation,
    WithdrawConsent,
)
from domain.config import SiteConfig
from domain.decisions import TRANSITIONS, DecisionContext
from domain.errors import RuleViolation
from domain.events import CaseClosed, CaseOpened, EventEnvelope, StageEntered
from domain.model import SYSTEM_ACTOR, AgeBand, ReferralSource, Setting, Stage
from domain.outcomes import (
    CUSTODIAL_RESULTS,
    AssessmentOutcome,
    ChaseReferralOutcome,
    ClosureOutcome,
    ClosureReason,
    ConsentOutcome,
    ConsentScope,
    ContactOutcome,
    CourtReportOutcome,
    Disclosure,
    DisengagementReviewOutcome,
    FollowUpOutcome,
    GoalArea,
    HearingOutcome,
    JusticeOutcome,
    LawfulBasis,
    PersonMatchOutcome,
    Recipient,
    ReconnectEngagementOutcome,
    ReferralDecisionOutcome,
    ReferralRequest,
    RiskLevel,
    SafeguardingOverride,
    ScreeningOutcome,
    ServiceType,
    ShareInformationOutcome,
    Urgency,
    Vulnerability,
    VulnerabilityDomain,
)
from domain.rules import decide
from domain.state import CaseState, apply, empty_state, fold
from domain.stream import envelop
from domain.tasks import TaskKind, TaskStatus
from tests.domain.support import (
    ADULT_ASSESSMENT,
    AUDITOR,
    CHILD_ASSESSMENT,
    LINK_WORKER,
    NOW,
    OTHER_PRACTITIONER,
    PRACTITIONER,
    SCREENING_INSTRUMENT,
    SITE_ID,
    TEAM_LEAD,
    Ids,
    dump,
    make_site,
)

SITE: SiteConfig = make_site()

# Weighted towards people who may do the work, so that cases get somewhere.
ACTORS = (PRACTITIONER,) * 4 + (OTHER_PRACTITIONER, TEAM_LEAD, TEAM_LEAD, LINK_WORKER, AUDITOR, SYSTEM_ACTOR)

# Every rule the random commands may legitimately break. `stage_transition`, `unknown_command`
# and `unknown_task_kind` are absent on purpose: reaching them would mean the rules produced a
# state they cannot handle.
EXPECTED_RULES = {
    "case_not_open",
    "case_already_open",
    "wrong_site",
    "setting_not_served",
    "youth_court_is_for_children",
    "auditors_read_only",
    "task_unknown",
    "task_not_open",
    "role_not_allowed",
    "task_assigned_to_other",
    "outcome_invalid",
    "screening_requires_consent",
    "assessment_requires_consent",
    "instrument_not_configured",
    "sharing_requires_consent",
    "disclosure_needs_consent",
    "consent_not_given",
    "already_overdue",
    "not_yet_due",
    "guardian_involvement_required",
    "service_not_for_age_band",
    "service_not_chosen_by_hand",
}

texts = st.text(alphabet="abcdefghijklmnop", min_size=10, max_size=30)
any_instrument = st.sampled_from([SCREENING_INSTRUMENT, ADULT_ASSESSMENT, CHILD_ASSESSMENT, ("phq-9", "1")])
screening_instruments = st.one_of(st.just(SCREENING_INSTRUMENT), any_instrument)
assessment_instruments = st.one_of(st.sampled_from([ADULT_ASSESSMENT, CHILD_ASSESSMENT]), any_instrument)
actors = st.sampled_from(ACTORS)

override = st.builds(
    SafeguardingOverride,
    lawful_basis=st.sampled_from([b for b in LawfulBasis if b is not LawfulBasis.CONSENT]),
    justification=texts,
)
consent_given = st.builds(
    ConsentOutcome,
    decision=st.just("given"),
    scope=st.lists(st.sampled_from(ConsentScope), min_size=1, max_size=4),
    # Mostly stated: for a child it must be.
    parent_or_guardian_involved=st.booleans() | st.booleans() | st.none(),
)
consent_declined = st.builds(
    ConsentOutcome,
    decision=st.just("declined"),
    safeguarding_override=st.none() | override,
    parent_or_guardian_involved=st.booleans() | st.none(),
)
consent_outcomes = st.one_of(consent_given, consent_given, consent_declined)


@st.composite
def screening_outcomes(draw: st.DrawFn) -> ScreeningOutcome:
    instrument, version = draw(screening_instruments)
    return ScreeningOutcome(
        instrument=instrument,
        instrument_version=version,
        urgency=draw(st.sampled_from(Urgency)),
        domains=draw(st.lists(st.sampled_from(VulnerabilityDomain), max_size=3)),
        risk_level=draw(st.sampled_from(RiskLevel)),
        assessment_needed=draw(st.booleans()),
    )


@st.composite
def assessment_outcomes(draw: st.DrawFn) -> AssessmentOutcome:
    instrument, version = draw(assessment_instruments)
    return AssessmentOutcome(
        instrument=instrument,
        instrument_version=version,
        answers=draw(st.dictionaries(st.sampled_from(["q1", "q2", "q3"]), st.integers(0, 4) | st.booleans())),
        score=draw(st.none() | st.integers(0, 40)),
        vulnerabilities=draw(
            st.lists(
                st.builds(
                    Vulnerability,
                    domain=st.sampled_from(VulnerabilityDomain),
                    severity=st.sampled_from(["mild", "moderate", "severe"]),
                ),
                max_size=2,
            )
        ),
        recommended_services=draw(st.lists(st.sampled_from(ServiceType), max_size=2)),
    )


disclosures = st.builds(
    Disclosure,
    recipient=st.sampled_from(Recipient),
    purpose=texts,
    lawful_basis=st.sampled_from(LawfulBasis),
    summary=texts,
)
share_outcomes = st.one_of(
    st.builds(ShareInformationOutcome, disclosures=st.lists(disclosures, min_size=1, max_size=2)),
    st.builds(ShareInformationOutcome, reason_if_none=texts),
)
referral_outcomes = st.one_of(
    st.builds(
        ReferralDecisionOutcome,
        referrals=st.lists(
            st.builds(
                ReferralRequest, service=st.sampled_from(ServiceType), reason=texts, urgency=st.sampled_from(Urgency)
            ),
            min_size=1,
            max_size=3,
        ),
    ),
    st.builds(ReferralDecisionOutcome, reason_if_none=texts),
)
chase_outcomes = st.one_of(
    st.builds(ChaseReferralOutcome, answer=st.sampled_from(["accepted", "no_answer_yet"])),
    st.builds(ChaseReferralOutcome, answer=st.just("rejected"), reason=texts),
)
closure_outcomes = st.builds(
    ClosureOutcome,
    reason=st.sampled_from(ClosureReason),
    justice_outcome=st.none() | st.sampled_from(JusticeOutcome),
)

VALID_OUTCOMES: dict[TaskKind, st.SearchStrategy[object]] = {
    TaskKind.CONSENT: consent_outcomes,
    TaskKind.SCREENING: screening_outcomes(),
    TaskKind.ASSESSMENT: assessment_outcomes(),
    TaskKind.SHARE_INFORMATION: share_outcomes,
    TaskKind.REFERRAL_DECISION: referral_outcomes,
    TaskKind.CHASE_REFERRAL: chase_outcomes,
    TaskKind.CONTACT: st.builds(
        ContactOutcome,
        attendance=st.sampled_from(["attended", "late", "did_not_attend"]),
        goals_progressed=st.lists(st.sampled_from(GoalArea), max_size=2),
    ),
    TaskKind.DISENGAGEMENT_REVIEW: st.builds(
        DisengagementReviewOutcome, decision=st.sampled_from(["continue", "pause", "end"]), reason=texts
    ),
    TaskKind.FOLLOW_UP: st.builds(FollowUpOutcome, engaged_with_services=st.booleans(), concerns=texts),
    TaskKind.COURT_REPORT: st.builds(
        CourtReportOutcome, presenting_needs=texts, risk=st.sampled_from(RiskLevel), recommendations=texts
    ),
    TaskKind.HEARING_OUTCOME: st.builds(HearingOutcome, result=st.sampled_from(CUSTODIAL_RESULTS)),
    TaskKind.CLOSURE: closure_outcomes,
    TaskKind.RECONNECT_ENGAGEMENT: st.builds(ReconnectEngagementOutcome, engaged=st.booleans(), note=texts),
    TaskKind.PERSON_MATCH: st.builds(PersonMatchOutcome, same_person_as=st.none(), note=texts),
}

garbage_outcomes: st.SearchStrategy[dict[str, JsonValue]] = st.dictionaries(
    st.sampled_from(["decision", "scope", "urgency", "instrument", "reason", "colour"]),
    st.none() | st.integers() | st.text(max_size=5) | st.lists(st.integers(), max_size=2),
    max_size=3,
)

any_open_command = st.builds(
    OpenCase,
    actor=actors,
    site=st.sampled_from([SITE_ID, SITE_ID, SITE_ID, "elsewhere"]),
    setting=st.sampled_from(Setting),
    source=st.sampled_from(ReferralSource),
    external_ref=st.just("CUST/1"),
    age_band=st.sampled_from(AgeBand),
)
valid_open_command = st.builds(
    OpenCase,
    actor=st.sampled_from([PRACTITIONER, TEAM_LEAD]),
    site=st.just(SITE_ID),
    setting=st.sampled_from([Setting.CUSTODY, Setting.MAGISTRATES_COURT, Setting.CROWN_COURT]),
    source=st.sampled_from(ReferralSource),
    external_ref=st.just("CUST/1"),
    age_band=st.sampled_from(AgeBand),
)
# Mostly a case that opens; sometimes an OpenCase that is refused, leaving nothing to act on.
open_commands = st.one_of(valid_open_command, valid_open_command, valid_open_command, any_open_command)


def test_every_task_kind_has_outcomes_to_draw() -> None:
    """The property below may draw any kind; a kind without a strategy here would fail only when drawn."""
    assert set(VALID_OUTCOMES) == set(TaskKind)


def outcome_for(data: st.DataObject, kind: TaskKind) -> dict[str, JsonValue]:
    if data.draw(st.integers(0, 9)) == 0:
        return data.draw(garbage_outcomes)
    if data.draw(st.integers(0, 9)) == 0:  # a valid outcome, but for another kind of task
        kind = data.draw(st.sampled_from(TaskKind))
    return dump(data.draw(VALID_OUTCOMES[kind]))


def task_id_for(data: st.DataObject, state: CaseState) -> str:
    """Mostly an open task; sometimes a finished one or one that does not exist."""
    open_ids = [t.task_id for t in state.open_tasks]
    choice = data.draw(st.integers(0, 9))
    if open_ids and choice < 8:
        return data.draw(st.sampled_from(open_ids))
    if state.tasks and choice < 9:
        return data.draw(st.sampled_from(sorted(state.tasks)))
    return "no-such-task"


def next_command(data: st.DataObject, state: CaseState) -> Command:
    kind = data.draw(
        st.sampled_from(
            ["complete"] * 6 + ["claim", "claim", "share", "withdraw", "close", "overdue", "overdue", "open"]
        )
    )
    actor = data.draw(actors)
    if kind == "complete":
        task_id = task_id_for(data, state)
        task = state.tasks.get(task_id)
        task_kind = task.kind if task else data.draw(st.sampled_from(TaskKind))
        return CompleteTask(actor=actor, task_id=task_id, outcome=outcome_for(data, task_kind))
    if kind == "claim":
        return ClaimTask(actor=actor, task_id=task_id_for(data, state))
    if kind == "share":
        return ShareInformation(actor=actor, disclosure=data.draw(disclosures))
    if kind == "withdraw":
        return WithdrawConsent(actor=actor, reason=data.draw(texts))
    if kind == "close":
        # Closing ends the example early, so make it rarer than its share of the choices.
        if data.draw(st.integers(0, 2)) != 0:
            return ClaimTask(actor=actor, task_id=task_id_for(data, state))
        return CloseCase(actor=actor, outcome=data.draw(closure_outcomes))
    if kind == "overdue":
        return MarkOverdue(actor=SYSTEM_ACTOR, task_id=task_id_for(data, state))
    return data.draw(any_open_command)


def check_invariants(before: CaseState, envelopes: list[EventEnvelope], after: CaseState) -> None:
    # Stage changes follow the transition table, and each names the stage it leaves.
    stage = before.stage
    state = before
    for env in envelopes:
        event = env.event
        if isinstance(event, CaseOpened):
            assert stage is None
            stage = Stage.IDENTIFIED
        elif isinstance(event, StageEntered):
            assert stage is not None
            assert event.previous is stage
            assert event.stage in TRANSITIONS[stage], f"{stage} -> {event.stage}"
            stage = event.stage
        elif isinstance(event, CaseClosed):
            assert stage is not None
            assert stage is not Stage.CLOSED
            stage = Stage.CLOSED
        state = apply(state, env)
    assert state == after
    assert after.stage is stage

    # A closed case has no open tasks; an open case has at most one open task of each kind.
    if after.stage is Stage.CLOSED:
        assert after.open_tasks == []
        assert after.closed_at is not None
        assert after.close_reason is not None
    kinds = Counter(task.kind for task in after.open_tasks)
    assert all(count == 1 for count in kinds.values()), kinds

    # Tasks never reopen, and a finished task keeps when it finished.
    for task_id, task in before.tasks.items():
        if task.status is not TaskStatus.OPEN:
            assert after.tasks[task_id] == task
    for task in after.tasks.values():
        assert (task.closed_at is None) == (task.status is TaskStatus.OPEN)

    # Work before consent: nothing past the consent task unless consent was given or overridden.
    if after.screening is not None:
        assert after.safeguarding_override or after.consent in ("given", "withdrawn")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), opening=open_commands, steps=st.integers(1, 30))
def test_random_command_sequences_keep_the_stream_consistent(
    data: st.DataObject, opening: OpenCase, steps: int
) -> None:
    state = empty_state("case-p")
    stream: list[EventEnvelope] = []
    ids = Ids()
    now = NOW
    refusals: Counter[str] = Counter()

    for step in range(steps + 1):
        command = opening if step == 0 else next_command(data, state)
        now += timedelta(minutes=data.draw(st.integers(0, 6 * 60)))
        ctx = DecisionContext(now=now, new_id=ids, site=SITE)
        snapshot = state.model_copy(deep=True)
        try:
            events = decide(state, command, ctx)
        except RuleViolation as violation:
            assert violation.rule in EXPECTED_RULES, violation
            refusals[violation.rule] += 1
            assert state == snapshot
            continue
        assert state == snapshot  # decide is pure even when it accepts

        envelopes = envelop(state, events, command.actor, now, ids)
        after = state
        for env in envelopes:
            after = apply(after, env)
        check_invariants(state, envelopes, after)
        state = after
        stream.extend(envelopes)

    stages = [env.event.stage for env in stream if isinstance(env.event, StageEntered)]
    event(f"furthest stage: {stages[-1] if stages else state.stage}")
    event(f"ended: {state.stage}")
    for rule in refusals:
        event(f"refused: {rule}")

    assert [env.seq for env in stream] == list(range(1, len(stream) + 1))
    assert len({env.event_id for env in stream}) == len(stream)
    assert state.version == len(stream)
    assert fold("case-p", stream) == state
    if stream:
        assert isinstance(stream[0].event, CaseOpened)
    else:
        assert state == empty_state("case-p")
