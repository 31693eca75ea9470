"""Personal data end to end: sealed where it enters, never in plain text in Temporal, the store or
the logs; readable to those allowed; unreadable for good once the person is shredded."""

import base64
import logging
import uuid

import pytest
from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.commands import CloseCase
from domain.errors import RuleViolation
from domain.model import Actor, Person, Role
from domain.outcomes import ClosureOutcome
from domain.personal import SHREDDED
from domain.tasks import TaskKind
from service.staff import StaffCommands
from store import schema
from store.keyring import KeyRing
from store.person_keys import PersonKeys
from store.sealing import Sealer
from store.shredding import shred_person
from tests.conftest import TEST_MASTER_KEYS
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task

ADMIN = Actor(staff_id="ad-001", role=Role.ADMIN)
NAME, ADDRESS, NHS_NUMBER, BORN = "Philippa Quartermaine", "14 Larkspur Row, Easton", "9434765870", "1979-03-14"
NOTE = "Sleeps at the Larkspur night shelter; sister is her carer"
REASON = "Depression worsened since eviction from Larkspur Row"


def secrets_of(reference: str) -> list[str]:
    return [NAME, ADDRESS, NHS_NUMBER, BORN, NOTE, REASON, reference]


def leaks(text: str, values: list[str]) -> list[str]:
    """The values found in `text`, as they are or base64-encoded (as JSON payloads carry them)."""
    found = []
    for value in values:
        encoded = base64.b64encode(value.encode()).decode()
        if value in text or encoded[: len(encoded) - 4] in text:
            found.append(value)
    return found


async def journey(cases: StaffCommands) -> tuple[str, str]:
    """A case through screening, assessment, sharing and a referral, with personal data everywhere."""
    reference = f"CUST/{uuid.uuid4().hex[:8]}"
    person = Person(name=NAME, date_of_birth=BORN, address=ADDRESS, nhs_number=NHS_NUMBER)
    state = await cases.start_case(open_case(reference).model_copy(update={"person": person}))
    state = await cases.complete_task(open_task(state, TaskKind.CONSENT), OUTCOMES[TaskKind.CONSENT], PRACTITIONER)
    screening = {**OUTCOMES[TaskKind.SCREENING], "note": NOTE}
    state = await cases.complete_task(open_task(state, TaskKind.SCREENING), screening, PRACTITIONER)
    assessment = {**OUTCOMES[TaskKind.ASSESSMENT], "answers": {"q1": NOTE}, "safeguarding_actions": [NOTE]}
    state = await cases.complete_task(open_task(state, TaskKind.ASSESSMENT), assessment, PRACTITIONER)
    state = await cases.complete_task(
        open_task(state, TaskKind.SHARE_INFORMATION), OUTCOMES[TaskKind.SHARE_INFORMATION], PRACTITIONER
    )
    decision = {"referrals": [{"service": "mental_health", "reason": REASON, "urgency": "routine"}]}
    state = await cases.complete_task(open_task(state, TaskKind.REFERRAL_DECISION), decision, PRACTITIONER)
    return state.case_id, reference


