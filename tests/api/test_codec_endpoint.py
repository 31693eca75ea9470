"""The codec endpoint (api/codec.py) the Temporal UI and CLI call: decoding and encoding for operators only,
refusals that leak nothing, CORS for the Temporal UI alone, and the real Temporal CLI reading a case's
history through it."""

import asyncio
import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.testing import WorkflowEnvironment

from api.limits import MAX_BODY_BYTES, MAX_CODEC_BODY_BYTES
from api.session import COOKIE
from domain.model import Person, Role
from store.keyring import KeyRing
from tests.api.conftest import LiveServer, token
from tests.conftest import TEST_PAYLOAD_KEYS
from tests.workflows.journey import open_case
from workers.binaries import installed_binary
from workers.codec import KEY_ID, EncryptionCodec

OPERATOR = token("op-001", Role.OPERATOR)
UI_ORIGIN = "http://localhost:8233"
SECRET_TEXT = b'{"name": "Alex Example", "nhs_number": "9434765919"}'
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=SECRET_TEXT)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def as_json(*payloads: Payload) -> dict[str, Any]:
    """The body the Temporal UI sends: metadata values and data in base64."""
    return {
        "payloads": [
            {"metadata": {key: b64(value) for key, value in p.metadata.items()}, "data": b64(p.data)} for p in payloads
        ]
    }


def from_json(body: dict[str, Any]) -> list[Payload]:
    assert set(body) == {"payloads"}, body
    payloads = []
    for item in body["payloads"]:
        assert set(item) <= {"metadata", "data"}, item
        metadata = {key: unb64(value) for key, value in item.get("metadata", {}).items()}
        payloads.append(Payload(metadata=metadata, data=unb64(item.get("data", ""))))
    return payloads


async def sealed(*payloads: Payload, keys: KeyRing = TEST_PAYLOAD_KEYS) -> list[Payload]:
    return await EncryptionCodec(keys).encode(payloads)


def leaks_nothing(text: str) -> None:
    for secret in ("Alex Example", "9434765919", b64(SECRET_TEXT)):
        assert secret not in text, text


# --- operators decode and encode -------------------------------------------------------------------


async def test_an_operator_decodes_payloads_into_the_shape_the_ui_expects(api: httpx.AsyncClient) -> None:
    other = Payload(metadata={"encoding": b"binary/plain", "extra": b"\x00\xff"}, data=bytes(range(256)))
    body = as_json(*await sealed(PLAIN, other))
    assert b"Alex Example" not in json.dumps(body).encode()
    response = await api.post("/codec/decode", json=body, headers=OPERATOR)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    answer = response.json()
    assert answer == {
        "payloads": [
            {"metadata": {"encoding": b64(b"json/plain")}, "data": b64(SECRET_TEXT)},
            {"metadata": {"encoding": b64(b"binary/plain"), "extra": b64(b"\x00\xff")}, "data": b64(bytes(range(256)))},
        ]
    }
    assert from_json(answer) == [PLAIN, other]


async def test_encode_then_decode_round_trips(api: httpx.AsyncClient) -> None:
    encoded = await api.post("/codec/encode", json=as_json(PLAIN), headers=OPERATOR)
    assert encoded.status_code == 200, encoded.text
    leaks_nothing(encoded.text)
    [cipher] = from_json(encoded.json())
    assert dict(cipher.metadata) == {"encoding": b"binary/encrypted", KEY_ID: TEST_PAYLOAD_KEYS.current_id.encode()}
    assert await EncryptionCodec(TEST_PAYLOAD_KEYS).decode([cipher]) == [PLAIN]

    decoded = await api.post("/codec/decode", json=encoded.json(), headers=OPERATOR)
    assert decoded.status_code == 200, decoded.text
    assert from_json(decoded.json()) == [PLAIN]


async def test_payloads_under_an_older_key_and_plain_ones_decode(api: httpx.AsyncClient) -> None:
    old_ring = KeyRing((TEST_PAYLOAD_KEYS.keys[0],))
    [old] = await sealed(PLAIN, keys=old_ring)
    assert old.metadata[KEY_ID] == b"test-old"
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"never encrypted"')
    response = await api.post("/codec/decode", json=as_json(old, plain), headers=OPERATOR)
    assert response.status_code == 200, response.text
    assert from_json(response.json()) == [PLAIN, plain]


