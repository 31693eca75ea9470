"""HTML forms built from outcome models, and form posts turned back into outcomes with per-field errors.

A form is a list of questions (one field each) and groups (a nested model: asked once when optional,
or as a few numbered rows when the model holds a list of them). Works without JavaScript: a list of
things is a fixed number of rows, and rows left blank are dropped. Names are dotted paths
("disclosures.1.purpose"), which is also how validation errors find their question.
"""

import types
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import MaxLen, MinLen
from pydantic import AwareDatetime, BaseModel, ValidationError
from pydantic.fields import FieldInfo

from domain.errors import plain_message
from domain.personal import Personal
from domain.timeline import UK, in_uk

Widget = Literal["text", "textarea", "number", "date", "datetime", "radios", "select", "checkboxes", "lines", "pairs"]
ROWS_FOR_LISTS = 3  # rows offered for a list of things, since there is no JavaScript to add more
LONG_TEXT = 500  # longer allowed text gets a text area
MOST_RADIOS = 5  # more options than this become a drop-down
SPELLINGS = {
    "cps": "CPS",
    "adhd": "ADHD",
    "gp": "GP",
    "nhs": "NHS",
    "womens": "women's",
    "camhs": "CAMHS",
    "reconnect": "RECONNECT",
    "id": "ID",
}
# Codes whose words alone would not say what they mean.
LABELS = {"share_services": "Share with the services they are referred to"}
YES_NO = (("true", "Yes"), ("false", "No"))


def words(name: str) -> str:
    """A code as words: "share_cps" -> "Share CPS"."""
    if name in LABELS:
        return LABELS[name]
    spelled = " ".join(SPELLINGS.get(part, part) for part in str(name).split("_"))
    return spelled[:1].upper() + spelled[1:]


def local_time(moment: datetime | None) -> str:
    """A time as people in England read it: UK time, "Tue 01 Dec 2026, 10:00"."""
    return "" if moment is None else moment.astimezone(UK).strftime("%a %d %b %Y, %H:%M")


def long_date(text: str) -> str:
    """An ISO date as people write it ("1 June 1985"); anything else (e.g. "[shredded]") as it is."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return text
    return f"{day.day} {day:%B %Y}"


@dataclass(frozen=True)
class Question:
    name: str
    label: str
    hint: str
    widget: Widget
    required: bool
    options: tuple[tuple[str, str], ...] = ()
    max_length: int | None = None

    @property
    def id(self) -> str:
        return self.name.replace(".", "-")


@dataclass(frozen=True)
class Group:
    name: str
    label: str
    hint: str
    questions: tuple[Question, ...]
    optional: bool

    @property
    def id(self) -> str:
        return self.name.replace(".", "-")


@dataclass
class FormProblems:
    """What was wrong with a post: messages by question name, and ones about the whole form."""

    fields: dict[str, str] = field(default_factory=dict)
    form: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.form)


class FormInvalid(Exception):
    def __init__(self, problems: FormProblems) -> None:
        super().__init__("; ".join([*problems.form, *problems.fields.values()]))
        self.problems = problems


def form_for(model: type[BaseModel], fixed: Collection[str] = ()) -> list[Question | Group]:
    """The model's questions; the fields named in `fixed` are the page's to fill (who is acting, say)."""
    items: list[Question | Group] = []
    for name, info in model.model_fields.items():
        if name in fixed:
            continue
        annotation, optional = _unwrap_optional(info.annotation)
        inner = _list_item(annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            singular = _singular(words(name))
            for row in range(ROWS_FOR_LISTS):
                label = f"{singular} {row + 1}"
                hint = (info.description or "") if row == 0 else "Leave blank if not needed"
                items.append(_group(inner, f"{name}.{row}", label, hint, optional=True))
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            items.append(_group(annotation, name, words(name), info.description or "", optional))
        else:
            items.append(_question(name, info, annotation, optional))
    return items


def outcome_from_form(
    model: type[BaseModel], posted: Mapping[str, Sequence[str]], fixed: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The outcome a form post describes, with the `fixed` values the page fills in rather than asks,
    validated against the model; FormInvalid says what is wrong."""
    fixed = fixed or {}
    items = form_for(model, fixed)
    problems = FormProblems()
    outcome: dict[str, Any] = dict(fixed)
    rows: dict[str, list[int]] = {}  # list name -> the form rows kept, in order
    for item in items:
        if isinstance(item, Question):
            _put(outcome, item.name, _value(item, posted, problems))
            continue
        values = {q.name.rsplit(".", 1)[1]: _value(q, posted, problems) for q in item.questions}
        filled = {key: value for key, value in values.items() if value not in (None, [], {})}
        list_name, _, row = item.name.partition(".")
        if row:
            outcome.setdefault(list_name, [])
            if filled:
                outcome[list_name].append(filled)
                rows.setdefault(list_name, []).append(int(row))
        elif filled or not item.optional:
            outcome[item.name] = filled
    try:
        model.model_validate(outcome)
    except ValidationError as error:
        _explain(error, items, rows, problems)
    if problems:
        raise FormInvalid(problems)
    return outcome


