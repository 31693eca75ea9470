"""NYSIIS, the New York State Identification and Intelligence System's phonetic code (Taft, 1970),
designed for surnames: names spelt differently but said alike get the same code ("Brian", "Brown"
and "Brun" are all BRAN; "MacKie" and "McKee" are both MCY).

The rules are those published with the algorithm (as at dropby.com/NYSIIS.html and in Apache Commons
Codec): the first and last letters are rewritten, then every later letter in turn, and a letter is
added to the code only when it differs from the code's last one. The code is kept whole, not cut to
the original's six letters: a longer code tells more surnames apart."""

VOWELS = frozenset("AEIOU")
# Rule 1: how a name starts. Only the first that fits applies.
FIRST_LETTERS = (("MAC", "MCC"), ("KN", "NN"), ("K", "C"), ("PH", "FF"), ("PF", "FF"), ("SCH", "SSS"))
# Rule 2: how a name ends. Only the first that fits applies.
LAST_LETTERS = (("EE", "Y"), ("IE", "Y"), ("DT", "D"), ("RT", "D"), ("RD", "D"), ("NT", "D"), ("ND", "D"))


def nysiis(name: str) -> str:
    """The NYSIIS code of `name`; letters other than A to Z are left out, and a name without any
    has the code ""."""
    letters = "".join(character for character in name.upper() if "A" <= character <= "Z")
    if not letters:
        return ""
    letters = _rewrite_start(letters)
    letters = _rewrite_end(letters)
    word = list(letters)
    code = [word[0]]  # the first letter is kept as it is (after rule 1)
    for at in range(1, len(word)):
        _transcode(word, at)
        if word[at] != code[-1]:
            code.append(word[at])
    return _trim_end("".join(code))


def _rewrite_start(letters: str) -> str:
    for start, replacement in FIRST_LETTERS:
        if letters.startswith(start):
            return replacement + letters[len(start) :]
    return letters


def _rewrite_end(letters: str) -> str:
    for end, replacement in LAST_LETTERS:
        if letters.endswith(end):
            return letters[: -len(end)] + replacement
    return letters


def _transcode(word: list[str], at: int) -> None:
    """Rule 4 for the letter at `at`, rewriting `word` in place: some rules rewrite the letters after
    it too (EV, SCH, PH), and the later letters are read as rewritten."""
    letter = word[at]
    before = word[at - 1]
    after = word[at + 1] if at + 1 < len(word) else ""
    if letter == "E" and after == "V":
        word[at : at + 2] = ["A", "F"]
    elif letter in VOWELS:
        word[at] = "A"
    elif letter in "QZM":
        word[at] = {"Q": "G", "Z": "S", "M": "N"}[letter]
    elif letter == "K":
        word[at] = "N" if after == "N" else "C"
    elif word[at : at + 3] == ["S", "C", "H"]:
        word[at : at + 3] = ["S", "S", "S"]
    elif letter == "P" and after == "H":
        word[at : at + 2] = ["F", "F"]
    elif letter == "H" and (before not in VOWELS or after not in VOWELS):
        word[at] = before  # a silent H: it takes the sound of the letter before it
    elif letter == "W" and before in VOWELS:
        word[at] = before


def _trim_end(code: str) -> str:
    """Rules 5 to 7: a final S goes, a final AY becomes Y, then a final A goes; never the first letter."""
    if len(code) > 1 and code.endswith("S"):
        code = code[:-1]
    if len(code) > 2 and code.endswith("AY"):
        code = code[:-2] + "Y"
    if len(code) > 1 and code.endswith("A"):
        code = code[:-1]
    return code
