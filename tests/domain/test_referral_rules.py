"""Referral rules (domain/rules.py): choosing the directory service, the referral lifecycle, answers,
chases and escalations, and every refusal by its exact rule id with the case left as it was."""

from datetime import timedelta
from itertools import product

import pytest
from pydantic import JsonValue

from domain.access import ACTION_ROLES, Action, service_actor
from domain.commands import (
    ChaseReferral,
    CloseCase,
    Command,
    CompleteTask,
    EscalateReferral,
    EscalateTask,
    RecordReferralOutcome,
    RecordReferralSendFailed,
    RecordReferralSent,
)
from domain.config import PathwayConfig, Service, SiteConfig
from domain.events import (
    DomainEvent,
    ReferralChased,
    ReferralEscalated,
    ReferralMade,
    ReferralOutcomeRecorded,
    ReferralSendFailed,
    ReferralSent,
    TaskCancelled,
    TaskCompleted,
    TaskEscalated,
    TaskOpened,
)
from domain.model import SYSTEM_ACTOR, Actor, AgeBand, Role, Stage
from domain.outcomes import (
    ChaseReferralOutcome,
    ClosureOutcome,
    ClosureReason,
    ReferralDecisionOutcome,
    ReferralRequest,
    ReferralStatus,
    ServiceType,
    Urgency,
)
from domain.rules import REFERRAL_TRANSITIONS
from domain.services import NOT_CHOSEN_BY_HAND, suits
from domain.state import Referral, fold
from domain.tasks import CANDIDATE_ROLES, Task, TaskKind, TaskStatus
from tests.domain.support import (
    AUDITOR,
    LINK_WORKER,
    NOW,
    OPERATOR,
    PRACTITIONER,
    SITE_ID,
    TEAM_LEAD,
    Case,
    consent_given,
    dump,
    make_site,
    open_case,
    referral_decision,
    refused,
    screening,
    share,
)

ADMIN = Actor(staff_id="admin-1", role=Role.ADMIN)
PEOPLE = (PRACTITIONER, LINK_WORKER, TEAM_LEAD, AUDITOR, OPERATOR, ADMIN)
NOT_REFERRAL_ROLES = (AUDITOR, OPERATOR, ADMIN, SYSTEM_ACTOR)
ARTICLED = {
    Role.PRACTITIONER: "a practitioner",
    Role.LINK_WORKER: "a link_worker",
    Role.TEAM_LEAD: "a team_lead",
    Role.AUDITOR: "an auditor",
    Role.OPERATOR: "an operator",
    Role.ADMIN: "an admin",
    Role.SYSTEM: "a system",
}


# --- helpers ---------------------------------------------------------------------------------------


def types(events: list[DomainEvent]) -> list[str]:
    return [type(event).__name__ for event in events]


def to_referral_stage(case: Case) -> None:
    """Open the case and take it to an open referral_decision task (screening without assessment)."""
    case.send(open_case())
    case.complete(TaskKind.CONSENT, consent_given())
    case.complete(TaskKind.SCREENING, screening(assessment_needed=False, urgency=Urgency.URGENT))
    case.complete(TaskKind.SHARE_INFORMATION, share())
    assert case.stage() is Stage.REFERRAL


def decision(*requests: ReferralRequest) -> dict[str, JsonValue]:
    return dump(ReferralDecisionOutcome(referrals=list(requests)))


def request(
    service: ServiceType = ServiceType.MENTAL_HEALTH,
    service_id: str | None = None,
    urgency: Urgency = Urgency.ROUTINE,
) -> ReferralRequest:
    return ReferralRequest(
        service=service, service_id=service_id, reason="hears voices, sleeping rough", urgency=urgency
    )


def made(case: Case, *requests: ReferralRequest) -> list[str]:
    """Complete the referral decision with `requests`; the new referral ids, in order."""
    events = case.complete(TaskKind.REFERRAL_DECISION, decision(*requests))
    return [event.referral_id for event in events if isinstance(event, ReferralMade)]


def the_referral(case: Case, referral_id: str) -> Referral:
    [found] = [r for r in case.state.referrals if r.referral_id == referral_id]
    return found


def sent_command(referral_id: str) -> RecordReferralSent:
    return RecordReferralSent(actor=SYSTEM_ACTOR, referral_id=referral_id, channel="email")


def answer(
    referral_id: str, status: ReferralStatus, reason: str = "", actor: Actor = LINK_WORKER
) -> RecordReferralOutcome:
    return RecordReferralOutcome(actor=actor, referral_id=referral_id, status=status, reason=reason)


def chase_tasks(case: Case, referral_id: str | None = None) -> list[Task]:
    return [
        t
        for t in case.state.tasks.values()
        if t.kind is TaskKind.CHASE_REFERRAL and (referral_id is None or t.referral_id == referral_id)
    ]


def complete_chase(case: Case, outcome: ChaseReferralOutcome, actor: Actor = LINK_WORKER) -> list[DomainEvent]:
    return case.complete(TaskKind.CHASE_REFERRAL, dump(outcome), actor)


@pytest.fixture
def deciding(case: Case) -> Case:
    """A case with its referral_decision task open."""
    to_referral_stage(case)
    return case


