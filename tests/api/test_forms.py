"""HTML forms from outcome models, and browser form posts turned back into outcomes (api/forms.py).

Posts are written the way a browser sends them: every value a string, every text box and select sent
(blank when left alone), radios and checkboxes sent only when chosen, checkboxes repeated.
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from api.forms import (
    LONG_TEXT,
    MOST_RADIOS,
    ROWS_FOR_LISTS,
    YES_NO,
    FormInvalid,
    FormProblems,
    Group,
    Question,
    form_for,
    outcome_from_form,
    words,
)
from domain.outcomes import (
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
    HearingResult,
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
from domain.tasks import OUTCOME_MODELS, TaskKind, parse_outcome

Posted = dict[str, list[str]]


# --- helpers ---------------------------------------------------------------------------------------------


def questions(items: Sequence[Question | Group]) -> dict[str, Question]:
    """Every question of a form by name, including those inside groups."""
    found: dict[str, Question] = {}
    for item in items:
        for question in (item,) if isinstance(item, Question) else item.questions:
            assert question.name not in found, f"two questions named {question.name}"
            found[question.name] = question
    return found


def groups(items: Sequence[Question | Group]) -> dict[str, Group]:
    return {item.name: item for item in items if isinstance(item, Group)}


def question(kind: TaskKind, name: str) -> Question:
    return questions(form_for(OUTCOME_MODELS[kind]))[name]


def problems_of(kind: TaskKind, posted: Posted) -> FormProblems:
    with pytest.raises(FormInvalid) as caught:
        outcome_from_form(OUTCOME_MODELS[kind], posted)
    assert caught.value.problems, "FormInvalid raised without problems"
    return caught.value.problems


def blank_disclosure(row: int) -> Posted:
    """A disclosure row left alone: text boxes and the select are sent empty, radios are not sent."""
    return {
        f"disclosures.{row}.recipient": [""],
        f"disclosures.{row}.purpose": [""],
        f"disclosures.{row}.summary": [""],
    }


def filled_disclosure(
    row: int, recipient: str = "court", purpose: str = "bail decision", summary: str = "Has a support plan."
) -> Posted:
    return {
        f"disclosures.{row}.recipient": [recipient],
        f"disclosures.{row}.purpose": [purpose],
        f"disclosures.{row}.lawful_basis": ["consent"],
        f"disclosures.{row}.summary": [summary],
    }


def share_post(*rows: Posted, reason_if_none: str = "") -> Posted:
    posted: Posted = {"reason_if_none": [reason_if_none]}
    for row in rows:
        posted.update(row)
    return posted


def hearing_post(result: str, next_hearing_at: str) -> Posted:
    return {"result": [result], "next_hearing_at": [next_hearing_at], "hand_off_to_reconnect": ["false"]}


def contact_post(next_contact_in_days: str) -> Posted:
    return {"attendance": ["attended"], "note": [""], "next_contact_in_days": [next_contact_in_days]}


def assessment_post(answers: str = "", safeguarding_actions: str = "") -> Posted:
    posted: Posted = {
        "instrument": ["ld-assess"],
        "instrument_version": ["1"],
        "answers": [answers],
        "score": [""],
        "safeguarding_actions": [safeguarding_actions],
    }
    for row in range(ROWS_FOR_LISTS):
        posted[f"vulnerabilities.{row}.domain"] = [""]
    return posted


def consent_declined_post(**override: str) -> Posted:
    return {
        "decision": ["declined"],
        "safeguarding_override.justification": [override.get("justification", "")],
        **({"safeguarding_override.lawful_basis": [override["lawful_basis"]]} if "lawful_basis" in override else {}),
    }


# --- the forms -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(TaskKind), ids=str)
def test_every_task_kind_gets_a_form_asking_about_every_field(kind: TaskKind) -> None:
    model = OUTCOME_MODELS[kind]
    items = form_for(model)
    assert items, f"no form for {kind}"

    top_level = {item.name.split(".")[0] for item in items}
    assert top_level == set(model.model_fields), "every field is asked about, and nothing else"
    for name in model.model_fields:
        asked = [item for item in items if item.name.split(".")[0] == name]
        as_question = [item for item in asked if isinstance(item, Question)]
        as_groups = [item for item in asked if isinstance(item, Group)]
        if as_question:
            assert len(as_question) == 1 and not as_groups and as_question[0].name == name
        else:
            assert [g.name for g in as_groups] in ([name], [f"{name}.{row}" for row in range(ROWS_FOR_LISTS)])


def test_every_task_kind_has_an_outcome_model() -> None:
    assert set(OUTCOME_MODELS) == set(TaskKind)


# Widget of every top-level question, read off the field types in domain/outcomes.py.
EXPECTED_WIDGETS: dict[TaskKind, dict[str, str]] = {
    TaskKind.CONSENT: {"decision": "radios", "scope": "checkboxes", "parent_or_guardian_involved": "radios"},
    TaskKind.SCREENING: {
        "instrument": "text",
        "instrument_version": "text",
        "urgency": "radios",
        "domains": "checkboxes",  # 14 options, but a list of choices is always checkboxes
        "risk_level": "radios",
        "assessment_needed": "radios",
        "note": "textarea",
        "womens_pathway": "radios",
    },
    TaskKind.ASSESSMENT: {
        "instrument": "text",
        "instrument_version": "text",
        "answers": "pairs",
        "score": "number",
        "safeguarding_actions": "lines",
        "recommended_services": "checkboxes",
    },
    TaskKind.SHARE_INFORMATION: {"reason_if_none": "textarea"},
    TaskKind.REFERRAL_DECISION: {"reason_if_none": "textarea", "link_work_goals": "checkboxes"},
    TaskKind.CHASE_REFERRAL: {"answer": "radios", "reason": "textarea", "note": "textarea"},
    TaskKind.CONTACT: {
        "attendance": "radios",
        "goals_progressed": "checkboxes",
        "note": "textarea",
        "next_contact_in_days": "number",
    },
    TaskKind.DISENGAGEMENT_REVIEW: {"decision": "radios", "reason": "textarea"},
    TaskKind.FOLLOW_UP: {"engaged_with_services": "radios", "concerns": "textarea"},
    TaskKind.COURT_REPORT: {"presenting_needs": "textarea", "risk": "radios", "recommendations": "textarea"},
    TaskKind.HEARING_OUTCOME: {"result": "select", "next_hearing_at": "datetime", "hand_off_to_reconnect": "radios"},
    TaskKind.CLOSURE: {"reason": "select", "justice_outcome": "select", "note": "textarea"},
    TaskKind.RECONNECT_ENGAGEMENT: {"engaged": "radios", "note": "textarea"},
    # The page offers the task's candidates as radios (api/people_pages.py person_match_form).
    TaskKind.PERSON_MATCH: {"same_person_as": "text", "note": "textarea"},
}


@pytest.mark.parametrize("kind", list(TaskKind), ids=str)
def test_top_level_questions_use_the_documented_widgets(kind: TaskKind) -> None:
    asked = {item.name: item.widget for item in form_for(OUTCOME_MODELS[kind]) if isinstance(item, Question)}
    assert asked == EXPECTED_WIDGETS[kind]


@pytest.mark.parametrize("kind", list(TaskKind), ids=str)
def test_choices_are_radios_up_to_the_limit_and_a_select_beyond_it(kind: TaskKind) -> None:
    for q in questions(form_for(OUTCOME_MODELS[kind])).values():
        if q.widget == "radios":
            assert 2 <= len(q.options) <= MOST_RADIOS, q.name
        elif q.widget == "select":
            assert len(q.options) > MOST_RADIOS, q.name
        elif q.widget != "checkboxes":
            assert q.options == (), q.name


def test_literal_choices_become_radios_with_their_values_and_words() -> None:
    decision = question(TaskKind.CONSENT, "decision")
    assert decision.widget == "radios"
    assert decision.options == (("given", "Given"), ("declined", "Declined"))
    assert decision.required is True
    assert decision.label == "Decision"
    assert decision.hint == "What the person decided"


def test_enum_choices_keep_the_enum_order_and_become_a_select_past_five() -> None:
    result = question(TaskKind.HEARING_OUTCOME, "result")
    assert result.widget == "select"
    assert [value for value, _ in result.options] == [member.value for member in HearingResult]
    assert len(result.options) == 9 > MOST_RADIOS

    justice = question(TaskKind.CLOSURE, "justice_outcome")
    assert justice.widget == "select"
    assert justice.required is False  # optional: "if known"
    assert [value for value, _ in justice.options] == [member.value for member in JusticeOutcome]

    # Exactly five options (the lawful bases) is still radios.
    basis = question(TaskKind.CONSENT, "safeguarding_override.lawful_basis")
    assert len(LawfulBasis) == MOST_RADIOS
    assert basis.widget == "radios"

    recipient = question(TaskKind.SHARE_INFORMATION, "disclosures.0.recipient")
    assert len(Recipient) == MOST_RADIOS + 1
    assert recipient.widget == "select"


def test_a_list_of_choices_becomes_checkboxes_spelled_as_words() -> None:
    scope = question(TaskKind.CONSENT, "scope")
    assert scope.widget == "checkboxes"
    assert scope.required is False
    assert [value for value, _ in scope.options] == [member.value for member in ConsentScope]
    assert dict(scope.options)["share_cps"] == "Share CPS"
    assert dict(scope.options)["share_court"] == "Share court"

    services = question(TaskKind.ASSESSMENT, "recommended_services")
    assert services.widget == "checkboxes"
    assert dict(services.options)["womens_centre"] == "Women's centre"
    assert dict(services.options)["gp_registration"] == "GP registration"
    assert dict(services.options)["camhs"] == "CAMHS"
    assert dict(services.options)["youth_justice"] == "Youth justice"
    assert dict(services.options)["reconnect"] == "RECONNECT"
    assert dict(scope.options)["share_youth_justice"] == "Share youth justice"


@pytest.mark.parametrize(
    ("kind", "name", "required"),
    [
        (TaskKind.SCREENING, "assessment_needed", True),
        (TaskKind.FOLLOW_UP, "engaged_with_services", True),
        (TaskKind.CONSENT, "parent_or_guardian_involved", False),
        (TaskKind.HEARING_OUTCOME, "hand_off_to_reconnect", False),
    ],
)
def test_yes_or_no_is_a_pair_of_radios(kind: TaskKind, name: str, required: bool) -> None:
    q = question(kind, name)
    assert q.widget == "radios"
    assert q.options == YES_NO == (("true", "Yes"), ("false", "No"))
    assert q.required is required


def test_long_text_gets_a_text_area_and_short_text_a_text_box() -> None:
    note = question(TaskKind.SCREENING, "note")
    assert (note.widget, note.max_length, note.required) == ("textarea", 4000, False)
    instrument = question(TaskKind.SCREENING, "instrument")
    assert (instrument.widget, instrument.max_length, instrument.required) == ("text", 64, True)
    # The boundary: up to LONG_TEXT characters is still a text box.
    purpose = question(TaskKind.SHARE_INFORMATION, "disclosures.0.purpose")
    assert purpose.max_length == LONG_TEXT
    assert purpose.widget == "text"
    justification = question(TaskKind.CONSENT, "safeguarding_override.justification")
    assert (justification.widget, justification.max_length) == ("textarea", 2000)


def test_other_widgets() -> None:
    assert question(TaskKind.ASSESSMENT, "answers").widget == "pairs"
    assert question(TaskKind.ASSESSMENT, "safeguarding_actions").widget == "lines"
    score = question(TaskKind.ASSESSMENT, "score")
    assert (score.widget, score.required) == ("number", False)
    next_hearing = question(TaskKind.HEARING_OUTCOME, "next_hearing_at")
    assert (next_hearing.widget, next_hearing.required) == ("datetime", False)


def test_a_list_of_things_is_offered_as_numbered_rows() -> None:
    items = form_for(ShareInformationOutcome)
    rows = [item for item in items if isinstance(item, Group)]
    assert [g.name for g in rows] == [f"disclosures.{row}" for row in range(ROWS_FOR_LISTS)]
    assert [g.label for g in rows] == [f"Disclosure {row + 1}" for row in range(ROWS_FOR_LISTS)]
    assert all(g.optional for g in rows)
    assert rows[0].hint == "Each disclosure made"
    assert all(g.hint == "Leave blank if not needed" for g in rows[1:])
    for row, g in enumerate(rows):
        names = [q.name for q in g.questions]
        assert names == [f"disclosures.{row}.{field}" for field in Disclosure.model_fields]
    second_purpose = rows[1].questions[1]
    assert (second_purpose.name, second_purpose.id, second_purpose.label) == (
        "disclosures.1.purpose",
        "disclosures-1-purpose",
        "Purpose",
    )
    assert rows[1].id == "disclosures-1"
    # Within a row, questions are required as the nested model says.
    assert [q.required for q in rows[0].questions] == [True, True, True, True]

    referral = groups(form_for(ReferralDecisionOutcome))["referrals.0"]
    assert referral.label == "Referral 1"
    assert {q.name: q.required for q in referral.questions} == {
        "referrals.0.service": True,
        "referrals.0.service_id": False,
        "referrals.0.reason": True,
        "referrals.0.urgency": False,  # has a default
    }


def test_rows_of_vulnerabilities_are_labelled_in_the_singular() -> None:
    rows = [item for item in form_for(AssessmentOutcome) if isinstance(item, Group)]
    assert [g.label for g in rows] == ["Vulnerability 1", "Vulnerability 2", "Vulnerability 3"]


def test_an_optional_nested_model_is_an_optional_group() -> None:
    override = groups(form_for(ConsentOutcome))["safeguarding_override"]
    assert override.optional is True
    assert override.label == "Safeguarding override"
    assert override.hint.startswith("Only when consent is declined")
    assert [(q.name, q.widget, q.required) for q in override.questions] == [
        ("safeguarding_override.lawful_basis", "radios", True),
        ("safeguarding_override.justification", "textarea", True),
    ]


# --- round trips: a filled-in form for every kind --------------------------------------------------------

PERSON = "person-0f8b2c3e-8a4d-4c1b-9d2e-3f4a5b6c7d8e"
ROUND_TRIPS: list[tuple[TaskKind, Posted, BaseModel]] = [
    (
        TaskKind.CONSENT,
        {
            "decision": ["given"],
            "scope": ["share_court", "assessment", "share_cps"],
            "safeguarding_override.justification": [""],
            "parent_or_guardian_involved": ["true"],
        },
        ConsentOutcome(
            decision="given",
            scope=[ConsentScope.SHARE_COURT, ConsentScope.ASSESSMENT, ConsentScope.SHARE_CPS],
            parent_or_guardian_involved=True,
        ),
    ),
    (
        TaskKind.SCREENING,
        {
            "instrument": ["ld-screen"],
            "instrument_version": ["2"],
            "urgency": ["urgent"],
            "domains": ["self_harm_or_suicide", "adhd"],
            "risk_level": ["high"],
            "assessment_needed": ["false"],
            "note": ["Seen in cell 4.\r\nCalm."],
        },
        ScreeningOutcome(
            instrument="ld-screen",
            instrument_version="2",
            urgency=Urgency.URGENT,
            domains=[VulnerabilityDomain.SELF_HARM_OR_SUICIDE, VulnerabilityDomain.ADHD],
            risk_level=RiskLevel.HIGH,
            assessment_needed=False,
            note="Seen in cell 4.\r\nCalm.",
        ),
    ),
    (
        TaskKind.ASSESSMENT,
        {
            "instrument": ["ld-assess"],
            "instrument_version": ["1"],
            "answers": ["q1: 3\r\nq2: often"],
            "score": ["14"],
            "vulnerabilities.0.domain": ["mental_health"],
            "vulnerabilities.0.severity": ["moderate"],
            "vulnerabilities.1.domain": [""],
            "vulnerabilities.2.domain": ["housing"],
            "vulnerabilities.2.severity": ["severe"],
            "safeguarding_actions": ["Told the custody sergeant\r\nBooked a GP appointment"],
            "recommended_services": ["mental_health", "housing"],
        },
        AssessmentOutcome(
            instrument="ld-assess",
            instrument_version="1",
            answers={"q1": "3", "q2": "often"},
            score=14,
            vulnerabilities=[
                Vulnerability(domain=VulnerabilityDomain.MENTAL_HEALTH, severity="moderate"),
                Vulnerability(domain=VulnerabilityDomain.HOUSING, severity="severe"),
            ],
            safeguarding_actions=["Told the custody sergeant", "Booked a GP appointment"],
            recommended_services=[ServiceType.MENTAL_HEALTH, ServiceType.HOUSING],
        ),
    ),
    (
        TaskKind.SHARE_INFORMATION,
        share_post(filled_disclosure(0), blank_disclosure(1), blank_disclosure(2)),
        ShareInformationOutcome(
            disclosures=[
                Disclosure(
                    recipient=Recipient.COURT,
                    purpose="bail decision",
                    lawful_basis=LawfulBasis.CONSENT,
                    summary="Has a support plan.",
                )
            ]
        ),
    ),
    (
        TaskKind.REFERRAL_DECISION,
        {
            "referrals.0.service": ["mental_health"],
            "referrals.0.service_id": [""],
            "referrals.0.reason": ["Low mood"],
            "referrals.0.urgency": ["urgent"],
            "referrals.1.service": ["housing"],
            "referrals.1.service_id": ["housing-north"],
            "referrals.1.reason": ["Sofa surfing"],
            "referrals.2.service": [""],
            "referrals.2.service_id": [""],
            "referrals.2.reason": [""],
            "reason_if_none": [""],
            "link_work_goals": ["wellbeing", "housing"],
        },
        ReferralDecisionOutcome(
            referrals=[
                ReferralRequest(service=ServiceType.MENTAL_HEALTH, reason="Low mood", urgency=Urgency.URGENT),
                ReferralRequest(service=ServiceType.HOUSING, service_id="housing-north", reason="Sofa surfing"),
            ],
            link_work_goals=[GoalArea.WELLBEING, GoalArea.HOUSING],
        ),
    ),
    (
        TaskKind.CHASE_REFERRAL,
        {"answer": ["rejected"], "reason": ["No capacity this month"], "note": [""]},
        ChaseReferralOutcome(answer="rejected", reason="No capacity this month"),
    ),
    (
        TaskKind.CONTACT,
        {"attendance": ["late"], "goals_progressed": ["debt", "employment"], "note": ["Brought letters"]}
        | {"next_contact_in_days": ["7"]},
        ContactOutcome(
            attendance="late",
            goals_progressed=[GoalArea.DEBT, GoalArea.EMPLOYMENT],
            note="Brought letters",
            next_contact_in_days=7,
        ),
    ),
    (
        TaskKind.DISENGAGEMENT_REVIEW,
        {"decision": ["pause"], "reason": ["In hospital for two weeks"]},
        DisengagementReviewOutcome(decision="pause", reason="In hospital for two weeks"),
    ),
    (
        TaskKind.FOLLOW_UP,
        {"engaged_with_services": ["true"], "concerns": [""]},
        FollowUpOutcome(engaged_with_services=True),
    ),
    (
        TaskKind.COURT_REPORT,
        {"presenting_needs": ["Depression, housing"], "risk": ["medium"], "recommendations": ["Treatment order"]},
        CourtReportOutcome(
            presenting_needs="Depression, housing", risk=RiskLevel.MEDIUM, recommendations="Treatment order"
        ),
    ),
    (
        TaskKind.HEARING_OUTCOME,
        hearing_post("adjourned", "2026-12-01T10:00"),
        HearingOutcome(result=HearingResult.ADJOURNED, next_hearing_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC)),
    ),
    (
        TaskKind.CLOSURE,
        {"reason": ["pathway_complete"], "justice_outcome": ["conditional_caution"], "note": [""]},
        ClosureOutcome(reason=ClosureReason.PATHWAY_COMPLETE, justice_outcome=JusticeOutcome.CONDITIONAL_CAUTION),
    ),
    (
        TaskKind.RECONNECT_ENGAGEMENT,
        {"engaged": ["false"], "note": ["wants to go to his sister's first"]},
        ReconnectEngagementOutcome(engaged=False, note="wants to go to his sister's first"),
    ),
    (
        TaskKind.PERSON_MATCH,
        {"same_person_as": [PERSON], "note": ["the same custody record number"]},
        PersonMatchOutcome(same_person_as=PERSON, note="the same custody record number"),
    ),
]


def test_there_is_a_round_trip_for_every_kind() -> None:
    assert sorted(kind for kind, _, _ in ROUND_TRIPS) == sorted(TaskKind)


@pytest.mark.parametrize(("kind", "posted", "expected"), ROUND_TRIPS, ids=[str(kind) for kind, _, _ in ROUND_TRIPS])
def test_a_filled_in_form_round_trips_to_a_valid_outcome(kind: TaskKind, posted: Posted, expected: BaseModel) -> None:
    outcome = outcome_from_form(OUTCOME_MODELS[kind], posted)
    assert OUTCOME_MODELS[kind].model_validate(outcome) == expected
    assert parse_outcome(kind, outcome) == expected
    # The outcome goes into a CompleteTask command as JSON.
    assert OUTCOME_MODELS[kind].model_validate(json.loads(json.dumps(outcome))) == expected


def test_a_blank_optional_choice_is_left_out_so_the_default_applies() -> None:
    outcome = outcome_from_form(ClosureOutcome, {"reason": ["other"], "justice_outcome": [""], "note": [""]})
    assert outcome == {"reason": "other"}
    assert ClosureOutcome.model_validate(outcome).justice_outcome is None


def test_checkboxes_keep_the_order_they_were_posted_in() -> None:
    outcome = outcome_from_form(ConsentOutcome, {"decision": ["given"], "scope": ["research", "assessment"]})
    assert outcome["scope"] == ["research", "assessment"]


def test_the_same_form_round_trips_through_a_model_dump() -> None:
    """Every widget's posted text is read back into the values the model holds."""
    expected = ScreeningOutcome(
        instrument="ld-screen",
        instrument_version="2",
        urgency=Urgency.EMERGENCY,
        domains=[VulnerabilityDomain.AUTISM],
        risk_level=RiskLevel.LOW,
        assessment_needed=True,
        note="",
        womens_pathway="declined",
    )
    dumped = expected.model_dump(mode="json")
    posted: Posted = {
        name: [str(value).lower()] if not isinstance(value, list) else [str(v) for v in value]
        for name, value in dumped.items()
    }
    assert ScreeningOutcome.model_validate(outcome_from_form(ScreeningOutcome, posted)) == expected


