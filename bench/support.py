"""What every benchmark needs: its own Temporal dev server, a store, keys, and a results row."""

import base64
import csv
import os
import platform
import secrets
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from store.keyring import KeyRing
from workers.binaries import installed_binary
from workers.client import data_converter
from workflows.search_attributes import ALL_KEYS

RESULTS = Path(__file__).parent / "results"


def new_key_ring(name: str) -> tuple[KeyRing, str]:
    """A fresh key ring and its text (for CLI subprocesses)."""
    text = f"{name} {base64.b64encode(secrets.token_bytes(32)).decode()}"
    return KeyRing.parse(text), text


async def start_temporal(payload_keys: KeyRing) -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        data_converter=data_converter(payload_keys),
        search_attributes=ALL_KEYS,
        dev_server_existing_path=installed_binary("temporal"),
        dev_server_log_level="error",
    )


def machine() -> str:
    return f"{platform.node()} ({os.cpu_count()} cpus, {platform.machine()}, Python {platform.python_version()})"


def commit() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return found.stdout.strip() or "unknown"


def write_row(name: str, figures: Mapping[str, object]) -> Path:
    """Append one row (date, machine, commit, then the figures) to bench/results/NAME.csv."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.csv"
    row = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(), "commit": commit()}
    row |= {key: str(value) for key, value in figures.items()}
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)
    return path
