"""The Temporal UI's view of a shredded person. Every payload in the case's raw histories goes to the
codec endpoint the way the UI sends it, with an operator signed in. The codec removes the transport
encryption, so the operator can read the case. The personal fields are still sealed under the
person's own key, and once that key is shredded nothing can open them. (tests/workers/test_personal_data.py
shows the rest: the timeline stays readable apart from the personal fields, and the audit chain
still verifies.)"""

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.session import COOKIE
from domain.commands import OpenCase
from domain.personal import SHREDDED, sealed_for
from service.staff import StaffCommands
from store.sealing import open_leaf
from store.shredding import shred_person
from tests.api.test_codec_endpoint import UI_ORIGIN, as_json, from_json
from tests.workers.test_personal_data import ADMIN, NAME, close, journey, leaks, secrets_of
from workers.codec import ENCODING

SEALED = re.compile(r"sealed:v1:(person-[0-9a-f-]{36}):[A-Za-z0-9_-]+")


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every Payload anywhere in a protobuf message (fields, repeated fields, map values), however deep."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        kind = field.message_type
        assert kind is not None
        if kind.GetOptions().map_entry:
            if kind.fields_by_name["value"].type == FieldDescriptor.TYPE_MESSAGE:
                for item in value.values():
                    yield from payloads_in(item)
        elif field.is_repeated:
            for item in value:
                yield from payloads_in(item)
        else:
            yield from payloads_in(value)


async def raw_payloads(temporal_env: WorkflowEnvironment, case_id: str) -> tuple[set[str], list[Payload]]:
    """The ids of the case's workflows, and every payload in their histories and visibility records
    (search attributes, memo), read as the Temporal server holds them: without our codec."""
    raw = await Client.connect(
        temporal_env.client.service_client.config.target_host, namespace=temporal_env.client.namespace
    )
    executions = []
    for _ in range(100):  # visibility lists the referral child shortly after it starts
        executions = [e async for e in raw.list_workflows(f"WorkflowId STARTS_WITH '{case_id}'")]
        if case_id in {e.id for e in executions} and any("-referral-" in e.id for e in executions):
            break
        await asyncio.sleep(0.1)
    payloads: list[Payload] = []
    for execution in executions:
        payloads += payloads_in(execution.raw_info)
        history = await raw.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        for event in history.events:
            payloads += payloads_in(event)
    return {e.id for e in executions}, payloads


