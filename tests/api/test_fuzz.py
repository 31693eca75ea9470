"""The API fuzzed from its own OpenAPI schema (schemathesis), and hostile input sent by hand.

The fuzz runs the schemathesis CLI in a subprocess against the app served over real HTTP by
`live_server`, in this session's event loop with a real worker and Temporal dev server (the
in-process ASGI transport of schemathesis would run the app in another loop). Every operation of
/openapi.json is fuzzed as a practitioner, as an auditor and with no or a hostile token, from a
fixed seed. A case is opened first, and schemathesis is given its case id, its open task id, its
site and reference as dictionary values, so about half of the generated requests reach a real case.

Checks left out of the fuzz, because they fail for reasons that are not server errors (see
`test_every_answer_the_api_gives_is_documented`, a strict xfail):
  allow_header_conformance  a 405 from /api/cases lists only the methods of the first route that
                            matched the path (Allow: POST, not GET, POST) (ST205)
  positive_data_acceptance  the schema lets an outcome be any object; each task kind has its own
                            outcome model, so {"outcome": {}} is refused with 422 (ST202)
"""

import asyncio
import json
import re
import sysconfig
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest

from domain.model import Role
from domain.tasks import TaskKind
from service.staff import StaffCommands
from tests.api.conftest import AUDIENCE, ISSUER, SECRET, LiveServer, signed, token

SCHEMATHESIS = Path(sysconfig.get_path("scripts")) / "schemathesis"
SEED = 20260601
MAX_EXAMPLES = 25  # per operation; with the coverage and stateful phases, about 650-750 requests a run

PRACTITIONER = token("pr-001", Role.PRACTITIONER)
AUDITOR = token("au-001", Role.AUDITOR)

# What every fuzzed response must pass. `not_a_server_error` is the one that matters: no 5xx, ever.
FUZZ_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "use_after_free",
    "ensure_resource_availability",
)
# Each fails on this API, for the reasons in the module docstring.
UNDOCUMENTED_CHECKS = ("allow_header_conformance", "positive_data_acceptance")


def new_case(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "site": "demo",
        "setting": "custody",
        "source": "custody_staff",
        "external_ref": f"FUZZ/{uuid.uuid4().hex[:8]}",
        "age_band": "adult",
        "person": {"name": "Alex Example"},
    }
    return {**body, **changes}


@dataclass
class Seeded:
    """A real case for the fuzzer to find: its ids go into schemathesis dictionaries."""

    case_id: str
    task_id: str
    external_ref: str


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    body: str


@dataclass
class Run:
    command: list[str]
    exit_code: int
    output: str
    exchanges: list[Exchange]

    def report(self) -> str:
        return f"$ {' '.join(self.command)}\nexit code {self.exit_code}, {len(self.exchanges)} requests\n{self.output}"

    def reached(self, path: str, status: int) -> bool:
        return any(e.path == path and e.status == status for e in self.exchanges)


async def seed_case(server: LiveServer) -> Seeded:
    body = new_case()
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post("/api/cases", json=body, headers=PRACTITIONER)
    assert response.status_code == 201, response.text
    state = response.json()
    [task_id] = [i for i, t in state["tasks"].items() if t["kind"] == TaskKind.CONSENT and t["status"] == "open"]
    return Seeded(case_id=state["case_id"], task_id=task_id, external_ref=str(body["external_ref"]))


def config_file(directory: Path, dictionaries: dict[str, list[str]], parameters: dict[str, tuple[str, float]]) -> Path:
    """A schemathesis.toml: dictionary values each parameter takes with the given probability."""
    lines = ["[cache]", "enabled = false", ""]
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = [{', '.join(json.dumps(v) for v in values)}]", ""]
    lines.append("[parameters]")
    for parameter, (dictionary, probability) in parameters.items():
        lines.append(f'"{parameter}" = {{ dictionary = "{dictionary}", probability = {probability} }}')
    path = directory / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def case_dictionaries(seeded: Seeded) -> tuple[dict[str, list[str]], dict[str, tuple[str, float]]]:
    dictionaries = {
        "case_ids": [seeded.case_id],
        "task_ids": [seeded.task_id],
        "sites": ["demo"],
        "refs": [seeded.external_ref],
        "staff": ["pr-002", "lw-001", "tl-001", "au-001", "nobody"],
    }
    parameters = {
        "path.case_id": ("case_ids", 0.5),
        "path.task_id": ("task_ids", 0.5),
        "query.site": ("sites", 0.5),
        "query.ref": ("refs", 0.5),
        "body.site": ("sites", 0.5),
        "body.assignee": ("staff", 0.5),
    }
    return dictionaries, parameters