async def test_no_personal_value_is_in_plain_text_in_temporal_the_store_or_the_logs(
    cases: StaffCommands, temporal_env: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    case_id, reference = await journey(cases)
    values = secrets_of(reference)

    # Temporal, read as the server and its database hold it: without our codec.
    raw = await Client.connect(
        temporal_env.client.service_client.config.target_host, namespace=temporal_env.client.namespace
    )
    histories = ""
    async for execution in raw.list_workflows(f"WorkflowId STARTS_WITH '{case_id}'"):
        history = await raw.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        histories += history.to_json()
        histories += repr(execution.search_attributes) + repr(execution.typed_search_attributes)
        histories += repr(await execution.memo()) if execution.raw_info.memo.fields else ""
    assert case_id in histories  # we did read the case's workflows (the case and its referral)
    assert leaks(histories, values) == []

    # The store, row by row, every table.
    rows = ""
    async with cases.store.engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            rows += repr((await conn.execute(select(table))).all())
    assert case_id in rows
    assert leaks(rows, values) == []

    # Everything logged meanwhile.
    logged = "\n".join(record.getMessage() + repr(record.__dict__) for record in caplog.records)
    assert leaks(logged, values) == []

    # And yet the people allowed read it all.
    state = await cases.sealer.open_for_case(await cases.store.case_state(case_id), case_id)
    assert (state.person.name, state.person.address, state.person.nhs_number) == (NAME, ADDRESS, NHS_NUMBER)
    assert state.person.date_of_birth == BORN and state.external_ref == reference
    assert state.screening is not None and state.screening.note == NOTE
    assert state.assessment is not None and state.assessment.answers == {"q1": NOTE}
    assert state.referrals[0].request.reason == REASON


async def close(cases: StaffCommands, case_id: str) -> None:
    state = await cases.store.case_state(case_id)
    closure = {"reason": "record_made_in_error", "note": NOTE}
    await cases.close_case(case_id, CloseCase(actor=PRACTITIONER, outcome=ClosureOutcome.model_validate(closure)))
    assert (await cases.store.case_state(case_id)).version > state.version


async def test_a_shredded_person_is_unreadable_everywhere_and_the_record_still_verifies(cases: StaffCommands) -> None:
    case_id, _ = await journey(cases)
    recorded = len(await cases.store.read_stream(case_id))
    with pytest.raises(RuleViolation) as still_open:
        await shred_person(cases.store, cases.sealer.keys, case_id, ADMIN, "record made in error")
    assert still_open.value.rule == "case_not_closed"
    # Refused: nothing recorded, and the key still opens the person's data.
    assert len(await cases.store.read_stream(case_id)) == recorded
    assert (await cases.sealer.open_for_case(await cases.store.case_state(case_id), case_id)).person.name == NAME
    await close(cases, case_id)

    done = await shred_person(cases.store, cases.sealer.keys, case_id, ADMIN, "record made in error")
    assert not done.already and done.case_id == case_id and done.person_id.startswith("person-")

    state = await cases.sealer.open_for_case(await cases.store.case_state(case_id), case_id)
    assert (state.person.name, state.person.address, state.person.nhs_number) == (SHREDDED, SHREDDED, SHREDDED)
    assert state.external_ref == SHREDDED and state.person.date_of_birth == SHREDDED
    assert state.screening is not None and state.screening.note == SHREDDED
    assert state.referrals[0].request.reason == SHREDDED
    # What is not personal is all still there, and the record still proves itself.
    assert state.screening.instrument == OUTCOMES[TaskKind.SCREENING]["instrument"]
    assert state.personal_data_shredded_at is not None and state.stage == "closed"
    events = await cases.store.read_stream(case_id)
    assert events[-1].event.type == "PersonalDataShredded" and events[-1].actor == ADMIN
    chain = await cases.store.verify_chain(case_id)
    assert chain.ok and chain.events == len(events)
    assert await cases.store.projection_differences(case_id) == []
    timeline = await cases.sealer.open_for_case(events[0], case_id)
    assert timeline.event.person.name == SHREDDED  # type: ignore[union-attr]

    again = await shred_person(cases.store, cases.sealer.keys, done.person_id, ADMIN, "record made in error")
    assert again.already and len(await cases.store.read_stream(case_id)) == len(events)
    with pytest.raises(RuleViolation) as unknown:
        await shred_person(
            cases.store, cases.sealer.keys, "person-00000000-0000-4000-8000-000000000000", ADMIN, "x y z"
        )
    assert unknown.value.rule == "person_unknown"


async def test_master_keys_rotate_without_rewriting_anything(cases: StaffCommands) -> None:
    case_id, _ = await journey(cases)
    before = [e.model_dump_json() for e in await cases.store.read_stream(case_id)]
    new_master = KeyRing((*TEST_MASTER_KEYS.keys, ("master-2", bytes(range(100, 132)))))
    rotated = PersonKeys(cases.store.engine, new_master)
    assert await rotated.rewrap() >= 1
    # Only the new master key is needed now; the events are exactly as they were.
    only_new = Sealer(PersonKeys(cases.store.engine, KeyRing((new_master.keys[-1],))))
    state = await only_new.open_for_case(await cases.store.case_state(case_id), case_id)
    assert state.person.name == NAME and state.screening is not None and state.screening.note == NOTE
    assert [e.model_dump_json() for e in await cases.store.read_stream(case_id)] == before
