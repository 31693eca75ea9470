"""A justice outcome recorded as the case learns it (issue 17): a charge, then a sentence, while the
case is open; a sentence or disposal ends new identifications for the reference. Refusals by rule id,
with the case unchanged."""

import pytest

from domain.commands import RecordJusticeOutcome
from domain.errors import Rule, RuleViolation
from domain.events import JusticeOutcomeRecorded
from domain.outcomes import JusticeOutcome
from domain.reconnect import refuse_after_sentence
from tests.domain.support import LINK_WORKER, PRACTITIONER, Case, make_site, open_case, refused


def test_a_charge_then_a_sentence_are_recorded_and_the_sentence_ends_new_identifications() -> None:
    case = Case(make_site())
    case.send(open_case())
    events = case.send(RecordJusticeOutcome(actor=PRACTITIONER, outcome=JusticeOutcome.CHARGED_BAILED))
    assert events == [JusticeOutcomeRecorded(outcome=JusticeOutcome.CHARGED_BAILED, source="practitioner")]
    refuse_after_sentence(case.state)  # a charge is not a sentence: nothing raised
    case.send(RecordJusticeOutcome(actor=PRACTITIONER, outcome=JusticeOutcome.COMMUNITY_ORDER))
    assert case.state.justice_outcome is JusticeOutcome.COMMUNITY_ORDER and case.state.is_open
    with pytest.raises(RuleViolation) as sentenced:
        refuse_after_sentence(case.state)
    assert sentenced.value.rule is Rule.CASE_PAST_SENTENCE and "probation" in sentenced.value.message


def test_the_same_outcome_twice_and_a_link_worker_are_refused() -> None:
    case = Case(make_site())
    case.send(open_case())
    case.send(RecordJusticeOutcome(actor=PRACTITIONER, outcome=JusticeOutcome.ADJOURNED))
    twice = RecordJusticeOutcome(actor=PRACTITIONER, outcome=JusticeOutcome.ADJOURNED)
    refused(case, twice, Rule.JUSTICE_OUTCOME_UNCHANGED)
    refused(case, RecordJusticeOutcome(actor=LINK_WORKER, outcome=JusticeOutcome.CAUTION), Rule.ROLE_NOT_ALLOWED)
