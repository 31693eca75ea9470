"""The codec endpoint the Temporal UI and `temporal --codec-endpoint` call to read (and write) payloads.

Only operators may use it, signed in by the web session cookie (the UI sends it when its codec
setting "include cross-origin credentials" is on) or a bearer token (`--codec-auth`). Anyone else
gets 401 or 403 and sees ciphertext in the UI. The Temporal UI's origin is the only other origin
allowed to call it (CORS), with credentials."""

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.deps import Services, ServicesDep
from api.session import session_principal
from domain.access import Action, Principal, require_allowed
from domain.errors import RuleViolation
from service.identity import Unauthenticated
from store.keyring import KeyRingError

router = APIRouter(prefix="/codec", include_in_schema=False)
log = structlog.get_logger(__name__)
ALLOWED_HEADERS = "authorization, content-type, x-namespace"


@router.options("/{operation}")
async def preflight(request: Request, found: ServicesDep) -> Response:
    return Response(status_code=204, headers=_cors(request, found))


@router.post("/encode")
async def encode(request: Request, found: ServicesDep) -> Response:
    return await _code(request, found, "encode")


@router.post("/decode")
async def decode(request: Request, found: ServicesDep) -> Response:
    return await _code(request, found, "decode")


async def _code(request: Request, found: Services, operation: str) -> Response:
    cors = _cors(request, found)
    try:
        principal = await _operator(request, found)
    except Unauthenticated as error:
        return JSONResponse({"error": str(error)}, status_code=401, headers=cors)
    except RuleViolation as error:
        return JSONResponse({"error": error.message, "rule": error.rule}, status_code=403, headers=cors)
    try:
        payloads = json_format.Parse(await request.body(), Payloads()).payloads
    except (json_format.ParseError, UnicodeDecodeError):
        message = 'send {"payloads": [{"metadata": {...}, "data": "<base64>"}]}'
        return JSONResponse({"error": f"the body is not a list of payloads: {message}"}, status_code=400, headers=cors)
    try:
        if operation == "encode":
            coded = await found.codec.encode(payloads)
        else:
            coded = await found.codec.decode(payloads)
    except KeyRingError as error:
        return JSONResponse({"error": str(error)}, status_code=422, headers=cors)
    log.info("payloads coded", operation=operation, staff_id=principal.staff_id, count=len(coded))
    body = json_format.MessageToJson(Payloads(payloads=coded))
    return Response(body, media_type="application/json", headers=cors)


async def _operator(request: Request, found: Services) -> Principal:
    principal = await session_principal(request, found.verifier)
    require_allowed(principal.actor, Action.DECODE_PAYLOADS)
    return principal


def _cors(request: Request, found: Services) -> dict[str, str]:
    origin = request.headers.get("origin")
    if origin is None or origin.rstrip("/") != found.temporal_ui_origin.rstrip("/"):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }
