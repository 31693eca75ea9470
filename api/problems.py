"""The API's refusals as RFC 9457 problem details (`application/problem+json`).

A refusal that breaks a rule has the rule's own type, `/api/problems/<rule>` (served below, saying what
the rule is), and keeps the rule id as the extension member `rule`, which clients match on; bad input
also has `fields`, a message per field. A refusal with no rule (not signed in, no such route, a body
too large) is `about:blank`, titled with its HTTP status's phrase, as the RFC asks."""

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import status_for
from domain.errors import Rule, RuleViolation

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "/api/problems/"


class Problem(BaseModel):
    """Every refusal of the API: what kind of problem, a sentence a person understands, the rule it
    broke and per-field messages."""

    type: str = Field(description="The problem's type: `/api/problems/<rule>`, or about:blank for one with no rule")
    title: str = Field(description="The type in a few words (the same for every problem of the type)")
    status: int = Field(description="The HTTP status")
    detail: str = Field(description="What was wrong this time, in plain words")
    rule: str | None = Field(default=None, description="The rule refused (domain/errors.py): what clients match on")
    fields: dict[str, str] | None = Field(default=None, description="Bad input: a message per field")


class ProblemType(BaseModel):
    """What a problem type means: the rule, its kind of refusal and the HTTP status it answers with."""

    type: str
    title: str
    rule: str
    kind: str
    status: int


def title_of(rule: Rule) -> str:
    return rule.value.replace("_", " ").capitalize()


def problem_body(
    status: int, detail: str, *, rule: Rule | None = None, fields: dict[str, str] | None = None
) -> dict[str, Any]:
    body = Problem(
        type=f"{TYPE_PREFIX}{rule}" if rule else "about:blank",
        title=title_of(rule) if rule else HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        rule=rule,
        fields=fields,
    )
    return body.model_dump(exclude_none=True)


def problem(
    status: int,
    detail: str,
    *,
    rule: Rule | None = None,
    fields: dict[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = problem_body(status, detail, rule=rule, fields=fields)
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def violation_problem(error: RuleViolation) -> JSONResponse:
    return problem(status_for(error.rule), error.message, rule=error.rule)


# How every operation documents its refusals in the OpenAPI schema: problem details whatever the
# operation answers with when it succeeds (JSON, a page, a CSV document).
REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": {MEDIA_TYPE: {"schema": Problem.model_json_schema()}}}
    for status, description in {
        400: "The request could not be read (e.g. a cursor or If-Match this API did not give)",
        401: "Not signed in, or the sign-in has expired",
        403: "Your role or sites do not allow it",
        404: "No such case, task or person in your sites",
        409: "Not possible in the case's current state (e.g. someone completed the task first)",
        412: "The case changed since the version in If-Match: read it again",
        413: "The request is too large",
        422: "The input is not valid (per-field messages in `fields`)",
        503: "Cannot be done at the moment: try again after Retry-After seconds",
    }.items()
}

router = APIRouter(prefix="/api")


@router.get(f"{TYPE_PREFIX.removeprefix('/api')}{{rule}}", summary="What a problem type means", responses=REFUSALS)
async def problem_type(rule: str) -> ProblemType:
    named = Rule.named(rule)
    if named is None:
        raise RuleViolation(Rule.NOT_AVAILABLE, "there is no such problem type")
    return ProblemType(
        type=f"{TYPE_PREFIX}{named}",
        title=title_of(named),
        rule=named,
        kind=named.refusal,
        status=status_for(named),
    )
