"""What a person's cohort and needs suggest: the services a referral decision should consider."""

from domain.model import Cohort
from domain.outcomes import ServiceType, VulnerabilityDomain
from domain.state import CaseState

COHORT_SERVICES: dict[Cohort, tuple[ServiceType, ...]] = {
    Cohort.WOMENS_PATHWAY: (ServiceType.WOMENS_CENTRE, ServiceType.DOMESTIC_ABUSE_SUPPORT),
    Cohort.VETERAN: (ServiceType.VETERANS_SUPPORT,),
    Cohort.CARE_LEAVER: (ServiceType.HOUSING,),
}

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
    """From the assessment's recommendations, the needs screening flagged, and the person's cohorts."""
    suggestions: list[ServiceType] = []
    if state.assessment is not None:
        suggestions.extend(state.assessment.recommended_services)
    if state.screening is not None:
        suggestions.extend(DOMAIN_SERVICES[d] for d in state.screening.domains if d in DOMAIN_SERVICES)
    for cohort in state.cohorts:
        suggestions.extend(COHORT_SERVICES[cohort])
    return tuple(dict.fromkeys(suggestions))