def with_choices(
    items: Sequence[Question | Group], name: str, options: Sequence[tuple[str, str]], label: str = ""
) -> list[Question | Group]:
    """The form with question `name` offering only `options` (value, label): the values that make sense
    for this case (which of its referrals; the goals its link work set). Boxes to tick stay boxes."""
    chosen: list[Question | Group] = []
    for item in items:
        if isinstance(item, Question) and item.name == name:
            one_of: Widget = "select" if len(options) > MOST_RADIOS else "radios"
            widget = "checkboxes" if item.widget == "checkboxes" else one_of
            item = replace(item, widget=widget, options=tuple(options), max_length=None, label=label or item.label)
        chosen.append(item)
    return chosen


def relabelled(
    items: Sequence[Question | Group], name: str, label: str, hint: str | None = None
) -> list[Question | Group]:
    """The form with question `name` asked in the page's own words (and hint, if given)."""
    return [
        replace(item, label=label, hint=item.hint if hint is None else hint)
        if isinstance(item, Question) and item.name == name
        else item
        for item in items
    ]


def _singular(plural: str) -> str:
    return plural[:-3] + "y" if plural.endswith("ies") else plural.removesuffix("s")


def _group(model: type[BaseModel], name: str, label: str, hint: str, optional: bool) -> Group:
    questions = []
    for field_name, info in model.model_fields.items():
        annotation, field_optional = _unwrap_optional(info.annotation)
        questions.append(_question(f"{name}.{field_name}", info, annotation, field_optional))
    return Group(name=name, label=label, hint=hint, questions=tuple(questions), optional=optional)


def _question(name: str, info: FieldInfo, annotation: Any, optional: bool) -> Question:
    short_name = name.rsplit(".", 1)[-1]
    required = info.is_required() and not optional
    max_length = next((m.max_length for m in info.metadata if isinstance(m, MaxLen | Personal)), None)
    common: dict[str, Any] = {"name": name, "label": words(short_name), "hint": info.description or ""}
    options = _options(annotation)
    item = _list_item(annotation)
    if item is not None and _options(item):
        # Boxes to tick are optional unless at least one must be (recipients of a court report).
        at_least_one = required and any(isinstance(m, MinLen) and m.min_length > 0 for m in info.metadata)
        return Question(widget="checkboxes", required=at_least_one, options=_options(item), **common)
    if item is str:
        return Question(widget="lines", required=False, **common)
    if get_origin(annotation) is dict:
        return Question(widget="pairs", required=False, **common)
    if annotation is bool:
        return Question(widget="radios", required=required, options=YES_NO, **common)
    if options:
        widget: Widget = "select" if len(options) > MOST_RADIOS else "radios"
        return Question(widget=widget, required=required, options=options, **common)
    if annotation is int:
        return Question(widget="number", required=required, **common)
    if annotation in (datetime, AwareDatetime):  # a time typed in the form is UK time (in_uk)
        return Question(widget="datetime", required=required, **common)
    if annotation is date or any(isinstance(m, Personal) and m.is_date for m in info.metadata):
        return Question(widget="date", required=required, **common)
    widget = "textarea" if max_length is not None and max_length > LONG_TEXT else "text"
    return Question(widget=widget, required=required, max_length=max_length, **common)


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0], True
    return annotation, False


