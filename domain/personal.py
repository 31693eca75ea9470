"""Personal data in the domain's models: which fields hold it, and the sealed form it travels in.

A field marked `Personal` (names, date of birth, address, NHS number, custody and court references,
everything a person writes) is sealed with the person's own data key where it enters the system
(the service layer, service/cases.py), so workflows, Temporal histories and the event store only ever
hold `sealed:v1:<person_id>:<ciphertext>`. The domain never opens a sealed value: it checks plaintext
against the field's rules when it gets plaintext (at the edge), and takes a sealed value as it is.
Destroying the person's key (crypto-shredding) leaves every sealed value unreadable for good.
"""

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from domain.text_rules import (
    BIRTH_DATE_TOO_EARLY,
    EARLIEST_BIRTH_DATE,
    code_points,
    control_characters,
    nhs_number_valid,
)

# At least 39 characters of token: the nonce, one byte of plaintext and the tag (12 + 1 + 16 bytes)
# in unpadded base64. A shorter token was never made by sealing, so it is not taken as sealed.
SEALED = re.compile(r"^sealed:v1:(person-[0-9a-f-]{36}):[A-Za-z0-9_-]{39,}={0,2}$")
# Plaintext arriving from outside never starts like this: a value shaped as sealed data would be
# stored as it is and opened later (F2 of issue 15), so it is refused before anything is sealed.
SEALED_PREFIX = "sealed:"
# What a sealed value reads as when it cannot be opened for the reader:
SHREDDED = "[shredded]"  # its person's key was destroyed
WITHHELD = "[withheld]"  # it was sealed for another person than the case's: never opened through this case
UNREADABLE = "[unreadable]"  # it does not decrypt (altered, or malformed)
Model = TypeVar("Model", bound=BaseModel)
Leaf = Any  # a str field's value, an element of a list field, a value of a dict field


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and SEALED.match(value) is not None


def sealed_for(value: str) -> str | None:
    """The person whose key sealed a value, or None if it is not sealed."""
    found = SEALED.match(value)
    return found.group(1) if found else None


def sealed_lookalikes(value: Any) -> list[str]:
    """Where in a plaintext input (a model, or JSON-shaped dicts and lists) a text starts like sealed
    data: the paths of the values an edge must refuse before it seals anything. A loop, not
    recursion: an input is looked at before its depth is judged."""
    found: list[str] = []
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            if item.lstrip().lower().startswith(SEALED_PREFIX):
                found.append(where or "input")
            continue
        if isinstance(item, BaseModel):
            items: Iterable[tuple[Any, Any]] = ((name, getattr(item, name)) for name in type(item).model_fields)
        elif isinstance(item, Mapping):
            items = item.items()
        elif isinstance(item, list | tuple | set | frozenset):
            items = enumerate(item)
        else:
            continue
        for key, inner in items:
            path = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and key.lower().startswith(SEALED_PREFIX):
                found.append(path)
            pending.append((path, inner))
    return sorted(found)


