"""domain/text_rules.py: NHS numbers (Modulus 11), the characters a field may hold, printing stored
text to a terminal, and plausible dates of birth."""

import unicodedata
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.text_rules import (
    BIDI_CONTROLS,
    EARLIEST_BIRTH_DATE,
    birth_date_problem,
    code_points,
    control_characters,
    nhs_number_valid,
    terminal_safe,
)

# Worked by hand: 9434765919 is 9x10 + 4x9 + 3x8 + 4x7 + 7x6 + 6x5 + 5x4 + 9x3 + 1x2 = 299, remainder 2,
# check digit 11 - 2 = 9. The others are NHS numbers used in NHS Digital's own test data.
VALID = ["9434765919", "9434765870", "4010232137", "9990000018"]
INVALID = [
    "1234567890",  # 210 leaves 1, so the check digit would be 10: no valid number starts 123456789
    "9434765918",  # the last digit one off
    "9434765991",  # the last two swapped
    "943476591",  # nine digits
    "94347659190",  # eleven
    "943 476 5919",  # spaced as printed on a card: the field takes the digits alone
    "94347659I9",
    "",
    "\u0669\u0664\u0663\u0664\u0667\u0666\u0665\u0669\u0661\u0669",  # Arabic-Indic digits: isdigit() is True
    "\u00b2434765919",  # a superscript two: isdigit() is True
]
digits = st.text(alphabet="0123456789", min_size=9, max_size=9)


def check_digit(first_nine: str) -> int | None:
    """The NHS Data Dictionary's steps, written out again independently of the code under test."""
    remainder = sum(int(d) * w for d, w in zip(first_nine, [10, 9, 8, 7, 6, 5, 4, 3, 2], strict=True)) % 11
    result = 11 - remainder
    return None if result == 10 else 0 if result == 11 else result


@pytest.mark.parametrize("number", VALID)
def test_known_nhs_numbers_pass_the_modulus_11_check(number: str) -> None:
    assert nhs_number_valid(number)


@pytest.mark.parametrize("number", INVALID)
def test_numbers_failing_the_check_or_not_ten_ascii_digits_are_refused(number: str) -> None:
    assert not nhs_number_valid(number)


def test_a_check_digit_of_11_is_written_0() -> None:
    # 943476590: 9x10 + 4x9 + 3x8 + 4x7 + 7x6 + 6x5 + 5x4 + 9x3 + 0x2 = 297 = 27 x 11, remainder 0, 11 - 0 = 11.
    assert nhs_number_valid("9434765900")
    assert not nhs_number_valid("9434765901")


@given(digits)
def test_each_nine_digits_have_one_check_digit_or_none(first_nine: str) -> None:
    passing = [d for d in "0123456789" if nhs_number_valid(first_nine + d)]
    expected = check_digit(first_nine)
    assert passing == ([] if expected is None else [str(expected)])


@given(digits, st.integers(0, 9), st.integers(1, 9))
def test_any_single_digit_mistake_in_a_valid_number_is_caught(first_nine: str, at: int, change: int) -> None:
    expected = check_digit(first_nine)
    if expected is None:
        return
    number = first_nine + str(expected)
    mistaken = number[:at] + str((int(number[at]) + change) % 10) + number[at + 1 :]
    assert nhs_number_valid(number) and not nhs_number_valid(mistaken)


@given(digits, st.integers(0, 8))
def test_two_different_neighbouring_digits_swapped_are_caught(first_nine: str, at: int) -> None:
    expected = check_digit(first_nine)
    number = first_nine + str(expected)
    if expected is None or number[at] == number[at + 1]:
        return
    swapped = number[:at] + number[at + 1] + number[at] + number[at + 2 :]
    assert not nhs_number_valid(swapped)


NAMES = [
    "Siobhán O'Connor-Ní Bhriain",
    "Zoë Ångström",
    "José Álvarez",
    "Dafydd ap Gruffudd",
    "محمد الأمين",
    "רחל כהן",
    "王秀英",
    "Ana\u200dMaria",  # a zero-width joiner is not a control character
]