@pytest.fixture
def drafted(deciding: Case) -> tuple[Case, str]:
    """One mental health referral, drafted (not sent yet)."""
    [referral_id] = made(deciding, request(urgency=Urgency.URGENT))
    return deciding, referral_id


@pytest.fixture
def sent(drafted: tuple[Case, str]) -> tuple[Case, str]:
    """The referral, sent."""
    case, referral_id = drafted
    case.advance(minutes=5)
    case.send(sent_command(referral_id))
    return case, referral_id


@pytest.fixture
def chased(sent: tuple[Case, str]) -> tuple[Case, str]:
    """The sent referral, chased: a chase_referral task is open."""
    case, referral_id = sent
    case.advance(days=2)
    case.send(ChaseReferral(actor=SYSTEM_ACTOR, referral_id=referral_id))
    return case, referral_id


# --- which service ---------------------------------------------------------------------------------


def test_a_request_without_service_id_goes_to_the_sites_service_of_that_type(deciding: Case) -> None:
    events = deciding.complete(
        TaskKind.REFERRAL_DECISION, referral_decision(ServiceType.MENTAL_HEALTH, ServiceType.DEBT_ADVICE)
    )

    assert types(events) == ["ReferralMade", "ReferralMade", "TaskCompleted", "TaskOpened"]
    referrals = [e for e in events if isinstance(e, ReferralMade)]
    assert [r.request.service_id for r in referrals] == ["mental_health-1", "debt_advice-1"]
    assert [r.request.service_id for r in deciding.state.referrals] == ["mental_health-1", "debt_advice-1"]
    assert all(r.status is ReferralStatus.DRAFTED and r.made_at == NOW for r in deciding.state.referrals)


def test_an_explicit_service_id_of_the_right_type_is_kept() -> None:
    site = site_with(
        service("cmht-east", ServiceType.MENTAL_HEALTH),
        service("cmht-west", ServiceType.MENTAL_HEALTH),
    )
    case = Case(site)
    to_referral_stage(case)

    ids = made(case, request(service_id="cmht-west"), request())

    assert [the_referral(case, i).request.service_id for i in ids] == ["cmht-west", "cmht-east"]


@pytest.mark.parametrize(
    ("service_id", "words"),
    [
        ("housing-1", "service housing-1 is not a mental_health service covering site demo"),  # wrong type
        ("no-such-service", "service no-such-service is not a mental_health service covering site demo"),
    ],
)
def test_an_explicit_service_id_of_the_wrong_type_or_unknown_is_refused(
    deciding: Case, service_id: str, words: str
) -> None:
    task_id = deciding.task(TaskKind.REFERRAL_DECISION).task_id
    command = CompleteTask(actor=PRACTITIONER, task_id=task_id, outcome=decision(request(service_id=service_id)))

    error = refused(deciding, command, "service_not_available")

    assert error.message == words
    assert deciding.state.referrals == ()
    assert deciding.state.tasks[task_id].status is TaskStatus.OPEN


def service(service_id: str, kind: ServiceType, sites: tuple[str, ...] = (SITE_ID,)) -> Service:
    return Service(
        service_id=service_id,
        name=f"Service {service_id}",
        type=kind,
        sites=sites,
        delivery="email",
        address=f"{service_id}@services.test",
    )


def site_with(*services: Service) -> SiteConfig:
    return make_site().model_copy(update={"services": services})


def directory_site(*services: Service) -> SiteConfig:
    """The demo site as the configuration builds it: with the directory's services that cover it."""
    config = PathwayConfig(
        sites={
            SITE_ID: make_site().model_copy(update={"services": ()}),
            "north": SiteConfig(site_id="north", name="North"),
        },
        services=services,
    )
    return config.site(SITE_ID)


def test_a_service_of_the_right_type_that_does_not_cover_the_site_is_refused() -> None:
    site = directory_site(
        service("cmht-north", ServiceType.MENTAL_HEALTH, sites=("north",)),
        service("cmht-demo", ServiceType.MENTAL_HEALTH),
    )
    assert [s.service_id for s in site.services] == ["cmht-demo"]
    case = Case(site)
    to_referral_stage(case)
    task_id = case.task(TaskKind.REFERRAL_DECISION).task_id

    error = refused(
        case,
        CompleteTask(actor=PRACTITIONER, task_id=task_id, outcome=decision(request(service_id="cmht-north"))),
        "service_not_available",
    )
    assert error.message == "service cmht-north is not a mental_health service covering site demo"

    # Without the explicit id, the one that covers the site is chosen.
    [referral_id] = made(case, request())
    assert the_referral(case, referral_id).request.service_id == "cmht-demo"


def test_a_site_with_no_service_of_that_type_refuses_the_referral() -> None:
    site = directory_site(
        service("cmht-demo", ServiceType.MENTAL_HEALTH),
        service("housing-north", ServiceType.HOUSING, sites=("north",)),  # housing, but not for demo
    )
    case = Case(site)
    to_referral_stage(case)
    task_id = case.task(TaskKind.REFERRAL_DECISION).task_id
    command = CompleteTask(actor=PRACTITIONER, task_id=task_id, outcome=decision(request(ServiceType.HOUSING)))

    error = refused(case, command, "service_not_available")

    assert error.message == "no housing service covers site demo"