class Personal:
    """Field metadata: this field is personal data. Plaintext is checked against these limits; a
    sealed value is accepted as it is (its plaintext was checked before it was sealed)."""

    def __init__(
        self,
        min_length: int = 0,
        max_length: int | None = None,
        pattern: str | None = None,
        is_date: bool = False,
        *,
        nhs_number: bool = False,
        single_line: bool = False,
    ) -> None:
        self.min_length = min_length
        self.max_length = max_length
        self.pattern = re.compile(pattern) if pattern else None
        self.is_date = is_date
        self.nhs_number = nhs_number  # ten digits and the Modulus 11 check digit
        # On one line: no control character at all. Otherwise (free text) line breaks and tabs only.
        self.single_line = single_line

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        limits = {"minLength": self.min_length or None, "maxLength": self.max_length}
        if self.pattern:
            limits["pattern"] = self.pattern.pattern  # type: ignore[assignment]
        if self.is_date:
            limits["format"] = "date"  # type: ignore[assignment]
        json_schema.update({key: value for key, value in limits.items() if value is not None})
        return json_schema

    def _check(self, value: Any) -> Any:
        if isinstance(value, str):
            if not is_sealed(value):
                self._check_text(value)
        elif isinstance(value, Mapping | list | tuple):
            # A personal list or dict (safeguarding actions, an instrument's answers): each text in it
            # is sealed on its own, so each plaintext one is checked for what it may hold.
            self._check_characters_within(value)
        return value

    def _check_characters_within(self, value: Mapping[Any, Any] | list[Any] | tuple[Any, ...]) -> None:
        pending: list[Any] = [value]  # a loop, not recursion: answers may be nested deep
        while pending:
            item = pending.pop()
            if isinstance(item, str):
                if not is_sealed(item):
                    self._check_characters(item, multi_line=not self.single_line)
            elif isinstance(item, Mapping):
                for key in item:  # keys (an answer's item id) are never sealed and never span lines
                    if isinstance(key, str):
                        self._check_characters(key, multi_line=False)
                pending.extend(item.values())
            elif isinstance(item, list | tuple):
                pending.extend(item)

    @staticmethod
    def _check_characters(text: str, *, multi_line: bool) -> None:
        found = control_characters(text, multi_line=multi_line)
        if not found:
            return
        if multi_line:
            message = "text cannot contain control characters other than line breaks and tabs"
        else:
            message = "text on one line cannot contain control characters or line breaks"
        message += ", nor text-direction overrides (found {found})"
        raise PydanticCustomError("control_characters", message, {"found": code_points(found)})

    def _check_text(self, text: str) -> None:
        if len(text) < self.min_length:
            raise PydanticCustomError(
                "string_too_short",
                "String should have at least {min_length} characters",
                {"min_length": self.min_length},
            )
        if self.max_length is not None and len(text) > self.max_length:
            message = "String should have at most {max_length} characters"
            raise PydanticCustomError("string_too_long", message, {"max_length": self.max_length})
        if self.pattern and not self.pattern.match(text):
            raise PydanticCustomError(
                "string_pattern_mismatch", "String should match pattern '{pattern}'", {"pattern": self.pattern.pattern}
            )
        self._check_characters(text, multi_line=not self.single_line)
        if self.nhs_number and not nhs_number_valid(text):
            if len(text) == 10 and text.isascii() and text.isdigit():
                message = "the NHS number's check digit is wrong: check the number"
                raise PydanticCustomError("nhs_number_check_digit", message)
            raise PydanticCustomError("nhs_number", "an NHS number is ten digits")
        if self.is_date:
            # Whether it lies in the future is the edge's question (text_rules.birth_date_problem): the
            # domain has no clock of its own. A year before 1900 needs no clock to be refused.
            try:
                born = date.fromisoformat(text)
            except ValueError:
                raise PydanticCustomError("date_from_datetime_parsing", "Input should be a date (YYYY-MM-DD)") from None
            if born < EARLIEST_BIRTH_DATE:
                raise PydanticCustomError("date_too_early", BIRTH_DATE_TOO_EARLY)


# A personal field of an event or of the case state: checked when the command was, kept as it came.
PersonalStr = Annotated[str, Personal()]


def map_personal(model: Model, change: Callable[[Leaf], Leaf]) -> Model:
    """The model with `change` applied to every personal value in it, however deeply nested: each
    personal str, each element of a personal list, each value of a personal dict."""
    updates: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if value is None:
            continue
        if any(isinstance(marker, Personal) for marker in info.metadata):
            updates[name] = _leaves(value, change)
        else:
            changed = _nested(value, change)
            if changed is not value:
                updates[name] = changed
    return model.model_copy(update=updates) if updates else model


def _leaves(value: Any, change: Callable[[Leaf], Leaf]) -> Any:
    if isinstance(value, Mapping):
        return {key: change(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return type(value)(change(item) for item in value)  # type: ignore[call-arg]
    return change(value)


def _nested(value: Any, change: Callable[[Leaf], Leaf]) -> Any:
    if isinstance(value, BaseModel):
        return map_personal(value, change)
    if isinstance(value, Mapping) and any(isinstance(item, BaseModel) for item in value.values()):
        return {key: _nested(item, change) for key, item in value.items()}
    if isinstance(value, tuple | list) and any(isinstance(item, BaseModel) for item in value):
        return type(value)(_nested(item, change) for item in value)
    return value