# --- problems --------------------------------------------------------------------------------------------


def test_an_empty_consent_form_asks_to_choose_a_decision() -> None:
    problems = problems_of(TaskKind.CONSENT, {})
    assert problems.fields == {"decision": "Choose decision"}
    assert problems.form == []


def test_form_invalid_says_what_is_wrong() -> None:
    with pytest.raises(FormInvalid, match="Choose decision"):
        outcome_from_form(ConsentOutcome, {"decision": [" "]})


def test_a_missing_text_answer_asks_to_enter_it() -> None:
    problems = problems_of(TaskKind.DISENGAGEMENT_REVIEW, {"decision": ["end"], "reason": ["   "]})
    assert problems.fields == {"reason": "Enter reason"}


def test_text_too_short_says_how_long_it_must_be() -> None:
    problems = problems_of(TaskKind.DISENGAGEMENT_REVIEW, {"decision": ["end"], "reason": ["ab"]})
    assert problems.fields == {"reason": "Reason must be at least 3 characters"}
    assert problems.form == []


def test_text_too_long_says_the_limit() -> None:
    problems = problems_of(TaskKind.DISENGAGEMENT_REVIEW, {"decision": ["end"], "reason": ["x" * 1001]})
    assert problems.fields == {"reason": "Reason must be 1000 characters or fewer"}


