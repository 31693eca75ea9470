"""Pydantic models as JSON, with one exception to "every payload is encrypted": the texts the Temporal
UI shows beside a case (workflows/ui_text.py `PublicText`) are marked public, so the codec leaves them
in the clear and every operator can read them in the UI without the codec.

Marking is decided by the value's type, never by its content: a plain `str`, a model or anything
else is unmarked and encrypted. And a marked payload is display text only: read back, it is refused
wherever the code expects an input (an update or signal argument, a workflow input, an activity
result, any typed value), so someone able to write to Temporal cannot pass a marked payload off as
a command without the keys. Nor an unmarked one left unencrypted: a worker's codec marks what
reaches it so (workers/client.py `worker_client`), and a workflow refuses it too.
"""

from collections.abc import Sequence
from typing import Any

from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.contrib.pydantic import PydanticPayloadConverter

from workflows.ui_text import PublicText

# Metadata beside the payload's own encoding (json/plain or json/protobuf, which the UI reads).
PUBLIC = "pathway-public"
PUBLIC_VALUE = b"ui-text"
# What a worker's codec adds to a payload that reached it unencrypted (workers/codec.py).
UNENCRYPTED = "pathway-arrived-unencrypted"
# What a marked payload may be read as: display text (untyped), or the SDK's metadata query answer
# (which carries the current details) as the UI and `handle.query` read it.
READABLE_AS: tuple[object, ...] = (None, PublicText, WorkflowMetadata)


class UntrustedInput(ValueError):
    """A payload the keys did not seal (marked public, or one that reached the worker unencrypted)
    stood where only a sealed one may: it is not read."""


def is_public(payload: Payload) -> bool:
    return payload.metadata.get(PUBLIC) == PUBLIC_VALUE


def arrived_unencrypted(payload: Payload) -> bool:
    return UNENCRYPTED in payload.metadata


class PathwayPayloadConverter(PydanticPayloadConverter):
    def to_payloads(self, values: Sequence[Any]) -> list[Payload]:
        payloads = super().to_payloads(values)
        for value, payload in zip(values, payloads, strict=True):
            if _shown_in_the_ui(value):
                payload.metadata[PUBLIC] = PUBLIC_VALUE
        return payloads

    def from_payloads(self, payloads: Sequence[Payload], type_hints: list[type] | None = None) -> list[Any]:
        hints: list[object] = list(type_hints or [])
        for index, payload in enumerate(payloads):
            hint = hints[index] if index < len(hints) else None
            # Inside a workflow every payload is an input: none is ever legitimately public, and
            # only the holder of the keys may send one (a worker marks what came unencrypted).
            if workflow.in_workflow() and arrived_unencrypted(payload):
                raise UntrustedInput(f"payload {index} was not encrypted: a workflow takes no such input")
            if is_public(payload) and (workflow.in_workflow() or hint not in READABLE_AS):
                raise UntrustedInput(
                    f"payload {index} is marked public: only the Temporal UI's texts are, and they are never an input"
                )
        # Pydantic knows str, not its subclass: the marked text is read as a str and wrapped again below.
        readable = [str if hint is PublicText else hint for hint in type_hints] if type_hints else type_hints
        values = super().from_payloads(payloads, readable)
        return [
            PublicText(value) if is_public(payload) and isinstance(value, str) else value
            for payload, value in zip(payloads, values, strict=True)
        ]


def _shown_in_the_ui(value: object) -> bool:
    if isinstance(value, PublicText):
        return True
    # The SDK answers the UI's metadata query with the current details copied into a message: it is
    # public only when the workflow set those details as PublicText (a case; other workflows' are not).
    if isinstance(value, WorkflowMetadata) and workflow.in_workflow():
        details = workflow.get_current_details()
        return isinstance(details, PublicText) and details == value.current_details
    return False
