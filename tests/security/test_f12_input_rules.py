"""F12 of issue 15: an NHS number failing the Modulus 11 check (1234567890), a birth date in the year
1000 and control characters (NUL, text-direction overrides, ESC, BEL) in a name were accepted, and
`pathway audit timeline` printed a raw terminal escape sequence from a note.

Now the domain's models refuse them where plaintext arrives (domain/personal.py `Personal`, the rules
in domain/text_rules.py), and the CLI prints what people wrote through `terminal_safe`."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from cli.audit_case import _print_entry
from cli.case_cli import _print_state
from domain.commands import OpenCase
from domain.model import Actor, AgeBand, Person, ReferralSource, Role, Setting
from domain.outcomes import AssessmentOutcome, Disclosure, ScreeningOutcome
from domain.state import CaseState
from domain.timeline import TimelineEntry

PRACTITIONER = Actor(staff_id="pr-001", role=Role.PRACTITIONER)
VALID_NHS_NUMBER = "9434765919"
SCREENING = {
    "instrument": "ld-screen",
    "instrument_version": "2019",
    "urgency": "urgent",
    "risk_level": "medium",
    "assessment_needed": True,
}


def open_case(person: dict[str, Any]) -> OpenCase:
    """The command as the API and the CLI build it from what was posted or typed."""
    return OpenCase.model_validate(
        {
            "actor": PRACTITIONER.model_dump(),
            "site": "demo",
            "setting": Setting.CUSTODY,
            "source": ReferralSource.CUSTODY_STAFF,
            "external_ref": f"F12/{uuid.uuid4().hex[:8]}",
            "age_band": AgeBand.ADULT,
            "person": person,
        }
    )


def refusal(person: dict[str, Any]) -> tuple[str, str, str]:
    """Where and why opening a case for this person is refused: (field, error type, message)."""
    with pytest.raises(ValidationError) as refused:
        open_case(person)
    [problem] = refused.value.errors()
    return ".".join(str(part) for part in problem["loc"]), problem["type"], problem["msg"]


def test_an_nhs_number_failing_the_modulus_11_check_is_refused() -> None:
    where, kind, message = refusal({"name": "Alex Example", "nhs_number": "1234567890"})
    assert (where, kind) == ("person.nhs_number", "nhs_number_check_digit")
    assert message == "the NHS number's check digit is wrong: check the number"
    with pytest.raises(ValidationError, match="check digit"):
        Person(nhs_number="9434765918")  # one digit off a real number


def test_a_date_of_birth_in_the_year_1000_is_refused() -> None:
    where, kind, message = refusal({"name": "Alex Example", "date_of_birth": "1000-01-01"})
    assert (where, kind) == ("person.date_of_birth", "date_too_early")
    assert "1900-01-01" in message
    with pytest.raises(ValidationError, match="1900-01-01"):
        Person(date_of_birth="1899-12-31")
    assert Person(date_of_birth="1900-01-01").date_of_birth == "1900-01-01"


@pytest.mark.parametrize(
    ("attack", "character"),
    [
        ("NUL", "\x00"),
        ("right-to-left override", "\u202e"),
        ("ESC (a terminal escape sequence)", "\x1b"),
        ("BEL", "\x07"),
        ("first strong isolate", "\u2068"),
        ("C1 control sequence introducer", "\x9b"),
        ("a line break in a one-line field", "\n"),
    ],
)
def test_a_name_with_a_control_character_is_refused(attack: str, character: str) -> None:
    name = f"Alex{character}[2JExample" if character == "\x1b" else f"Alex{character}Example"
    where, kind, message = refusal({"name": name})
    assert (where, kind) == ("person.name", "control_characters"), attack
    assert f"U+{ord(character):04X}" in message and "control characters" in message


def test_a_valid_nhs_number_and_a_name_with_an_apostrophe_and_accents_are_accepted() -> None:
    person = {
        "name": "Siobhán O'Connor-Ní Bhriain",
        "nhs_number": VALID_NHS_NUMBER,
        "date_of_birth": "1984-03-02",
        "address": "Flat 2\n14 Larkspur Row\r\nEaston\tBS5 0AA",  # an address may span lines
    }
    command = open_case(person)
    assert command.person == Person.model_validate(person)
    assert Person(nhs_number="9434765870").nhs_number == "9434765870"


def test_an_address_over_several_lines_still_refuses_escapes_and_overrides() -> None:
    for character in ("\x1b", "\x00", "\u202e"):
        where, kind, _ = refusal({"address": f"14 Larkspur Row\nEaston{character}"})
        assert (where, kind) == ("person.address", "control_characters")


def test_a_sealed_value_is_taken_as_it_is() -> None:
    """The check is for plaintext: a sealed value's plaintext was checked before it was sealed."""
    sealed = f"sealed:v1:person-{uuid.uuid4()}:{'A' * 43}"
    assert Person(name=sealed, nhs_number=sealed, date_of_birth=sealed).nhs_number == sealed


def test_free_text_keeps_line_breaks_but_refuses_escapes_and_overrides() -> None:
    note = "Asked that her daughter not be told.\r\nSees her GP on Fridays.\tOK"
    assert ScreeningOutcome.model_validate({**SCREENING, "note": note}).note == note
    for character in ("\x1b[2J", "\x07", "\u202e", "\x00"):
        with pytest.raises(ValidationError) as refused:
            ScreeningOutcome.model_validate({**SCREENING, "note": f"fine{character}"})
        assert refused.value.errors()[0]["type"] == "control_characters"


def test_one_line_free_text_and_each_item_of_a_list_or_answer_are_checked_too() -> None:
    with pytest.raises(ValidationError, match=r"U\+000A"):
        Disclosure.model_validate(
            {"recipient": "court", "purpose": "bail\ndecision", "lawful_basis": "consent", "summary": "needs"}
        )
    assessment = {"instrument": "ld-assess", "instrument_version": "2019"}
    for bad in (
        {"safeguarding_actions": ["Told the custody sergeant", "rang\u202eback"]},
        {"answers": {"q1": 3, "q2": {"nested": ["deep \x1b]0;owned\x07"]}}},
        {"answers": {"q\x1b": "yes"}},
    ):
        with pytest.raises(ValidationError, match="control characters"):
            AssessmentOutcome.model_validate({**assessment, **bad})


def test_the_timeline_printer_shows_an_escape_sequence_in_stored_text_as_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Text stored before these checks (or altered in the database) can still hold an escape
    sequence: `pathway audit timeline` prints it as visible text, never to the terminal."""
    entry = TimelineEntry(
        seq=3,
        event_id="event-1",
        type="ScreeningRecorded",
        occurred_at=datetime(2026, 6, 1, 9, 30, tzinfo=UTC),
        recorded_at=datetime(2026, 6, 1, 9, 30, tzinfo=UTC),
        actor=PRACTITIONER,
        description="Screening recorded\x1b]0;all clear\x07",
        written="Asked that her daughter not be told\x1b[2J\x1b[H\nsecond line \u202eeno",
    )
    _print_entry(entry)
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\x07" not in printed and "\u202e" not in printed
    assert "> Asked that her daughter not be told\\x1b[2J\\x1b[H\n" in printed
    assert "Screening recorded\\x1b]0;all clear\\x07" in printed and "second line \\u202eeno" in printed


def test_case_show_prints_stored_text_through_the_same_escape(capsys: pytest.CaptureFixture[str]) -> None:
    state = CaseState(case_id="case-f12", site="demo\x1b[2J")
    _print_state(state, as_json=False)
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "site demo\\x1b[2J" in printed
