"""`pathway dev` (what `make run` starts): demo cases the Temporal UI and CLI list, a clean stop,
and the same cases after a restart."""

import asyncio
import json
import os
import signal
import urllib.request
from pathlib import Path
from typing import Any

from tests.cli.support import PATHWAY, free_port, pathway
from workers.binaries import installed_binary

READY = "pathway dev is ready"


async def start_dev(data_dir: Path, ports: tuple[int, int, int], log: Path) -> asyncio.subprocess.Process:
    port, ui_port, api_port = ports
    process = await asyncio.create_subprocess_exec(
        PATHWAY, "--data-dir", str(data_dir), "dev", "--port", str(port), "--ui-port", str(ui_port),
        "--smtp-port", str(free_port()), "--api-port", str(api_port),
        stdout=log.open("ab"), stderr=asyncio.subprocess.STDOUT, env={**os.environ},
    )  # fmt: skip
    async with asyncio.timeout(180):
        while READY not in log.read_text():
            assert process.returncode is None, log.read_text()
            await asyncio.sleep(0.5)
    return process


async def stop_dev(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGINT)
    async with asyncio.timeout(60):
        return await process.wait()


async def workflow_ids(port: int, query: str) -> set[str]:
    listing = await asyncio.create_subprocess_exec(
        installed_binary("temporal"), "workflow", "list", "--address", f"localhost:{port}", "--query", query,
        "--output", "json", stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, _ = await listing.communicate()
    assert listing.returncode == 0
    text = stdout.decode().strip()
    rows = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line]
    return {row["execution"]["workflowId"] for row in rows}


async def schedule_ids(port: int) -> set[str]:
    listing = await asyncio.create_subprocess_exec(
        installed_binary("temporal"), "schedule", "list", "--address", f"localhost:{port}", "--output", "json",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, _ = await listing.communicate()
    assert listing.returncode == 0
    text = stdout.decode().strip()
    rows = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line]
    return {row["scheduleId"] for row in rows}


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
        return json.load(response)


def ui_workflow_ids(ui_port: int) -> set[str]:
    url = f"http://localhost:{ui_port}/api/v1/namespaces/default/workflows"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    return {row["execution"]["workflowId"] for row in body["executions"]}


async def test_dev_stack_runs_the_demo_and_keeps_it_across_a_restart(tmp_path: Path) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "dev.log"
    port, ui_port, api_port = free_port(), free_port(), free_port()
    process = await start_dev(data_dir, (port, ui_port, api_port), log)
    try:
        # The API answers for a demo link worker signed in with a dev token.
        signed = await pathway("--data-dir", str(data_dir), "token", "--staff", "lw-001", env={})
        headers = {"Authorization": f"Bearer {signed.stdout.strip()}"}
        tasks = await asyncio.to_thread(get_json, f"http://localhost:{api_port}/api/tasks", headers)
        assert tasks and all(t["site"] == "demo" for t in tasks)
        screening = await workflow_ids(port, "LdStage='screening'")
        everything = await workflow_ids(port, "WorkflowType='CaseWorkflow'")
        assert len(screening) >= 2 and screening < everything
        stages = {"screening", "assessment", "information_sharing", "referral", "support"}
        for stage in stages:
            assert await workflow_ids(port, f"LdStage='{stage}' AND LdSite='demo'"), stage
        in_ui = await asyncio.to_thread(ui_workflow_ids, ui_port)
        referrals = await workflow_ids(port, "WorkflowType='ReferralWorkflow'")
        assert referrals and all("-referral-" in r for r in referrals)
        reports = await workflow_ids(port, "WorkflowType='CourtReportWorkflow'")
        assert len(reports) == 1 and all("-report-" in r for r in reports)
        # A checkpoint or FHIR poll a schedule happens to start during the test is not the demo's.
        in_ui = {w for w in in_ui if not w.startswith(("pathway-checkpoints-", "pathway-fhir-task-poll-"))}
        assert in_ui == everything | referrals | reports
        assert {"pathway-retention", "pathway-checkpoints", "pathway-fhir-task-poll"} <= await schedule_ids(port)
        # The worker and the API share the dev process, so the API's /metrics has the worker's metrics.
        metrics = await asyncio.to_thread(get_text, f"http://localhost:{api_port}/metrics")
        opened = [line for line in metrics.splitlines() if line.startswith("pathway_cases_opened_total{")]
        assert sum(float(line.rsplit(" ", 1)[1]) for line in opened) >= 10, metrics[:2000]
        assert "temporal_request_total" in metrics
    finally:
        status = await stop_dev(process)
    assert status == 0, log.read_text()[-2000:]
    first_log = log.read_text()
    assert "seeding demo cases" in first_log and "stopped; data kept" in first_log

    log.write_text("")
    process = await start_dev(data_dir, (port, ui_port, api_port), log)
    try:
        assert await workflow_ids(port, "WorkflowType='CaseWorkflow'") == everything
        assert await workflow_ids(port, "LdStage='screening'") == screening
    finally:
        assert await stop_dev(process) == 0
    assert "seeding demo cases" not in log.read_text()