def test_a_choice_not_on_the_list_is_reported_on_its_question() -> None:
    problems = problems_of(TaskKind.CLOSURE, {"reason": ["lost_interest"], "note": [""]})
    assert problems.fields == {"reason": "Choose reason from the list"}


def test_a_checkbox_value_not_on_the_list_is_reported_on_its_question() -> None:
    problems = problems_of(TaskKind.CONSENT, {"decision": ["given"], "scope": ["assessment", "share_everyone"]})
    assert problems.fields == {"scope": "Choose scope from the list"}
    assert problems.form == []


def test_a_whole_form_rule_gives_a_form_message() -> None:
    problems = problems_of(TaskKind.CONSENT, {"decision": ["given"]})
    assert problems.form == ["Consent given must name at least one scope"]
    assert problems.fields == {}


def test_declined_consent_with_a_scope_breaks_a_whole_form_rule() -> None:
    problems = problems_of(TaskKind.CONSENT, {"decision": ["declined"], "scope": ["assessment"]})
    assert problems.form == ["Declined consent has no scope"]


def test_reconnect_after_bail_breaks_a_whole_form_rule() -> None:
    posted = hearing_post("bail", "") | {"hand_off_to_reconnect": ["true"]}
    problems = problems_of(TaskKind.HEARING_OUTCOME, posted)
    assert problems.form == ["RECONNECT is for people remanded or sentenced to custody"]
    assert problems.fields == {}