async def test_the_session_cookie_of_an_operator_works(api: httpx.AsyncClient) -> None:
    body = as_json(*await sealed(PLAIN))
    signed_in = await api.post("/login", data={"staff_id": "op-001"})
    assert signed_in.status_code == 303 and api.cookies.get(COOKIE)
    response = await api.post("/codec/decode", json=body)
    assert response.status_code == 200, response.text
    assert from_json(response.json()) == [PLAIN]


async def test_the_session_cookie_of_a_practitioner_is_refused(api: httpx.AsyncClient) -> None:
    body = as_json(*await sealed(PLAIN))
    assert (await api.post("/login", data={"staff_id": "pr-001"})).status_code == 303
    response = await api.post("/codec/decode", json=body)
    assert response.status_code == 403
    leaks_nothing(response.text)


# --- refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["decode", "encode"])
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic b3A6b3A="}, {"Authorization": "Bearer "}],
)
async def test_without_a_valid_sign_in_the_answer_is_401(
    api: httpx.AsyncClient, operation: str, headers: dict[str, str]
) -> None:
    body = as_json(*await sealed(PLAIN)) if operation == "decode" else as_json(PLAIN)
    response = await api.post(f"/codec/{operation}", json=body, headers=headers)
    assert response.status_code == 401, response.text
    assert "error" in response.json() and "payloads" not in response.json()
    leaks_nothing(response.text)


