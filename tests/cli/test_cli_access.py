"""The CLI applies the API's rules: it goes through the same service (service/), so the role x
action matrix, the site scope and the access log hold for `pathway case ...` and `pathway task ...`
exactly as for the API. Staff from the shipped configuration: pr-001 practitioner (demo), pr-002
practitioner (demo, north), lw-001 link worker (demo), tl-001 team lead (demo, north), au-001
auditor (demo, north)."""

import asyncio
import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from cli.exits import ExitStatus
from store.access_log import AccessLog
from store.event_store import EventStore
from store.notifications import NotificationLog
from tests.cli.support import Completed, opened_access_log, pathway
from tests.conftest import worker_for

REASON = "person transferred to our custody suite"


def start(site: str, ref: str, staff: str) -> list[str]:
    return [
        "case", "start", "--site", site, "--setting", "custody", "--source", "custody_staff", "--ref", ref,
        "--as", staff, "--age-band", "adult", "--json",
    ]  # fmt: skip


def refused(result: Completed, status: ExitStatus, *texts: str) -> bool:
    """That exit status, and one line on stderr holding every text."""
    line = result.stderr.strip()
    return result.status == status and "\n" not in line and all(text in line for text in texts)


async def test_the_cli_applies_roles_site_scope_and_records_access(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    task_queue = f"cli-access-{uuid.uuid4()}"
    env = {
        "PATHWAY_DATA_DIR": str(tmp_path),
        "PATHWAY_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "PATHWAY_TASK_QUEUE": task_queue,
        "PATHWAY_ID_KEY": "cli-access-test-key",
    }
    store = EventStore.connect(f"sqlite+aiosqlite:///{tmp_path / 'pathway.db'}")
    await store.migrate()
    access = AccessLog(store.engine)
    async with worker_for(temporal_env.client, store, task_queue):
        demo = await pathway(*start("demo", "CUST/D1", "pr-001"), env=env)
        assert demo.status == 0, demo.stderr
        demo_id = demo.json()["case_id"]
        north = await pathway(*start("north", "CUST/N1", "pr-002"), env=env)
        assert north.status == 0, north.stderr
        north_id = north.json()["case_id"]
        assert [(r.staff_id, r.action) for r in await access.list(demo_id)] == [("pr-001", "start_case")]

        # Starting a case: practitioners and team leads only, and only at their own sites.
        # (With --json, as `start` asks, a refusal is JSON on stdout.)
        link_worker = await pathway(*start("demo", "CUST/D2", "lw-001"), env=env)
        refusal = link_worker.json_error(ExitStatus.REFUSED)
        assert refusal["rule"] == "role_not_allowed" and "a link_worker cannot start a case" in refusal["message"]
        elsewhere = await pathway(*start("north", "CUST/N2", "pr-001"), env=env)
        refusal = elsewhere.json_error(ExitStatus.REFUSED)
        assert refusal == {
            "status": "refused",
            "exit_status": 3,
            "rule": "outside_your_sites",
            "message": "you do not work at site north",
            "fields": {},
        }
        assert sorted(await store.case_ids()) == sorted([demo_id, north_id])

        # A case of another site looks absent, unless read with a stated (and recorded) reason.
        hidden = await pathway("case", "show", north_id, "--as", "pr-001", env=env)
        assert refused(hidden, ExitStatus.NOT_FOUND, f"there is no case {north_id} in your sites", "rule: case_unknown")
        assert [r.staff_id for r in await access.list(north_id)] == ["pr-002"]
        glass = await pathway(
            "case", "show", north_id, "--as", "pr-001", "--break-glass-reason", REASON, "--json", env=env
        )  # fmt: skip
        assert glass.status == 0, glass.stderr
        assert glass.json()["state"]["case_id"] == north_id and glass.json()["state"]["site"] == "north"
        [read] = [r for r in await opened_access_log(store, north_id) if r.staff_id == "pr-001"]
        assert (read.action, read.break_glass, read.purpose) == ("read_case", True, f"break-glass: {REASON}")
        # The team leads are told by the worker (tests/security/test_f14_cli_break_glass_alert.py has the mail).
        async with asyncio.timeout(20):
            while not (alerts := [n for n in await NotificationLog(store.engine).list(case_id=north_id)]):
                await asyncio.sleep(0.1)
        assert [n.kind for n in alerts] == ["break_glass"] and REASON not in alerts[0].body

        # A successful read of one's own site's case is recorded too.
        shown = await pathway("case", "show", demo_id, "--as", "pr-001", "--json", env=env)
        assert shown.status == 0, shown.stderr
        assert shown.json()["events"][0]["event"]["type"] == "CaseOpened"
        last = (await access.list(demo_id))[-1]
        assert (last.staff_id, last.role, last.action, last.purpose, last.break_glass) == (
            "pr-001", "practitioner", "read_case", "case work", False,
        )  # fmt: skip

        # Listings cover the person's sites only.
        mine = await pathway("case", "list", "--as", "pr-001", "--json", env=env)
        assert [c["case_id"] for c in mine.json()] == [demo_id]
        audited = await pathway("case", "list", "--as", "au-001", "--json", env=env)
        assert sorted(c["case_id"] for c in audited.json()) == sorted([demo_id, north_id])
        demo_tasks = await pathway("task", "list", "--as", "pr-001", "--json", env=env)
        assert demo_tasks.status == 0, demo_tasks.stderr
        assert demo_tasks.json() and {t["case_id"] for t in demo_tasks.json()} == {demo_id}
        lead_tasks = await pathway("task", "list", "--as", "tl-001", "--view", "unassigned", "--json", env=env)
        assert {t["case_id"] for t in lead_tasks.json()} == {demo_id, north_id}
        north_task = next(t["task_id"] for t in lead_tasks.json() if t["case_id"] == north_id)
        [demo_task] = [t["task_id"] for t in demo_tasks.json() if t["kind"] == "consent"]
        not_yours = await pathway("task", "claim", north_task, "--as", "pr-001", env=env)
        assert refused(
            not_yours, ExitStatus.NOT_FOUND, f"there is no task {north_task} in your sites", "rule: task_unknown"
        )

        # Roles: an auditor reads but works no tasks; a link worker does not close cases.
        events = len(await store.read_stream(demo_id))
        auditor = await pathway("task", "complete", demo_task, "--outcome", "{}", "--as", "au-001", env=env)
        assert refused(auditor, ExitStatus.REFUSED, "cannot complete a task", "rule: role_not_allowed")
        auditor_list = await pathway("task", "list", "--as", "au-001", env=env)
        assert refused(auditor_list, ExitStatus.REFUSED, "cannot list tasks", "rule: role_not_allowed")
        closing = await pathway("case", "close", demo_id, "--reason", "transferred", "--as", "lw-001", env=env)
        assert refused(closing, ExitStatus.REFUSED, "a link_worker cannot close a case", "rule: role_not_allowed")
        assert len(await store.read_stream(demo_id)) == events

        # Past the inbox, the case applies the pathway rules: consent is not a link worker's task.
        link_claim = await pathway("task", "claim", demo_task, "--as", "lw-001", env=env)
        assert refused(
            link_claim, ExitStatus.REFUSED, "a link_worker cannot claim a consent task", "rule: role_not_allowed"
        )
        # A claim that is allowed goes through, and is recorded.
        claimed = await pathway("task", "claim", demo_task, "--as", "pr-001", "--json", env=env)
        assert claimed.status == 0, claimed.stderr
        assert claimed.json()["assignee"] == "pr-001"
        assert (await access.list(demo_id))[-1].action == "claim_task"
        assigned = await pathway("task", "list", "--as", "pr-001", "--view", "mine", "--json", env=env)
        assert [t["task_id"] for t in assigned.json()] == [demo_task]

        # Who read the case: auditors only, and that read is recorded as well.
        log = await pathway("audit", "access", demo_id, "--as", "au-001", "--json", env=env)
        assert log.status == 0, log.stderr
        assert [(e["staff_id"], e["action"]) for e in log.json()] == [
            ("pr-001", "start_case"), ("pr-001", "read_case"), ("pr-001", "claim_task"), ("au-001", "read_access_log"),
        ]  # fmt: skip
        practitioner_log = await pathway("audit", "access", demo_id, "--as", "pr-001", env=env)
        assert refused(
            practitioner_log, ExitStatus.REFUSED, "cannot read who accessed a case", "rule: role_not_allowed"
        )
    await store.close()


async def test_reads_need_no_temporal_and_bad_options_are_refused(tmp_path: Path) -> None:
    # Nothing listens on port 1: a read that tried to reach Temporal would end with status 5 (unavailable).
    env = {"PATHWAY_DATA_DIR": str(tmp_path), "PATHWAY_TEMPORAL_ADDRESS": "localhost:1"}
    cases = await pathway("case", "list", "--as", "pr-001", env=env)
    assert cases.status == 0, cases.stderr
    assert cases.stdout.strip() == "0 case(s)"
    tasks = await pathway("task", "list", "--as", "tl-001", "--overdue", "--json", env=env)
    assert tasks.status == 0 and tasks.json() == []

    nobody = await pathway("case", "list", env=env)
    assert nobody.status == 2 and "Missing option '--as'" in nobody.stderr
    unknown = await pathway("task", "list", "--as", "nobody", env=env)
    assert refused(unknown, ExitStatus.NOT_FOUND, "there is no staff member 'nobody'", "rule: unknown_staff")
    absent = await pathway("case", "show", "case-0000", "--as", "pr-001", env=env)
    assert refused(absent, ExitStatus.NOT_FOUND, "there is no case case-0000 in your sites", "rule: case_unknown")
    too_short = await pathway("case", "show", "case-0000", "--as", "pr-001", "--break-glass-reason", "why", env=env)
    assert refused(too_short, ExitStatus.USAGE, "give the reason you need this case, in 10 to 500 characters")
    other_site = await pathway("task", "list", "--as", "pr-001", "--site", "north", env=env)
    assert refused(other_site, ExitStatus.REFUSED, "you do not work at site north", "rule: outside_your_sites")
    both = await pathway("task", "list", "--as", "pr-001", "--overdue", "--view", "mine", env=env)
    assert refused(both, ExitStatus.USAGE, "give --overdue or --view, not both")