def test_nothing_shared_and_no_reason_breaks_a_whole_form_rule() -> None:
    problems = problems_of(TaskKind.SHARE_INFORMATION, share_post(*(blank_disclosure(row) for row in range(3))))
    assert problems.form == ["Give a reason when nothing is shared"]
    assert problems.fields == {}


def test_nothing_shared_with_a_reason_is_fine() -> None:
    posted = share_post(*(blank_disclosure(row) for row in range(3)), reason_if_none="Nothing relevant")
    outcome = outcome_from_form(ShareInformationOutcome, posted)
    assert outcome == {"disclosures": [], "reason_if_none": "Nothing relevant"}


# --- rows ------------------------------------------------------------------------------------------------


def test_blank_rows_are_dropped_and_filled_ones_kept_in_order() -> None:
    posted = share_post(
        filled_disclosure(0, recipient="court"), blank_disclosure(1), filled_disclosure(2, recipient="cps")
    )
    outcome = outcome_from_form(ShareInformationOutcome, posted)
    assert [d["recipient"] for d in outcome["disclosures"]] == ["court", "cps"]
    shared = ShareInformationOutcome.model_validate(outcome)
    assert [d.recipient for d in shared.disclosures] == [Recipient.COURT, Recipient.CPS]


def test_a_row_with_only_whitespace_counts_as_blank() -> None:
    posted = share_post(
        filled_disclosure(0),
        {"disclosures.1.recipient": [""], "disclosures.1.purpose": ["  "], "disclosures.1.summary": ["\r\n"]},
    )
    outcome = outcome_from_form(ShareInformationOutcome, posted)
    assert len(outcome["disclosures"]) == 1