def test_a_site_with_an_empty_directory_refuses_every_referral_but_not_a_decision_to_refer_none() -> None:
    case = Case(site_with())
    to_referral_stage(case)
    task_id = case.task(TaskKind.REFERRAL_DECISION).task_id

    # (Every type an adult can be referred to in a decision; the others are refused before the directory is asked.)
    for kind in (k for k in ServiceType if suits(k, AgeBand.ADULT) and k not in NOT_CHOSEN_BY_HAND):
        command = CompleteTask(actor=PRACTITIONER, task_id=task_id, outcome=decision(request(kind)))
        assert refused(case, command, "service_not_available").message == f"no {kind} service covers site demo"

    events = case.complete(TaskKind.REFERRAL_DECISION, referral_decision())
    assert types(events) == ["TaskCompleted", "TaskOpened"]


def test_whole_decision_refused_when_one_request_has_no_service() -> None:
    case = Case(directory_site(service("cmht-demo", ServiceType.MENTAL_HEALTH)))
    to_referral_stage(case)
    task_id = case.task(TaskKind.REFERRAL_DECISION).task_id
    command = CompleteTask(
        actor=PRACTITIONER,
        task_id=task_id,
        outcome=decision(request(ServiceType.MENTAL_HEALTH), request(ServiceType.HOUSING)),
    )

    refused(case, command, "service_not_available")

    assert case.state.referrals == ()  # not even the mental health one


# --- sent ------------------------------------------------------------------------------------------


def test_the_workflow_records_the_referral_as_sent(drafted: tuple[Case, str]) -> None:
    case, referral_id = drafted
    case.advance(minutes=3)

    events = case.send(RecordReferralSent(actor=SYSTEM_ACTOR, referral_id=referral_id, channel="http"))

    assert events == [ReferralSent(referral_id=referral_id, channel="http")]
    sent_referral = the_referral(case, referral_id)
    assert sent_referral.status is ReferralStatus.SENT
    assert sent_referral.sent_at == case.now
    assert sent_referral.awaiting_answer


def test_a_referral_is_sent_once(sent: tuple[Case, str]) -> None:
    case, referral_id = sent
    error = refused(case, sent_command(referral_id), "referral_already_sent")
    assert error.message == f"referral {referral_id} is sent"


def test_an_answered_referral_cannot_be_sent(sent: tuple[Case, str]) -> None:
    case, referral_id = sent
    case.send(answer(referral_id, ReferralStatus.ACCEPTED))
    refused(case, sent_command(referral_id), "referral_already_sent")


# --- system-only commands --------------------------------------------------------------------------


@pytest.mark.parametrize("actor", PEOPLE, ids=lambda a: a.role)
def test_only_the_workflow_records_a_referral_as_sent(drafted: tuple[Case, str], actor: Actor) -> None:
    case, referral_id = drafted
    command = RecordReferralSent(actor=actor, referral_id=referral_id, channel="email")
    error = refused(case, command, "role_not_allowed")
    assert error.message == f"{ARTICLED[actor.role]} cannot record a referral as sent (allowed: system)"


@pytest.mark.parametrize("actor", PEOPLE, ids=lambda a: a.role)
def test_only_the_workflow_chases_a_referral(sent: tuple[Case, str], actor: Actor) -> None:
    case, referral_id = sent
    error = refused(case, ChaseReferral(actor=actor, referral_id=referral_id), "role_not_allowed")
    assert error.message == f"{ARTICLED[actor.role]} cannot chase a referral (allowed: system)"


@pytest.mark.parametrize("actor", PEOPLE, ids=lambda a: a.role)
def test_only_the_workflow_escalates_a_referral(chased: tuple[Case, str], actor: Actor) -> None:
    case, referral_id = chased
    error = refused(case, EscalateReferral(actor=actor, referral_id=referral_id), "role_not_allowed")
    assert error.message == f"{ARTICLED[actor.role]} cannot escalate a referral (allowed: system)"


def test_role_is_checked_before_the_referral_exists(sent: tuple[Case, str]) -> None:
    case, _ = sent
    refused(case, RecordReferralSent(actor=PRACTITIONER, referral_id="nope", channel="email"), "role_not_allowed")
    refused(case, ChaseReferral(actor=TEAM_LEAD, referral_id="nope"), "role_not_allowed")
    refused(case, EscalateReferral(actor=LINK_WORKER, referral_id="nope"), "role_not_allowed")
    refused(case, answer("nope", ReferralStatus.ACCEPTED, actor=AUDITOR), "role_not_allowed")


# --- unknown referrals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        RecordReferralSent(actor=SYSTEM_ACTOR, referral_id="ref-unknown", channel="email"),
        ChaseReferral(actor=SYSTEM_ACTOR, referral_id="ref-unknown"),
        EscalateReferral(actor=SYSTEM_ACTOR, referral_id="ref-unknown"),
        RecordReferralOutcome(actor=PRACTITIONER, referral_id="ref-unknown", status=ReferralStatus.ACCEPTED),
    ],
    ids=lambda c: type(c).__name__,
)
def test_commands_about_an_unknown_referral(sent: tuple[Case, str], command: Command) -> None:
    case, _ = sent
    error = refused(case, command, "referral_unknown")
    assert error.message == "case case-1 has no referral ref-unknown"


