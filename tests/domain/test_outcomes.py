"""Task outcome models: their JSON schemas, and the validators that refuse inconsistent outcomes."""

import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from domain.errors import RuleViolation
from domain.outcomes import (
    CONSENT_SCOPE_FOR_RECIPIENT,
    AssessmentOutcome,
    ClosureOutcome,
    ConsentOutcome,
    Disclosure,
    Recipient,
    ReferralDecisionOutcome,
    SafeguardingOverride,
    ScreeningOutcome,
    ShareInformationOutcome,
    Vulnerability,
)
from domain.tasks import CANDIDATE_ROLES, OUTCOME_MODELS, TaskKind, outcome_schema, parse_outcome

OVERRIDE = {"lawful_basis": "vital_interests", "justification": "risk to life if nothing is done"}
DISCLOSURE = {
    "recipient": "court",
    "purpose": "bail decision",
    "lawful_basis": "consent",
    "summary": "Has a mental health support plan.",
}

EXPECTED_REQUIRED: dict[TaskKind, set[str]] = {
    TaskKind.CONSENT: {"decision"},
    TaskKind.SCREENING: {"instrument", "instrument_version", "urgency", "risk_level", "assessment_needed"},
    TaskKind.ASSESSMENT: {"instrument", "instrument_version"},
    TaskKind.SHARE_INFORMATION: set(),
    TaskKind.REFERRAL_DECISION: set(),
    TaskKind.CHASE_REFERRAL: {"answer"},
    TaskKind.CONTACT: {"attendance"},
    TaskKind.DISENGAGEMENT_REVIEW: {"decision", "reason"},
    TaskKind.FOLLOW_UP: {"engaged_with_services"},
    TaskKind.COURT_REPORT: {"presenting_needs", "risk", "recommendations"},
    TaskKind.HEARING_OUTCOME: {"result"},
    TaskKind.CLOSURE: {"reason"},
    TaskKind.RECONNECT_ENGAGEMENT: {"engaged"},
    TaskKind.PERSON_MATCH: set(),
}


