"""Up to sentence, and care after custody.

Liaison and Diversion works with people up to sentence or disposal. Once the case for a custody or
court reference has reached it, a new identification for that reference is refused and pointed to
the service that works with the person now (probation, RECONNECT, the youth justice service, ...).

A remand in custody or a custodial sentence can hand the person on (`HearingOutcome.hand_off_to_reconnect`):
an adult is referred to the site's RECONNECT service (care after custody) and a linked RECONNECT
episode opens, with its own timings from the site's `[reconnect]` configuration; a child is referred
to the youth justice service instead, and no RECONNECT episode opens. Either way the referral is sent
and chased like any other, the justice outcome is recorded, and the L&D episode moves on to closure:
its remaining work is called off (link work ends) and the closure task opens.
"""

from domain.commands import Command
from domain.config import Service, SiteConfig
from domain.decisions import DecisionContext, new_task, require, require_role, setting_of
from domain.errors import Rule
from domain.events import (
    CaseHandedOff,
    DomainEvent,
    EpisodeOpenedFromHandOff,
    JusticeOutcomeRecorded,
    LinkedEpisodeOpened,
    ReferralMade,
    SupportEnded,
    TaskCancelled,
)
from domain.model import AgeBand, Role, Setting
from domain.outcomes import (
    HearingOutcome,
    HearingResult,
    JusticeOutcome,
    ReferralRequest,
    ServiceType,
    Urgency,
)
from domain.state import CaseState
from domain.tasks import TaskKind, TaskStatus

# Workflow patches (workflows/case_workflow.py) guarding these rules in running histories.
HAND_OFF_REFERRAL = "hand-off-refers-and-moves-to-closure"
REFUSE_AFTER_SENTENCE = "refuse-identification-after-sentence"

# Hearing results that sentence or dispose of the matter: the end of L&D's part.
SENTENCING_RESULTS = frozenset(
    {
        HearingResult.COMMUNITY_ORDER,
        HearingResult.COMMUNITY_ORDER_WITH_TREATMENT_REQUIREMENT,
        HearingResult.CUSTODIAL_SENTENCE,
        HearingResult.HOSPITAL_ORDER,
        HearingResult.CONDITIONAL_DISCHARGE,
        HearingResult.NO_FURTHER_ACTION,
    }
)
# Justice outcomes (as recorded at closure or learned on the way) that are a sentence or disposal.
DISPOSALS = frozenset(
    {
        JusticeOutcome.NO_FURTHER_ACTION,
        JusticeOutcome.COMMUNITY_RESOLUTION,
        JusticeOutcome.CAUTION,
        JusticeOutcome.CONDITIONAL_CAUTION,
        JusticeOutcome.COMMUNITY_ORDER,
        JusticeOutcome.COMMUNITY_ORDER_WITH_TREATMENT_REQUIREMENT,
        JusticeOutcome.CUSTODIAL_SENTENCE,
        JusticeOutcome.HOSPITAL_ORDER,
    }
)
# The justice outcome a hand-off's hearing result means.
HAND_OFF_OUTCOMES = {
    HearingResult.REMAND_IN_CUSTODY: JusticeOutcome.CHARGED_REMANDED,
    HearingResult.CUSTODIAL_SENTENCE: JusticeOutcome.CUSTODIAL_SENTENCE,
}


# Work that goes on after a hand-off until the episode closes: chasing its referrals, and the court
# work of hearings still to come.
KEPT_ON_HAND_OFF = (TaskKind.CHASE_REFERRAL, TaskKind.COURT_REPORT, TaskKind.HEARING_OUTCOME)


class OpenHandedOffEpisode(Command):
    """Sent by an L&D case's workflow to the linked RECONNECT episode it starts (never by a person)."""

    linked_case_id: str
    site: str
    setting: Setting
    age_band: AgeBand
    service_id: str
    hearing_result: HearingResult
    person_id: str | None = None  # the handing-off episode's person: the same person's next episode


def sentence_or_disposal(state: CaseState) -> str | None:
    """The sentence or disposal the case has reached (a hearing's result, or the justice outcome
    recorded), or None while the person is still before sentence."""
    for report in reversed(state.court_reports):
        if report.hearing_result in SENTENCING_RESULTS:
            return str(report.hearing_result)
    if state.justice_outcome in DISPOSALS:
        return str(state.justice_outcome)
    return None


def where_now(disposal: str, age_band: AgeBand | None) -> str:
    """The service that works with a person after this sentence or disposal."""
    child = age_band is AgeBand.CHILD
    if disposal == HearingResult.CUSTODIAL_SENTENCE:
        if child:
            return "the youth justice service (YOT/YJS) and the secure estate's health team"
        return "RECONNECT (care after custody) or the prison's healthcare team"
    if disposal == HearingResult.HOSPITAL_ORDER:
        return "the hospital's mental health team"
    if disposal in (
        HearingResult.COMMUNITY_ORDER,
        HearingResult.COMMUNITY_ORDER_WITH_TREATMENT_REQUIREMENT,
        HearingResult.CONDITIONAL_DISCHARGE,
    ):
        return "the youth justice service (YOT/YJS)" if child else "the probation service"
    return "no service under this reference: a new arrest or charge has its own custody or court reference"