# --- outcomes: who, when, which ---------------------------------------------------------------------


@pytest.mark.parametrize("actor", [PRACTITIONER, LINK_WORKER, TEAM_LEAD], ids=lambda a: a.role)
def test_practitioners_link_workers_and_team_leads_record_answers(sent: tuple[Case, str], actor: Actor) -> None:
    case, referral_id = sent
    events = case.send(answer(referral_id, ReferralStatus.ACCEPTED, actor=actor))
    assert events == [ReferralOutcomeRecorded(referral_id=referral_id, status=ReferralStatus.ACCEPTED)]
    assert case.envelopes[-1].actor == actor


@pytest.mark.parametrize("actor", NOT_REFERRAL_ROLES, ids=lambda a: a.role)
def test_other_roles_do_not_record_answers(sent: tuple[Case, str], actor: Actor) -> None:
    case, referral_id = sent
    error = refused(case, answer(referral_id, ReferralStatus.ACCEPTED, actor=actor), "role_not_allowed")
    assert error.message == (
        f"{ARTICLED[actor.role]} cannot record a referral outcome (allowed: practitioner, link_worker, team_lead)"
    )
    assert ACTION_ROLES[Action.RECORD_REFERRAL_OUTCOME] == (Role.PRACTITIONER, Role.LINK_WORKER, Role.TEAM_LEAD)


def test_the_service_the_referral_went_to_answers_it_in_its_own_name(sent: tuple[Case, str]) -> None:
    case, referral_id = sent
    service_id = the_referral(case, referral_id).request.service_id
    assert service_id is not None
    receiver = service_actor(service_id)
    events = case.send(answer(referral_id, ReferralStatus.ACCEPTED, actor=receiver))
    assert events == [ReferralOutcomeRecorded(referral_id=referral_id, status=ReferralStatus.ACCEPTED)]
    assert case.envelopes[-1].actor == receiver


@pytest.mark.parametrize("other", ["housing-1", "mental_health-2"])
def test_another_service_cannot_answer_a_referral_it_was_not_sent(sent: tuple[Case, str], other: str) -> None:
    case, referral_id = sent
    error = refused(case, answer(referral_id, ReferralStatus.ACCEPTED, actor=service_actor(other)), "role_not_allowed")
    assert error.message == f"only the service referral {referral_id} was made to can answer it on its own"


@pytest.mark.parametrize("status", list(ReferralStatus))
def test_no_answer_before_the_referral_is_sent(drafted: tuple[Case, str], status: ReferralStatus) -> None:
    case, referral_id = drafted
    error = refused(case, answer(referral_id, status, reason="no capacity"), "referral_not_sent")
    assert error.message == f"referral {referral_id} has not been sent yet, so there can be no answer to it"


def test_the_full_lifecycle_accepted_attended_engaged_closed(sent: tuple[Case, str]) -> None:
    case, referral_id = sent
    steps = [ReferralStatus.ACCEPTED, ReferralStatus.ATTENDED, ReferralStatus.ENGAGED, ReferralStatus.CLOSED]
    seen = []
    for status in steps:
        case.advance(days=3)
        events = case.send(answer(referral_id, status))
        assert events == [ReferralOutcomeRecorded(referral_id=referral_id, status=status, reason="")]
        seen.append(the_referral(case, referral_id).status)
    assert seen == steps

    final = the_referral(case, referral_id)
    assert not final.awaiting_answer
    assert REFERRAL_TRANSITIONS[ReferralStatus.CLOSED] == frozenset()
    for status in ReferralStatus:  # closed is the end
        refused(case, answer(referral_id, status, reason="again"), "referral_transition")
    # The fold of the whole stream gives the same state.
    assert fold(case.state.case_id, case.envelopes) == case.state


def test_a_rejection_needs_the_services_reason(sent: tuple[Case, str]) -> None:
    case, referral_id = sent

    error = refused(case, answer(referral_id, ReferralStatus.REJECTED), "reason_required")
    assert error.message == "give the service's reason for rejecting the referral"
    refused(case, answer(referral_id, ReferralStatus.REJECTED, reason="   "), "reason_required")  # only spaces

    events = case.send(answer(referral_id, ReferralStatus.REJECTED, reason="outside our catchment"))
    assert events == [
        ReferralOutcomeRecorded(referral_id=referral_id, status=ReferralStatus.REJECTED, reason="outside our catchment")
    ]
    rejected = the_referral(case, referral_id)
    assert (rejected.status, rejected.reason) == (ReferralStatus.REJECTED, "outside our catchment")

    case.send(answer(referral_id, ReferralStatus.CLOSED))
    assert the_referral(case, referral_id).status is ReferralStatus.CLOSED


def test_the_transition_is_checked_before_the_reason(sent: tuple[Case, str]) -> None:
    case, referral_id = sent
    case.send(answer(referral_id, ReferralStatus.ACCEPTED))
    refused(case, answer(referral_id, ReferralStatus.REJECTED), "referral_transition")


def test_other_statuses_need_no_reason(sent: tuple[Case, str]) -> None:
    case, referral_id = sent
    case.send(answer(referral_id, ReferralStatus.DECLINED_BY_PERSON))
    assert the_referral(case, referral_id).reason == ""