def messages(caught: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [str(e["msg"]) for e in caught.value.errors()]


# --- schemas ---------------------------------------------------------------------------------------------


def test_every_task_kind_has_an_outcome_model_and_candidate_roles() -> None:
    assert set(OUTCOME_MODELS) == set(TaskKind)
    assert set(CANDIDATE_ROLES) == set(TaskKind)


@pytest.mark.parametrize("kind", list(TaskKind))
def test_outcome_schema_of_each_kind(kind: TaskKind) -> None:
    schema = outcome_schema(kind)
    assert schema["type"] == "object"
    assert schema["title"] == OUTCOME_MODELS[kind].__name__
    assert schema["additionalProperties"] is False  # forms cannot invent fields
    assert set(schema.get("required", [])) == EXPECTED_REQUIRED[kind]
    assert set(schema["properties"]) == set(OUTCOME_MODELS[kind].model_fields)
    # It is plain JSON, ready for a form or `pathway task schema`.
    assert json.loads(json.dumps(schema)) == schema


def test_schemas_describe_their_choices() -> None:
    consent = outcome_schema(TaskKind.CONSENT)
    assert consent["properties"]["decision"]["enum"] == ["given", "declined"]
    assert consent["properties"]["decision"]["description"] == "What the person decided"
    assert "assessment" in consent["$defs"]["ConsentScope"]["enum"]
    screening = outcome_schema(TaskKind.SCREENING)
    assert screening["$defs"]["Urgency"]["enum"] == ["routine", "urgent", "emergency"]
    assert screening["properties"]["assessment_needed"]["type"] == "boolean"
    share = outcome_schema(TaskKind.SHARE_INFORMATION)
    assert set(share["$defs"]["Recipient"]["enum"]) == {r.value for r in Recipient}


def test_every_recipient_maps_to_a_consent_scope() -> None:
    assert set(CONSENT_SCOPE_FOR_RECIPIENT) == set(Recipient)


# --- parse_outcome -----------------------------------------------------------------------------------------


VALID: dict[TaskKind, dict[str, Any]] = {
    TaskKind.CONSENT: {"decision": "given", "scope": ["assessment", "share_court"]},
    TaskKind.SCREENING: {
        "instrument": "ld-screen",
        "instrument_version": "2",
        "urgency": "urgent",
        "risk_level": "high",
        "assessment_needed": True,
    },
    TaskKind.ASSESSMENT: {"instrument": "chat", "instrument_version": "4", "answers": {"q1": [1, 2], "q2": None}},
    TaskKind.SHARE_INFORMATION: {"disclosures": [DISCLOSURE]},
    TaskKind.REFERRAL_DECISION: {"referrals": [{"service": "housing", "reason": "sofa surfing"}]},
    TaskKind.CHASE_REFERRAL: {"answer": "rejected", "reason": "outside our area"},
    TaskKind.CONTACT: {"attendance": "late", "goals_progressed": ["housing"], "next_contact_in_days": 3},
    TaskKind.DISENGAGEMENT_REVIEW: {"decision": "pause", "reason": "in hospital for two weeks"},
    TaskKind.FOLLOW_UP: {"engaged_with_services": True, "concerns": "rent arrears"},
    TaskKind.COURT_REPORT: {"presenting_needs": "psychosis", "risk": "high", "recommendations": "hospital"},
    TaskKind.HEARING_OUTCOME: {"result": "remand_in_custody", "hand_off_to_reconnect": True},
    TaskKind.CLOSURE: {"reason": "pathway_complete", "justice_outcome": "caution"},
    TaskKind.RECONNECT_ENGAGEMENT: {"engaged": True, "note": "met on the wing; housing first"},
    TaskKind.PERSON_MATCH: {"same_person_as": "person-00000000-0000-4000-8000-000000000002", "note": "same scar"},
}


@pytest.mark.parametrize("kind", list(TaskKind))
def test_parse_outcome_returns_the_kinds_model(kind: TaskKind) -> None:
    outcome = parse_outcome(kind, VALID[kind])
    assert type(outcome) is OUTCOME_MODELS[kind]
    assert outcome.model_dump(mode="json", exclude_defaults=True) == VALID[kind]


def test_parse_outcome_lists_every_bad_field() -> None:
    raw = {**VALID[TaskKind.SCREENING], "urgency": "whenever", "risk_level": 3, "weather": "rain"}
    del raw["instrument"]
    with pytest.raises(RuleViolation) as caught:
        parse_outcome(TaskKind.SCREENING, raw)
    assert caught.value.rule == "outcome_invalid"
    message = caught.value.message
    assert message.startswith("the screening outcome is not valid: ")
    for field in ("instrument: Field required", "urgency: ", "risk_level: ", "weather: Extra inputs are not permitted"):
        assert field in message


def test_parse_outcome_gives_nested_paths() -> None:
    raw = {"disclosures": [DISCLOSURE, {**DISCLOSURE, "recipient": "newspaper"}]}
    with pytest.raises(RuleViolation) as caught:
        parse_outcome(TaskKind.SHARE_INFORMATION, raw)
    assert "disclosures.1.recipient: " in caught.value.message


def test_parse_outcome_keeps_an_outcome_for_the_wrong_kind_out() -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_outcome(TaskKind.CLOSURE, VALID[TaskKind.CONSENT])
    assert caught.value.rule == "outcome_invalid"
    assert "reason: Field required" in caught.value.message
    assert "decision: Extra inputs are not permitted" in caught.value.message


# --- consistency validators --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"decision": "given"}, "consent given must name at least one scope"),
        ({"decision": "given", "scope": []}, "consent given must name at least one scope"),
        ({"decision": "declined", "scope": ["research"]}, "declined consent has no scope"),
        (
            {"decision": "given", "scope": ["assessment"], "safeguarding_override": OVERRIDE},
            "a safeguarding override is only recorded when consent is declined",
        ),
    ],
)
def test_inconsistent_consent_is_refused(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ConsentOutcome.model_validate(raw)
    assert messages(caught) == [f"Value error, {problem}"]


def test_consistent_consent_is_accepted() -> None:
    declined = ConsentOutcome.model_validate({"decision": "declined"})
    assert declined.scope == []
    assert declined.safeguarding_override is None
    overridden = ConsentOutcome.model_validate({"decision": "declined", "safeguarding_override": OVERRIDE})
    assert overridden.safeguarding_override is not None
    assert overridden.safeguarding_override.lawful_basis == "vital_interests"


def test_a_safeguarding_override_cannot_rest_on_consent() -> None:
    with pytest.raises(ValidationError) as caught:
        SafeguardingOverride.model_validate({**OVERRIDE, "lawful_basis": "consent"})
    assert messages(caught) == ["Value error, a safeguarding override cannot rest on consent"]


def test_a_safeguarding_override_needs_a_real_justification() -> None:
    with pytest.raises(ValidationError) as caught:
        SafeguardingOverride.model_validate({**OVERRIDE, "justification": "risk"})
    [error] = caught.value.errors()
    assert error["loc"] == ("justification",)
    assert error["type"] == "string_too_short"


@pytest.mark.parametrize("reason", [None, ""])
def test_sharing_nothing_needs_a_reason(reason: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        ShareInformationOutcome.model_validate({"disclosures": [], "reason_if_none": reason})
    assert messages(caught) == ["Value error, give a reason when nothing is shared"]
    assert ShareInformationOutcome(reason_if_none="nothing relevant").disclosures == []


@pytest.mark.parametrize("reason", [None, ""])
def test_referring_nowhere_needs_a_reason(reason: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        ReferralDecisionOutcome.model_validate({"referrals": [], "reason_if_none": reason})
    assert messages(caught) == ["Value error, give a reason when no referral is made"]
    assert ReferralDecisionOutcome(reason_if_none="already supported").referrals == []


def test_a_disclosure_says_why_and_what() -> None:
    with pytest.raises(ValidationError) as caught:
        Disclosure.model_validate({**DISCLOSURE, "purpose": "x", "summary": ""})
    assert sorted(str(e["loc"][0]) for e in caught.value.errors()) == ["purpose", "summary"]


def test_referral_urgency_defaults_to_routine() -> None:
    outcome = ReferralDecisionOutcome.model_validate(VALID[TaskKind.REFERRAL_DECISION])
    assert outcome.referrals[0].urgency == "routine"
    with pytest.raises(ValidationError) as caught:
        ReferralDecisionOutcome.model_validate({"referrals": [{"service": "astrology", "reason": "stars"}]})
    assert [e["loc"] for e in caught.value.errors()] == [("referrals", 0, "service")]


def test_vulnerability_severity_is_one_of_three() -> None:
    assert Vulnerability.model_validate({"domain": "autism", "severity": "severe"}).severity == "severe"
    with pytest.raises(ValidationError):
        Vulnerability.model_validate({"domain": "autism", "severity": "extreme"})


def test_assessment_answers_must_be_json() -> None:
    assert AssessmentOutcome.model_validate(VALID[TaskKind.ASSESSMENT]).answers == {"q1": [1, 2], "q2": None}
    with pytest.raises(ValidationError):
        AssessmentOutcome.model_validate({**VALID[TaskKind.ASSESSMENT], "answers": {"q1": {1, 2}}})


@pytest.mark.parametrize(
    ("model", "raw"),
    [
        (ScreeningOutcome, {**VALID[TaskKind.SCREENING], "instrument": ""}),
        (ScreeningOutcome, {**VALID[TaskKind.SCREENING], "note": "x" * 4001}),
        (ClosureOutcome, {"reason": "bored"}),
        (ClosureOutcome, {"reason": "other", "justice_outcome": "flogging"}),
    ],
)
def test_field_constraints(model: type[BaseModel], raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(raw)


def test_outcomes_are_immutable() -> None:
    outcome = ClosureOutcome.model_validate(VALID[TaskKind.CLOSURE])
    with pytest.raises(ValidationError):
        outcome.note = "changed"  # type: ignore[misc]
