"""F29: learn who a person is from a FHIR referral: as the receiving service, when the person did not
agree that the services they are referred to may be told; or from the copy the notifications log
keeps on disk. On the real stack (tests/workers/test_fhir_task_poll.py's worker and FHIR receivers).

The delivered Patient carries the NHS number, name and date of birth only with the consent scope
`share_services`; without it, only the person's pseudonymous Pathway id. The log keeps the Bundle as
built from the sealed record, so the database holds none of it in clear either way."""

import json
import uuid
from pathlib import Path

from domain.model import Person
from domain.outcomes import ServiceType
from domain.tasks import TaskKind
from tests.workers.test_fhir_task_poll import HOUSING, Stack, all_sent
from tests.workers.test_fhir_task_poll import receivers as receivers  # the fixtures
from tests.workers.test_fhir_task_poll import stack as stack
from tests.workflows.journey import OUTCOMES, PRACTITIONER, open_case, open_task

NAME, BORN, NHS_NUMBER = "QUINN, Morgan", "1988-02-29", "9434765919"
REASON = "Sleeping in a stairwell since the eviction"


async def referred_with_consent(stack: Stack, scope: list[str]) -> str:
    """A case of a named person, consent given with `scope`, referred to the FHIR housing service."""
    cases = stack.cases
    person = Person(name=NAME, date_of_birth=BORN, nhs_number=NHS_NUMBER)
    state = await cases.start_case(open_case(f"CUST-{uuid.uuid4().hex[:8]}").model_copy(update={"person": person}))
    consent = {"decision": "given", "scope": scope}
    state = await cases.complete_task(open_task(state, TaskKind.CONSENT), consent, PRACTITIONER)
    for kind in (TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION):
        state = await cases.complete_task(open_task(state, kind), OUTCOMES[kind], PRACTITIONER)
    decision = {"referrals": [{"service": str(ServiceType.HOUSING), "service_id": HOUSING, "reason": REASON}]}
    state = await cases.complete_task(open_task(state, TaskKind.REFERRAL_DECISION), decision, PRACTITIONER)
    await all_sent(stack.store, state.case_id)
    return state.case_id


def database_bytes(stack: Stack) -> bytes:
    database = Path(str(stack.store.engine.url.database))
    return b"".join(path.read_bytes() for path in database.parent.glob(database.name + "*"))


async def test_without_consent_to_share_with_services_the_receiver_learns_no_identity(stack: Stack) -> None:
    before = len(stack.east.transactions)
    await referred_with_consent(stack, ["assessment", "share_court"])

    [bundle] = stack.east.transactions[before:]
    [patient] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert [i["system"] for i in patient["identifier"]] == ["https://pathway.example/fhir/Id/person"]
    assert "name" not in patient and "birthDate" not in patient
    text = json.dumps(bundle)
    for value in (NHS_NUMBER, BORN, "QUINN", "Morgan"):
        assert value not in text
    assert REASON in text  # the referral itself is for the service


async def test_with_that_consent_the_receiver_is_told_and_the_disk_still_holds_none_of_it(stack: Stack) -> None:
    before = len(stack.east.transactions)
    await referred_with_consent(stack, ["assessment", "share_court", "share_services"])

    [bundle] = stack.east.transactions[before:]
    [patient] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert {i["value"] for i in patient["identifier"]} >= {NHS_NUMBER}
    assert (patient["name"][0]["family"], patient["birthDate"]) == ("QUINN", BORN)
    # The outbox's copy (and everything else in the database, its WAL included) is sealed.
    on_disk = database_bytes(stack)
    for value in (NHS_NUMBER, BORN, "QUINN", "Morgan", REASON):
        assert value.encode() not in on_disk, value
