"""F13 of issue 15: after a SIGKILL of the `pathway dev` process group, the Temporal dev server it had
started kept running (it has a session of its own), and the next `pathway dev` logged "address
already in use" and quietly used that orphan.

Now the server is started with a parent-death signal (cli/dev.py `_start_temporal`), so it ends with
`pathway dev` however that ends, and `pathway dev` refuses to start on a port that is taken."""

import asyncio
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.cli.support import PATHWAY, free_port, pathway

READY = "pathway dev is ready"
DIES_WITHIN = 15.0  # seconds; the server stops in about one on SIGTERM


def parent_of(stat: str) -> int:
    # /proc/PID/stat: "pid (comm) state ppid ...", where comm may itself hold spaces and parentheses.
    return int(stat.rsplit(")", 1)[1].split()[1])


def temporal_servers_started_by(pid: int) -> list[int]:
    """The `temporal server start-dev` processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # it ended while we looked
            continue
        if parent_of(stat) == pid and b"start-dev" in command:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether the process runs: one that has ended but was not reaped yet (a zombie) does not."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


async def start_dev(data_dir: Path, log: Path) -> asyncio.subprocess.Process:
    """`pathway dev` on free ports, without demo cases, in a process group of its own (as a terminal
    would run it), ready."""
    process = await asyncio.create_subprocess_exec(
        PATHWAY, "--data-dir", str(data_dir), "dev", "--no-seed", "--port", str(free_port()),
        "--ui-port", str(free_port()), "--api-port", str(free_port()), "--smtp-port", str(free_port()),
        stdout=log.open("ab"), stderr=asyncio.subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    async with asyncio.timeout(180):
        while READY not in log.read_text():
            assert process.returncode is None, log.read_text()
            await asyncio.sleep(0.5)
    return process


async def test_the_temporal_dev_server_ends_when_pathway_dev_is_killed(tmp_path: Path) -> None:
    process = await start_dev(tmp_path / "data", tmp_path / "dev.log")
    servers = temporal_servers_started_by(process.pid)
    assert len(servers) == 1, servers
    [server] = servers
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the attack: nothing of pathway dev's own cleanup runs
        await process.wait()
        deadline = time.monotonic() + DIES_WITHIN
        while alive(server) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not alive(server), f"the Temporal dev server (pid {server}) outlived pathway dev by {DIES_WITHIN}s"
    finally:
        if alive(server):  # the old behaviour: do not leave the orphan running
            os.kill(server, signal.SIGKILL)


@pytest.mark.parametrize(
    ("option", "taken_by"),
    [
        ("--port", "another pathway dev or Temporal server is running"),
        ("--ui-port", "Temporal UI"),
        ("--api-port", "pathway api"),
        ("--smtp-port", "mail server"),
    ],
)
async def test_pathway_dev_refuses_a_port_in_use(tmp_path: Path, option: str, taken_by: str) -> None:
    """What an orphaned server left behind looks like to the next start: something listening."""
    ports = {name: free_port() for name in ("--port", "--ui-port", "--api-port", "--smtp-port")}
    with socket.socket() as orphan:
        orphan.bind(("127.0.0.1", 0))
        orphan.listen()
        ports[option] = orphan.getsockname()[1]
        arguments = [text for name, port in ports.items() for text in (name, str(port))]
        started = await pathway("--data-dir", str(tmp_path / "data"), "dev", "--no-seed", *arguments, env={})
    assert started.status == 2, (started.stdout, started.stderr)
    port = ports[option]
    assert f"error: port {port} is in use: " in started.stderr and taken_by in started.stderr, started.stderr
    assert f"stop it or pass {option}" in started.stderr
    assert not (tmp_path / "data" / "temporal.log").exists()  # nothing was started


async def test_pathway_dev_refuses_one_port_for_two_servers(tmp_path: Path) -> None:
    port = free_port()
    others = ["--ui-port", str(free_port()), "--smtp-port", str(free_port())]
    arguments = ["--port", str(port), "--api-port", str(port), *others]
    started = await pathway("--data-dir", str(tmp_path / "data"), "dev", "--no-seed", *arguments, env={})
    assert started.status == 2 and f"--api-port and --port are both {port}" in started.stderr, started.stderr
