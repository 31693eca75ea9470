"""Rules for text people type: NHS numbers, dates of birth, and characters that have no place in a
record or on a terminal. Pure functions: no clock (today is an argument) and no I/O."""

import unicodedata
from datetime import date

# Text-direction embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI): they make
# text display in an order other than the one it is stored in ("Trojan Source", CVE-2021-42574), so
# a name or a note could read differently on screen from what the record holds.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# What free text written over several lines may hold of the control characters.
LINE_BREAKS_AND_TABS = frozenset("\n\r\t")
# Unicode's own line and paragraph separators: not control characters, but they break a line.
UNICODE_LINE_SEPARATORS = frozenset("\u2028\u2029")

EARLIEST_BIRTH_DATE = date(1900, 1, 1)
BIRTH_DATE_TOO_EARLY = "the date of birth is before 1900-01-01: a plausible date of birth is from 1900-01-01 to today"


def nhs_number_valid(text: str) -> bool:
    """Whether `text` is an NHS number: ten digits whose last is the Modulus 11 check digit of the
    other nine (NHS Data Dictionary, "NHS Number": multiply the first nine digits by 10, 9, ... 2,
    add them up, take the remainder on dividing by 11 and subtract it from 11; 11 gives a check
    digit of 0, and 10 means the number is not valid)."""
    if len(text) != 10 or not text.isascii() or not text.isdigit():  # isdigit alone takes "²" and "٣"
        return False
    total = sum(int(digit) * weight for digit, weight in zip(text[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 10:
        return False
    return (0 if check == 11 else check) == int(text[9])


def control_characters(text: str, *, multi_line: bool) -> list[str]:
    """The characters of `text` that the field may not hold, each once, in the order they first come.

    Text on one line (a name, a purpose) may hold no control character at all (C0, DEL, C1: NUL,
    ESC, BEL, line breaks, tabs ...) and no Unicode line separator; free text written over several
    lines may hold line breaks and tabs (\\n, \\r, \\t) and no other control character. Neither may
    hold a text-direction override or isolate."""
    found: dict[str, None] = {}
    for character in text:
        if character in found:
            continue
        if character in BIDI_CONTROLS:
            found[character] = None
        elif unicodedata.category(character) == "Cc":
            if not (multi_line and character in LINE_BREAKS_AND_TABS):
                found[character] = None
        elif not multi_line and character in UNICODE_LINE_SEPARATORS:
            found[character] = None
    return list(found)


def code_points(characters: list[str]) -> str:
    """Characters named so a person can read them in a message: "U+001B, U+202E"."""
    return ", ".join(f"U+{ord(character):04X}" for character in characters)


def terminal_safe(text: str, *, keep_line_breaks: bool = False) -> str:
    """`text` as it can be printed to a terminal: every control character (line breaks and tabs
    included), text-direction override or isolate, Unicode line separator and lone surrogate is
    replaced by its Python escape as visible text, e.g. ESC by the four characters `\\x1b` and
    U+202E by `\\u202e`. So stored text can neither drive the terminal (clear the screen, retitle the
    window, hide what follows) nor show in an order other than the one it is stored in. For reading
    only: a backslash already in the text is left as it is, so the escape cannot be undone.

    With `keep_line_breaks` (a whole document printed, such as HTML) \\n and \\t are kept and \\r\\n
    becomes \\n; a lone \\r is still escaped, as it would let the rest of a line overwrite its start."""
    if keep_line_breaks:
        text = text.replace("\r\n", "\n")
    return "".join(_visible(character, keep_line_breaks) for character in text)


def _visible(character: str, keep_line_breaks: bool) -> str:
    if keep_line_breaks and character in "\n\t":
        return character
    if (
        character in BIDI_CONTROLS
        or character in UNICODE_LINE_SEPARATORS
        or unicodedata.category(character) in ("Cc", "Cs")
    ):
        code = ord(character)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return character


def birth_date_problem(born: date, today: date) -> str | None:
    """Why `born` is not a plausible date of birth on `today`, or None if it is. The domain has no clock,
    so whoever has one (the edge) passes today."""
    if born < EARLIEST_BIRTH_DATE:
        return BIRTH_DATE_TOO_EARLY
    if born > today:
        return (
            f"the date of birth is in the future: a plausible date of birth is from "
            f"{EARLIEST_BIRTH_DATE.isoformat()} to today ({today.isoformat()})"
        )
    return None