def test_an_error_in_the_second_row_is_reported_on_the_second_row() -> None:
    """Row 0 is blank and dropped, so the model sees the row as disclosures[0]; the person filled row 1."""
    posted = share_post(blank_disclosure(0), filled_disclosure(1, purpose="ab"), blank_disclosure(2))
    problems = problems_of(TaskKind.SHARE_INFORMATION, posted)
    assert problems.fields == {"disclosures.1.purpose": "Purpose must be at least 3 characters"}
    assert problems.form == []


def test_a_missing_answer_in_the_third_row_is_reported_on_the_third_row() -> None:
    third = filled_disclosure(2)
    del third["disclosures.2.lawful_basis"]
    third["disclosures.2.summary"] = [""]
    posted = share_post(filled_disclosure(0), blank_disclosure(1), third)
    problems = problems_of(TaskKind.SHARE_INFORMATION, posted)
    assert problems.fields == {
        "disclosures.2.lawful_basis": "Choose lawful basis",
        "disclosures.2.summary": "Enter summary",
    }


def test_errors_in_two_rows_each_keep_their_own_row() -> None:
    posted = share_post(
        blank_disclosure(0), filled_disclosure(1, purpose="ab"), filled_disclosure(2, recipient="the_press")
    )
    problems = problems_of(TaskKind.SHARE_INFORMATION, posted)
    assert problems.fields == {
        "disclosures.1.purpose": "Purpose must be at least 3 characters",
        "disclosures.2.recipient": "Choose recipient from the list",
    }


