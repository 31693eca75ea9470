"""Running the real `pathway` command as a subprocess, without blocking the test's event loop
(the test's own worker runs in that loop)."""

import asyncio
import json
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.cases import AccessEntry
from store.access_log import AccessLog
from store.event_store import EventStore
from store.person_keys import PersonKeys
from store.sealing import Sealer
from tests.conftest import TEST_MASTER_KEYS, TEST_MASTER_KEYS_TEXT, TEST_PAYLOAD_KEYS_TEXT

PATHWAY = str(Path(sys.executable).parent / "pathway")


@dataclass
class Completed:
    status: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def json_error(self, status: int) -> dict[str, Any]:
        """The error a --json command ended with (cli/exits.py): JSON on stdout, no text line as well."""
        assert self.status == status, (self.status, self.stdout, self.stderr)
        error = self.json()["error"]
        assert isinstance(error, dict) and error["exit_status"] == status
        assert "error:" not in self.stderr
        return error


async def pathway(*args: str, env: dict[str, str]) -> Completed:
    process = await asyncio.create_subprocess_exec(
        PATHWAY,
        *args,
        env={
            **os.environ,
            "PATHWAY_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS_TEXT,
            "PATHWAY_MASTER_KEYS": TEST_MASTER_KEYS_TEXT,
            **env,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return Completed(process.returncode, stdout.decode(), stderr.decode())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def opened_access_log(store: EventStore, case_id: str) -> list[AccessEntry]:
    """A case's access log as an auditor reads it: purposes people wrote are sealed in the store."""
    sealer = Sealer(PersonKeys(store.engine, TEST_MASTER_KEYS))
    records = await AccessLog(store.engine).list(case_id)
    return [await sealer.open_for_case(AccessEntry.model_validate(r.model_dump()), case_id) for r in records]
