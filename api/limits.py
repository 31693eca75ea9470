"""A cap on request bodies: nothing a person types into Pathway comes near it, and a body past it is
refused with 413 before it is read, so it can never reach a workflow (Temporal refuses payloads of
a few megabytes with an error, not a clear answer)."""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import MEDIA_TYPE as PROBLEM_MEDIA_TYPE
from api.problems import problem_body

MAX_BODY_BYTES = 256 * 1024
# The Temporal UI decodes whole payloads through /codec; Temporal itself caps a payload at 2 MB.
MAX_CODEC_BODY_BYTES = 4 * 1024 * 1024


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = MAX_CODEC_BODY_BYTES if str(scope.get("path", "")).startswith("/codec/") else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, limit)
            return
        received = 0
        refused = False

        async def counted() -> Message:
            # Past the cap, answer 413 at once and tell the app the client has gone, so it stops reading.
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not refused:
                    refused = True
                    await self._refuse(scope, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, counted, unless_refused)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        text = f"the request is too large: at most {limit // 1024} KB"
        is_api = str(scope.get("path", "")).startswith(("/api", "/codec"))
        page = f"<!DOCTYPE html><title>Too large</title><p>{text}</p>"
        body = (json.dumps(problem_body(413, text)) if is_api else page).encode()
        content_type = PROBLEM_MEDIA_TYPE.encode() if is_api else b"text/html; charset=utf-8"
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