def exchanges_in(har_path: Path) -> list[Exchange]:
    har: dict[str, Any] = json.loads(har_path.read_text())
    return [
        Exchange(
            method=entry["request"]["method"],
            path=urlsplit(entry["request"]["url"]).path,
            status=int(entry["response"]["status"]),
            body=str(entry["response"].get("content", {}).get("text", "")),
        )
        for entry in har["log"]["entries"]
    ]


async def schemathesis(
    server: LiveServer, config: Path, checks: tuple[str, ...], headers: dict[str, str], max_examples: int
) -> Run:
    har = config.parent / "requests.har"
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        ",".join(checks),
        "--max-examples",
        str(max_examples),
        "--seed",
        str(SEED),
        # One worker: several threads drive hypothesis into a CPython 3.11 ast.parse race
        # ("AST constructor recursion depth mismatch") that schemathesis reports as errors.
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "har",
        "--report-har-path",
        str(har),
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=config.parent, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=240)
    assert process.returncode is not None
    shown = [part if not part.startswith("Authorization: ") else "Authorization: Bearer <token>" for part in command]
    return Run(shown, process.returncode, output.decode(errors="replace"), exchanges_in(har) if har.exists() else [])


def every_operation_was_fuzzed(run: Run, schema: dict[str, Any]) -> None:
    for template, operations in schema["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
        for method in operations:
            assert any(e.method == method.upper() and pattern.match(e.path) for e in run.exchanges), (
                f"{method.upper()} {template} was never requested\n{run.report()}"
            )


async def api_schema(server: LiveServer) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        schema: dict[str, Any] = (await client.get("/openapi.json")).json()
    assert schema["paths"] and all(path.startswith("/api/") for path in schema["paths"])
    return schema


@pytest.mark.parametrize("who", ["practitioner", "auditor"])
async def test_fuzzing_every_operation_signed_in_finds_no_server_error(
    live_server: LiveServer, tmp_path: Path, who: str
) -> None:
    schema = await api_schema(live_server)
    seeded = await seed_case(live_server)
    config = config_file(tmp_path, *case_dictionaries(seeded))
    headers = PRACTITIONER if who == "practitioner" else AUDITOR
    run = await schemathesis(live_server, config, FUZZ_CHECKS, headers, MAX_EXAMPLES)
    print(run.report())

    assert run.exit_code == 0, run.report()
    assert not [e for e in run.exchanges if e.status >= 500], run.report()
    every_operation_was_fuzzed(run, schema)
    # The fuzzer got past "not found" to the real case and its task.
    if who == "practitioner":
        assert run.reached(f"/api/cases/{seeded.case_id}", 200), run.report()
        assert run.reached(f"/api/tasks/{seeded.task_id}", 200), run.report()
        assert run.reached(f"/api/tasks/{seeded.task_id}/claim", 200), run.report()
    else:
        assert run.reached(f"/api/cases/{seeded.case_id}", 200), run.report()
        assert run.reached(f"/api/cases/{seeded.case_id}/access", 200), run.report()


def hostile_tokens() -> list[str]:
    """Authorization headers that must all be refused with 401."""
    past = datetime.now(UTC) - timedelta(hours=1)
    now = datetime.now(UTC)
    claims = {
        "sub": "pr-001",
        "role": "practitioner",
        "sites": ["demo"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    forged = signed(claims, secret="a-different-secret-just-as-long-as-the-real-one!")
    unsigned = jwt.encode(claims, "", algorithm="none")
    return [
        "",
        "Bearer",
        "Bearer ",
        "Bearer not-a-token",
        "Basic cHItMDAxOnNlY3JldA==",
        f"Bearer {forged}",
        f"Bearer {jwt.encode({**claims, 'iat': past - timedelta(hours=1), 'exp': past}, SECRET, algorithm='HS256')}",
        f"Bearer {unsigned}",
        f"Bearer {jwt.encode({'iss': ISSUER, 'aud': AUDIENCE}, SECRET, algorithm='HS256')}",
        f"Bearer {jwt.encode({**claims, 'role': 'wizard'}, SECRET, algorithm='HS256')}",
        f"Bearer {jwt.encode({**claims, 'sites': 5}, SECRET, algorithm='HS256')}",
        f"Bearer {jwt.encode({**claims, 'iss': 'someone-else'}, SECRET, algorithm='HS256')}",
        f"Bearer {jwt.encode({**claims, 'sub': 'pathway', 'role': 'system'}, SECRET, algorithm='HS256')}",
    ]


def refused_before_sign_in(exchange: Exchange) -> bool:
    """The one refusal that comes before the token is looked at: a method no route has."""
    return exchange.status == 405


async def test_fuzzing_without_a_valid_token_is_always_turned_away(live_server: LiveServer, tmp_path: Path) -> None:
    schema = await api_schema(live_server)
    seeded = await seed_case(live_server)
    dictionaries, parameters = case_dictionaries(seeded)
    dictionaries["tokens"] = hostile_tokens()
    parameters["header.authorization"] = ("tokens", 0.5)  # else schemathesis makes up the header, or leaves it out
    config = config_file(tmp_path, dictionaries, parameters)
    run = await schemathesis(live_server, config, FUZZ_CHECKS, {}, MAX_EXAMPLES)
    print(run.report())

    assert run.exit_code == 0, run.report()
    every_operation_was_fuzzed(run, schema)
    let_through = [e for e in run.exchanges if e.status != 401 and not refused_before_sign_in(e)]
    assert not let_through, f"{let_through}\n{run.report()}"
    assert sum(e.status == 401 for e in run.exchanges) > len(run.exchanges) // 2, run.report()


@pytest.mark.xfail(
    strict=True,
    reason="a 405 on /api/cases says `Allow: POST` though GET is allowed too (ST205); the schema accepts any "
    'outcome object, while each task kind refuses {"outcome": {}} with 422 (ST202): the outcome\'s model '
    "depends on the task's kind, which the schema of one endpoint cannot say",
)
async def test_every_answer_the_api_gives_is_documented(live_server: LiveServer, tmp_path: Path) -> None:
    seeded = await seed_case(live_server)
    config = config_file(tmp_path, *case_dictionaries(seeded))
    run = await schemathesis(live_server, config, UNDOCUMENTED_CHECKS, PRACTITIONER, max_examples=5)
    assert run.exit_code == 0, run.report()


# Hostile input by hand, over ASGI: each is refused with a 4xx that says what was wrong, in JSON,
# and nothing is recorded.


async def test_a_body_that_is_not_json_is_refused_in_json(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    before = len(await cases.store.list_cases())
    json_headers = {**PRACTITIONER, "Content-Type": "application/json"}
    for raw, status in [
        (b"{not json", 422),
        (b"", 422),
        (b'{"site": "demo",', 422),
        (b'{"site": "\xc3\x28"}', 400),  # not UTF-8
        (b"[" * 100_000 + b"]" * 100_000, 400),  # deeper than the parser recurses
    ]:
        response = await api.post("/api/cases", content=raw, headers=json_headers)
        assert response.status_code == status, (raw[:20], response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert isinstance(response.json()["detail"], str) and response.json()["detail"], response.text
    malformed = await api.post("/api/cases", content=b"{not json", headers=json_headers)
    assert "JSON decode error" in malformed.json()["detail"]
    assert len(await cases.store.list_cases()) == before


async def test_a_100_kb_field_is_refused_naming_the_field(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    before = len(await cases.store.list_cases())
    huge = "X" * 100_000
    for body, field in [
        (new_case(external_ref=huge), "external_ref"),
        (new_case(person={"name": huge}), "person.name"),
        (new_case(person={"address": huge}), "person.address"),
        (new_case(site=huge), "site"),
    ]:
        response = await api.post("/api/cases", json=body, headers=PRACTITIONER)
        assert response.status_code == 422, (field, response.text[:300])
        assert field in response.json()["fields"] and field in response.json()["detail"], response.text[:300]
        assert huge not in response.text  # the refusal does not echo the input back
    long = "X" * 50_000  # in a URL (httpx sends at most 64 KB of one), and a reference in a body
    response = await api.get(f"/api/cases/case-{long}", headers=PRACTITIONER)
    assert response.status_code == 404, response.text[:300]
    found = await api.post("/api/cases/by-reference", json={"site": "demo", "ref": long}, headers=PRACTITIONER)
    assert found.status_code == 422 and "ref" in found.json()["fields"], found.text[:300]
    assert len(await cases.store.list_cases()) == before


async def test_an_unknown_inbox_view_is_refused(api: httpx.AsyncClient) -> None:
    for view in ["everything", "", "MINE", "mine\x00", "../team"]:
        response = await api.get("/api/tasks", params={"view": view}, headers=PRACTITIONER)
        assert response.status_code == 422, (view, response.text)
        assert "view" in response.json()["fields"], response.text
    assert (await api.get("/api/tasks", params={"view": "mine"}, headers=PRACTITIONER)).status_code == 200


async def test_a_body_that_is_not_an_object_is_refused(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    cases_before = len(await cases.store.list_cases())
    opened = await api.post("/api/cases", json=new_case(), headers=PRACTITIONER)
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    [task_id] = list(opened.json()["tasks"])
    events = len(await cases.store.read_stream(case_id))
    for url, good in [
        ("/api/cases", new_case()),
        (f"/api/tasks/{task_id}/complete", {"outcome": {"decision": "given", "scope": ["assessment"]}}),
        (f"/api/tasks/{task_id}/reassign", {"assignee": "pr-002"}),
    ]:
        for value in [[good], [], None, "text", 42, True]:
            response = await api.post(url, json=value, headers=PRACTITIONER)
            assert response.status_code == 422, (url, value, response.text)
            assert response.json()["detail"].startswith("the input is not valid"), response.text
    # Inside the body, the wrong shape is refused just the same.
    for outcome in [[], "given", None, [{"decision": "given"}]]:
        response = await api.post(f"/api/tasks/{task_id}/complete", json={"outcome": outcome}, headers=PRACTITIONER)
        assert response.status_code == 422 and "outcome" in response.json()["fields"], response.text
    for person in [["Alex"], "Alex", 7]:
        response = await api.post("/api/cases", json=new_case(person=person), headers=PRACTITIONER)
        assert response.status_code == 422 and "person" in response.json()["fields"], response.text
    assert len(await cases.store.list_cases()) == cases_before + 1
    assert len(await cases.store.read_stream(case_id)) == events


async def test_text_that_is_not_valid_unicode_is_refused(api: httpx.AsyncClient, cases: StaffCommands) -> None:
    before = len(await cases.store.list_cases())
    # A lone surrogate is legal in JSON text but cannot be stored or sent on: refused, not a 500.
    raw = json.dumps(new_case(person={"name": "PLACEHOLDER"})).replace("PLACEHOLDER", "\\ud800").encode()
    response = await api.post("/api/cases", content=raw, headers={**PRACTITIONER, "Content-Type": "application/json"})
    assert response.status_code == 422 and "person.name" in response.json()["fields"], response.text
    for path in ["/api/cases/%ED%A0%80", "/api/cases/%FF%FE", "/api/tasks/%00"]:
        refused = await api.get(path, headers=PRACTITIONER)
        assert refused.status_code == 404, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    assert len(await cases.store.list_cases()) == before