# How to reach each status once the referral is sent.
PATHS: dict[ReferralStatus, tuple[ReferralStatus, ...]] = {
    ReferralStatus.SENT: (),
    ReferralStatus.ACCEPTED: (ReferralStatus.ACCEPTED,),
    ReferralStatus.REJECTED: (ReferralStatus.REJECTED,),
    ReferralStatus.DECLINED_BY_PERSON: (ReferralStatus.DECLINED_BY_PERSON,),
    ReferralStatus.ATTENDED: (ReferralStatus.ACCEPTED, ReferralStatus.ATTENDED),
    ReferralStatus.DID_NOT_ATTEND: (ReferralStatus.ACCEPTED, ReferralStatus.DID_NOT_ATTEND),
    ReferralStatus.ENGAGED: (ReferralStatus.ACCEPTED, ReferralStatus.ATTENDED, ReferralStatus.ENGAGED),
    ReferralStatus.DISENGAGED: (ReferralStatus.ACCEPTED, ReferralStatus.ATTENDED, ReferralStatus.DISENGAGED),
    ReferralStatus.CLOSED: (ReferralStatus.REJECTED, ReferralStatus.CLOSED),
}


@pytest.mark.parametrize(
    ("current", "target"),
    list(product(PATHS, ReferralStatus)),
    ids=lambda s: str(s),
)
def test_every_answer_follows_the_lifecycle(
    sent: tuple[Case, str], current: ReferralStatus, target: ReferralStatus
) -> None:
    case, referral_id = sent
    for step in PATHS[current]:
        case.send(answer(referral_id, step, reason="no capacity"))
    assert the_referral(case, referral_id).status is current
    command = answer(referral_id, target, reason="no capacity")

    if target in REFERRAL_TRANSITIONS[current]:
        assert case.send(command) == [
            ReferralOutcomeRecorded(referral_id=referral_id, status=target, reason="no capacity")
        ]
        assert the_referral(case, referral_id).status is target
    else:
        error = refused(case, command, "referral_transition")
        assert error.message == f"a referral that is {current} cannot become {target}"