def test_a_row_only_partly_filled_asks_for_the_rest() -> None:
    posted: Posted = {
        "referrals.0.service": [""],
        "referrals.0.reason": [""],
        "referrals.1.service": [""],
        "referrals.1.reason": ["Needs a GP"],
        "reason_if_none": [""],
    }
    problems = problems_of(TaskKind.REFERRAL_DECISION, posted)
    assert problems.fields == {"referrals.1.service": "Choose service"}


# --- an optional group -----------------------------------------------------------------------------------


def test_a_blank_optional_group_is_left_out() -> None:
    outcome = outcome_from_form(ConsentOutcome, consent_declined_post())
    assert "safeguarding_override" not in outcome
    assert ConsentOutcome.model_validate(outcome) == ConsentOutcome(decision="declined")


def test_a_filled_optional_group_is_kept() -> None:
    posted = consent_declined_post(lawful_basis="vital_interests", justification="Said they would end their life")
    outcome = outcome_from_form(ConsentOutcome, posted)
    assert ConsentOutcome.model_validate(outcome).safeguarding_override == SafeguardingOverride(
        lawful_basis=LawfulBasis.VITAL_INTERESTS, justification="Said they would end their life"
    )


def test_a_partly_filled_optional_group_asks_for_the_rest() -> None:
    problems = problems_of(TaskKind.CONSENT, consent_declined_post(lawful_basis="safeguarding"))
    assert problems.fields == {"safeguarding_override.justification": "Enter justification"}
    assert problems.form == []

    problems = problems_of(TaskKind.CONSENT, consent_declined_post(justification="Serious risk of harm tonight"))
    assert problems.fields == {"safeguarding_override.lawful_basis": "Choose lawful basis"}


