"""A master key taken out of the ring while data keys are still wrapped under it: the API and pages
answer 503 with words a person understands, not a 500, and the operators get the detail in the log."""

import dataclasses
import uuid

from structlog.testing import capture_logs

from api.app import create_app
from domain.model import Role
from service.staff import StaffCommands
from store.keyring import KeyRing
from store.person_keys import PersonKeys
from store.sealing import Sealer
from tests.api.conftest import api_client, services_for, token
from tests.workflows.journey import open_case

OTHER_MASTER = KeyRing.parse("master-2 " + "A" * 43 + "=")


async def test_personal_data_that_cannot_be_opened_is_a_503_not_a_crash(cases: StaffCommands) -> None:
    state = await cases.start_case(open_case(f"CUST-{uuid.uuid4().hex[:6]}"))
    # The same service, but its master key ring has lost the key the person's data key is wrapped under.
    keyless_service = dataclasses.replace(cases.service, sealer=Sealer(PersonKeys(cases.store.engine, OTHER_MASTER)))
    keyless = dataclasses.replace(cases, pathway=dataclasses.replace(cases.pathway, cases=keyless_service))
    practitioner = token("pr-001", Role.PRACTITIONER)
    async with api_client(create_app(services_for(keyless))) as api:
        with capture_logs() as logged:
            answer = await api.get(f"/api/cases/{state.case_id}", headers=practitioner)
        assert answer.status_code == 503 and answer.headers["retry-after"] == "300"
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json() == {
            "type": "/api/problems/keys_unavailable",
            "title": "Keys unavailable",
            "status": 503,
            "detail": "Personal data cannot be opened at the moment: a key is missing on the server. "
            "The operators have been alerted in the service log; please try again later.",
            "rule": "keys_unavailable",
        }
        [entry] = [e for e in logged if e["event"] == "personal data cannot be opened"]
        assert entry["log_level"] == "error" and "'master-1'" in entry["error"]

        page = await api.get(f"/cases/{state.case_id}", headers=practitioner)
        assert page.status_code == 503 and "a key is missing on the server" in page.text
        assert "<html" in page.text.lower()

    # With the key back, the same case reads as before.
    async with api_client(create_app(services_for(cases))) as api:
        answer = await api.get(f"/api/cases/{state.case_id}", headers=practitioner)
        assert answer.status_code == 200, answer.text
