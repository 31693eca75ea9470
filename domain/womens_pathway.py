"""The women's pathway is offered, not typed: at screening, to a person who states her sex as female,
and her answer recorded with who recorded it. A practitioner can still put someone on a cohort's
pathway, or take them off it, with a reason."""

from domain.commands import ChangeCohort
from domain.decisions import require
from domain.errors import Rule
from domain.events import CohortChanged, DomainEvent, WomensPathwayDecided
from domain.model import Cohort, Sex
from domain.outcomes import ScreeningOutcome
from domain.state import CaseState
from domain.timeline import words


def offered_at_screening(state: CaseState, outcome: ScreeningOutcome) -> list[DomainEvent]:
    """Her answer to the offer, if one was made; refused: no answer when the offer applies."""
    applies = state.sex is Sex.FEMALE and Cohort.WOMENS_PATHWAY not in state.cohorts
    require(
        not applies or outcome.womens_pathway is not None,
        Rule.WOMENS_PATHWAY_NOT_OFFERED,
        "she stated her sex as female: offer her the women's pathway and record whether she accepted it",
    )
    return [] if outcome.womens_pathway is None else [WomensPathwayDecided(decision=outcome.womens_pathway)]


def change_cohort(state: CaseState, command: ChangeCohort) -> list[DomainEvent]:
    on = command.cohort in state.cohorts
    require(
        on != command.member,
        Rule.COHORT_UNCHANGED,
        f"the person is {'already' if on else 'not'} on the {words(command.cohort)} cohort",
    )
    return [CohortChanged(cohort=command.cohort, member=command.member, reason=command.reason)]