def test_a_rule_of_the_group_is_reported_on_the_group() -> None:
    posted = consent_declined_post(lawful_basis="consent", justification="Serious risk of harm tonight")
    problems = problems_of(TaskKind.CONSENT, posted)
    assert problems.fields == {"safeguarding_override": "A safeguarding override cannot rest on consent"}
    assert problems.form == []


def test_a_group_filled_when_it_should_not_be_breaks_a_whole_form_rule() -> None:
    posted = consent_declined_post(lawful_basis="safeguarding", justification="Serious risk of harm tonight")
    posted |= {"decision": ["given"], "scope": ["assessment"]}
    problems = problems_of(TaskKind.CONSENT, posted)
    assert problems.form == ["A safeguarding override is only recorded when consent is declined"]


# --- pairs, lines, date and time, numbers ----------------------------------------------------------------


def test_pairs_are_read_one_per_line() -> None:
    outcome = outcome_from_form(AssessmentOutcome, assessment_post(answers="q1: yes\nq2: no"))
    assert outcome["answers"] == {"q1": "yes", "q2": "no"}
    assert AssessmentOutcome.model_validate(outcome).answers == {"q1": "yes", "q2": "no"}


def test_pairs_ignore_blank_lines_and_split_at_the_first_colon() -> None:
    posted = assessment_post(answers="\r\n  seen at :  10:30 \r\n\r\nq2:\r\n")
    outcome = outcome_from_form(AssessmentOutcome, posted)
    assert outcome["answers"] == {"seen at": "10:30", "q2": ""}


def test_blank_pairs_are_no_answers() -> None:
    outcome = outcome_from_form(AssessmentOutcome, assessment_post(answers=""))
    assert AssessmentOutcome.model_validate(outcome).answers == {}


