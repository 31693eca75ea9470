"""What a person's cohort, age and needs suggest: the services a referral decision should consider."""

from domain.model import AgeBand, Cohort
from domain.outcomes import ServiceType, VulnerabilityDomain
from domain.services import NOT_CHOSEN_BY_HAND, for_age_band
from domain.state import CaseState

COHORT_SERVICES: dict[Cohort, tuple[ServiceType, ...]] = {
    Cohort.WOMENS_PATHWAY: (ServiceType.WOMENS_CENTRE, ServiceType.DOMESTIC_ABUSE_SUPPORT),
    Cohort.VETERAN: (ServiceType.VETERANS_SUPPORT,),
    Cohort.CARE_LEAVER: (ServiceType.HOUSING,),
}

# Every child in contact with the justice system is the youth justice service's to know of.
AGE_BAND_SERVICES: dict[AgeBand, tuple[ServiceType, ...]] = {
    AgeBand.CHILD: (ServiceType.YOUTH_JUSTICE,),
    AgeBand.ADULT: (),
}

# A need's service for an adult; for_age_band gives a child's (mental health: CAMHS).
DOMAIN_SERVICES: dict[VulnerabilityDomain, ServiceType] = {
    VulnerabilityDomain.MENTAL_HEALTH: ServiceType.MENTAL_HEALTH,
    VulnerabilityDomain.SUBSTANCE_MISUSE: ServiceType.SUBSTANCE_MISUSE,
    VulnerabilityDomain.ALCOHOL: ServiceType.SUBSTANCE_MISUSE,
    VulnerabilityDomain.LEARNING_DISABILITY: ServiceType.LEARNING_DISABILITY,
    VulnerabilityDomain.HOUSING: ServiceType.HOUSING,
    VulnerabilityDomain.DEBT: ServiceType.DEBT_ADVICE,
    VulnerabilityDomain.DOMESTIC_ABUSE: ServiceType.DOMESTIC_ABUSE_SUPPORT,
}


def suggested_services(state: CaseState) -> tuple[ServiceType, ...]:
    """From the assessment's recommendations, the needs screening flagged, the person's cohorts and
    age band; each as the service type that takes people of the person's age band (a child's mental
    health need suggests CAMHS), and none that a referral decision cannot choose (RECONNECT)."""
    suggestions: list[ServiceType] = []
    if state.assessment is not None:
        suggestions.extend(state.assessment.recommended_services)
    if state.screening is not None:
        suggestions.extend(DOMAIN_SERVICES[d] for d in state.screening.domains if d in DOMAIN_SERVICES)
    for cohort in state.cohorts:
        suggestions.extend(COHORT_SERVICES[cohort])
    if state.age_band is not None:
        suggestions.extend(AGE_BAND_SERVICES[state.age_band])
    suited = (for_age_band(service, state.age_band) for service in suggestions)
    return tuple(dict.fromkeys(s for s in suited if s is not None and s not in NOT_CHOSEN_BY_HAND))
