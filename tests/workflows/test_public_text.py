"""The Temporal UI's texts of a case travel unencrypted (so operators read them without the codec), and
nothing else does: inputs, update arguments, results, memo and failures stay encrypted, and no
personal value of a case, whatever it is, reaches a public payload."""

import json
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

from google.protobuf.message import Message
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import Client
from temporalio.common import RawValue
from temporalio.converter import DataConverter

from domain.model import Person, Stage
from domain.tasks import TaskKind
from service.staff import StaffCommands
from tests.workflows.journey import JOURNEY, OUTCOMES, PRACTITIONER, open_case, open_task
from workers.codec import ENCODING
from workers.payload_converter import is_public
from workflows.referral_workflow import referral_workflow_id

# Payloads the codec never sees, by design: search attributes (indexed by the server, no personal
# data: workflows/search_attributes.py) and the SDK's own patch markers.
UNCODED = ("search_attributes", "marker_recorded_event_attributes")
CHILD_STARTED = EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED


def payloads_in(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every payload anywhere in a protobuf message, with the field path that leads to it."""
    if isinstance(message, Payload):
        yield path, message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        where = f"{path}.{field.name}"
        if field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                if isinstance(item, Message):
                    yield from payloads_in(item, f"{where}[{key}]")
        elif field.is_repeated:
            for index, item in enumerate(value):
                yield from payloads_in(item, f"{where}[{index}]")
        else:
            yield from payloads_in(value, where)


def without_codec(client: Client) -> Client:
    """The same server as the Temporal UI without the codec sees it: payloads as they are stored."""
    config = client.config()
    config["data_converter"] = DataConverter.default
    return Client(**config)


async def ui_metadata_payload(client: Client, workflow_id: str) -> Payload:
    """The raw answer to the UI's metadata query, which carries the current details."""
    raw = (
        await without_codec(client)
        .get_workflow_handle(workflow_id)
        .query("__temporal_workflow_metadata", result_type=RawValue)
    )
    assert isinstance(raw, RawValue)
    return raw.payload


async def journey_with(cases: StaffCommands, person: Person, ref: str, note: str) -> str:
    """A case of `person` through the standard journey to closure, their `note` written in its outcomes."""
    state = await cases.start_case(open_case(ref).model_copy(update={"person": person}))
    outcomes: dict[TaskKind, dict[str, Any]] = {
        **OUTCOMES,
        TaskKind.SCREENING: {**OUTCOMES[TaskKind.SCREENING], "note": note},
        TaskKind.SHARE_INFORMATION: {
            "disclosures": [{**OUTCOMES[TaskKind.SHARE_INFORMATION]["disclosures"][0], "summary": note}]
        },
    }
    for kind in JOURNEY:
        state = await cases.complete_task(open_task(state, kind), outcomes[kind], PRACTITIONER)
    assert state.stage is Stage.CLOSED
    return state.case_id


async def test_the_ui_texts_are_public_and_every_other_payload_is_encrypted(cases: StaffCommands) -> None:
    case_id = await journey_with(
        cases, Person(name="Orla Penhaligon", date_of_birth="1988-02-29"), f"CUST-{uuid.uuid4().hex[:8]}", "note"
    )
    history = History(events=(await cases.client.get_workflow_handle(case_id).fetch_history()).events)
    public: dict[EventType.ValueType, list[str]] = {}
    encrypted = 0
    for event in history.events:
        for path, payload in payloads_in(event):
            if any(part in path for part in UNCODED):
                continue
            # A child workflow's summary is the child's, not the case's: encrypted like the rest.
            if path.startswith(".user_metadata") and event.event_type != CHILD_STARTED:
                assert is_public(payload) and payload.metadata["encoding"] == b"json/plain", (event, path)
                public.setdefault(event.event_type, []).append(json.loads(payload.data))
            else:
                assert payload.metadata["encoding"] == ENCODING and not is_public(payload), (event, path)
                encrypted += 1
    assert public[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED][0] == "L&D case at demo (custody)"
    assert public[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED][1].startswith("Site: demo\nSetting: custody")
    activities = public[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    assert activities[0] == "record CaseOpened, StageEntered, TaskOpened"
    assert all(text.startswith("record ") for text in activities)
    timers = public[EventType.EVENT_TYPE_TIMER_STARTED]
    assert timers[0] == "reminder: consent due soon"
    assert timers[-1] == "referral sends under way when the case closed"
    # Inputs, update arguments and results, the activities' too: all there, all encrypted.
    assert encrypted >= 3 * len(JOURNEY)
    failures = [event for event in history.events if event.HasField("activity_task_failed_event_attributes")]
    for event in failures:
        assert event.activity_task_failed_event_attributes.failure.message == "Encoded failure"

    # The UI's metadata query: the case's current details in the clear; a referral's stay encrypted.
    metadata = await ui_metadata_payload(cases.client, case_id)
    assert is_public(metadata) and metadata.metadata["encoding"] == b"json/protobuf"
    assert json.loads(metadata.data)["currentDetails"].startswith("stage: closed · site: demo · setting: custody")
    state = await cases.store.case_state(case_id)
    referral = await ui_metadata_payload(cases.client, referral_workflow_id(case_id, state.referrals[0].referral_id))
    assert referral.metadata["encoding"] == ENCODING and not is_public(referral)


NAMES = st.from_regex(r"[A-Z][a-z]{5,12} [A-Z][a-z]{5,12}", fullmatch=True)
DATES = st.dates(min_value=date(1930, 1, 1), max_value=date(2008, 12, 31))
WORDS = st.from_regex(r"[a-z]{6,12}( [a-z]{6,12}){2,5}", fullmatch=True)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(name="Philippa Quennell", born="1979-06-23", street="Larkspur Crescent", note="prefers afternoon visits")
@given(name=NAMES, born=DATES.map(str), street=WORDS, note=WORDS)
async def test_no_personal_value_reaches_a_public_payload(
    cases: StaffCommands, name: str, born: str, street: str, note: str
) -> None:
    ref = f"REF-{uuid.uuid4().hex[:10]}"
    person = Person(name=name, date_of_birth=born, address=f"17 {street}\nLeeds")
    case_id = await journey_with(cases, person, ref, note)
    history = History(events=(await cases.client.get_workflow_handle(case_id).fetch_history()).events)
    public = [p for _, p in payloads_in(history) if is_public(p)] + [await ui_metadata_payload(cases.client, case_id)]
    assert len(public) > len(JOURNEY)
    personal = [name, *name.split(), born, street, note, ref]
    for payload in public:
        for value in personal:
            assert value.encode() not in payload.SerializeToString(), (value, payload)
    # And in the clear nowhere else either: every other payload is encrypted.
    stored = history.SerializeToString()
    for value in personal:
        assert value.encode() not in stored, value
