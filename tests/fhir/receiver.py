"""A FHIR receiving system on localhost, for tests: what a service with `delivery = "fhir"` runs.

It takes the transaction Bundle a referral is delivered as (POST to its base URL), checking each with
the `validate` it was given (400 and an OperationOutcome when that raises), and processes it as a
FHIR server would: each entry's `ifNoneExist` conditional create makes the resource only if none with
that identifier exists (so a second identical POST creates nothing), `urn:uuid:` references become
the ids it assigned, and the answer is a `transaction-response` Bundle with a 201 or 200 entry and
`location` per resource. It serves `GET Task?identifier=system|value` as a `searchset` Bundle and
`GET Task/{id}`. A test acts as the receiving team with `set_task`, and as a misbehaving one with
`answer_for` (other Tasks in the answer) and `redirect_reads` (a 302 for every read)."""

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from domain.fhir_terms import REFERRAL_STATUS_SYSTEM, REFERRAL_TASK_SYSTEM

Resource = dict[str, Any]
FHIR_JSON = "application/fhir+json"


class FhirReceiver:
    def __init__(self, validate: Callable[[Resource], None], base_path: str = "/fhir/R4") -> None:
        self.validate = validate
        self.base_path = base_path
        self.port = 0
        self.resources: dict[str, dict[str, Resource]] = {}  # resource type -> id -> resource
        self.transactions: list[Resource] = []  # every transaction received, valid or not
        self.reads: list[str] = []  # the path and query of every GET
        self.answer_for: dict[str, list[Resource]] = {}  # referral id asked about -> the Tasks answered instead
        self.redirect_reads: str | None = None  # where every GET is redirected, if set
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The FHIR base URL: the service's `address` in the directory."""
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    def stop(self) -> None:
        """The receiving system goes down: nothing answers at its address any more."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- the receiving team -------------------------------------------------------------------------

    def task(self, referral_id: str) -> Resource:
        [found] = self._with_identifier("Task", REFERRAL_TASK_SYSTEM, referral_id)
        return found

    def set_task(
        self, referral_id: str, status: str, business_status: str | None = None, reason: str | None = None
    ) -> None:
        """The team changes the referral's Task: its status, our business status code (None: left as
        Pathway sent it) and the status reason (None: none)."""
        with self._lock:
            task = self.task(referral_id)
            task["status"] = status
            if business_status is not None:
                task["businessStatus"] = {"coding": [{"system": REFERRAL_STATUS_SYSTEM, "code": business_status}]}
            if reason is None:
                task.pop("statusReason", None)
            else:
                task["statusReason"] = {"text": reason}

    # --- the server ---------------------------------------------------------------------------------

    def transaction(self, bundle: Resource) -> tuple[int, Resource]:
        """A transaction processed: (HTTP status, answer)."""
        self.transactions.append(bundle)
        try:
            self.validate(bundle)
        except Exception as invalid:
            return 400, _outcome("invalid", str(invalid))
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
            return 400, _outcome("invalid", "only transaction Bundles are taken at the base URL")
        with self._lock:
            assigned: dict[str, str] = {}
            responses = []
            for entry in bundle.get("entry", []):
                resource, request = entry["resource"], entry["request"]
                kind = resource["resourceType"]
                system, _, value = request.get("ifNoneExist", "").removeprefix("identifier=").partition("|")
                existing = self._with_identifier(kind, system, value) if value else []
                if existing:
                    stored, status = existing[0], "200 OK"
                else:
                    stored = {**resource, "id": str(uuid.uuid4())}
                    self.resources.setdefault(kind, {})[stored["id"]] = stored
                    status = "201 Created"
                assigned[entry["fullUrl"]] = f"{kind}/{stored['id']}"
                responses.append({"response": {"status": status, "location": f"{kind}/{stored['id']}/_history/1"}})
            for resources in self.resources.values():
                for stored in resources.values():
                    _resolve(stored, assigned)
        return 200, {"resourceType": "Bundle", "type": "transaction-response", "entry": responses}

    def read(self, path: str, query: str) -> tuple[int, Resource]:
        self.reads.append(f"{path}?{query}" if query else path)
        relative = path.removeprefix(self.base_path).strip("/")
        kind, _, resource_id = relative.partition("/")
        with self._lock:
            if resource_id:
                found = self.resources.get(kind, {}).get(resource_id)
                return (200, found) if found else (404, _outcome("not-found", f"no {kind}/{resource_id}"))
            [identifier] = parse_qs(query).get("identifier", [""])
            system, _, value = identifier.partition("|")
            matches = self.answer_for.get(value) or self._with_identifier(kind, system, value)
        return 200, {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "entry": [
                {"fullUrl": f"{self.url}/{kind}/{m.get('id', 'forged')}", "resource": m, "search": {"mode": "match"}}
                for m in matches
            ],
        }

    def _with_identifier(self, kind: str, system: str, value: str) -> list[Resource]:
        return [
            resource
            for resource in self.resources.get(kind, {}).values()
            if any(i.get("system") == system and i.get("value") == value for i in resource.get("identifier", []))
        ]


def _resolve(node: Any, assigned: dict[str, str]) -> None:
    """Turn the bundle's `urn:uuid:` references into the ids the server assigned."""
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str) and node["reference"] in assigned:
            node["reference"] = assigned[node["reference"]]
        for value in node.values():
            _resolve(value, assigned)
    elif isinstance(node, list):
        for value in node:
            _resolve(value, assigned)


def _outcome(code: str, text: str) -> Resource:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": text}]}


def _handler(receiver: FhirReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if urlsplit(self.path).path.rstrip("/") != receiver.base_path:
                self._answer(404, _outcome("not-supported", "POST a transaction to the base URL"))
                return
            try:
                bundle = json.loads(body)
            except ValueError:
                self._answer(400, _outcome("structure", "not JSON"))
                return
            self._answer(*receiver.transaction(bundle))

        def do_GET(self) -> None:
            if receiver.redirect_reads is not None:
                self.send_response(302)
                self.send_header("Location", receiver.redirect_reads)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            parts = urlsplit(self.path)
            self._answer(*receiver.read(parts.path, parts.query))

        def _answer(self, status: int, resource: Resource) -> None:
            text = json.dumps(resource).encode()
            self.send_response(status)
            self.send_header("Content-Type", FHIR_JSON)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output quiet

    return Handler


@contextmanager
def running(receiver: FhirReceiver) -> Iterator[FhirReceiver]:
    """The receiver, serving on a free port of localhost until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.port, receiver._server = int(server.server_address[1]), server
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.stop()
        thread.join(timeout=5)