def _list_item(annotation: Any) -> Any:
    if get_origin(annotation) in (list, tuple):
        return get_args(annotation)[0]
    return None


def _options(annotation: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return tuple((str(member.value), words(member.value)) for member in annotation)
    if get_origin(annotation) is Literal:
        return tuple((str(value), words(value)) for value in get_args(annotation))
    return ()


def _value(question: Question, posted: Mapping[str, Sequence[str]], problems: FormProblems) -> Any:
    """A question's answer as the model takes it; None when it was left blank."""
    raw = [value for value in posted.get(question.name, ()) if value.strip()]
    match question.widget:
        case "checkboxes":
            return raw
        case "lines":
            return [line.strip() for text in raw for line in text.splitlines() if line.strip()]
        case "pairs":
            return _pairs(question, raw, problems)
    if not raw:
        return None
    if question.widget == "datetime":
        try:
            return in_uk(datetime.fromisoformat(raw[0])).isoformat()
        except ValueError:
            problems.fields[question.name] = f"Enter {question.label.lower()} as a date and time"
            return None
    return raw[0]


def _pairs(question: Question, raw: list[str], problems: FormProblems) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in (line.strip() for text in raw for line in text.splitlines()):
        if not line:
            continue
        key, colon, value = line.partition(":")
        if not colon or not key.strip():
            problems.fields[question.name] = f"Write each line of {question.label.lower()} as 'item: answer'"
            continue
        pairs[key.strip()] = value.strip()
    return pairs


def _put(outcome: dict[str, Any], name: str, value: Any) -> None:
    if value is not None:
        outcome[name] = value


def _explain(
    error: ValidationError, items: list[Question | Group], rows: dict[str, list[int]], problems: FormProblems
) -> None:
    questions = {q.name: q for item in items for q in ((item,) if isinstance(item, Question) else item.questions)}
    groups = {item.name: item for item in items if isinstance(item, Group)}
    for problem in error.errors():
        location = [str(part) for part in problem["loc"]]
        if len(location) >= 2 and location[0] in rows and location[1].isdigit():
            location[1] = str(rows[location[0]][int(location[1])])  # back to the row the person filled in
        name = ".".join(location)
        if name not in questions and location and location[-1].isdigit():
            name = ".".join(location[:-1])  # one of several ticked boxes: the question they answer
        question = questions.get(name)
        label = question.label if question else (groups[name].label if name in groups else "")
        message = _message(problem, question, label)
        if question is not None or name in groups:
            problems.fields.setdefault(name, message)
        else:
            problems.form.append(message)


def _message(problem: Any, question: Question | None, label: str) -> str:
    context = problem.get("ctx") or {}
    kind = problem["type"]
    choose = question is not None and question.widget in ("radios", "select", "checkboxes")
    if kind == "missing" or (kind == "too_short" and choose):  # too_short: boxes to tick, none ticked
        return f"{'Choose' if choose else 'Enter'} {label.lower()}"
    if kind == "string_too_short":
        return f"{label} must be at least {context.get('min_length')} characters"
    if kind == "string_too_long":
        return f"{label} must be {context.get('max_length')} characters or fewer"
    if kind in ("int_parsing", "int_from_float"):
        return f"{label} must be a whole number"
    if kind == "greater_than_equal":
        return f"{label} must be {context.get('ge')} or more"
    if kind == "less_than_equal":
        return f"{label} must be {context.get('le')} or less"
    if kind == "string_pattern_mismatch":
        return f"{label} is not in the correct format"
    if kind.startswith("date_"):
        return f"Enter {label.lower()} as a date"
    if kind in ("enum", "literal_error") and choose:
        return f"Choose {label.lower()} from the list"
    message = plain_message(problem)
    return f"{label}: {message}" if label and kind != "value_error" else as_sentence(message)


def as_sentence(message: str) -> str:
    """A message that starts in lower case (as refusals do) as a sentence of its own, beside a question."""
    return message[:1].upper() + message[1:]
