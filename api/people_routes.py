"""The API of people across episodes: a person's episodes as the reader may see them, the people a
match task suggests, and linking an episode to a person seen before or undoing a wrong link.

As every route, these hand the signed-in person's request to the service (service/people.py): an
episode outside the reader's sites shows only that it exists, when and in which setting."""

from fastapi import APIRouter, Response

from api.deps import ExpectedVersionDep, PrincipalDep, ServicesDep, set_etag
from api.problems import REFUSALS
from api.schemas import LinkPersonBody, UnlinkPersonBody
from domain.commands import LinkPerson, UnlinkPerson
from domain.state import CaseState
from service.people import Candidate, PersonView

router = APIRouter(prefix="/api", responses=REFUSALS, tags=["people"])


@router.get(
    "/people/{person_or_case}",
    summary="A person (person-..., or the person of case-...) and their episodes as your sites may see them",
)
async def read_person(person_or_case: str, principal: PrincipalDep, services: ServicesDep) -> PersonView:
    """Episodes oldest first. One outside your sites has only its case id, date and setting
    (`in_scope` false); reading it in full is a break-glass read of that case."""
    return await services.pathway.people.show(principal, person_or_case)


@router.get("/tasks/{task_id}/candidates", summary="The people a possible-previous-contact task suggests, side by side")
async def task_candidates(task_id: str, principal: PrincipalDep, services: ServicesDep) -> list[Candidate]:
    """Confirm one by completing the task with `{"same_person_as": "person-..."}`; reject them all
    with `{"same_person_as": null}`."""
    return await services.pathway.people.candidates(principal, task_id)


@router.post(
    "/cases/{case_id}/person-link",
    summary="Record that the case's episode is of a person seen before; answers with the case's new state",
)
async def link_person(
    case_id: str,
    body: LinkPersonBody,
    response: Response,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: ExpectedVersionDep,
) -> CaseState:
    linking = LinkPerson(actor=principal.actor, expected_version=expected, **body.model_dump())
    state = await services.pathway.people.link(principal, case_id, linking)
    set_etag(response, state.version)
    return state


@router.post(
    "/cases/{case_id}/person-unlink",
    summary="Undo a wrong link: the episode is its own person again; answers with the case's new state",
)
async def unlink_person(
    case_id: str,
    body: UnlinkPersonBody,
    response: Response,
    principal: PrincipalDep,
    services: ServicesDep,
    expected: ExpectedVersionDep,
) -> CaseState:
    unlinking = UnlinkPerson(actor=principal.actor, expected_version=expected, reason=body.reason)
    state = await services.pathway.people.unlink(principal, case_id, unlinking)
    set_etag(response, state.version)
    return state