def refuse_after_sentence(state: CaseState) -> None:
    """A new identification for a reference whose case has reached sentence or disposal is refused,
    naming the service to go to instead. Before sentence it is accepted (and finds the case)."""
    disposal = sentence_or_disposal(state)
    require(
        disposal is None,
        Rule.CASE_PAST_SENTENCE,
        f"case {state.case_id} for this reference has reached sentence or disposal "
        f"({str(disposal).replace('_', ' ')}); Liaison and Diversion works with people up to sentence: "
        f"refer the person to {where_now(str(disposal), state.age_band)}",
    )


def hand_off(
    state: CaseState, outcome: HearingOutcome, completed_task_id: str, ctx: DecisionContext
) -> list[DomainEvent]:
    """After a remand in custody or custodial sentence: the referral (RECONNECT for an adult, the youth
    justice service for a child), the hand-off, the justice outcome, an adult's linked RECONNECT
    episode, and the L&D episode moved on to closure. Follows the hearing's own events."""
    require(state.handed_off_to is None, Rule.ALREADY_HANDED_OFF, f"the case was handed off to {state.handed_off_to}")
    child = state.age_band is AgeBand.CHILD
    wanted = ServiceType.YOUTH_JUSTICE if child else ServiceType.RECONNECT
    service = _service(ctx.site, wanted)
    result = outcome.result
    request = ReferralRequest(
        service=wanted,
        service_id=service.service_id,
        # Coded words only: the case's personal details reach the service through the referral's link.
        reason=f"hand-off after the hearing: {result.replace('_', ' ')}",
        urgency=Urgency.URGENT,
    )
    events: list[DomainEvent] = [
        JusticeOutcomeRecorded(outcome=HAND_OFF_OUTCOMES[result]),
        ReferralMade(referral_id=ctx.new_id(), request=request),
        CaseHandedOff(to="youth_justice" if child else "reconnect", reason=f"hearing result: {result}"),
    ]
    if not child:
        events.append(LinkedEpisodeOpened(linked_case_id=f"case-{ctx.new_id()}"))
    return [*events, *_to_closure(state, completed_task_id, ctx)]


def open_handed_off_episode(state: CaseState, command: OpenHandedOffEpisode, ctx: DecisionContext) -> list[DomainEvent]:
    """The first event of a linked RECONNECT episode, with the site's care-after-custody timings."""
    require_role(command.actor, (Role.SYSTEM,), "open a linked episode")
    require(state.stage is None, Rule.CASE_ALREADY_OPEN, f"case {state.case_id} is already open")
    require(command.site == ctx.site.site_id, Rule.WRONG_SITE, f"this case belongs to site {ctx.site.site_id}")
    return [
        EpisodeOpenedFromHandOff(
            linked_case_id=command.linked_case_id,
            site=command.site,
            setting=command.setting,
            age_band=command.age_band,
            service_id=command.service_id,
            hearing_result=command.hearing_result,
            engage_before_release_weeks=ctx.site.reconnect.engage_before_release_weeks,
            support_after_release_months=ctx.site.reconnect.support_after_release_months,
            person_id=command.person_id,
        )
    ]


def _service(site: SiteConfig, wanted: ServiceType) -> Service:
    offered = [s for s in site.services if s.type is wanted]
    require(
        bool(offered),
        Rule.SERVICE_NOT_AVAILABLE,
        f"no {wanted.replace('_', ' ')} service covers site {site.site_id}, so the person cannot be handed off",
    )
    return offered[0]


def _to_closure(state: CaseState, completed_task_id: str, ctx: DecisionContext) -> list[DomainEvent]:
    """The L&D episode's remaining work called off (chases of its referrals and the court work of
    later hearings go on until it closes), link work ended, and the closure task opened."""
    cancelled: list[DomainEvent] = [
        TaskCancelled(task_id=task.task_id, reason="handed off after custody")
        for task in state.tasks.values()
        if task.status in (TaskStatus.OPEN, TaskStatus.SCHEDULED)
        and task.task_id != completed_task_id
        and task.kind not in KEPT_ON_HAND_OFF
    ]
    ended: list[DomainEvent] = []
    if state.support is not None and state.support.ended_at is None:
        ended.append(SupportEnded(reason="handed_off"))
    closure = new_task(ctx, TaskKind.CLOSURE, setting_of(state), Urgency.ROUTINE)
    return [*cancelled, *ended, closure]
