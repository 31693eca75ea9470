"""F30: a custody or court reference in an API URL. The web's find-by-reference posted the reference
since F18, but the API's was `GET /api/cases/by-reference?site=...&ref=...`: every client's reference
went into the access logs of the proxies between it and Pathway (and a browser's history, for a
client in one). Now the reference is posted in a JSON body; a GET with it in the query string is
refused (405, Allow: POST) without reading or recording anything, and no operation of the API takes
a reference as a query parameter."""

import uuid

import httpx

from service.staff import StaffCommands
from tests.api.conftest import token
from tests.security.test_f20_api_case_commands_scope import recorded
from tests.workflows.journey import PRACTITIONER, open_case

DEMO_PRACTITIONER = token(PRACTITIONER.staff_id)
PERSONAL_WORDS = ("ref", "nhs", "name", "birth", "reason", "purpose", "note")


async def test_f30_a_reference_in_the_query_string_is_refused_and_read_nowhere(
    api: httpx.AsyncClient, cases: StaffCommands
) -> None:
    reference = f"DEMO/{uuid.uuid4().hex[:8]}"
    state = await cases.start_case(open_case(reference))
    before = await recorded(cases, state.case_id)

    in_url = await api.get(
        "/api/cases/by-reference", params={"site": "demo", "ref": reference}, headers=DEMO_PRACTITIONER
    )

    assert in_url.status_code == 405 and in_url.headers["allow"] == "POST", in_url.text
    assert in_url.headers["content-type"] == "application/problem+json"
    assert "POST" in in_url.json()["detail"] and "body" in in_url.json()["detail"]
    assert reference not in in_url.text and state.case_id not in in_url.text
    assert await recorded(cases, state.case_id) == before  # not read: no access row

    posted = await api.post(
        "/api/cases/by-reference", json={"site": "demo", "ref": reference}, headers=DEMO_PRACTITIONER
    )
    assert posted.status_code == 200, posted.text
    assert posted.json()["state"]["case_id"] == state.case_id
    assert reference not in str(posted.request.url)
    assert posted.headers["etag"] == f'"{posted.json()["state"]["version"]}"'


async def test_f30_f31_no_operation_takes_a_reference_or_what_is_written_in_its_query(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/openapi.json")).json()
    query_parameters = {
        (method.upper(), path, parameter["name"])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query"
    }
    assert query_parameters, "the schema lists no query parameters at all: the check would prove nothing"
    # References (F30), and what people write about a person: break-glass reasons and export purposes (F31).
    personal = {p for p in query_parameters if any(word in p[2].lower() for word in PERSONAL_WORDS)}
    assert personal == set()
    assert "post" in schema["paths"]["/api/cases/by-reference"]
    assert "get" not in schema["paths"]["/api/cases/by-reference"]