@pytest.mark.parametrize("answers", ["q1: yes\nq2 no", ": yes"])
def test_a_pair_without_an_item_and_a_colon_is_a_problem_on_answers(answers: str) -> None:
    problems = problems_of(TaskKind.ASSESSMENT, assessment_post(answers=answers))
    assert problems.fields == {"answers": "Write each line of answers as 'item: answer'"}
    assert problems.form == []


def test_lines_are_one_item_per_non_blank_line() -> None:
    posted = assessment_post(safeguarding_actions="Told the custody sergeant\r\n\r\n   \r\n  Booked a GP  \n")
    outcome = outcome_from_form(AssessmentOutcome, posted)
    assert outcome["safeguarding_actions"] == ["Told the custody sergeant", "Booked a GP"]


def test_no_lines_is_an_empty_list() -> None:
    outcome = outcome_from_form(AssessmentOutcome, assessment_post(safeguarding_actions="\r\n"))
    assert AssessmentOutcome.model_validate(outcome).safeguarding_actions == []


@pytest.mark.parametrize(
    ("posted", "offset", "in_utc"),
    [
        ("2026-12-01T10:00", timedelta(0), datetime(2026, 12, 1, 10, 0, tzinfo=UTC)),  # GMT
        ("2026-06-01T10:00", timedelta(hours=1), datetime(2026, 6, 1, 9, 0, tzinfo=UTC)),  # BST
    ],
)
def test_a_date_and_time_is_read_as_london_time(posted: str, offset: timedelta, in_utc: datetime) -> None:
    outcome = outcome_from_form(HearingOutcome, hearing_post("adjourned", posted))
    next_hearing = HearingOutcome.model_validate(outcome).next_hearing_at
    assert next_hearing is not None
    assert next_hearing.utcoffset() == offset
    assert next_hearing == in_utc
    assert datetime.fromisoformat(outcome["next_hearing_at"]).utcoffset() == offset


@pytest.mark.parametrize("garbage", ["next tuesday", "2026-13-01T10:00", "01/12/2026 10:00"])
def test_a_date_and_time_that_is_not_one_is_a_problem_on_its_question(garbage: str) -> None:
    problems = problems_of(TaskKind.HEARING_OUTCOME, hearing_post("bail", garbage))
    assert problems.fields == {"next_hearing_at": "Enter next hearing at as a date and time"}
    assert problems.form == []


def test_a_bad_date_for_an_adjourned_hearing_also_breaks_the_whole_form_rule() -> None:
    problems = problems_of(TaskKind.HEARING_OUTCOME, hearing_post("adjourned", "soon"))
    assert problems.fields == {"next_hearing_at": "Enter next hearing at as a date and time"}
    assert problems.form == ["An adjourned hearing needs the time of the next hearing"]


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ("abc", "Next contact in days must be a whole number"),
        ("2.5", "Next contact in days must be a whole number"),
        ("40", "Next contact in days must be 28 or less"),
        ("29", "Next contact in days must be 28 or less"),
        ("0", "Next contact in days must be 1 or more"),
    ],
)
def test_a_number_out_of_range_or_not_whole_is_a_problem(days: str, message: str) -> None:
    problems = problems_of(TaskKind.CONTACT, contact_post(days))
    assert problems.fields == {"next_contact_in_days": message}
    assert problems.form == []


@pytest.mark.parametrize(("days", "expected"), [("28", 28), ("1", 1), (" 14 ", 14), ("", None)])
def test_a_number_in_range_is_read(days: str, expected: int | None) -> None:
    outcome = outcome_from_form(ContactOutcome, contact_post(days))
    assert ContactOutcome.model_validate(outcome).next_contact_in_days == expected


# --- free text -------------------------------------------------------------------------------------------


def test_free_text_is_passed_through_unchanged() -> None:
    script = "<script>alert('x')</script> & \"quotes\""
    posted = contact_post("") | {"note": [script]}
    outcome = outcome_from_form(ContactOutcome, posted)
    assert outcome["note"] == script
    assert ContactOutcome.model_validate(outcome).note == script


# --- words -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "spelled"),
    [
        ("share_cps", "Share CPS"),
        ("adhd", "ADHD"),
        ("gp_registration", "GP registration"),
        ("womens_centre", "Women's centre"),
        ("nhs", "NHS"),
        ("next_hearing_at", "Next hearing at"),
        ("mental_health", "Mental health"),
        ("given", "Given"),
        ("", ""),
    ],
)
def test_words_spells_codes(code: str, spelled: str) -> None:
    assert words(code) == spelled


def test_words_takes_an_enum_member() -> None:
    assert words(ConsentScope.SHARE_CPS) == "Share CPS"
