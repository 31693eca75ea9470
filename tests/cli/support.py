"""Running the real `pathway` command as a subprocess, without blocking the test's event loop
(the test's own worker runs in that loop)."""

import asyncio
import json
import os
import socket
import subprocess
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


def command_env(env: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "PATHWAY_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS_TEXT,
        "PATHWAY_MASTER_KEYS": TEST_MASTER_KEYS_TEXT,
        **env,
    }


async def pathway(*args: str, env: dict[str, str]) -> Completed:
    process = await asyncio.create_subprocess_exec(
        PATHWAY,
        *args,
        env=command_env(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return Completed(process.returncode, stdout.decode(), stderr.decode())


@dataclass
class AtTerminal:
    status: int
    stdout: str
    terminal: str  # what the command wrote to its stderr, the terminal


def at_terminal(args: tuple[str, ...], env: dict[str, str], cwd: Path) -> AtTerminal:
    """The real command with stderr on a pseudo-terminal, as a person at a terminal has it, and stdout
    piped (as `pathway ... > file`). Blocking: run it in a thread when the test's loop runs a worker."""
    controller, terminal = os.openpty()
    try:
        process = subprocess.Popen(
            [PATHWAY, *args],
            env=command_env(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=terminal,
        )
    finally:
        os.close(terminal)  # the command holds its own copy: reading ends when it exits
    written = bytearray()
    try:
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            written += chunk
        assert process.stdout is not None
        stdout = process.stdout.read().decode()
        status = process.wait(timeout=120)
    finally:
        os.close(controller)
    return AtTerminal(status, stdout, written.decode())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def opened_access_log(store: EventStore, case_id: str) -> list[AccessEntry]:
    """A case's access log as an auditor reads it: purposes people wrote are sealed in the store."""
    sealer = Sealer(PersonKeys(store.engine, TEST_MASTER_KEYS))
    records = await AccessLog(store.engine).list(case_id)
    return [await sealer.open_for_case(AccessEntry.model_validate(r.model_dump()), case_id) for r in records]
