"""send_referral to a service with `delivery = "fhir"` (docs/fhir.md): a transaction Bundle POSTed to
a real HTTP receiver on localhost, once per referral id; 5xx retried, 4xx not."""

import json
import urllib.error
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from temporalio.exceptions import ApplicationError

from activities.referrals import SendReferralResult
from domain.config import Service
from domain.fhir_terms import CASE_SYSTEM, FHIR_JSON, REFERRAL_SYSTEM, REFERRAL_TASK_SYSTEM
from domain.outcomes import ServiceType
from store.notifications import NotificationLog
from tests.activities.test_referrals import REASON, Receiver, referral_for, row, send, sender
from tests.activities.test_referrals import receiver as receiver  # the fixture
from tests.fhir.validators import assert_valid

pytestmark = pytest.mark.usefixtures("receiver")


def fhir_service(url: str) -> Service:
    return Service(
        service_id="city-housing-fhir",
        name="City housing options",
        type=ServiceType.HOUSING,
        sites=("demo",),
        delivery="fhir",
        address=url,
    )


async def test_a_fhir_referral_is_posted_once_as_a_transaction_bundle(log: NotificationLog, receiver: Receiver) -> None:
    url = receiver.url("/fhir/R4")
    input = referral_for(fhir_service(url))

    first = await send(sender(log), input)
    again = await send(sender(log), input)  # a retried activity: found sent in the log, not posted again

    assert first == again == SendReferralResult(channel="http", status="sent")
    [post] = receiver.posts
    assert (post.method, post.path) == ("POST", "/fhir/R4")
    assert post.headers["content-type"] == FHIR_JSON == "application/fhir+json; fhirVersion=4.0"
    assert post.headers["idempotency-key"] == post.headers["x-request-id"] == input.referral_id
    assert_valid(json.loads(post.body))
    bundle: Any = Bundle.model_validate_json(post.body)
    assert bundle.type == "transaction"
    service_request, task, patient = (entry.resource for entry in bundle.entry)
    assert [r.get_resource_type() for r in (service_request, task, patient)] == ["ServiceRequest", "Task", "Patient"]
    assert service_request.identifier[0].value == input.referral_id
    assert service_request.reasonCode[0].text == REASON  # opened for the service
    assert service_request.priority == "urgent" and service_request.code.coding[-1].code == "housing"
    assert task.status == "requested" and task.basedOn[0].reference == bundle.entry[0].fullUrl
    # A case the store does not hold has no person: the Patient is the case's, and names no one.
    assert service_request.subject.reference == task.for_fhir.reference == bundle.entry[2].fullUrl
    assert [(i.system, i.value) for i in patient.identifier] == [(CASE_SYSTEM, input.case_id)]
    assert [e.request.ifNoneExist for e in bundle.entry] == [
        f"identifier={REFERRAL_SYSTEM}|{input.referral_id}",
        f"identifier={REFERRAL_TASK_SYSTEM}|{input.referral_id}",
        f"identifier={CASE_SYSTEM}|{input.case_id}",
    ]
    recorded = await row(log, input.referral_id)
    assert (recorded.status, recorded.attempts, recorded.kind, recorded.recipients) == (
        "sent",
        1,
        "referral_fhir",
        (url,),
    )
    Bundle.model_validate_json(recorded.body)


async def test_a_server_error_is_retried_then_delivered_once(log: NotificationLog, receiver: Receiver) -> None:
    receiver.status = 500
    input = referral_for(fhir_service(receiver.url("/fhir")))

    with pytest.raises(urllib.error.HTTPError) as caught:  # not an ApplicationError: Temporal retries it
        await send(sender(log), input)
    assert caught.value.code == 500
    assert (await row(log, input.referral_id)).status == "failed"

    receiver.status = 200
    assert await send(sender(log), input) == SendReferralResult(channel="http", status="sent")
    assert await send(sender(log), input) == SendReferralResult(channel="http", status="sent")
    assert len(receiver.posts) == 2 and receiver.posts[0].body == receiver.posts[1].body
    assert {p.headers["idempotency-key"] for p in receiver.posts} == {input.referral_id}
    recorded = await row(log, input.referral_id)
    assert (recorded.status, recorded.attempts) == ("sent", 2)


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_a_refusal_is_not_retried(log: NotificationLog, receiver: Receiver, status: int) -> None:
    receiver.status = status
    input = referral_for(fhir_service(receiver.url("/fhir")))

    with pytest.raises(ApplicationError) as caught:
        await send(sender(log), input)

    assert caught.value.non_retryable
    assert caught.value.message == f"the service refused the referral: HTTP {status}"
    assert len(receiver.posts) == 1
    assert (await row(log, input.referral_id)).status == "failed"


def test_a_fhir_service_needs_an_http_url() -> None:
    with pytest.raises(ValueError, match="is not an http"):
        fhir_service("fhir.example/R4")