def test_the_lifecycle_table_is_complete_and_connected() -> None:
    assert set(REFERRAL_TRANSITIONS) == set(ReferralStatus)
    assert set(PATHS) == set(ReferralStatus) - {ReferralStatus.DRAFTED}
    # Nobody answers a referral back to drafted or sent: those are the workflow's.
    assert all(
        ReferralStatus.DRAFTED not in targets
        and (ReferralStatus.SENT not in targets or source is ReferralStatus.DRAFTED)
        for source, targets in REFERRAL_TRANSITIONS.items()
    )
    assert REFERRAL_TRANSITIONS[ReferralStatus.SENT] == {
        ReferralStatus.ACCEPTED,
        ReferralStatus.REJECTED,
        ReferralStatus.DECLINED_BY_PERSON,
    }

    def reachable(start: ReferralStatus) -> set[ReferralStatus]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in REFERRAL_TRANSITIONS[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    assert reachable(ReferralStatus.DRAFTED) == set(ReferralStatus)
    assert all(ReferralStatus.CLOSED in reachable(status) for status in ReferralStatus)


# --- chasing ---------------------------------------------------------------------------------------


def test_chasing_opens_a_chase_task_for_the_referral(sent: tuple[Case, str]) -> None:
    case, referral_id = sent
    case.advance(days=2)

    events = case.send(ChaseReferral(actor=SYSTEM_ACTOR, referral_id=referral_id))

    assert types(events) == ["ReferralChased", "TaskOpened"]
    assert events[0] == ReferralChased(referral_id=referral_id)
    assert isinstance(events[1], TaskOpened)
    task = events[1].task
    assert task.kind is TaskKind.CHASE_REFERRAL
    assert task.referral_id == referral_id
    assert task.priority is Urgency.URGENT  # the referral's urgency
    assert task.candidate_roles == CANDIDATE_ROLES[TaskKind.CHASE_REFERRAL]
    assert task.site == SITE_ID
    assert task.opened_at == case.now
    assert task.due_at == case.now + timedelta(hours=24)  # the default chase_referral SLA, on a 24/7 site
    assert task.remind_at == task.due_at - timedelta(minutes=case.site.reminder_minutes(TaskKind.CHASE_REFERRAL))
    assert the_referral(case, referral_id).chased
    assert case.state.tasks[task.task_id].status is TaskStatus.OPEN


def test_a_referral_is_chased_once(chased: tuple[Case, str]) -> None:
    case, referral_id = chased
    error = refused(case, ChaseReferral(actor=SYSTEM_ACTOR, referral_id=referral_id), "referral_not_chaseable")
    assert error.message == f"referral {referral_id} needs no chase"


def test_a_drafted_referral_is_not_chased(drafted: tuple[Case, str]) -> None:
    case, referral_id = drafted
    refused(case, ChaseReferral(actor=SYSTEM_ACTOR, referral_id=referral_id), "referral_not_chaseable")


@pytest.mark.parametrize("status", sorted(REFERRAL_TRANSITIONS[ReferralStatus.SENT]))
def test_an_answered_referral_is_not_chased(sent: tuple[Case, str], status: ReferralStatus) -> None:
    case, referral_id = sent
    case.send(answer(referral_id, status, reason="no capacity"))
    refused(case, ChaseReferral(actor=SYSTEM_ACTOR, referral_id=referral_id), "referral_not_chaseable")
    refused(case, EscalateReferral(actor=SYSTEM_ACTOR, referral_id=referral_id), "referral_not_escalatable")


def test_an_answer_cancels_the_open_chase_task(chased: tuple[Case, str]) -> None:
    case, referral_id = chased
    [chase] = chase_tasks(case, referral_id)

    events = case.send(answer(referral_id, ReferralStatus.ACCEPTED))

    assert events == [
        ReferralOutcomeRecorded(referral_id=referral_id, status=ReferralStatus.ACCEPTED),
        TaskCancelled(task_id=chase.task_id, reason="the service answered"),
    ]
    assert case.state.tasks[chase.task_id].status is TaskStatus.CANCELLED
    assert case.state.tasks[chase.task_id].closed_at == case.now
    # The cancelled chase cannot be completed any more.
    command = CompleteTask(
        actor=LINK_WORKER, task_id=chase.task_id, outcome=dump(ChaseReferralOutcome(answer="accepted"))
    )
    refused(case, command, "task_not_open")


def test_a_rejection_also_cancels_the_chase(chased: tuple[Case, str]) -> None:
    case, referral_id = chased
    [chase] = chase_tasks(case, referral_id)
    events = case.send(answer(referral_id, ReferralStatus.REJECTED, reason="no capacity"))
    assert types(events) == ["ReferralOutcomeRecorded", "TaskCancelled"]
    assert case.state.tasks[chase.task_id].status is TaskStatus.CANCELLED


def test_an_answer_cancels_only_the_chase_of_its_own_referral(deciding: Case) -> None:
    first, second = made(deciding, request(ServiceType.MENTAL_HEALTH), request(ServiceType.HOUSING))
    for referral_id in (first, second):
        deciding.send(sent_command(referral_id))
        deciding.send(ChaseReferral(actor=SYSTEM_ACTOR, referral_id=referral_id))
    [first_chase] = chase_tasks(deciding, first)
    [second_chase] = chase_tasks(deciding, second)

    events = deciding.send(answer(second, ReferralStatus.ACCEPTED))

    assert events[1:] == [TaskCancelled(task_id=second_chase.task_id, reason="the service answered")]
    assert deciding.state.tasks[first_chase.task_id].status is TaskStatus.OPEN
    assert deciding.state.tasks[second_chase.task_id].status is TaskStatus.CANCELLED
    assert the_referral(deciding, first).status is ReferralStatus.SENT


def test_an_answer_without_a_chase_cancels_nothing(sent: tuple[Case, str]) -> None:
    case, referral_id = sent
    open_before = [t.task_id for t in case.state.open_tasks]
    events = case.send(answer(referral_id, ReferralStatus.ACCEPTED))
    assert types(events) == ["ReferralOutcomeRecorded"]
    assert [t.task_id for t in case.state.open_tasks] == open_before  # the closure task stays open


# --- completing the chase task ---------------------------------------------------------------------


@pytest.mark.parametrize("actor", [LINK_WORKER, PRACTITIONER, TEAM_LEAD], ids=lambda a: a.role)
def test_chase_answered_accepted(chased: tuple[Case, str], actor: Actor) -> None:
    case, referral_id = chased
    [chase] = chase_tasks(case, referral_id)

    events = complete_chase(case, ChaseReferralOutcome(answer="accepted", note="spoke to duty worker"), actor)

    assert events == [
        TaskCompleted(task_id=chase.task_id),
        ReferralOutcomeRecorded(referral_id=referral_id, status=ReferralStatus.ACCEPTED, reason=""),
    ]
    assert case.state.tasks[chase.task_id].status is TaskStatus.COMPLETED
    assert case.state.tasks[chase.task_id].closed_by == actor.staff_id
    assert the_referral(case, referral_id).status is ReferralStatus.ACCEPTED
    # Answered: no more chasing or escalating.
    refused(case, EscalateReferral(actor=SYSTEM_ACTOR, referral_id=referral_id), "referral_not_escalatable")


def test_chase_answered_rejected_with_reason(chased: tuple[Case, str]) -> None:
    case, referral_id = chased
    [chase] = chase_tasks(case, referral_id)

    events = complete_chase(case, ChaseReferralOutcome(answer="rejected", reason="waiting list closed"))

    assert events == [
        TaskCompleted(task_id=chase.task_id),
        ReferralOutcomeRecorded(referral_id=referral_id, status=ReferralStatus.REJECTED, reason="waiting list closed"),
    ]
    rejected = the_referral(case, referral_id)
    assert (rejected.status, rejected.reason) == (ReferralStatus.REJECTED, "waiting list closed")


@pytest.mark.parametrize("reason", ["", "   "])
def test_chase_answered_rejected_without_reason_is_refused(chased: tuple[Case, str], reason: str) -> None:
    case, referral_id = chased
    [chase] = chase_tasks(case, referral_id)
    command = CompleteTask(actor=LINK_WORKER, task_id=chase.task_id, outcome={"answer": "rejected", "reason": reason})

    error = refused(case, command, "outcome_invalid")

    assert "give the service's reason for rejecting the referral" in error.message
    assert case.state.tasks[chase.task_id].status is TaskStatus.OPEN


def test_chase_with_no_answer_yet_leaves_the_referral_waiting(chased: tuple[Case, str]) -> None:
    case, referral_id = chased
    [chase] = chase_tasks(case, referral_id)

    events = complete_chase(case, ChaseReferralOutcome(answer="no_answer_yet", note="left a voicemail"))

    assert events == [TaskCompleted(task_id=chase.task_id)]
    waiting = the_referral(case, referral_id)
    assert (waiting.status, waiting.chased, waiting.escalated) == (ReferralStatus.SENT, True, False)
    # Not chased a second time, but still escalated when the time comes (no chase task left to escalate).
    refused(case, ChaseReferral(actor=SYSTEM_ACTOR, referral_id=referral_id), "referral_not_chaseable")
    assert case.send(EscalateReferral(actor=SYSTEM_ACTOR, referral_id=referral_id)) == [
        ReferralEscalated(referral_id=referral_id)
    ]


@pytest.mark.parametrize("actor", [AUDITOR, OPERATOR, ADMIN, SYSTEM_ACTOR], ids=lambda a: a.role)
def test_chase_task_roles(chased: tuple[Case, str], actor: Actor) -> None:
    case, referral_id = chased
    [chase] = chase_tasks(case, referral_id)
    command = CompleteTask(actor=actor, task_id=chase.task_id, outcome=dump(ChaseReferralOutcome(answer="accepted")))
    refused(case, command, "role_not_allowed")


def test_a_bad_chase_answer_names_the_field(chased: tuple[Case, str]) -> None:
    case, referral_id = chased
    [chase] = chase_tasks(case, referral_id)
    command = CompleteTask(actor=LINK_WORKER, task_id=chase.task_id, outcome={"answer": "maybe"})
    error = refused(case, command, "outcome_invalid")
    assert "answer:" in error.message


# --- escalating ------------------------------------------------------------------------------------


def test_escalation_escalates_the_open_chase_task(chased: tuple[Case, str]) -> None:
    case, referral_id = chased
    [chase] = chase_tasks(case, referral_id)
    case.advance(days=2)

    events = case.send(EscalateReferral(actor=SYSTEM_ACTOR, referral_id=referral_id))

    assert events == [ReferralEscalated(referral_id=referral_id), TaskEscalated(task_id=chase.task_id)]
    assert events[1] == TaskEscalated(task_id=chase.task_id, to_role=Role.TEAM_LEAD)
    assert the_referral(case, referral_id).escalated
    assert case.state.tasks[chase.task_id].escalated
    assert case.state.tasks[chase.task_id].status is TaskStatus.OPEN  # still to be done, by the team lead now


def test_a_referral_is_escalated_once(chased: tuple[Case, str]) -> None:
    case, referral_id = chased
    case.send(EscalateReferral(actor=SYSTEM_ACTOR, referral_id=referral_id))
    error = refused(case, EscalateReferral(actor=SYSTEM_ACTOR, referral_id=referral_id), "referral_not_escalatable")
    assert error.message == f"referral {referral_id} needs no escalation"


def test_a_drafted_referral_is_not_escalated(drafted: tuple[Case, str]) -> None:
    case, referral_id = drafted
    refused(case, EscalateReferral(actor=SYSTEM_ACTOR, referral_id=referral_id), "referral_not_escalatable")


def test_escalation_without_a_chase_task_escalates_only_the_referral(sent: tuple[Case, str]) -> None:
    case, referral_id = sent
    events = case.send(EscalateReferral(actor=SYSTEM_ACTOR, referral_id=referral_id))
    assert events == [ReferralEscalated(referral_id=referral_id)]
    assert all(not t.escalated for t in case.state.tasks.values())


def test_a_chase_task_already_escalated_by_its_own_timer_is_not_escalated_again(chased: tuple[Case, str]) -> None:
    case, referral_id = chased
    [chase] = chase_tasks(case, referral_id)
    assert chase.escalate_at is not None
    case.now = chase.escalate_at
    case.send(EscalateTask(actor=SYSTEM_ACTOR, task_id=chase.task_id))

    events = case.send(EscalateReferral(actor=SYSTEM_ACTOR, referral_id=referral_id))

    assert events == [ReferralEscalated(referral_id=referral_id)]


def test_an_escalated_referral_can_still_be_answered(chased: tuple[Case, str]) -> None:
    case, referral_id = chased
    [chase] = chase_tasks(case, referral_id)
    case.send(EscalateReferral(actor=SYSTEM_ACTOR, referral_id=referral_id))

    events = complete_chase(case, ChaseReferralOutcome(answer="accepted"), TEAM_LEAD)

    assert types(events) == ["TaskCompleted", "ReferralOutcomeRecorded"]
    assert case.state.tasks[chase.task_id].status is TaskStatus.COMPLETED
    assert the_referral(case, referral_id).status is ReferralStatus.ACCEPTED


# --- closed cases ----------------------------------------------------------------------------------


def close(case: Case) -> None:
    case.send(CloseCase(actor=TEAM_LEAD, outcome=ClosureOutcome(reason=ClosureReason.TRANSFERRED)))
    assert case.stage() is Stage.CLOSED


def test_closing_the_case_cancels_the_chase_and_refuses_every_referral_command(chased: tuple[Case, str]) -> None:
    case, referral_id = chased
    [chase] = chase_tasks(case, referral_id)
    close(case)
    assert case.state.tasks[chase.task_id].status is TaskStatus.CANCELLED

    for command in (
        ChaseReferral(actor=SYSTEM_ACTOR, referral_id=referral_id),
        EscalateReferral(actor=SYSTEM_ACTOR, referral_id=referral_id),
        answer(referral_id, ReferralStatus.ACCEPTED),
    ):
        refused(case, command, "case_not_open")
    # Recording a send is still possible on a closed case (below), but this one was sent long ago.
    refused(case, sent_command(referral_id), "referral_already_sent")


def test_a_send_that_ends_after_closure_is_recorded_and_the_case_stays_closed(drafted: tuple[Case, str]) -> None:
    case, referral_id = drafted
    close(case)
    closed = case.state
    case.advance(seconds=20)

    events = case.send(RecordReferralSent(actor=SYSTEM_ACTOR, referral_id=referral_id, channel="email"))

    assert events == [ReferralSent(referral_id=referral_id, channel="email")]
    assert case.stage() is Stage.CLOSED
    assert (case.state.closed_at, case.state.close_reason) == (closed.closed_at, closed.close_reason)
    assert case.state.open_tasks == [] and case.state.tasks == closed.tasks
    referral = the_referral(case, referral_id)
    assert (referral.status, referral.sent_at) == (ReferralStatus.SENT, case.now)
    assert fold(case.state.case_id, case.envelopes) == case.state
    assert [type(e.event).__name__ for e in case.envelopes[-2:]] == ["CaseClosed", "ReferralSent"]
    refused(case, sent_command(referral_id), "referral_already_sent")  # once, closed or not


def test_a_send_refused_after_closure_is_recorded_without_a_chase_task(drafted: tuple[Case, str]) -> None:
    case, referral_id = drafted
    close(case)

    events = case.send(RecordReferralSendFailed(actor=SYSTEM_ACTOR, referral_id=referral_id, reason="HTTP 400"))

    # On an open case the same report opens an urgent chase task (test_link_work.py); closed, none.
    assert events == [ReferralSendFailed(referral_id=referral_id, reason="HTTP 400")]
    assert case.stage() is Stage.CLOSED and case.state.open_tasks == []
    referral = the_referral(case, referral_id)
    assert (referral.status, referral.send_failed) == (ReferralStatus.DRAFTED, "HTTP 400")
    refused(
        case,
        RecordReferralSendFailed(actor=SYSTEM_ACTOR, referral_id=referral_id, reason="again"),
        "referral_already_sent",
    )


@pytest.mark.parametrize("actor", PEOPLE, ids=lambda a: a.role)
def test_only_the_workflow_records_a_send_on_a_closed_case(drafted: tuple[Case, str], actor: Actor) -> None:
    case, referral_id = drafted
    close(case)
    refused(case, RecordReferralSent(actor=actor, referral_id=referral_id, channel="email"), "role_not_allowed")
    refused(case, RecordReferralSendFailed(actor=actor, referral_id=referral_id, reason="x"), "role_not_allowed")


def test_a_closed_case_takes_nothing_else_about_a_drafted_referral(drafted: tuple[Case, str]) -> None:
    case, referral_id = drafted
    close(case)
    for command in (
        ChaseReferral(actor=SYSTEM_ACTOR, referral_id=referral_id),
        EscalateReferral(actor=SYSTEM_ACTOR, referral_id=referral_id),
        answer(referral_id, ReferralStatus.ACCEPTED),
    ):
        refused(case, command, "case_not_open")
    refused(
        case, RecordReferralSent(actor=SYSTEM_ACTOR, referral_id="ref-unknown", channel="email"), "referral_unknown"
    )


def test_a_case_not_open_yet_records_no_send() -> None:
    case = Case(make_site())
    refused(case, RecordReferralSent(actor=SYSTEM_ACTOR, referral_id="r-1", channel="email"), "case_not_open")


def test_the_referral_story_folds_back_to_the_same_state(chased: tuple[Case, str]) -> None:
    case, referral_id = chased
    case.send(EscalateReferral(actor=SYSTEM_ACTOR, referral_id=referral_id))
    complete_chase(case, ChaseReferralOutcome(answer="accepted"), TEAM_LEAD)
    case.send(answer(referral_id, ReferralStatus.DID_NOT_ATTEND))
    case.send(answer(referral_id, ReferralStatus.ATTENDED))

    assert fold(case.state.case_id, case.envelopes) == case.state
    story = [type(e.event).__name__ for e in case.envelopes if "Referral" in type(e.event).__name__]
    assert story == [
        "ReferralMade",
        "ReferralSent",
        "ReferralChased",
        "ReferralEscalated",
        "ReferralOutcomeRecorded",
        "ReferralOutcomeRecorded",
        "ReferralOutcomeRecorded",
    ]
