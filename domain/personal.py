"""Personal data in the domain's models: which fields hold it, and the sealed form it travels in.

A field marked `Personal` (names, date of birth, address, NHS number, custody and court references,
everything a person writes) is sealed with the person's own data key where it enters the system
(workers/cases.py), so workflows, Temporal histories and the event store only ever hold
`sealed:v1:<person_id>:<ciphertext>`. The domain never opens a sealed value: it checks plaintext
against the field's rules when it gets plaintext (at the edge), and takes a sealed value as it is.
Destroying the person's key (crypto-shredding) leaves every sealed value unreadable for good.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

SEALED = re.compile(r"^sealed:v1:(person-[0-9a-f-]{36}):[A-Za-z0-9_-]+={0,2}$")
Model = TypeVar("Model", bound=BaseModel)
Leaf = Any  # a str field's value, an element of a list field, a value of a dict field


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and SEALED.match(value) is not None


def sealed_for(value: str) -> str | None:
    """The person whose key sealed a value, or None if it is not sealed."""
    found = SEALED.match(value)
    return found.group(1) if found else None


class Personal:
    """Field metadata: this field is personal data. Plaintext is checked against these limits; a
    sealed value is accepted as it is (its plaintext was checked before it was sealed)."""

    def __init__(
        self, min_length: int = 0, max_length: int | None = None, pattern: str | None = None, is_date: bool = False
    ) -> None:
        self.min_length = min_length
        self.max_length = max_length
        self.pattern = re.compile(pattern) if pattern else None
        self.is_date = is_date

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
        if isinstance(value, str) and not is_sealed(value):
            self._check_text(value)
        return value

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
        if self.is_date:
            # (Whether it lies in the past is the edge's question: the domain has no clock of its own.)
            try:
                date.fromisoformat(text)
            except ValueError:
                raise PydanticCustomError("date_from_datetime_parsing", "Input should be a date (YYYY-MM-DD)") from None


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
