"""Which kinds of service suit whom: the age bands each service type takes, and the referral types a
practitioner may choose by hand.

Children (10-17) and adults are served by different teams. A child's mental health need goes to
child and adolescent mental health services (CAMHS), not the adult community mental health team; the
youth justice service works only with children; RECONNECT (care after custody) and the adult mental
health team only with adults. The other types (housing, debt advice, substance misuse, ...) name a
need that both ages have; which team in the directory meets it is the directory's business.
"""

from domain.decisions import DecisionContext
from domain.errors import Rule, RuleViolation
from domain.model import AgeBand
from domain.outcomes import CONSENT_SCOPE_FOR_RECIPIENT, ConsentScope, Recipient, ServiceType

# The workflow patch (workflows/case_workflow.py) guarding these rules in running histories: before
# them a child's case could be referred to the adult mental health team, and a disclosure to the
# youth justice service was covered by consent to share with probation. Asked only where a command
# would now be refused, so histories that never met the difference carry no marker.
YOUTH_SERVICES = "youth-services-by-age-band"

BOTH_AGE_BANDS: tuple[AgeBand, ...] = (AgeBand.CHILD, AgeBand.ADULT)

# The age bands a service type takes; a type not listed takes both.
SERVICE_AGE_BANDS: dict[ServiceType, tuple[AgeBand, ...]] = {
    ServiceType.CAMHS: (AgeBand.CHILD,),
    ServiceType.YOUTH_JUSTICE: (AgeBand.CHILD,),
    ServiceType.MENTAL_HEALTH: (AgeBand.ADULT,),
    ServiceType.RECONNECT: (AgeBand.ADULT,),
}

# What the other age band is referred to instead: a child's "mental health" is CAMHS, an adult's
# "CAMHS" is the community mental health team, and a child leaving custody is the youth justice
# service's (RECONNECT is for adults). No counterpart (an adult and the youth justice service): none.
COUNTERPART: dict[tuple[ServiceType, AgeBand], ServiceType] = {
    (ServiceType.MENTAL_HEALTH, AgeBand.CHILD): ServiceType.CAMHS,
    (ServiceType.CAMHS, AgeBand.ADULT): ServiceType.MENTAL_HEALTH,
    (ServiceType.RECONNECT, AgeBand.CHILD): ServiceType.YOUTH_JUSTICE,
}

# Not chosen in a referral decision: RECONNECT takes people remanded or sentenced to custody, so it is
# reached through the hearing outcome's hand-off, which knows that the person is in custody.
NOT_CHOSEN_BY_HAND: frozenset[ServiceType] = frozenset({ServiceType.RECONNECT})


def age_bands_for(service: ServiceType) -> tuple[AgeBand, ...]:
    return SERVICE_AGE_BANDS.get(service, BOTH_AGE_BANDS)


def suits(service: ServiceType, age_band: AgeBand | None) -> bool:
    """Whether the service type takes people of this age band (an unknown band limits nothing)."""
    return age_band is None or age_band in age_bands_for(service)


def for_age_band(service: ServiceType, age_band: AgeBand | None) -> ServiceType | None:
    """The service type that meets this need for this age band: the type itself when it suits, its
    counterpart when it has one, else None."""
    if suits(service, age_band):
        return service
    assert age_band is not None  # suits() is true for an unknown band
    return COUNTERPART.get((service, age_band))


def require_referable_by_hand(service: ServiceType, age_band: AgeBand | None, ctx: DecisionContext) -> None:
    """Refuse a referral a practitioner chose that the person cannot be referred to: a type that is
    not chosen by hand, or one that does not take the person's age band (naming what does)."""
    problem = _not_referable_by_hand(service, age_band)
    if problem is not None and ctx.patched(YOUTH_SERVICES):
        raise problem


def consent_scope_needed(recipient: Recipient, ctx: DecisionContext) -> ConsentScope:
    """The consent scope that covers sharing with `recipient`."""
    needed = CONSENT_SCOPE_FOR_RECIPIENT[recipient]
    if needed is ConsentScope.SHARE_YOUTH_JUSTICE and not ctx.patched(YOUTH_SERVICES):
        return ConsentScope.SHARE_PROBATION  # as recorded before the youth justice service had its own
    return needed


def _not_referable_by_hand(service: ServiceType, age_band: AgeBand | None) -> RuleViolation | None:
    if service in NOT_CHOSEN_BY_HAND:
        return RuleViolation(
            Rule.SERVICE_NOT_CHOSEN_BY_HAND,
            f"a referral to {service} is made by the hand-off after remand or a custodial sentence "
            "(the hearing outcome), not in a referral decision",
        )
    if suits(service, age_band):
        return None
    instead = for_age_band(service, age_band)
    alternative = f"; refer to {instead} instead" if instead is not None and instead is not service else ""
    return RuleViolation(
        Rule.SERVICE_NOT_FOR_AGE_BAND,
        f"{service} does not take {_people(age_band)} "
        f"(it takes {' and '.join(_people(band) for band in age_bands_for(service))}){alternative}",
    )


def _people(age_band: AgeBand | None) -> str:
    return "children (10-17)" if age_band is AgeBand.CHILD else "adults (18 and over)"