async def decode_as_the_ui(
    api: httpx.AsyncClient, payloads: list[Payload], namespace: str
) -> tuple[str, list[Payload]]:
    """POST the payloads to the codec endpoint the way the Temporal UI does: with the session cookie
    and the UI's origin and namespace. Checks that the decode worked: every encrypted payload comes
    back as JSON, and every other payload (the indexed search attributes) comes back unchanged.
    Returns the response text and the decoded payloads."""
    headers = {"Origin": UI_ORIGIN, "X-Namespace": namespace}
    response = await api.post("/codec/decode", json=as_json(*payloads), headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == UI_ORIGIN
    decoded = from_json(response.json())
    assert len(decoded) == len(payloads)
    for sent, answer in zip(payloads, decoded, strict=True):
        if sent.metadata["encoding"] == ENCODING:
            assert answer.metadata["encoding"] == b"json/plain", answer
            json.loads(answer.data)  # raises unless the payload is JSON
        else:
            assert answer == sent
    assert ENCODING not in {answer.metadata["encoding"] for answer in decoded}
    return response.text, decoded


def text_of(decoded: list[Payload]) -> str:
    return "\n".join(payload.data.decode() for payload in decoded)


def case_openings(decoded: list[Payload]) -> list[OpenCase]:
    """The opening commands among the decoded payloads (the open_case Update's argument: its
    person; the Updates answer with the case's version only, so no whole state is in a history)."""
    openings = []
    for payload in decoded:
        value: Any = json.loads(payload.data) if payload.data else None
        if isinstance(value, dict) and value.keys() >= {"actor", "external_ref", "person", "site"}:
            openings.append(OpenCase.model_validate(value))
    assert openings
    return openings


async def opened(cases: StaffCommands, person_id: str, sealed: set[str]) -> list[Any]:
    """The sealed values as whoever holds the person's key (if any is left) would read them."""
    key = await cases.sealer.keys.data_key(person_id)
    return [SHREDDED if key is None else open_leaf(key, person_id, value) for value in sorted(sealed)]


async def test_the_temporal_ui_cannot_show_a_shredded_persons_data_even_to_a_signed_in_operator(
    api: httpx.AsyncClient, cases: StaffCommands, temporal_env: WorkflowEnvironment
) -> None:
    namespace = temporal_env.client.namespace
    case_id, reference = await journey(cases)
    values = secrets_of(reference)
    await close(cases, case_id)
    person_id = await cases.sealer.keys.person_of(case_id)
    assert person_id is not None
    signed_in = await api.post("/login", data={"staff_id": "op-001"})
    assert signed_in.status_code == 303 and api.cookies.get(COOKIE)

    # Before the shred, the UI gets only sealed values, but the person's key still opens them:
    # the assertions below would find the personal data if it could still be read.
    workflows, before = await raw_payloads(temporal_env, case_id)
    assert case_id in workflows and any(w.startswith(f"{case_id}-referral-") for w in workflows)
    assert sum(payload.metadata["encoding"] == ENCODING for payload in before) >= 20
    answer_before, decoded_before = await decode_as_the_ui(api, before, namespace)
    seen_before = text_of(decoded_before)
    assert leaks(seen_before, values) == [] and leaks(answer_before, values) == []
    sealed_before = {found.group(0) for found in SEALED.finditer(seen_before)}
    assert {sealed_for(value) for value in sealed_before} == {person_id}
    readable = await opened(cases, person_id, sealed_before)
    assert SHREDDED not in readable
    assert leaks(json.dumps(readable), values) == values  # every personal value is behind those seals
    opening_before = case_openings(decoded_before)[-1]
    assert (await cases.sealer.open_for_case(opening_before, case_id)).person.name == NAME

    done = await shred_person(cases.store, cases.sealer.keys, case_id, ADMIN, "record made in error")
    assert not done.already and done.person_id == person_id

    # After the shred, the same histories go through the UI's path again, with the operator still
    # signed in. The codec still removes the transport encryption: the payloads are JSON and show
    # the case and the sealed values. But none of the personal values appear, and the seals no
    # longer open.
    workflows_after, after = await raw_payloads(temporal_env, case_id)
    assert workflows_after == workflows
    answer_after, decoded_after = await decode_as_the_ui(api, after, namespace)
    seen_after = text_of(decoded_after)
    assert case_id in seen_after and f"sealed:v1:{person_id}:" in seen_after
    sealed_after = {found.group(0) for found in SEALED.finditer(seen_after)}
    assert sealed_after >= sealed_before and len(sealed_after) >= len(set(values))
    assert {sealed_for(value) for value in sealed_after} == {person_id}
    assert leaks(seen_after, values) == [] and leaks(answer_after, values) == []
    assert await opened(cases, person_id, sealed_after) == [SHREDDED] * len(sealed_after)
    assert await cases.sealer.keys.data_key(person_id) is None
    for opening in (opening_before, case_openings(decoded_after)[-1]):
        shown = await cases.sealer.open_for_case(opening, case_id)
        assert (shown.person.name, shown.person.address, shown.person.nhs_number) == (SHREDDED,) * 3
        assert shown.person.date_of_birth == SHREDDED and shown.external_ref == SHREDDED
        assert leaks(shown.model_dump_json(), values) == []

    # Nothing the codec shows changed when the key was shredded: the histories never held the
    # personal data in a form that the codec's keys could open.
    _, decoded_again = await decode_as_the_ui(api, before, namespace)
    assert decoded_again == decoded_before