@pytest.mark.parametrize("operation", ["decode", "encode"])
@pytest.mark.parametrize(
    ("staff_id", "role"),
    [
        ("pr-001", Role.PRACTITIONER),
        ("au-001", Role.AUDITOR),
        ("lw-001", Role.LINK_WORKER),
        ("tl-001", Role.TEAM_LEAD),
        ("ad-001", Role.ADMIN),
    ],
)
async def test_other_roles_are_refused_with_403(
    api: httpx.AsyncClient, operation: str, staff_id: str, role: Role
) -> None:
    body = as_json(*await sealed(PLAIN)) if operation == "decode" else as_json(PLAIN)
    response = await api.post(f"/codec/{operation}", json=body, headers=token(staff_id, role))
    assert response.status_code == 403, response.text
    answer = response.json()
    assert answer["rule"] == "role_not_allowed" and "decode Temporal payloads" in answer["error"]
    assert "payloads" not in answer
    leaks_nothing(response.text)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{",
        b'{"payloads": [1]}',
        b'{"payloads": {}}',
        b'{"something": "else"}',
        b"null",
        b'{"payloads": [{"data": 5}]}',
        b'{"payloads": [{"metadata": {"encoding": 7}}]}',
        b"\xff\xfe\x00",
    ],
)
async def test_a_body_that_is_not_payloads_is_400(api: httpx.AsyncClient, body: bytes) -> None:
    response = await api.post("/codec/decode", content=body, headers={**OPERATOR, "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert "the body is not a list of payloads" in response.json()["error"]


@pytest.mark.parametrize("position", [0, 12, -1])
async def test_tampered_ciphertext_is_422_and_leaks_nothing(api: httpx.AsyncClient, position: int) -> None:
    [cipher] = await sealed(PLAIN)
    data = bytearray(cipher.data)
    data[position] ^= 0x80
    tampered = Payload(metadata=dict(cipher.metadata), data=bytes(data))
    response = await api.post("/codec/decode", json=as_json(tampered), headers=OPERATOR)
    assert response.status_code == 422, response.text
    assert "altered" in response.json()["error"]
    leaks_nothing(response.text)


async def test_a_relabelled_key_id_is_422(api: httpx.AsyncClient) -> None:
    [cipher] = await sealed(PLAIN)
    relabelled = Payload(metadata={**cipher.metadata, KEY_ID: b"test-old"}, data=cipher.data)
    response = await api.post("/codec/decode", json=as_json(relabelled), headers=OPERATOR)
    assert response.status_code == 422, response.text
    assert "altered" in response.json()["error"]
    leaks_nothing(response.text)


async def test_a_payload_under_an_unknown_key_is_422(api: httpx.AsyncClient) -> None:
    [foreign] = await sealed(PLAIN, keys=KeyRing((("elsewhere", bytes(32)),)))
    [ours] = await sealed(PLAIN)
    response = await api.post("/codec/decode", json=as_json(ours, foreign), headers=OPERATOR)
    assert response.status_code == 422, response.text
    assert "no key 'elsewhere'" in response.json()["error"]
    assert "payloads" not in response.json()
    leaks_nothing(response.text)


async def test_ciphertext_cut_to_a_few_bytes_is_422(api: httpx.AsyncClient) -> None:
    [cipher] = await sealed(PLAIN)
    short = Payload(metadata=dict(cipher.metadata), data=cipher.data[:4])
    response = await api.post("/codec/decode", json=as_json(short), headers=OPERATOR)
    assert response.status_code == 422


async def test_a_key_id_that_is_not_text_is_422(api: httpx.AsyncClient) -> None:
    [cipher] = await sealed(PLAIN)
    garbled = Payload(metadata={**cipher.metadata, KEY_ID: b"\xff\xfe"}, data=cipher.data)
    response = await api.post("/codec/decode", json=as_json(garbled), headers=OPERATOR)
    assert response.status_code == 422


# --- CORS for the Temporal UI ----------------------------------------------------------------------


def assert_cors_for_ui(response: httpx.Response) -> None:
    assert response.headers.get("access-control-allow-origin") == UI_ORIGIN
    assert response.headers.get("access-control-allow-credentials") == "true"
    assert "origin" in response.headers.get("vary", "").lower()


def assert_no_cors(response: httpx.Response) -> None:
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize("operation", ["decode", "encode"])
async def test_the_preflight_from_the_ui_is_allowed(api: httpx.AsyncClient, operation: str) -> None:
    response = await api.options(
        f"/codec/{operation}",
        headers={
            "Origin": UI_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        },
    )
    assert response.status_code == 204
    assert_cors_for_ui(response)
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed_headers = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-namespace"} <= allowed_headers


@pytest.mark.parametrize("origin", ["http://evil.example", "http://localhost:8234", "https://localhost:8233"])
async def test_other_origins_get_no_cors_headers(api: httpx.AsyncClient, origin: str) -> None:
    preflight = await api.options("/codec/decode", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    assert_no_cors(preflight)
    body = as_json(*await sealed(PLAIN))
    answered = await api.post("/codec/decode", json=body, headers={**OPERATOR, "Origin": origin})
    assert answered.status_code == 200  # the server answers; the browser keeps it from the other origin
    assert_no_cors(answered)
    refused = await api.post("/codec/decode", json=body, headers={"Origin": origin})
    assert refused.status_code == 401
    assert_no_cors(refused)


async def test_no_origin_gets_no_cors_headers(api: httpx.AsyncClient) -> None:
    response = await api.post("/codec/decode", json=as_json(*await sealed(PLAIN)), headers=OPERATOR)
    assert response.status_code == 200
    assert_no_cors(response)


async def test_answers_to_the_ui_carry_cors_headers_refusals_included(api: httpx.AsyncClient) -> None:
    ui = {"Origin": UI_ORIGIN}
    body = as_json(*await sealed(PLAIN))

    unauthenticated = await api.post("/codec/decode", json=body, headers=ui)
    assert unauthenticated.status_code == 401
    assert_cors_for_ui(unauthenticated)
    leaks_nothing(unauthenticated.text)

    forbidden = await api.post("/codec/decode", json=body, headers={**ui, **token("pr-001", Role.PRACTITIONER)})
    assert forbidden.status_code == 403
    assert_cors_for_ui(forbidden)

    bad = await api.post("/codec/decode", content=b"nonsense", headers={**ui, **OPERATOR})
    assert bad.status_code == 400
    assert_cors_for_ui(bad)

    [foreign] = await sealed(PLAIN, keys=KeyRing((("elsewhere", bytes(32)),)))
    unknown = await api.post("/codec/decode", json=as_json(foreign), headers={**ui, **OPERATOR})
    assert unknown.status_code == 422
    assert_cors_for_ui(unknown)

    decoded = await api.post("/codec/decode", json=body, headers={**ui, **OPERATOR})
    assert decoded.status_code == 200
    assert_cors_for_ui(decoded)
    assert from_json(decoded.json()) == [PLAIN]


async def test_the_codec_takes_payloads_as_large_as_temporal_allows(api: httpx.AsyncClient) -> None:
    big = Payload(metadata={"encoding": b"binary/plain"}, data=bytes(MAX_BODY_BYTES))  # past the API's own cap
    response = await api.post("/codec/decode", json=as_json(big), headers={"Origin": UI_ORIGIN, **OPERATOR})
    assert response.status_code == 200
    assert_cors_for_ui(response)
    too_big = Payload(metadata={"encoding": b"binary/plain"}, data=bytes(MAX_CODEC_BODY_BYTES))
    refused = await api.post("/codec/decode", json=as_json(too_big), headers={"Origin": UI_ORIGIN, **OPERATOR})
    assert refused.status_code == 413 and "at most 4096 KB" in refused.json()["detail"]


# --- the Temporal CLI reads histories through the endpoint -----------------------------------------

NAME = "Zed Codec-Test"


ENCRYPTED_B64 = b64(b"binary/encrypted")


async def temporal_cli(*args: str) -> tuple[int, str, str]:
    """Run the Temporal CLI without blocking the event loop the live server answers in."""
    process = await asyncio.create_subprocess_exec(
        installed_binary("temporal"),
        *args,
        "--disable-config-file",
        "--disable-config-env",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode is not None
    return process.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace")


def payloads_in(output: str) -> list[tuple[str, bytes, bytes]]:
    """Every payload in the CLI's JSON output, as (where, encoding, data), both base64-decoded."""
    found: list[tuple[str, bytes, bytes]] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("metadata"), dict) and "encoding" in node["metadata"]:
                found.append((where, unb64(node["metadata"]["encoding"]), unb64(node.get("data", ""))))
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]")

    walk(json.loads(output), "")
    return found


def coded(found: list[tuple[str, bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The payloads that go through the codec: all but search attributes, which the server must index,
    patch markers, whose details the SDK writes without the codec (a change's name, no person's data),
    and the case's Temporal UI texts, public by design (tests/workflows/test_public_text.py)."""
    return [
        (encoding, data)
        for where, encoding, data in found
        if not any(
            part in where for part in (".searchAttributes.", ".markerRecordedEventAttributes.", ".userMetadata.")
        )
    ]


def names_in(payload_data: bytes) -> set[str]:
    """The person names in a JSON payload, wherever they are nested."""
    names: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            person = node.get("person")
            if isinstance(person, dict) and isinstance(person.get("name"), str):
                names.add(person["name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(payload_data))
    return names


async def test_the_temporal_cli_shows_payloads_through_the_codec_with_personal_fields_still_sealed(
    live_server: LiveServer, temporal_env: WorkflowEnvironment
) -> None:
    command = open_case(f"CODEC/{uuid.uuid4().hex[:8]}").model_copy(update={"person": Person(name=NAME)})
    state = await live_server.cases.start_case(command)
    client = temporal_env.client
    show = [
        "workflow", "show", "--workflow-id", state.case_id,
        "--address", client.service_client.config.target_host, "--namespace", client.namespace, "--output", "json",
    ]  # fmt: skip
    codec = ["--codec-endpoint", f"{live_server.url}/codec"]

    # Without the codec: ciphertext only, every payload encrypted, the name nowhere.
    code, raw, errors = await temporal_cli(*show)
    assert code == 0, errors
    assert NAME not in raw and b64(NAME.encode()) not in raw
    assert ENCRYPTED_B64 in raw
    everything = payloads_in(raw)
    assert not any(NAME.encode() in data for _, _, data in everything)
    encrypted = coded(everything)
    assert len(encrypted) >= 3
    assert {encoding for encoding, _ in encrypted} == {b"binary/encrypted"}

    # Through the codec endpoint as an operator: the payloads are JSON again, so the operator sees the
    # case's site and stage, but the person's name is still sealed under the person's own key.
    code, decoded, errors = await temporal_cli(*show, *codec, "--codec-auth", OPERATOR["Authorization"])
    assert code == 0, errors
    plain = coded(payloads_in(decoded))
    assert len(plain) >= len(encrypted)
    assert b"binary/encrypted" not in {encoding for encoding, _ in plain}
    assert ENCRYPTED_B64 not in decoded
    names = {name for encoding, data in plain if encoding == b"json/plain" for name in names_in(data)}
    assert names and all(name.startswith("sealed:v1:person-") for name in names)
    assert not any(NAME.encode() in data for _, data in plain)
    assert any(b'"site":"demo"' in data.replace(b" ", b"") for _, data in plain)

    # With a practitioner's token the endpoint refuses, and the CLI shows nothing of the person.
    practitioner = token("pr-001", Role.PRACTITIONER)["Authorization"]
    code, refused, errors = await temporal_cli(*show, *codec, "--codec-auth", practitioner, "--command-timeout", "30s")
    assert code != 0
    assert NAME not in refused + errors and b64(NAME.encode()) not in refused + errors
    if refused.strip().startswith("{"):  # whatever history it printed before failing: still ciphertext
        assert not any(NAME.encode() in data for _, _, data in payloads_in(refused))