@pytest.mark.parametrize("name", NAMES)
def test_names_in_any_script_with_apostrophes_and_accents_have_no_control_characters(name: str) -> None:
    assert control_characters(name, multi_line=False) == []


@pytest.mark.parametrize(
    "character",
    ["\x00", "\x07", "\x08", "\x1b", "\x7f", "\x85", "\x9b", "\n", "\r", "\t", "\u2028", "\u2029"],
)
def test_text_on_one_line_holds_no_control_character_nor_line_break(character: str) -> None:
    assert control_characters(f"Alex{character}Example", multi_line=False) == [character]


@pytest.mark.parametrize("character", sorted(BIDI_CONTROLS))
def test_text_direction_overrides_and_isolates_are_refused_on_one_line_and_over_several(character: str) -> None:
    assert control_characters(f"abc{character}def", multi_line=False) == [character]
    assert control_characters(f"abc{character}def", multi_line=True) == [character]


def test_free_text_over_several_lines_keeps_line_breaks_and_tabs_only() -> None:
    note = "First line\r\nsecond\tline\nthird\u2028fourth"
    assert control_characters(note, multi_line=True) == []
    assert control_characters(note + "\x1b[2J\x00\x1b", multi_line=True) == ["\x1b", "\x00"]


def test_offending_characters_are_named_by_code_point() -> None:
    assert code_points(["\x00", "\u202e"]) == "U+0000, U+202E"


def test_terminal_safe_shows_an_escape_sequence_as_text() -> None:
    assert terminal_safe("before\x1b[2Jafter\x07") == "before\\x1b[2Jafter\\x07"
    assert terminal_safe("\u202eevil\u2066") == "\\u202eevil\\u2066"
    assert terminal_safe("one\ntwo\r\tthree\x9b") == "one\\x0atwo\\x0d\\x09three\\x9b"
    assert terminal_safe("lone \ud800 surrogate") == "lone \\ud800 surrogate"


def test_terminal_safe_can_keep_the_line_breaks_of_a_document() -> None:
    document = "<p>a</p>\r\n<p>\tb\x1b]0;owned\x07</p>\n<p>c\rd</p>"
    assert terminal_safe(document, keep_line_breaks=True) == ("<p>a</p>\n<p>\tb\\x1b]0;owned\\x07</p>\n<p>c\\x0dd</p>")


@pytest.mark.parametrize("name", NAMES)
def test_terminal_safe_leaves_ordinary_text_as_it_is(name: str) -> None:
    assert terminal_safe(name) == name


@given(st.text())
def test_nothing_terminal_safe_prints_can_drive_a_terminal(text: str) -> None:
    shown = terminal_safe(text)
    assert all(unicodedata.category(c) not in ("Cc", "Cs") and c not in BIDI_CONTROLS for c in shown)
    assert control_characters(shown, multi_line=False) == []
    if not control_characters(text, multi_line=False) and not any(unicodedata.category(c) == "Cs" for c in text):
        assert shown == text


TODAY = date(2026, 6, 1)


@pytest.mark.parametrize("born", [EARLIEST_BIRTH_DATE, date(1984, 3, 2), TODAY])
def test_plausible_dates_of_birth(born: date) -> None:
    assert birth_date_problem(born, TODAY) is None


def test_a_date_of_birth_in_the_year_1000_is_refused_with_the_plausible_range() -> None:
    problem = birth_date_problem(date(1000, 1, 1), TODAY)
    assert problem is not None and "1900-01-01" in problem and "before" in problem
    assert birth_date_problem(EARLIEST_BIRTH_DATE - timedelta(days=1), TODAY) == problem


def test_a_date_of_birth_after_today_is_refused_with_the_plausible_range() -> None:
    problem = birth_date_problem(TODAY + timedelta(days=1), TODAY)
    assert problem is not None and "future" in problem and "1900-01-01" in problem and "2026-06-01" in problem
