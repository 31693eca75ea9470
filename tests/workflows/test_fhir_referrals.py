"""A referral to a FHIR service (delivery = "fhir") that refuses it: the referral workflow reports it,
the case records ReferralSendFailed and opens an urgent chase task (docs/fhir.md)."""

import json
import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

from temporalio.testing import WorkflowEnvironment

from domain.config import Service
from domain.fhir_terms import FHIR_JSON
from domain.outcomes import ReferralStatus, ServiceType
from domain.tasks import TaskKind
from store.event_store import EventStore
from tests.conftest import worker_for
from tests.fhir.validators import assert_valid
from tests.workflows.conftest import Mailbox
from tests.workflows.direct import changed, time_skipping_input
from tests.workflows.journey import OUTCOMES, open_case, open_task
from tests.workflows.support import skip
from tests.workflows.test_referrals import SITE, complete
from workflows.case_workflow import CaseWorkflow


class _Refusing(BaseHTTPRequestHandler):
    posts: ClassVar[list[str]] = []
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        _Refusing.posts.append(self.headers.get("Content-Type", ""))
        _Refusing.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(400)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


async def test_a_fhir_endpoint_that_refuses_makes_the_referral_send_failed(
    time_skipping_env: WorkflowEnvironment, sqlite_store: EventStore, mailbox: Mailbox
) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    refusing = Service(
        service_id="refusing-fhir",
        name="FHIR housing that refuses",
        type=ServiceType.HOUSING,
        sites=("demo",),
        delivery="fhir",
        address=f"http://127.0.0.1:{server.server_address[1]}/fhir/R4",
    )
    site = SITE.model_copy(update={"services": (refusing,)})
    env = time_skipping_env
    task_queue = f"fhir-referrals-{uuid.uuid4()}"
    try:
        async with worker_for(env.client, sqlite_store, task_queue, mailbox.mailer):
            case_id = f"case-{uuid.uuid4()}"
            handle = await env.client.start_workflow(
                CaseWorkflow.run, time_skipping_input(case_id, site), id=case_id, task_queue=task_queue
            )
            state = await changed(handle, CaseWorkflow.open_case, open_case(f"CUST-{uuid.uuid4().hex[:6]}"))
            for kind in (TaskKind.CONSENT, TaskKind.SCREENING, TaskKind.ASSESSMENT, TaskKind.SHARE_INFORMATION):
                state = await complete(handle, state, kind, OUTCOMES[kind])
            state = await complete(
                handle, state, TaskKind.REFERRAL_DECISION, {"referrals": [{"service": "housing", "reason": "homeless"}]}
            )
            await skip(env, timedelta(seconds=5))
            state = await handle.query(CaseWorkflow.state)
            [referral] = state.referrals
            assert referral.status is ReferralStatus.DRAFTED and "HTTP 400" in (referral.send_failed or "")
            assert _Refusing.posts == [FHIR_JSON]
            assert_valid(*_Refusing.bodies)  # refused for the service's own reasons, not for being invalid
            chase = state.tasks[open_task(state, TaskKind.CHASE_REFERRAL)]
            assert chase.referral_id == referral.referral_id and chase.priority == "urgent"
            events = [e.event.type for e in await sqlite_store.read_stream(case_id)]
            assert "ReferralSendFailed" in events and "ReferralSent" not in events
    finally:
        server.shutdown()
