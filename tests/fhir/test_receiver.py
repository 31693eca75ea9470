"""The test FHIR receiver (tests/fhir/receiver.py) behaves as a FHIR server would with what Pathway
sends it: conditional creates (a second identical transaction creates nothing), a
transaction-response with 201 then 200 and `location`s, references resolved to the ids it assigned,
searchset and read by id, and a 400 OperationOutcome for a transaction its validator refuses."""

import json
import urllib.error
import urllib.request
from typing import Any

from activities.fhir_task_poll import task_search_url
from domain.fhir_delivery import referral_transaction
from domain.outcomes import ConsentScope
from domain.state import Referral
from tests.domain.test_fhir_delivery import CONFIG, delivery
from tests.fhir.receiver import FhirReceiver, running
from tests.fhir.validators import refuse_invalid


def transaction(referral_id: str) -> dict[str, Any]:
    """What Pathway delivers for a referral (domain/fhir_delivery.py), valid to the validators."""
    sent = delivery((ConsentScope.SHARE_SERVICES,))
    referral: Referral = sent.referral.model_copy(update={"referral_id": referral_id})
    bundle = referral_transaction(type(sent)(**{**sent.__dict__, "referral": referral}), CONFIG)
    found: dict[str, Any] = json.loads(bundle.model_dump_json(exclude_none=True))
    return found


def call(url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/fhir+json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def refuse_urgent(bundle: dict[str, Any]) -> None:
    if "urgent" in json.dumps(bundle):
        raise ValueError("urgent referrals are phoned through")


def test_a_transaction_is_taken_once_and_read_back() -> None:
    with running(FhirReceiver(refuse_invalid)) as receiver:
        status, first = call(receiver.url, transaction("ref-1"))
        again_status, again = call(receiver.url, transaction("ref-1"))

        assert (status, first["type"], again_status) == (200, "transaction-response", 200)
        entries = len(transaction("ref-1")["entry"])
        assert [e["response"]["status"] for e in first["entry"]] == ["201 Created"] * entries
        assert [e["response"]["status"] for e in again["entry"]] == ["200 OK"] * entries
        assert [e["response"]["location"] for e in first["entry"]] == [
            e["response"]["location"] for e in again["entry"]
        ]
        assert len(receiver.resources["Task"]) == len(receiver.resources["ServiceRequest"]) == 1

        task = receiver.task("ref-1")
        [request_id] = receiver.resources["ServiceRequest"]
        assert task["basedOn"] == [{"reference": f"ServiceRequest/{request_id}"}]
        _, searched = call(task_search_url(receiver.url, "ref-1"))
        assert (searched["type"], searched["total"]) == ("searchset", 1)
        assert searched["entry"][0]["resource"] == task
        _, none = call(task_search_url(receiver.url, "ref-2"))
        assert none["total"] == 0 and none["entry"] == []
        read_status, read = call(f"{receiver.url}/Task/{task['id']}")
        assert (read_status, read) == (200, task)
        missing, outcome = call(f"{receiver.url}/Task/nope")
        assert (missing, outcome["resourceType"]) == (404, "OperationOutcome")

        receiver.set_task("ref-1", "rejected", business_status="rejected", reason="no capacity")
        assert receiver.task("ref-1")["statusReason"] == {"text": "no capacity"}
        assert receiver.task("ref-1")["businessStatus"]["coding"][0]["code"] == "rejected"


def test_a_transaction_the_validator_refuses_is_answered_400() -> None:
    with running(FhirReceiver(refuse_urgent)) as receiver:
        status, outcome = call(receiver.url, transaction("ref-1"))
    assert status == 400 and outcome["resourceType"] == "OperationOutcome"
    assert "phoned through" in outcome["issue"][0]["diagnostics"]
    assert receiver.resources == {} and len(receiver.transactions) == 1
